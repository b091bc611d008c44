"""How long a notebook takes on a Colab GPU: the work it does (decode steps, training tokens), counted from
its settings, times a cost per unit of work for each GPU, as a range.

The costs are **estimates** until a GPU measures them (`helpers.tools.gpu_check`): a decoding step costs
the larger of reading the weights once (datasheet bandwidth at 60 %, at the model's real dtype: fp32 judges
on a T4 read twice the bytes) and a per-step host floor of kernel launches per layer (0.6 ms, measured in
eager mode on an H200's host by `gpu_check`: SmolLM2-135M, 30 layers, 17.8 ms a token; up to 1.5 ms on
Colab's 2-vCPU host, an assumption, not measured: the range's high end); a training step costs 4
forward-passes' FLOPs per token for LoRA (forward, backward through the frozen base) at 30 % of the
datasheet's FLOPs for the model's dtype (16-bit tensor cores, or plain fp32), plus a reference pass for DPO.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from helpers import models

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "runtime.json"


@dataclass(frozen=True)
class Gpu:
    name: str
    tflops: float  # dense fp16/bf16 tensor-core peak
    fp32_tflops: float  # plain fp32 (PyTorch leaves TF32 off for matmuls by default)
    bandwidth_gbs: float
    source: str


GPUS = {
    "t4": Gpu(
        "T4",
        65.0,
        8.1,
        320.0,
        "NVIDIA T4 datasheet: 65 TFLOPS fp16 mixed precision, 8.1 fp32, 320 GB/s",
    ),
    "l4": Gpu(
        "L4",
        121.0,
        30.3,
        300.0,
        "NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity (121 dense), 30.3 fp32, 300 GB/s",
    ),
    "a100": Gpu(
        "A100 40GB",
        312.0,
        19.5,
        1555.0,
        "NVIDIA A100 datasheet: 312 TFLOPS bf16, 19.5 fp32, 1,555 GB/s (40 GB)",
    ),
}
# Streaming a hub dataset whose rows hold their images: download and JPEG decoding on Colab's CPU. Assumed,
# not measured: ~30 MB/s from the hub and ~10 ms to decode and shrink one photograph.
DOWNLOAD_MBPS, DECODE_S = 30.0, 0.010
# eager decoding's host floor per layer and step: (measured on an H200's host, gpu_check.json; Colab's 2-vCPU host,
# assumed 2.5x slower, not measured): the low and high ends of every estimate
LAUNCH_MS_PER_LAYER = (0.6, 1.5)
BANDWIDTH_SHARE, FLOPS_SHARE = 0.6, 0.3


def shape(model_id: str) -> tuple[float, int]:
    """(parameters in billions, decoder layers) of a registered model (`helpers.models`; "id[:n]" its first
    n layers): facts from its config.json."""
    m = models.get(model_id)
    return m.params_b, m.layers


@dataclass(frozen=True)
class Work:
    """One piece of a notebook's work: `generate` (decode steps), `train` (optimizer steps), `score`
    (forward passes over whole sequences) or `fetch` (dataset rows streamed; `tokens` holds KB per row)."""

    kind: str
    model: str
    what: str
    count: int  # generate: sequences; train: optimizer steps; score: sequences
    batch: int
    tokens: int  # generate: new tokens per sequence; train, score: tokens per sequence
    passes: float = 1.0  # train: sequences per row (DPO: chosen + rejected, and a reference pass)
    # 4 for a model loaded in fp32 (the judges, writer and feedback model on a T4)
    dtype_bytes: int = 2


def seconds(w: Work, gpu: Gpu, launch_ms: float = LAUNCH_MS_PER_LAYER[1]) -> float:
    """The estimated seconds of one piece of work on one GPU, at a host floor of `launch_ms` per layer."""
    if w.kind == "fetch":
        return w.count * (w.tokens / 1000 / DOWNLOAD_MBPS + DECODE_S)
    params, layers = shape(w.model)
    launch = layers * launch_ms / 1000
    if w.kind == "generate":
        read = w.dtype_bytes * params * 1e9 / (gpu.bandwidth_gbs * 1e9 * BANDWIDTH_SHARE)
        return -(-w.count // w.batch) * w.tokens * max(read, launch)
    flops = (4 if w.kind == "train" else 2) * params * 1e9 * w.batch * w.tokens * w.passes
    compute = flops / ((gpu.fp32_tflops if w.dtype_bytes == 4 else gpu.tflops) * 1e12 * FLOPS_SHARE)
    steps = w.count if w.kind == "train" else -(-w.count // w.batch)
    return steps * max(compute, 3 * launch if w.kind == "train" else launch)


def estimate(plan: list[Work], preset: str) -> dict:
    """Minutes in all (`minutes`: the high end, at Colab's assumed host floor; `low`: at the H200 host's
    measured one) and per piece of work at the high end, largest first."""
    gpu, (low_ms, high_ms) = GPUS[preset], LAUNCH_MS_PER_LAYER
    parts = sorted(((seconds(w, gpu, high_ms) / 60, w) for w in plan), key=lambda x: -x[0])
    low = sum(seconds(w, gpu, low_ms) for w in plan) / 60
    return {
        "minutes": sum(m for m, _ in parts),
        "low": low,
        "parts": [(round(m, 1), w.what) for m, w in parts],
    }


DRIVE_MINUTES = 30  # above this, a notebook's run-time line offers Google Drive checkpoints


def span(r: dict) -> str:
    """'20-35 min' from an estimate's low and high ends."""
    low, high = max(1, round(r.get("low", r["minutes"]))), max(1, round(r["minutes"]))
    return f"{low} min" if low == high else f"{low}-{high} min"


def line(stage: str) -> str:
    """A notebook's run-time line from `data/results/runtime.json` (`python -m helpers.tools.runtime`)."""
    rows = json.loads(RESULTS.read_text())["stages"][stage]
    spans = {p: span(r) for p, r in rows.items()}
    times = ", ".join(f"{GPUS[p].name} {s}" for p, s in spans.items())
    if len(set(spans.values())) == 1:  # batch-1 decoding: launch-bound, as fast on every card
        times = f"{next(iter(spans.values()))} on every card (small batches: each step waits on kernel launches)"
    text = (
        f"Estimated run time of this notebook's GPU work on Colab: {times}; the biggest part on a T4 is "
        f"{rows['t4']['parts'][0][1]}. Estimates from the models' sizes and the cards' rates, not measurements."
    )
    if any(r["minutes"] > rows["t4"]["minutes"] for r in rows.values()):
        text += (
            " A faster card can take longer: its preset runs larger models on larger budgets "
            "(the profile summary above names them)."
        )
    if cut := rows["t4"].get("cut"):
        text += f" On a T4 the budget is cut to stay within an hour: {cut}."
    if max(r["minutes"] for r in rows.values()) > DRIVE_MINUTES:
        text += (
            f" Over {DRIVE_MINUTES} min on some GPUs: set USE_DRIVE = True in the first cell, so that a "
            "disconnect loses nothing (every step resumes from its checkpoint on Drive)."
        )
    return text
