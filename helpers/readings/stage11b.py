"""Readings of notebook 11b (speculative decoding for serving): batched decoding and the distilled drafts,
each verdict chosen by the measured values."""

from __future__ import annotations

from helpers import judge, side_by_side_batched, spec_schedules


def _at(values: dict[int, float]) -> str:
    """'1.09x at batch 4 and 1.00x at batch 8'."""
    parts = [f"{v:.2f}x at batch {b}" for b, v in values.items()]
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def batched(result: dict, target_ms: float) -> str:
    """Section 1: parity, the measured speed-up per batch size, and why the formula's line moves as it does."""
    best = side_by_side_batched.best_per_batch(result)
    sizes = sorted(best)
    b0, b1 = sizes[0], sizes[-1]
    ours = [r for r in result["rows"] if r["k"]]
    ok, total = sum(r["parity"] for r in ours), sum(r["rows"] for r in ours)
    plain = {r["batch"]: r["tokens_per_s"] for r in result["rows"] if r["k"] is None}
    meas = {b: best[b]["speedup"] for b in sizes}
    pred = {b: best[b]["predicted"] for b in sizes}
    if ok == total:
        parity = f"All {total} rows, over every k and batch size, equal their prompt's own greedy decoding."
    else:
        parity = (
            f"Only {ok} of {total} rows equal their prompt's own greedy decoding: in float32 that "
            "is a bug; in fp16 or bf16 it can be a near-tie rounded the other way."
        )
    many = {b: meas[b] for b in sizes if b > 1}
    top = max(many, key=many.get) if many else b0
    gain = f"Plain batched `generate` makes {plain[b1] / plain[b0]:.1f}x more tokens per second at "
    gain += f"batch {b1} than at batch {b0}"
    if many and meas[top] >= 1.1:
        verdict = f"Batched, the speed-up is {_at(many)}: batched speculation paid at batch {top}."
        why = f"{gain}, so each batched gain is measured against a faster baseline."
    else:
        if meas[b0] >= 1.1:
            verdict = (
                f"Batch {b0} is not batching: its {meas[b0]:.2f}x is the single-prompt gain of "
                f"notebook 11. Batched, the speed-up falls to {_at(many)}, under a 10 % gain: on "
                "this pair batching erased it."
            )
        else:
            verdict = "Speculation stayed under a 10 % gain at every batch size on this pair."
        why = (
            f"{gain}: it shares a step's overhead among the rows, the overhead that speculation "
            "shares among drafted tokens, so little is left for the drafts to save where a step is "
            f"mostly overhead (a target step takes {target_ms:.1f} ms here). A batched gain needs a "
            "target whose step is real compute."
        )
    first = f"**Reading it.** {parity} {verdict} {why}"
    e = {b: spec_schedules.expected_tokens(best[b]["alpha_hat"], best[b]["k"]) for b in sizes}
    v = {b: e[b] / pred[b] - best[b]["k"] * best[b]["c"] for b in sizes}
    inputs = "; ".join(
        f"batch {b}: k = {best[b]['k']}, α̂ {best[b]['alpha_hat']:.2f}, c(b) {best[b]['c']:.2f}, "
        f"v(k) {v[b]:.2f}"
        for b in sizes
    )
    if pred[b1] > pred[b0]:
        if best[b1]["c"] < best[b0]["c"]:
            cause = (
                f"c(b) is lower at batch {b1} than at batch {b0}: the target's step grew with the "
                "batch more than the draft's, so the formula counts drafting as cheaper."
            )
        else:
            cause = f"c(b) is not lower at batch {b1}, so the rise comes from v(k) and α̂ there."
        line = (
            f"**The predicted line** rises to {pred[b1]:.2f}x at batch {b1} because the formula "
            f"takes every input at that batch size and at the k the clock picked ({inputs}). {cause}"
        )
    else:
        line = f"**The predicted line** falls with the batch size ({inputs})."
    second = (
        f"{line} The clock lands at {meas[b1] / pred[b1]:.2f} of the prediction at batch {b1}: the "
        "formula prices the forward passes only. A batch runs rounds until its slowest row has "
        "all its tokens, while the formula uses the pooled α̂ of an average row, and every round "
        "does per-row bookkeeping (acceptance, masks) that plain `generate` skips. c(b) and v(k) "
        "are single timings on one repeated context: on the tiny CPU profile the line is an "
        "illustration. On a GPU a pass over b(k+1) tokens costs about a b-token step up to larger "
        "batches, so the gain should last longer (an expectation: no GPU run is recorded)."
    )
    return f"{first}\n\n{second}"


