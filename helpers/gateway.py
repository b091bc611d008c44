"""The API gateway: one OpenAI-compatible endpoint in front of the inference engines.

Clients (the `openai` SDK, the Gradio chat, a load test) speak to the gateway; the gateway
- checks each request (`route`) and answers bad input with a clear 4xx error (empty message, a prompt
  beyond the context, a malformed body, an unknown model), before any engine sees it;
- routes it to an arm: the model the client names, or with `"model": "auto"` the arm its session (the
  request's `user` field) is assigned by `abtest.arm_for`;
- streams the engine's reply through (server-sent events), timing the first token and the whole reply;
- writes the request, the reply and any feedback to SQLite (`helpers.feedback`), and counts per-arm
  metrics for Prometheus (`GET /metrics`).
The engines (`transformers serve` here, `vllm serve` on a GPU) only generate; `helpers.deploy` starts them.
Run: `python -m helpers.gateway --config gateway.json --port 8000`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from helpers import abtest, feedback

AUTO = "auto"


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model: str = AUTO
    messages: list[Message] = Field(min_length=1)
    max_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    stream: bool = False
    user: str | None = None  # the session id: A/B assignment and feedback


class Feedback(BaseModel):
    request_id: int
    thumbs: Literal[-1, 1]
    correction: str | None = None


@dataclass(frozen=True)
class Arm:
    """One served model: the engine's base URL (`http://127.0.0.1:PORT/v1`) and its name there."""

    upstream: str
    model: str


@dataclass
class Metrics:
    """Per-arm counters, exposed in Prometheus' text format."""

    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)
    rejected: int = 0

    def record(self, arm: str, ok: bool, tokens: int, latency_s: float) -> None:
        self.requests[arm] = self.requests.get(arm, 0) + 1
        self.errors[arm] = self.errors.get(arm, 0) + (not ok)
        self.tokens[arm] = self.tokens.get(arm, 0) + tokens
        self.latency.setdefault(arm, []).append(latency_s)

    def text(self) -> str:
        lines = ["# TYPE gateway_rejected_total counter", f"gateway_rejected_total {self.rejected}"]
        for name, values in (
            ("requests", self.requests),
            ("errors", self.errors),
            ("tokens_out", self.tokens),
        ):
            lines.append(f"# TYPE gateway_{name}_total counter")
            lines += [f'gateway_{name}_total{{arm="{a}"}} {v}' for a, v in values.items()]
        lines.append("# TYPE gateway_latency_seconds summary")
        for arm, xs in self.latency.items():
            xs = sorted(xs)
            for q in (0.5, 0.95, 0.99):
                value = xs[min(len(xs) - 1, int(q * len(xs)))]
                lines.append(f'gateway_latency_seconds{{arm="{arm}",quantile="{q}"}} {value:.6f}')
            lines.append(f'gateway_latency_seconds_sum{{arm="{arm}"}} {sum(xs):.6f}')
            lines.append(f'gateway_latency_seconds_count{{arm="{arm}"}} {len(xs)}')
        return "\n".join(lines) + "\n"


def error(status: int, message: str, kind: str = "invalid_request_error"):
    """An OpenAI-style error response."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def route(body: ChatRequest, arms: dict[str, Arm], tok, context_tokens: int, db, experiment: str):
    """(arm, prompt tokens) for a chat request, or a 4xx error response for the client's mistake."""
    names = tuple(arms)
    if body.model != AUTO and body.model not in arms:
        served = ", ".join([*names, AUTO])
        return error(404, f"unknown model {body.model!r}; this server has {served}", "not_found")
    if not body.messages[-1].content.strip():
        return error(400, "empty message: the last message has no text")
    messages = [m.model_dump() for m in body.messages]
    enc = tok.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    n = len(enc["input_ids"])
    if n + body.max_tokens > context_tokens:
        return error(
            400,
            f"prompt of {n} tokens plus max_tokens {body.max_tokens} exceeds the model's context "
            f"of {context_tokens} tokens: shorten the conversation or ask for fewer tokens",
        )
    arm = body.model
    if arm == AUTO:  # the session keeps the arm its id hashes to (recorded on its first request)
        session = body.user or f"anonymous-{time.time_ns()}"
        arm = feedback.assign(db, session, experiment, abtest.arm_for(session, names, experiment))
    return arm, n


