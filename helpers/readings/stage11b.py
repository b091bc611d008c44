"""Readings of notebook 11b (speculative decoding for serving): batched decoding and the distilled drafts,
each verdict chosen by the measured values."""

from __future__ import annotations

from helpers import judge, side_by_side_batched, spec_schedules


def _at(values: dict[int, float]) -> str:
    """'1.09x at batch 4 and 1.00x at batch 8'."""
    parts = [f"{v:.2f}x at batch {b}" for b, v in values.items()]
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def _shape(pred: dict[int, float]) -> str:
    """How the predicted line moves from batch to batch: 'drops from batch 1 to 4 and flattens'."""
    sizes = sorted(pred)
    moves = []  # (first batch, last batch, direction) of each run of steps in one direction
    for a, b in zip(sizes, sizes[1:]):
        d = pred[b] - pred[a]
        way = "flat" if abs(d) < 0.1 else "down" if d < 0 else "up"
        if moves and moves[-1][2] == way:
            moves[-1] = (moves[-1][0], b, way)
        else:
            moves.append((a, b, way))
    verb = {"down": "drops", "up": "rises", "flat": "stays flat"}
    said = [f"{verb[w]} from batch {a} to {b}" for a, b, w in moves[:1]]
    for _, b, w in moves[1:]:
        said.append("flattens" if w == "flat" else f"then {verb[w]} to batch {b}")
    return " and ".join(said)


def batched(result: dict, costs: dict) -> str:
    """Section 1: parity, the measured speed-up per batch size, and why the formula's line moves as it does.
    `costs`: the single-prompt c and v(k) measured at the top of the notebook."""
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
            each = "both" if len(many) == 2 else "all" if len(many) > 2 else ""
            verdict = (
                f"Batch {b0} is not batching: its {meas[b0]:.2f}x is the single-prompt gain of "
                f"notebook 11. Batched, the speed-up falls to {_at(many)}, {each} below the 10 % we "
                "would call a gain: on this pair, batching erased speculation's benefit."
            ).replace(",  below", ", below")
        else:
            verdict = "Speculation stayed under a 10 % gain at every batch size on this pair."
        why = (
            f"{gain}: it shares a step's overhead among the rows, the overhead that speculation "
            "shares among drafted tokens, so little is left for the drafts to save where a step is "
            f"mostly overhead (a target step takes {costs['target_ms']:.1f} ms here). A batched gain "
            "needs a target whose step is real compute."
        )
    first = f"**Reading it.** {parity} {verdict} {why}"
    e = {b: spec_schedules.expected_tokens(best[b]["alpha_hat"], best[b]["k"]) for b in sizes}
    v = {b: e[b] / pred[b] - best[b]["k"] * best[b]["c"] for b in sizes}
    inputs = "; ".join(
        f"batch {b}: k = {best[b]['k']}, α̂ {best[b]['alpha_hat']:.2f}, c(b) {best[b]['c']:.2f}, "
        f"v(k) {v[b]:.2f}"
        for b in sizes
    )
    values = ", ".join(f"{pred[b]:.2f}x" for b in sizes)
    line = f"**The predicted line** {_shape(pred)} ({values}; {inputs})."
    if pred[b1] > pred[b0]:
        if best[b1]["c"] < best[b0]["c"]:
            line += (
                f" c(b) is lower at batch {b1} than at batch {b0}: the target's step grew with the "
                "batch more than the draft's, so the formula counts drafting as cheaper."
            )
        else:
            line += f" c(b) is not lower at batch {b1}, so the rise comes from v(k) and α̂ there."
    c0, c1 = best[b0]["c"], costs["c"]
    how = "a median of 20 one-token steps on the first prompt"
    if abs(c0 - c1) < 0.02:
        line += f" At batch {b0}, c(b) {c0:.2f} repeats the top's c of {c1:.2f} ({how})."
    else:
        line += (
            f" At batch {b0}, c(b) {c0:.2f} and the top's c of {c1:.2f} are the same measurement "
            f"({how}) taken at two moments: one timing of millisecond steps on a CPU moves that much. "
            f"With the top's c the batch-{b0} prediction would be "
            f"{e[b0] / (best[b0]['k'] * c1 + v[b0]):.2f}x."
        )
    ratio = ", ".join(f"{meas[b] / pred[b]:.2f}" for b in sizes[:-1])
    ratio += f" and {meas[b1] / pred[b1]:.2f} of the prediction at batch "
    ratio += ", ".join(str(b) for b in sizes[:-1]) + f" and {b1}"
    second = (
        f"{line} The clock lands at {ratio}, because the formula prices the forward passes only. "
        f"At batch {b0} that leaves out each round's Python work (the draft loop, acceptance, "
        "cropping the caches). Batched, two more costs join: a batch runs until its slowest row "
        "has all its tokens, while the formula uses an average row's α̂, and every round does "
        "per-row masking that plain `generate` skips."
    )
    return f"{first}\n\n{second}"


