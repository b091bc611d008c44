"""The memory plan's heaviest cells, measured on a lent GPU with random weights at the real shapes.

    python -m helpers.tools.gpu_memory --json data/results/gpu_memory.json   # on a GPU: a few minutes
    python -m helpers.tools.gpu_memory --smoke                                # the same code on a CPU, tiny shapes

For the two heaviest cells of 12c and 14 on the t4 preset that judge or decode (`helpers.tools.memory`), it
loads every model the plan says is resident, with random weights at its real shape and dtype (an NF4 load at
fp16: an upper bound), runs the cell's largest step (a judge batch as `judge.letter_probs` runs it, or a
`generate` batch to its token limit) and records `torch.cuda.max_memory_allocated` beside the plan's peak.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Phi3Config, Qwen2Config

from helpers import models
from helpers.tools import memory

CONFIGS = {"llama": LlamaConfig, "smollm2": LlamaConfig, "qwen": Qwen2Config, "phi3": Phi3Config}
SMALL = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
)


def config(model_id: str, small: bool = False):
    """A registered model's config (`small`: 2 layers x 64, for the CPU smoke run)."""
    m = models.get(model_id)
    kw = dict(
        hidden_size=m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        num_key_value_heads=m.kv_heads,
        intermediate_size=m.intermediate,
        vocab_size=m.vocab,
        tie_word_embeddings=m.tied,
    )
    return CONFIGS[m.family](**(kw | SMALL if small else kw))


def load(spec: memory.Load, device: str, small: bool):
    dtype = torch.float32 if spec.dtype_bytes == 4 else torch.float16
    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config(spec.model, small), dtype=dtype).eval()


@torch.no_grad()
def run_step(model, step: dict, small: bool) -> None:
    """The cell's largest step: one judge batch (no KV cache, the reply position's logits) or one generate batch."""
    tokens = min(step["tokens"], 32) if small else step["tokens"]
    ids = torch.randint(model.config.vocab_size, (step["rows"], tokens), device=model.device)
    mask = torch.ones_like(ids)
    if step["kind"] == "judge":
        model(input_ids=ids, attention_mask=mask, logits_to_keep=1, use_cache=False)
    else:
        new = 4 if small else step["new"]
        model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )


def heaviest(
    preset: str = "t4", notebooks: tuple[str, ...] = ("12c", "14"), each: int = 2
) -> list[memory.Cell]:
    """The `each` cells of each notebook with the largest planned peak among those that judge or decode."""
    cells = [
        c
        for c in memory.plan()[preset]
        if c.notebook in notebooks and getattr(c.transient, "step", None)
    ]
    return [
        c
        for nb in notebooks
        for c in sorted((c for c in cells if c.notebook == nb), key=lambda c: -c.peak_gb)[:each]
    ]


def measure(cell: memory.Cell, device: str, small: bool = False) -> dict:
    """Load the cell's resident models, run its step, and return the peak GPU memory beside the plan's."""
    cuda = device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    resident = [load(spec, device, small) for spec in cell.resident]
    step = cell.transient.step
    stepper = next(m for m, s in zip(resident, cell.resident) if s.model == step["model"])
    run_step(stepper, step, small)
    measured = torch.cuda.max_memory_allocated() / memory.GB if cuda else None
    del resident, stepper
    gc.collect()
    return {
        "notebook": cell.notebook,
        "cell": cell.cell,
        "what": cell.what,
        "planned_gb": round(cell.peak_gb, 2),
        "measured_gb": None if measured is None else round(measured, 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m helpers.tools.gpu_memory", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny shapes on this CPU: the code runs, nothing is measured",
    )
    args = ap.parse_args(argv)
    device = "cpu" if args.smoke else "cuda"
    rows = [measure(c, device, small=args.smoke) for c in heaviest()]
    for r in rows:
        print(
            f"{r['notebook']:>4} cell {r['cell']:>3} {r['what'][:44]:45} planned {r['planned_gb']:5.1f} GB, "
            f"measured {r['measured_gb'] if r['measured_gb'] is not None else '-'} GB"
        )
    if args.json:
        gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (smoke)"
        args.json.write_text(
            json.dumps({"gpu": gpu, "preset": "t4", "cells": rows}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
