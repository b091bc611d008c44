"""Stage 14's inference speed: one request at a time, in this process.

`speed` times any `one(prompt) -> (reply, first-token seconds)` (`capstone.streamed`, the streaming path, or
`capstone.speculative_run`, stage 11's decoder with a draft). `print_steps` prints the step table and these
speeds with each variant's weight memory; `break_even` is the acceptance rate at which stage 11's formula
predicts a speed-up.
"""

from __future__ import annotations

import time

import torch


def weight_megabytes(model) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def speed(generate_one, prompts: list[str], tok) -> dict:
    """Tokens per second and median time to the first token of `generate_one(prompt) -> (text, first_s)`,
    one prompt at a time (the chat demo's regime), and the peak GPU memory on a GPU."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        # every model loaded so far: not this one's serving cost
        resident = torch.cuda.memory_allocated()
    firsts, counts, times = [], [], []
    for p in prompts:
        t0 = time.perf_counter()
        text, first = generate_one(p)
        times.append(time.perf_counter() - t0)
        firsts.append(first)
        counts.append(len(tok(text, add_special_tokens=False)["input_ids"]))
    firsts.sort()
    out = {
        "tokens_per_s": sum(counts) / sum(times),
        "first_token_s": firsts[len(firsts) // 2],
        "tokens": sum(counts),
        "spread": spread(counts, times),
    }
    if cuda:  # torch does not track CPU allocations, so peak memory is a GPU-only figure
        # above what was resident
        out["peak_gpu_mb"] = (torch.cuda.max_memory_allocated() - resident) / 2**20
    return out


def spread(counts: list[int], times: list[float]) -> float:
    """The clock's noise in one pass: the gap between the tokens/s of its first and second half of prompts,
    relative to the whole pass's tokens/s (0 with fewer than two prompts)."""
    h = len(counts) // 2
    if not h or not sum(times):
        return 0.0
    halves = [sum(counts[a:b]) / max(sum(times[a:b]), 1e-9) for a, b in ((0, h), (h, len(counts)))]
    return abs(halves[0] - halves[1]) / (sum(counts) / sum(times))


def break_even(c: float, v4: float, k: int = 4) -> float | None:
    """The lowest acceptance rate (in steps of 0.01) at which stage 11's formula predicts a speed-up."""
    from helpers import spec_schedules

    rates = (a / 100 for a in range(101))
    return next((a for a in rates if spec_schedules.predicted_speedup(a, k, c, v4) >= 1), None)


def print_steps(steps: dict, speeds: dict, models: dict, drafts: dict) -> list[str]:
    """The step table (held-out accuracy per family, EOS share), then each served variant's speed and
    weight memory (a speculative pair counts the merged model plus its draft); returns the columns."""
    memory = {n: weight_megabytes(m) for n, m in models.items()}
    memory |= {f"merged + {n}": memory["merged"] + weight_megabytes(d) for n, d in drafts.items()}
    cols = [c for c in steps["base"] if c not in ("answers", "eos_share")]
    print(f"{'step':18}" + "".join(f"{c:>9}" for c in cols) + f"{'EOS':>7}")
    for name, r in steps.items():
        print(f"{name:18}" + "".join(f"{r[c]:9.3f}" for c in cols) + f"{r['eos_share']:7.2f}")
    gpu = all("peak_gpu_mb" in s for s in speeds.values())  # torch tracks no CPU allocations
    print(
        f"\n{'model':28}{'tokens/s':>10}{'spread':>8}{'first token ms':>16}{'weights MB':>12}"
        + (f"{'extra GPU MB':>13}" if gpu else "")
    )
    for name, s in speeds.items():
        # a speculative row's first token is timed on a bare call, not the streaming path: not comparable
        first = f"{s['first_token_s'] * 1000:16.1f}" if name in models else f"{'-':>16}"
        peak = f"{s['peak_gpu_mb']:13.0f}" if gpu else ""
        sp = f"{s.get('spread', 0):8.0%}"
        print(f"{name:28}{s['tokens_per_s']:10.1f}{sp}{first}{memory[name]:12.1f}{peak}")
    return cols