def create_app(
    arms: dict[str, Arm],
    db_path: str | Path,
    tokenizer_path: str,
    context_tokens: int,
    experiment: str = "ab",
):
    """The gateway as a FastAPI app."""
    import httpx
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import PlainTextResponse, StreamingResponse
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_path)
    db = feedback.connect(db_path)
    metrics = Metrics()
    app = FastAPI(title="course gateway")
    names = tuple(arms)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request, exc):
        metrics.rejected += 1
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error(400, f"malformed request: {where}")

    @app.get("/health")
    async def health():
        return {"status": "ok", "arms": list(names)}

    @app.get("/v1/models")
    async def models():
        ids = [*names, AUTO]
        return {
            "object": "list",
            "data": [{"id": i, "object": "model", "owned_by": "course"} for i in ids],
        }

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.text())

    @app.post("/v1/feedback")
    async def give_feedback(body: Feedback):
        if not db.execute("SELECT 1 FROM requests WHERE id = ?", (body.request_id,)).fetchone():
            return error(404, f"no request {body.request_id}")
        return {"id": feedback.log_feedback(db, body.request_id, body.thumbs, body.correction)}

    async def engine_stream(arm: str, body: ChatRequest):
        """The engine's reply as text pieces (it always streams to us, so the first token can be timed)."""
        payload = {
            "model": arms[arm].model,
            "messages": [m.model_dump() for m in body.messages],
            "max_tokens": body.max_tokens,
            "temperature": body.temperature,
            "stream": True,
        }
        timeout = httpx.Timeout(300.0, connect=10.0)
        async with httpx.AsyncClient(timeout=timeout) as client:
            url = f"{arms[arm].upstream}/chat/completions"
            async with client.stream("POST", url, json=payload) as r:
                if r.status_code != 200:
                    raise RuntimeError(
                        f"engine answered {r.status_code}: {(await r.aread())[:300]!r}"
                    )
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    delta = json.loads(line[6:])["choices"][0].get("delta", {})
                    if delta.get("content"):
                        yield delta["content"]

    def chunk(request_id: int, arm: str, delta: dict, finish: str | None = None) -> str:
        data = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": arm,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n"

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        routed = route(body, arms, tok, context_tokens, db, experiment)
        if not isinstance(routed, tuple):
            metrics.rejected += 1
            return routed
        arm, n_prompt = routed
        request_id = feedback.log_request(db, body.user, arm, body.messages[-1].content, n_prompt)
        t0, state = time.perf_counter(), {"text": "", "first": None}

        async def pieces():
            try:
                async for piece in engine_stream(arm, body):
                    if state["first"] is None:
                        state["first"] = time.perf_counter() - t0
                    state["text"] += piece
                    yield piece
            except Exception as exc:  # the engine died or refused: recorded, then re-raised
                finish(f"engine failed: {type(exc).__name__}: {exc}"[:500])
                raise
            finish("ok")

        def finish(status: str) -> None:
            latency = time.perf_counter() - t0
            tokens = len(tok(state["text"], add_special_tokens=False)["input_ids"])
            feedback.log_reply(
                db, request_id, state["text"], status, state["first"], latency, tokens
            )
            metrics.record(arm, status == "ok", tokens, latency)

        if body.stream:

            async def events():
                yield chunk(request_id, arm, {"role": "assistant"})
                try:
                    async for piece in pieces():
                        yield chunk(request_id, arm, {"content": piece})
                except Exception as exc:
                    message = f"the engine failed mid-reply: {type(exc).__name__}: {exc}"
                    yield f"data: {json.dumps({'error': {'message': message[:500]}})}\n\n"
                    return
                yield chunk(request_id, arm, {}, "stop")
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        try:
            async for _ in pieces():
                pass
        except Exception as exc:
            return error(502, f"the engine failed: {type(exc).__name__}: {exc}", "engine_error")
        text = state["text"]
        n_out = len(tok(text, add_special_tokens=False)["input_ids"])
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": arm,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": n_prompt,
                "completion_tokens": n_out,
                "total_tokens": n_prompt + n_out,
            },
        }

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description="The course's API gateway (see the module docstring).")
    ap.add_argument("--config", required=True, help="JSON: arms, db, tokenizer, context_tokens")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    arms = {name: Arm(**a) for name, a in cfg["arms"].items()}
    app = create_app(
        arms, cfg["db"], cfg["tokenizer"], cfg["context_tokens"], cfg.get("experiment", "ab")
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