def distillation(
    alphas0: list, alphas1: list, alphas2: list, known: list[int], t_seq: float, t_op: float
) -> str:
    """Section 2: each distilled draft against the stock draft, and the two against each other (paired)."""
    verdicts = []
    for name, new in (("Sequence-level", alphas1), ("On-policy (DistillSpec)", alphas2)):
        d = [new[i] - alphas0[i] for i in known]  # paired with the stock draft: the same prompts
        mean, (lo, hi) = (sum(d) / len(d), judge.bootstrap_ci(d)) if d else (0.0, (0.0, 0.0))
        ci = f"{mean:+.2f} (95% CI {lo:+.2f} to {hi:+.2f})"
        if lo > 0:
            said = f"raised α, {ci}: it paid"
        elif hi < 0:
            said = f"lowered α, {ci}: it hurt here; keep the stock draft"
        else:
            said = (
                f"left α within noise, {ci}, an interval that contains zero: it did not pay here; "
                "train longer, or on prompts like the ones you serve, before using it"
            )
        verdicts.append(f"{name} distillation {said}.")
    diff = [alphas2[i] - alphas1[i] for i in known]
    gap = sum(diff) / len(diff) if diff else 0.0
    d_lo, d_hi = judge.bootstrap_ci(diff) if diff else (0.0, 0.0)
    if d_lo > 0:
        winner = "the interval lies above zero, so DistillSpec's on-policy draft accepts more"
    elif d_hi < 0:
        winner = (
            "the interval lies below zero, so the sequence-level draft accepts more and DistillSpec "
            f"did not pay here against it ({t_op:.0f} s of training against {t_seq:.0f} s): keep "
            "the sequence-level draft, or try another divergence or learning rate"
        )
    else:
        winner = "the interval contains zero, so neither draft is better here"
    stock = sum(alphas0[i] for i in known) / len(known) if known else float("nan")
    return (
        f"**Reading it.** The stock draft's α is {stock:.2f} on {len(known)} held-out prompts "
        "(your model's α, stopped at the end of turn). "
        f"{' '.join(verdicts)} Between the two, on-policy minus sequence-level is {gap:+.3f} "
        f"(95% CI {d_lo:+.3f} to {d_hi:+.3f}): {winner}."
    )


def speedup_column(alpha: dict[str, float], costs: dict) -> str:
    """Section 2: what the table's best speed-up column is (the formula on this run's c and v(k))."""
    vk = costs["verify"]

    def best_k(a: float) -> int:
        return max(vk, key=lambda k: spec_schedules.predicted_speedup(a, k, costs["c"], vk[k]))

    below = sorted({best_k(a) for a in alpha.values()} & {k for k in vk if vk[k] < 1})
    noise = (
        f"; its best k leans on v(k) below 1 at k = {', '.join(map(str, below))}, a (k+1)-token "
        "pass timed cheaper than a 1-token one, which is the clock's noise"
        if below
        else ""
    )
    return (
        "**The speed-up column** is the formula on the c and v(k) measured at the top of this "
        f"notebook, not a measurement{noise}. On the tiny CPU profile read α as the result and "
        "that column as an illustration; the training seconds are this run's CPU. Exercise 1 asks "
        "how much of either gain holds on prompts unlike the training prompts."
    )
