"""Talking to the deployment as any program would: the `openai` SDK against the gateway's base URL.

`stream_chat` sends one chat request, reads the reply as server-sent events, and times it from the
client's side (time to the first token, whole reply); `send_feedback` posts a thumbs up or down.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def openai_client(base_url: str, timeout_s: float = 120):
    """An `openai.OpenAI` client for a local server (no key is checked; the SDK wants one)."""
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key="local", timeout=timeout_s, max_retries=0)


def text_pieces(stream):
    """The text pieces of a streamed chat completion, in order (empty deltas and role-only chunks skipped)."""
    for event in stream:
        piece = event.choices[0].delta.content if event.choices else None
        if piece:
            yield event, piece


def stream_chat(
    client, prompt: str, model: str = "auto", user: str | None = None, max_tokens: int = 64
) -> dict:
    """One streamed request: its text, chunks, request id, arm, and client-side timings."""
    t0 = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        user=user,
    )
    chunks, first, request_id, arm = [], None, None, None
    for event, piece in text_pieces(stream):
        request_id, arm = event.id, event.model
        first = first if first is not None else time.perf_counter() - t0
        chunks.append(piece)
    text = "".join(chunks)
    return {
        "text": text.strip(),
        "chunks": chunks,
        "request_id": int(request_id.rsplit("-", 1)[-1]),
        "arm": arm,
        "first_token_s": first,
        "latency_s": time.perf_counter() - t0,
    }


def send_feedback(
    base_url: str, request_id: int, thumbs: int, correction: str | None = None
) -> int:
    """Post a thumbs up (+1) or down (-1), with an optional correction; returns the feedback row's id."""
    body = json.dumps(
        {"request_id": request_id, "thumbs": thumbs, "correction": correction}
    ).encode()
    req = urllib.request.Request(
        f"{base_url}/feedback", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["id"]


def post_raw(base_url: str, path: str, body: bytes) -> tuple[int, str]:
    """POST raw bytes (a malformed request, say) and return (status, the error message or body)."""
    req = urllib.request.Request(
        f"{base_url}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        payload = json.loads(e.read() or b"{}")
        return e.code, payload.get("error", {}).get("message", str(payload))


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()
