"""Batched speculative decoding (`spec_batch.speculative_generate_batch`) against plain batched `generate`
of the same target, at several batch sizes, in one run: tokens per second, the speed-up, greedy parity of
every row with that prompt's own greedy decoding, and the speed-up the formula predicts from c and v(k)
measured at each batch size. Notebook 11b calls `run`; `python -m helpers.tools.batch_bench` runs it on the
world's pairs.
"""

from __future__ import annotations

import statistics

import torch

from helpers import generation, spec_batch, spec_costs, spec_schedules


def left_padded(
    prompts: list[list[int]], pad_id: int, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """`generation.left_pad` on the target's device."""
    ids, mask = generation.left_pad(prompts, pad_id)
    return ids.to(device), mask.to(device)


def plain_batched(target, ids, mask, n: int, pad_id: int) -> list[list[int]]:
    """Plain greedy `generate` over a left-padded batch, exactly `n` new tokens per row."""
    out = target.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=n,
        min_new_tokens=n,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=pad_id,
    )
    return out[:, ids.shape[1] :].tolist()


def _timed(fn, groups) -> tuple[float, list]:
    """Seconds to decode every group, and the rows (`spec_costs.timed` over the whole pass)."""

    def every_group() -> list:
        return [row for g in groups for row in fn(*g)]

    return spec_costs.timed(every_group, cuda=groups[0][0].is_cuda)


