"""Batched speculative decoding (`spec_batch.speculative_generate_batch`) against the same loop with no
drafts (k = 0), with plain batched `generate` of the same target as a reference, at several batch sizes, in
one run: tokens per second, the speed-up and its spread over the repeats, tokens per target pass (a
clock-free figure), greedy parity of every row with that prompt's own greedy decoding, and the speed-up
the formula predicts from c and v(k) measured at each batch size. Notebook 11b calls `run`; `python -m helpers.tools.batch_bench` runs it on the
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


def plain_batched(
    target, ids, mask, n: int, pad_id: int, eos: int | None = None
) -> list[list[int]]:
    """Plain greedy `generate` over a left-padded batch: `n` new tokens per row, or with `eos` each row
    up to and including its first end-of-turn."""
    out = target.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=n,
        min_new_tokens=None if eos is not None else n,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=pad_id,
    )
    return [_to_eos(row, eos) for row in out[:, ids.shape[1] :].tolist()]


def _to_eos(row: list[int], eos: int | None) -> list[int]:
    """A row up to and including its first end-of-turn (all of it without one)."""
    return row[: row.index(eos) + 1] if eos is not None and eos in row else row


def _timed(fn, groups) -> tuple[float, list]:
    """Seconds to decode every group, and the rows (`spec_costs.timed` over the whole pass)."""

    def every_group() -> list:
        return [row for g in groups for row in fn(*g)]

    return spec_costs.timed(every_group, cuda=groups[0][0].is_cuda)


NO_DRAFTS = "ours k=0"  # the baseline every speed-up is measured against: our loop with no drafts


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
    eos_token_id: int | None = None,
) -> dict:
    """Every prompt decoded in batches of each size by our loop with no drafts (k = 0, the baseline), by
    ours at each k and by plain `generate` (a reference), interleaved and repeated; medians of the whole
    pass, so every method decodes the same tokens. With `eos_token_id` every row stops at its end-of-turn,
    as a server's do. `vocab_size`: a pair whose embedding matrices are padded to different sizes."""
    torch.manual_seed(0)
    dev = target.device
    with torch.inference_mode():
        reference = [
            plain_batched(target, *left_padded([p], pad_id, dev), new_tokens, pad_id, eos_token_id)[
                0
            ]
            for p in prompts
        ]
    tokens = sum(map(len, reference))
    rows = []
    for b in batches:
        groups = [left_padded(prompts[i : i + b], pad_id, dev) for i in range(0, len(prompts), b)]
        steps = sum(max(map(len, reference[i : i + b])) for i in range(0, len(prompts), b))
        context = torch.tensor([prompts[0]], device=dev).repeat(b, 1)
        costs = spec_costs.measure_costs(target, draft, context, ks=ks, repeats=20)
        kept: dict = {k: [] for k in (0, *ks)}  # each timed call's statistics, per k

        def ours(ids, mask, k, kept=kept):
            out, st = spec_batch.speculative_generate_batch(
                target,
                draft,
                ids,
                mask,
                k=k,
                max_new_tokens=new_tokens,
                eos_token_id=eos_token_id,
                vocab_size=vocab_size,
            )
            kept[k].append(st)
            return out

        methods = {f"ours k={k}": lambda ids, mask, k=k: ours(ids, mask, k) for k in (0, *ks)}
        methods["generate"] = lambda ids, mask: plain_batched(
            target, ids, mask, new_tokens, pad_id, eos_token_id
        )
        times: dict = {m: [] for m in methods}
        outs: dict = {}
        with torch.inference_mode():
            for _ in range(repeats):
                for m, fn in methods.items():
                    seconds, outs[m] = _timed(fn, groups)
                    times[m].append(seconds)
        # the last timed repeat's statistics (greedy: every repeat decodes the same tokens)
        longest = max(map(len, reference))
        stats = {k: _pooled(kept[k][-len(groups) :], longest) for k in (0, *ks)}
        base = statistics.median(times[NO_DRAFTS])
        gen = statistics.median(times["generate"])
        for m in methods:
            k = None if m == "generate" else int(m.split("=")[1])
            med = statistics.median(times[m])
            row = {
                "batch": b,
                "method": m,
                "k": k,
                "tokens_per_s": round(tokens / med, 1),
                "speedup": round(base / med, 3),  # over our loop with no drafts
                # each repeat's no-draft seconds over this method's: the spread of the speed-up
                "speedups": [round(p / t, 3) for p, t in zip(times[NO_DRAFTS], times[m])],
                "vs_generate": round(gen / med, 3),
                "parity": sum(o == r for o, r in zip(outs[m], reference)),
                "rows": len(prompts),
                "c": round(costs["c"], 4),
                "target_ms": round(costs["target_ms"], 3),
                # target passes: one per round of ours, one per step of `generate`
                "passes": steps if k is None else stats[k]["rounds"],
                "step_ms": round(1e3 * med / (steps if k is None else stats[k]["rounds"]), 3),
            }
            row["tokens_per_pass"] = round(tokens / row["passes"], 3)
            if k:
                row.update(stats[k])
                row["v"] = round(costs["verify"][k], 3)
                row["predicted"] = round(
                    spec_schedules.predicted_speedup(row["alpha_hat"], k, row["c"], row["v"]), 3
                )
                # the formula's two factors, and what the run measured for each: tokens per round
                # (expected) against the no-draft loop's passes over ours; k c + v (priced, in bare
                # target steps) against a round's time in no-draft steps
                row["expected"] = round(spec_schedules.expected_tokens(row["alpha_hat"], k), 3)
                row["priced"] = round(k * row["c"] + row["v"], 3)
                row["pass_ratio"] = round(stats[0]["rounds"] / row["rounds"], 3)
                row["round_cost"] = round(row["pass_ratio"] / row["speedup"], 3)
            elif k == 0:
                row.update({x: stats[0][x] for x in ("rounds", "bookkeeping", "pass_ms")})
            rows.append(row)
    return {
        "prompts": len(prompts),
        "distinct": len({tuple(p) for p in prompts}),
        "new_tokens": new_tokens,
        "tokens": tokens,
        "eos": eos_token_id is not None,
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
    """The formula with the passes the batch ran: the no-draft loop's passes over ours (the slowest row
    included, ours' and the baseline's) over k c(b) + v(k), the round's price in bare target steps."""
    return row["pass_ratio"] / row["priced"]


def loop_overhead(result: dict, batch: int) -> float:
    """Our loop's step with no drafts (one target pass for every row of a group, bookkeeping included)
    over a bare target step at the same batch: the per-step work the formula's "1" leaves out."""
    r = no_drafts(result)[batch]
    return r["step_ms"] / r["target_ms"]


def no_drafts(result: dict) -> dict[int, dict]:
    """The baseline row (our loop at k = 0) of each batch size."""
    return {r["batch"]: r for r in result["rows"] if r["k"] == 0}


def generate_rows(result: dict) -> dict[int, dict]:
    """The reference row (plain `generate`) of each batch size."""
    return {r["batch"]: r for r in result["rows"] if r["k"] is None}


def format_table(result: dict) -> str:
    """Every batch size and decoder: tokens per second, the median speed-up over our loop with no drafts
    and its range over the repeats, tokens per target pass, parity."""
    n = result["repeats"]
    lines = [f"batch  decoder   tok/s  speed-up  {f'range ({n} repeats)':18} tok/pass  parity"]
    for r in result["rows"]:
        name = "generate" if r["k"] is None else f"ours k={r['k']}"
        lo, hi = spread(r)
        rng = "(baseline)" if r["k"] == 0 else f"{lo:.2f}x to {hi:.2f}x"
        lines.append(
            f"{r['batch']:5}  {name:8} {r['tokens_per_s']:6.1f}  {r['speedup']:7.2f}x  {rng:18} "
            f"{r['tokens_per_pass']:8.2f}  {r['parity']}/{r['rows']}"
        )
    return "\n".join(lines)


def format_costs(result: dict) -> str:
    """Every batch size and k (* the formula's k): the formula's two factors, each beside what the run
    measured (tokens per round against the no-draft loop's passes over ours; k c + v against a round's
    time in no-draft steps), the prediction, the clock, bookkeeping, the target cache's slots per token."""
    lines = [
        "batch  k  alpha  tok/round  passes k=0/ours  c(b)  v(k)  kc+v  round/k=0 step  predicted  "
        "measured  bookkeeping  cache/token"
    ]
    chosen = chosen_per_batch(result)
    for r in result["rows"]:
        if r["k"]:
            pick = "*" if chosen[r["batch"]] is r else " "
            lines.append(
                f"{r['batch']:5} {pick}{r['k']}  {r['alpha_hat']:5.2f}  {r['expected']:9.2f}  "
                f"{r['pass_ratio']:15.2f}  {r['c']:4.2f}  {r['v']:4.2f}  {r['priced']:4.2f}  "
                f"{r['round_cost']:14.2f}  {r['predicted']:8.2f}x  {r['speedup']:7.2f}x  "
                f"{r['bookkeeping']:11.0%}  {r['slots_per_token']:11.2f}"
            )
    return "\n".join(lines)


def plot_chosen(result: dict) -> None:
    """At the formula's k per batch: the measured speed-up over k = 0 with its range over the repeats, the
    formula's prediction, and the formula with the passes the batch ran (`explained`)."""
    import matplotlib.pyplot as plt

    chosen = chosen_per_batch(result)
    sizes = sorted(chosen)
    meas = [chosen[b]["speedup"] for b in sizes]
    lo, hi = zip(*(spread(chosen[b]) for b in sizes))
    err = [[max(0, m - x) for m, x in zip(meas, lo)], [max(0, x - m) for m, x in zip(meas, hi)]]
    plt.figure(figsize=(8, 3.2))
    label = f"measured (range over {result['repeats']} repeats)"
    plt.errorbar(sizes, meas, yerr=err, fmt="o-", capsize=4, label=label)
    plt.plot(sizes, [chosen[b]["predicted"] for b in sizes], "s--", label="formula")
    both = [explained(chosen[b]) for b in sizes]
    plt.plot(sizes, both, "^:", label="formula with the passes the batch ran")
    plt.axhline(1, color="grey", lw=0.8)
    plt.xlabel("batch size")
    plt.ylabel("speed-up over k = 0")
    plt.title("Batched speculative decoding, at the formula's k")
    plt.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    plt.tight_layout()
    plt.show()