def distillation(
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    t_seq: float,
    t_op: float,
    stock_alpha: float | None = None,
) -> str:
    """Section 2: each distilled draft against the stock draft, and the two against each other (paired)."""
    verdicts, cis = [], {}
    for name, new in (("sequence-level", alphas1), ("on-policy (DistillSpec)", alphas2)):
        d = [new[i] - alphas0[i] for i in known]  # paired with the stock draft: the same prompts
        mean, (lo, hi) = (sum(d) / len(d), judge.bootstrap_ci(d)) if d else (0.0, (0.0, 0.0))
        cis[name] = (f"{mean:+.2f} (95% CI {lo:+.2f} to {hi:+.2f})", lo)
        ci = cis[name][0]
        if lo > 0:
            said = f"raised α, {ci}: it paid"
        elif hi < 0:
            said = f"lowered α, {ci}: it hurt here; keep the stock draft"
        else:
            said = (
                f"left α within noise, {ci}, an interval that contains zero: it did not pay here; "
                "train longer, or on prompts like the ones you serve, before using it"
            )
        verdicts.append(f"{name[0].upper()}{name[1:]} distillation {said}.")
    if all(lo > 0 for _, lo in cis.values()):
        each = ", ".join(f"{name} by {ci}" for name, (ci, _) in cis.items())
        verdicts = [f"Both distillations raised α over the stock draft: {each}."]
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
    if stock_alpha is None:
        before = ""
    elif stock < stock_alpha - 0.05:
        before = (
            f"On the stock target the same draft reaches {stock_alpha:.2f}: your fine-tune cost "
            f"{stock_alpha - stock:.2f} of α. "
        )
    else:
        before = (
            f"On the stock target the same draft reaches {stock_alpha:.2f}: your fine-tune did not "
            "lower α by more than 0.05, so there is little for a distilled draft to win back. "
        )
    return (
        f"**Reading it.** The stock draft's α on your model is {stock:.2f} over {len(known)} "
        f"held-out prompts (stopped at the end of turn). {before}"
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

    def best(a: float) -> float:
        return spec_schedules.predicted_speedup(a, best_k(a), costs["c"], vk[best_k(a)])

    stock = best(alpha["stock draft"])
    top = max((n for n in alpha if n != "stock draft"), key=lambda n: best(alpha[n]))
    if stock < 1:
        said = "under 1x: speculation with it would slow your model down"
    elif stock < 1.1:
        said = "under a 10 % gain: it would barely pay on your model"
    else:
        said = "still a gain on your model"
    return (
        f"**The speed-up column.** With the stock draft the formula's best is {stock:.2f}x, {said}; "
        f"the {top.split(',')[0]} draft's α gives {best(alpha[top]):.2f}x. The column is the "
        f"formula on the c and v(k) measured at the top of this notebook, not a measurement{noise}. "
        "On the tiny CPU profile read α as the result and that column as an illustration; the "
        "training seconds are this run's CPU."
    )