def run(
    target,
    draft,
    prompts: list[list[int]],
    new_tokens: int,
    pad_id: int,
    batches=(1, 4, 8),
    ks=(2, 4, 6),
    repeats: int = 3,
    vocab_size: int | None = None,
) -> dict:
    """Every prompt decoded in batches of each size by plain `generate` and by ours at each k, interleaved
    and repeated; medians of the whole pass, so every method decodes the same tokens. `vocab_size`: a pair
    whose embedding matrices are padded to different sizes (stage 11's vocabulary guard)."""
    torch.manual_seed(0)
    dev = target.device
    with torch.inference_mode():
        reference = [
            plain_batched(target, *left_padded([p], pad_id, dev), new_tokens, pad_id)[0]
            for p in prompts
        ]
    rows = []
    for b in batches:
        groups = [left_padded(prompts[i : i + b], pad_id, dev) for i in range(0, len(prompts), b)]
        context = torch.tensor([prompts[0]], device=dev).repeat(b, 1)
        costs = spec_costs.measure_costs(target, draft, context, ks=ks, repeats=20)
        methods = {"plain": lambda ids, mask: plain_batched(target, ids, mask, new_tokens, pad_id)}
        kept: dict = {k: [] for k in ks}  # each timed call's statistics, per k

        def ours(ids, mask, k, kept=kept):
            out, st = spec_batch.speculative_generate_batch(
                target, draft, ids, mask, k=k, max_new_tokens=new_tokens, vocab_size=vocab_size
            )
            kept[k].append(st)
            return out

        for k in ks:
            methods[f"ours k={k}"] = lambda ids, mask, k=k: ours(ids, mask, k)
        times: dict = {m: [] for m in methods}
        outs: dict = {}
        with torch.inference_mode():
            for _ in range(repeats):
                for m, fn in methods.items():
                    seconds, outs[m] = _timed(fn, groups)
                    times[m].append(seconds)
        # the last timed repeat's statistics (greedy: every repeat decodes the same tokens)
        stats = {k: _pooled(kept[k][-len(groups) :], new_tokens) for k in ks}
        plain = statistics.median(times["plain"])
        tokens = len(prompts) * new_tokens
        for m in methods:
            k = None if m == "plain" else int(m.split("=")[1])
            med = statistics.median(times[m])
            row = {
                "batch": b,
                "method": m,
                "k": k,
                "tokens_per_s": round(tokens / med, 1),
                "speedup": round(plain / med, 3),
                # each repeat's plain seconds over ours: the spread of the speed-up
                "speedups": [round(p / t, 3) for p, t in zip(times["plain"], times[m])],
                "parity": sum(o == r for o, r in zip(outs[m], reference)),
                "rows": len(prompts),
                "c": round(costs["c"], 4),
                "target_ms": round(costs["target_ms"], 3),
                # plain's milliseconds per decoding step (a step: one token for every row of a group)
                "plain_step_ms": round(1e3 * plain / (len(groups) * new_tokens), 3),
            }
            if k:
                row.update(stats[k])
                row["v"] = round(costs["verify"][k], 3)
                row["predicted"] = round(
                    spec_schedules.predicted_speedup(row["alpha_hat"], k, row["c"], row["v"]), 3
                )
            rows.append(row)
    return {
        "prompts": len(prompts),
        "distinct": len({tuple(p) for p in prompts}),
        "new_tokens": new_tokens,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


def _pooled(groups: list, n: int) -> dict:
    """What one timed pass of ours over every group (`groups`: each group's `BatchStats`) measured: the
    pooled α̂; the rounds the batches ran (each as many as its slowest row) and the rounds their mean row
    needed (`slowest` is their ratio, 1 at batch 1); the share of ours' time spent outside both models'
    passes (`bookkeeping`: acceptance, masking, writing tokens, rows leaving); the target cache's widest
    growth past the prompts per new token of a row (`slots_per_token`: masked rejected drafts included);
    both models' passes per round in milliseconds (`pass_ms`: the draft's k steps and the target's verify
    pass, inside the loop)."""
    pooled, rounds, mean_rounds, peak = None, 0, 0.0, 0
    for st in groups:
        rounds += st.rounds
        mean_rounds += sum(st.row_rounds) / len(st.row_rounds)
        peak = max(peak, st.peak_slots)
        pooled = st if pooled is None else pooled.merge(st)
    outside = pooled.t_total - pooled.t_draft - pooled.t_verify
    return {
        "alpha_hat": round(pooled.alpha_hat, 4),
        "rounds": rounds,
        "mean_row_rounds": round(mean_rounds, 2),
        "slowest": round(mean_rounds / rounds, 4),
        "bookkeeping": round(outside / pooled.t_total, 4),
        "slots_per_token": round(peak / n, 3),
        "pass_ms": round(1e3 * (pooled.t_draft + pooled.t_verify) / rounds, 3),
    }


def best_per_batch(result: dict) -> dict[int, dict]:
    """The fastest k of ours at each batch size."""
    out: dict = {}
    for r in result["rows"]:
        if r["k"] and (r["batch"] not in out or r["speedup"] > out[r["batch"]]["speedup"]):
            out[r["batch"]] = r
    return out


def chosen_per_batch(result: dict) -> dict[int, dict]:
    """At each batch size, ours at the k the formula predicts fastest: chosen before the clock is read,
    so the measured speed-up is not the luckiest of several timings (`best_per_batch` is)."""
    out: dict = {}
    for r in result["rows"]:
        if r["k"] and (r["batch"] not in out or r["predicted"] > out[r["batch"]]["predicted"]):
            out[r["batch"]] = r
    return out


def spread(row: dict) -> tuple[float, float]:
    """The lowest and highest speed-up over the repeats (each repeat: plain's seconds over ours')."""
    return min(row["speedups"]), max(row["speedups"])


def explained(row: dict) -> float:
    """The formula's speed-up with the two measured costs it leaves out: the batch runs its slowest row's
    rounds, not its mean row's, and bookkeeping takes a share of ours' time outside both models' passes."""
    return row["predicted"] * row["slowest"] * (1 - row["bookkeeping"])


def plain_overhead(row: dict) -> float:
    """Plain `generate`'s measured step (one token for every row of a group) over a bare target step at
    the same batch: the per-step work the formula does not charge to plain decoding."""
    return row["plain_step_ms"] / row["target_ms"]


def format_table(result: dict) -> str:
    """Every batch size and k: tokens per second, the median speed-up and its range over the repeats,
    the formula's prediction, parity."""
    n = result["repeats"]
    lines = [
        f"batch  k  plain tok/s  ours tok/s  speed-up  {f'range ({n} repeats)':18} predicted  parity"
    ]
    plain = {r["batch"]: r for r in result["rows"] if r["k"] is None}
    for r in result["rows"]:
        if r["k"]:
            lo, hi = spread(r)
            lines.append(
                f"{r['batch']:5}  {r['k']}  {plain[r['batch']]['tokens_per_s']:11.1f}  "
                f"{r['tokens_per_s']:10.1f}  {r['speedup']:7.2f}x  {f'{lo:.2f}x to {hi:.2f}x':18} "
                f"{r['predicted']:8.2f}x  {r['parity']}/{r['rows']}"
            )
    return "\n".join(lines)


def format_costs(result: dict) -> str:
    """At the formula's k per batch: its inputs measured at that batch, its prediction, the two costs it
    leaves out, the prediction with them, the clock, the target cache's slots per new token, and plain
    `generate`'s step over a bare target step."""
    lines = [
        "batch  k  alpha  c(b)  v(k)  predicted  slowest row  bookkeeping  with both  measured  "
        "cache/token  plain step"
    ]
    for b, r in sorted(chosen_per_batch(result).items()):
        lines.append(
            f"{b:5}  {r['k']}  {r['alpha_hat']:5.2f}  {r['c']:4.2f}  {r['v']:4.2f}  "
            f"{r['predicted']:8.2f}x  {r['slowest']:11.2f}  {r['bookkeeping']:11.0%}  "
            f"{explained(r):8.2f}x  {r['speedup']:7.2f}x  {r['slots_per_token']:11.2f}  "
            f"{plain_overhead(r):9.1f}x"
        )
    return "\n".join(lines)
