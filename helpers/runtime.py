"""How long a notebook takes on a Colab GPU: the work it does (decode steps, training tokens), counted from
its settings, times a cost per unit of work for each GPU.

The costs are **estimates** until a GPU measures them (`helpers.tools.gpu_check`): a decoding step costs
the larger of reading the weights once (datasheet bandwidth at 60 %) and a per-layer kernel-launch floor
(0.6 ms per layer, measured in eager mode on an H200 by `gpu_check`: SmolLM2-135M, 30 layers, 17.8 ms a
token); a training step costs 4 forward-passes' FLOPs per token for LoRA (forward, backward through the
frozen base) at 30 % of the datasheet's tensor FLOPs, plus a reference pass for DPO.
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
    bandwidth_gbs: float
    source: str


GPUS = {
    "t4": Gpu("T4", 65.0, 320.0, "NVIDIA T4 datasheet: 65 TFLOPS fp16 mixed precision, 320 GB/s"),
    "l4": Gpu("L4", 121.0, 300.0, "NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity (121 dense), 300 GB/s"),
    "a100": Gpu("A100 40GB", 312.0, 1555.0, "NVIDIA A100 datasheet: 312 TFLOPS bf16, 1,555 GB/s (40 GB)"),
}
# Streaming a hub dataset whose rows hold their images: download and JPEG decoding on Colab's CPU. Assumed,
# not measured: ~30 MB/s from the hub and ~10 ms to decode and shrink one photograph.
DOWNLOAD_MBPS, DECODE_S = 30.0, 0.010
LAUNCH_MS_PER_LAYER = 0.6  # eager decoding, batch 1-16: measured on an H200 (gpu_check.json); Colab's CPUs are slower
BANDWIDTH_SHARE, FLOPS_SHARE = 0.6, 0.3

# (parameters in billions, decoder layers) of every registered model: facts from each config.json (helpers/models.py)
SHAPES = {m.id: (m.params_b, m.layers) for m in models.REGISTRY.values()}


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


def seconds(w: Work, gpu: Gpu) -> float:
    """The estimated seconds of one piece of work on one GPU."""
    if w.kind == "fetch":
        return w.count * (w.tokens / 1000 / DOWNLOAD_MBPS + DECODE_S)
    params, layers = SHAPES[w.model]
    launch = layers * LAUNCH_MS_PER_LAYER / 1000
    if w.kind == "generate":
        read = 2 * params * 1e9 / (gpu.bandwidth_gbs * 1e9 * BANDWIDTH_SHARE)
        return -(-w.count // w.batch) * w.tokens * max(read, launch)
    flops = (4 if w.kind == "train" else 2) * params * 1e9 * w.batch * w.tokens * w.passes
    compute = flops / (gpu.tflops * 1e12 * FLOPS_SHARE)
    steps = w.count if w.kind == "train" else -(-w.count // w.batch)
    return steps * max(compute, 3 * launch if w.kind == "train" else launch)


def estimate(plan: list[Work], preset: str) -> dict:
    """Minutes in all and per piece of work, largest first."""
    gpu = GPUS[preset]
    parts = sorted(((seconds(w, gpu) / 60, w) for w in plan), key=lambda x: -x[0])
    return {"minutes": sum(m for m, _ in parts), "parts": [(round(m, 1), w.what) for m, w in parts]}


def line(stage: str) -> str:
    """A notebook's run-time line from `data/results/runtime.json` (`python -m helpers.tools.runtime`)."""
    rows = json.loads(RESULTS.read_text())["stages"][stage]
    times = ", ".join(f"{GPUS[p].name} {max(1, round(r['minutes']))} min" for p, r in rows.items())
    return (f"Estimated run time of this notebook's GPU work on Colab: {times}; the biggest part on a T4 is "
            f"{rows['t4']['parts'][0][1]}. Estimates, not measurements (helpers/runtime.py, README).")  # fmt: skip
