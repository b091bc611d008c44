"""A bounded load test on localhost: a fixed number of requests from N concurrent clients, with a time limit.

Each client is a thread with its own `openai` client (the work is on the server; a thread per client is
enough to keep N requests in flight). `run` returns every request's client-side timings; `summary` the
throughput (completed requests and reply tokens per second of wall time) and latency percentiles.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

from helpers import client


def run(
    base_url: str,
    prompts: list[str],
    concurrency: int,
    requests: int,
    model: str,
    max_tokens: int,
    time_limit_s: float = 300,
) -> dict:
    """`requests` requests (prompts in turn), `concurrency` in flight; those not started by the time limit
    are skipped and counted."""
    deadline = time.monotonic() + time_limit_s
    clients = [client.openai_client(base_url) for _ in range(concurrency)]

    def one(i: int) -> dict | None:
        if time.monotonic() > deadline:
            return None
        r = client.stream_chat(
            clients[i % concurrency], prompts[i % len(prompts)], model, None, max_tokens
        )
        return r

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        rows = [f.result() for f in as_completed([pool.submit(one, i) for i in range(requests)])]
    wall = time.perf_counter() - t0
    done = [r for r in rows if r is not None]
    return {
        "concurrency": concurrency,
        "wall_s": wall,
        "rows": done,
        "skipped": requests - len(done),
    }


def percentiles(xs: list[float], qs: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    return {f"p{q}": float(np.percentile(xs, q)) for q in qs}


def summary(result: dict, tok) -> dict:
    """Requests/s, reply tokens/s, and latency and first-token percentiles (seconds)."""
    rows = result["rows"]
    tokens = sum(len(tok(r["text"], add_special_tokens=False)["input_ids"]) for r in rows)
    return {
        "concurrency": result["concurrency"],
        "requests": len(rows),
        "skipped": result["skipped"],
        "requests_per_s": len(rows) / result["wall_s"],
        "tokens_per_s": tokens / result["wall_s"],
        "latency": percentiles([r["latency_s"] for r in rows]),
        "first_token": percentiles([r["first_token_s"] or r["latency_s"] for r in rows]),
    }
