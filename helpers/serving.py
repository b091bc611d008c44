"""A chat model in process and behind a chat UI: streaming, and a headless round trip.

`stream_reply` runs `model.generate` in a thread with transformers' `TextIteratorStreamer` and yields the
growing reply (the in-process regime the speed table times); `direct_reply` is the same reply unstreamed, the
reference a served reply must equal. `chat_demo` is a Gradio `ChatInterface` whose replies stream from the
deployed API (`helpers.gateway`). Gradio 6 hands the history over as messages whose content may be a list of
content blocks: `flatten_history` turns them into plain text turns for the chat template. In CI the demo is
launched on 127.0.0.1 and queried with `gradio_client`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import torch


def text_of(content) -> str:
    """The text of a Gradio message content: a string, a content block, or a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text", "") if content.get("type", "text") == "text" else ""
    if isinstance(content, list | tuple):
        return "".join(text_of(c) for c in content)
    return ""


def flatten_history(history: list[dict], message) -> list[dict[str, str]]:
    """Chat-template messages from a Gradio history plus the new message (text turns only)."""
    turns = [
        {"role": m["role"], "content": text_of(m["content"])}
        for m in history
        if m.get("role") in ("user", "assistant")
    ]
    return [*[t for t in turns if t["content"]], {"role": "user", "content": text_of(message)}]


def prompt_ids(tok, messages: list[dict[str, str]]) -> torch.Tensor:
    if not messages or not messages[-1]["content"].strip():
        raise ValueError("empty message: type something for the model to answer")
    enc = tok.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return torch.tensor([list(enc["input_ids"])])


def stream_reply(
    model, tok, messages: list[dict[str, str]], max_new_tokens: int = 64, stats: dict | None = None
) -> Iterator[str]:
    """Yield the reply as it grows (greedy). `stats`, if given, receives the first-token and total
    latency and the token counts."""
    from transformers import TextIteratorStreamer

    ids = prompt_ids(tok, messages).to(model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    kwargs = dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        streamer=streamer,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    t0 = time.perf_counter()
    thread = threading.Thread(target=model.generate, kwargs=kwargs)
    thread.start()
    text, first = "", None
    for piece in streamer:
        if piece and first is None:
            first = time.perf_counter() - t0
        text += piece
        yield text.strip()
    thread.join()
    if stats is not None:
        stats.update(
            first_token_s=first,
            latency_s=time.perf_counter() - t0,
            prompt_tokens=ids.shape[1],
            reply_tokens=len(tok(text.strip(), add_special_tokens=False)["input_ids"]),
        )


def direct_reply(model, tok, messages: list[dict[str, str]], max_new_tokens: int = 64) -> str:
    """The same reply without streaming: what the demo's last chunk must equal."""
    ids = prompt_ids(tok, messages).to(model.device)
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def chat_demo(
    api_url: str, model: str = "auto", max_new_tokens: int = 64, title: str = "Course assistant"
):
    """A streaming `gr.ChatInterface` that is one more client of the deployed API (`helpers.gateway`): each
    reply streams from the server through the `openai` SDK, so the UI exercises what every client uses."""
    import gradio as gr

    from helpers import client

    api = client.openai_client(api_url)

    def respond(message, history):
        messages = flatten_history(history, message)
        if not messages[-1]["content"].strip():
            raise gr.Error("empty message: type something for the model to answer")
        stream = api.chat.completions.create(
            model=model, messages=messages, max_tokens=max_new_tokens, temperature=0, stream=True
        )
        text = ""
        for _, piece in client.text_pieces(stream):
            text += piece
            yield text.strip()

    return gr.ChatInterface(respond, title=title, api_name="chat")


def launch_local(demo) -> str:
    """Launch on 127.0.0.1 without blocking (no share link, no browser); returns the URL."""
    demo.queue().launch(
        server_name="127.0.0.1",
        prevent_thread_lock=True,
        quiet=True,
        inbrowser=False,
        share=False,
        inline=False,
    )  # no iframe in the notebook: it would be dead once the server stops
    return demo.local_url


def query_streaming(url: str, message: str) -> list[str]:
    """Send one message through `gradio_client` and collect the streamed chunks, in order."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    job = client.submit(message, api_name="/chat")
    chunks = [chunk for chunk in job]
    final = job.result()
    if not chunks or chunks[-1] != final:
        chunks.append(final)
    return chunks
