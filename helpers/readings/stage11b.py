"""Readings of notebook 11b (speculative decoding for serving): batched decoding and the distilled drafts,
each verdict chosen by the measured values."""

from __future__ import annotations

from helpers import hub_settings, judge, profiles, side_by_side_batched, spec_schedules


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


def cost_spread(costs: dict) -> str:
    """The top: c as a clock ratio, its spread over repeated measurements, and why notebook 11's c differs."""
    runs, ms = costs["c_runs"], costs["target_ms_runs"]
    lo, hi = min(runs), max(runs)
    spread = (hi - lo) / costs["c"]
    said = (
        f"**Reading it.** c is a ratio of two clocks, the draft's step over the target's (medians "
        f"{costs['draft_ms']:.2f} ms and {costs['target_ms']:.2f} ms), and the figure above is the "
        f"median of {len(runs)} measurements taken one after another, each the median of 20 steps. "
        f"Across them c ranged from {lo:.3f} to {hi:.3f} and the target step from {min(ms):.1f} "
        f"to {max(ms):.1f} ms. "
    )
    if spread > 0.2:
        said += (
            f"That range is {spread:.0%} of the median, within one cell: millisecond steps timed on "
            "a CPU shared with other work move, and the two steps need not move together. "
        )
    else:
        said += (
            f"That range is {spread:.0%} of the median: steady within this cell, but a run at "
            "another moment, with other work on the CPU, can land elsewhere. "
        )
    return said + (
        "Notebook 11 timed the same pair in its own run, so its c can differ from this one by more "
        "than this spread. Each page predicts from its own run's c: compare predictions within one "
        "run, not across pages."
    )


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
    gain = f"Plain batched `generate` makes {plain[b1] / plain[b0]:.1f}x the tokens per second at "
    gain += f"batch {b1} that it makes at batch {b0}"
    if many and meas[top] >= 1.1:
        verdict = f"Batched, the speed-up is {_at(many)}: batched speculation paid at batch {top}."
        why = f"{gain}, so each batched gain is measured against " + (
            "a faster baseline." if plain[b1] > plain[b0] else "a baseline that did not speed up."
        )
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
    runs = costs.get("c_runs", [c1])
    lo, hi = min(runs), max(runs)
    if lo - 0.005 <= c0 <= hi + 0.005:
        line += (
            f" At batch {b0}, c(b) {c0:.2f} lies inside the range of the top's {len(runs)} "
            f"measurements of c ({lo:.2f} to {hi:.2f})."
        )
    else:
        line += (
            f" At batch {b0}, c(b) {c0:.2f} lies outside the range of the top's {len(runs)} "
            f"measurements of c ({lo:.2f} to {hi:.2f}): the same ratio, timed a minute later on a "
            "CPU whose load had changed. With the top's c the batch-"
            f"{b0} prediction would be {e[b0] / (best[b0]['k'] * c1 + v[b0]):.2f}x."
        )
    ratio = ", ".join(f"{meas[b] / pred[b]:.2f}" for b in sizes[:-1])
    ratio += f" and {meas[b1] / pred[b1]:.2f} of the prediction at batch "
    ratio += ", ".join(str(b) for b in sizes[:-1]) + f" and {b1}"
    shares = [meas[b] / pred[b] for b in sizes]
    if max(shares) < 1:
        why_short = (
            "because the formula prices the forward passes only. "
            f"At batch {b0} that leaves out each round's Python work (the draft loop, acceptance, "
            "cropping the caches). Batched, two more costs join: a batch runs until its slowest row "
            "has all its tokens, while the formula uses an average row's α̂, and every round does "
            "per-row masking that plain `generate` skips."
        )
    elif min(shares) > 1:
        why_short = (
            "above the prediction everywhere: the formula's c(b) and v(k) are clock ratios timed "
            "apart from the decoding, and here they priced a round higher than the decoding paid."
        )
    else:
        why_short = (
            "on both sides of the prediction: the formula leaves out each round's Python work and "
            "the slowest row (which lower the clock), and its c(b) and v(k) are clock ratios timed "
            "apart from the decoding (which can move it either way)."
        )
    second = f"{line} The clock lands at {ratio}, {why_short}"
    return f"{first}\n\n{second}"


def _paired(new: list, old: list, known: list[int]) -> tuple[float, float, float]:
    """Mean of new - old over the prompts both measured, and its 95% bootstrap interval."""
    d = [new[i] - old[i] for i in known]
    if not d:
        return 0.0, 0.0, 0.0
    return (sum(d) / len(d), *judge.bootstrap_ci(d))


def _gain(new: list, old: list, known: list[int]) -> tuple[str, float, float]:
    """'+0.29 (95% CI +0.20 to +0.38)' for new - old, paired, with the interval's ends."""
    mean, lo, hi = _paired(new, old, known)
    return f"{mean:+.2f} (95% CI {lo:+.2f} to {hi:+.2f})", lo, hi


def recipes(lrs: tuple[float, float]) -> str:
    """What besides the method parts the two distillations: trained weights and learning rate."""
    same = "the same learning rate" if lrs[0] == lrs[1] else "different learning rates"
    return (
        f"The two recipes differ in more than the method: sequence-level trains LoRA adapters at a "
        f"learning rate of {lrs[0]:g}, DistillSpec every weight at {lrs[1]:g} ({same}, different "
        "trained weights). So this comparison does not separate the method from its recipe. To do "
        "that, train both the same way (every weight, or LoRA for both) with a sweep of three "
        "learning rates each, and compare the best of each on these held-out prompts."
    )


def distillation(
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    t_seq: float,
    t_op: float,
    stock_alpha: float | None = None,
    lrs: tuple[float, float] | None = None,
) -> str:
    """Section 2: each distilled draft against the stock draft, and the two against each other (paired).
    `lrs`: the sequence-level (LoRA) and on-policy (every weight) learning rates."""
    verdicts, cis = [], {}
    for name, new in (("sequence-level", alphas1), ("on-policy (DistillSpec)", alphas2)):
        ci, lo, hi = _gain(new, alphas0, known)  # paired with the stock draft: the same prompts
        cis[name] = (ci, lo)
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
    gap, d_lo, d_hi = _paired(alphas2, alphas1, known)
    if d_lo > 0:
        winner = "the interval lies above zero, so DistillSpec's on-policy draft accepts more"
    elif d_hi < 0:
        winner = (
            "the interval lies below zero, so the sequence-level draft accepts more and DistillSpec "
            f"did not pay here against it ({t_op:.0f} s of training against {t_seq:.0f} s): keep "
            "the sequence-level draft"
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
        f"(95% CI {d_lo:+.3f} to {d_hi:+.3f}): {winner}." + (f"\n\n{recipes(lrs)}" if lrs else "")
    )


def distill_plot(tvd: list[float], alpha: dict[str, float], ci: dict[str, tuple]) -> str:
    """Section 2's figure: the on-policy TVD curve, and α per draft with its interval."""
    n = min(10, len(tvd))
    first, last = sum(tvd[:n]) / n, sum(tvd[-n:]) / n
    tail = tvd[-30:]
    if last < first - 0.02:
        curve = f"fell from {first:.2f} over the first {n} steps to {last:.2f} over the last {n}"
    else:
        curve = (
            f"did not fall ({first:.2f} over the first {n} steps, {last:.2f} over the last {n}): "
            "the training did not move the draft toward the target on its own samples"
        )
    op = next(name for name in alpha if "on-policy" in name)
    a = alpha[op]
    said = (
        f"**Reading it.** Left: the TVD on the draft's own samples {curve}. Each step draws new "
        f"samples, so single steps scatter ({min(tail):.2f} to {max(tail):.2f} over the last "
        f"{len(tail)}). 1 − TVD, the acceptance sampled decoding would see on those samples, ends "
        f"near {1 - last:.2f}; the draft's greedy α on held-out prompts is {a:.2f}"
    )
    if a < 1 - last - 0.05:
        said += (
            ", lower: the loss is measured where the draft goes at temperature 1, α where the "
            "target goes greedily, so the curve overstates the gain greedy decoding sees. "
        )
    elif a > 1 - last + 0.05:
        said += (
            ", higher: agreeing on the target's greedy token is easier than matching its whole "
            "distribution. "
        )
    else:
        said += ", about the same. "
    names = list(alpha)
    apart = [
        (x, y)
        for i, x in enumerate(names)
        for y in names[i + 1 :]
        if ci[x][1] < ci[y][0] or ci[y][1] < ci[x][0]
    ]
    if len(apart) == len(names) * (len(names) - 1) // 2:
        bars = "no two intervals overlap"
    elif not apart:
        bars = "every two intervals overlap, so the bars alone separate no draft"
    else:
        bars = "; ".join(f"{x} and {y} do not overlap" for x, y in apart) + "; the rest overlap"
    return said + (
        f"Right: mean α per draft with its 95% bootstrap interval over the prompts: {bars}. The "
        "bars are unpaired; the paired intervals below are the sharper test."
    )


def speedup_column(alpha: dict[str, float], costs: dict) -> str:
    """Section 2: what the table's best speed-up column is (the formula on this run's c and v(k))."""
    vk = costs["verify"]

    def best_k(a: float, c: float) -> int:
        return max(vk, key=lambda k: spec_schedules.predicted_speedup(a, k, c, vk[k]))

    below = sorted({best_k(a, costs["c"]) for a in alpha.values()} & {k for k in vk if vk[k] < 1})
    noise = (
        f"; its best k leans on v(k) below 1 at k = {', '.join(map(str, below))}, a (k+1)-token "
        "pass timed cheaper than a 1-token one, which is the clock's noise"
        if below
        else ""
    )

    def best(a: float, c: float = costs["c"]) -> float:
        return spec_schedules.predicted_speedup(a, best_k(a, c), c, vk[best_k(a, c)])

    stock = best(alpha["stock draft"])
    top = max((n for n in alpha if n != "stock draft"), key=lambda n: best(alpha[n]))
    if stock < 1:
        said = "under 1x: speculation with it would slow your model down"
    elif stock < 1.1:
        said = "under a 10 % gain: it would barely pay on your model"
    else:
        said = "still a gain on your model"
    lo, hi = min(costs["c_runs"]), max(costs["c_runs"])
    moves = (
        f" With c at the ends of its measured range ({lo:.3f} and {hi:.3f}) the stock draft's "
        f"best would be {best(alpha['stock draft'], hi):.2f}x to "
        f"{best(alpha['stock draft'], lo):.2f}x, and the {top.split(',')[0]} draft's "
        f"{best(alpha[top], hi):.2f}x to {best(alpha[top], lo):.2f}x."
    )
    return (
        f"**The speed-up column.** With the stock draft the formula's best is {stock:.2f}x, {said}; "
        f"the {top.split(',')[0]} draft's α gives {best(alpha[top]):.2f}x. The column is the "
        f"formula on the c and v(k) measured at the top of this notebook, not a measurement{noise}."
        f"{moves} On the tiny CPU profile read α as the result and that column as an illustration; "
        "the training seconds are this run's CPU."
    )


def trend(result: dict) -> dict:
    """How the measured speed-up moved from the smallest batch to the largest: 'rose', 'fell' or 'held'
    (within 0.05x), with both ends."""
    best = side_by_side_batched.best_per_batch(result)
    sizes = sorted(best)
    b0, b1 = sizes[0], sizes[-1]
    m0, m1 = best[b0]["speedup"], best[b1]["speedup"]
    way = "rose" if m1 > m0 + 0.05 else "fell" if m1 < m0 - 0.05 else "held"
    return {
        "way": way,
        "b0": b0,
        "b1": b1,
        "m0": m0,
        "m1": m1,
        "c0": best[b0]["c"],
        "c1": best[b1]["c"],
    }


def _batch_words(t: dict) -> str:
    """'the gain rose from 1.04x at batch 1 to 1.19x at batch 8'."""
    ends = f"{t['m0']:.2f}x at batch {t['b0']}"
    if t["way"] == "held":
        return f"the gain held level, {ends} and {t['m1']:.2f}x at batch {t['b1']}"
    return f"the gain {t['way']} from {ends} to {t['m1']:.2f}x at batch {t['b1']}"


def summary(
    result: dict,
    costs: dict,
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    lrs: tuple[float, float],
) -> str:
    """The summary's bullets, each from this run's values: parity, the batched trend and its cause, the
    formula's fit, c's noise, and the distilled drafts."""
    t = trend(result)
    best = side_by_side_batched.best_per_batch(result)
    ours = [r for r in result["rows"] if r["k"]]
    ok, total = sum(r["parity"] for r in ours), sum(r["rows"] for r in ours)
    plain = {r["batch"]: r["tokens_per_s"] for r in result["rows"] if r["k"] is None}
    exact = "every one of" if ok == total else f"only {ok} of"
    first = (
        "- Batched, each row accepts its own drafts; rejected drafts stay in the cache, masked out, "
        "and each row's position is its own count of real tokens. Here "
        f"{exact} {total} decoded rows equalled their prompt's own greedy decoding."
    )
    gain = (
        f"- The gain is measured against batched `generate`, which itself made "
        f"{plain[t['b1']] / plain[t['b0']]:.1f}x the tokens per second at batch {t['b1']} that it "
        f"made at batch {t['b0']}. Here {_batch_words(t)}"
    )
    if t["way"] == "rose":
        gain += (
            f": c(b) went from {t['c0']:.2f} to {t['c1']:.2f}, so the target's step grew with the "
            "batch more than the draft's and drafting got relatively cheaper."
            if t["c1"] < t["c0"]
            else ": c(b) did not fall, so the formula's inputs do not explain the rise; read it as "
            "this CPU's timing."
        )
    elif t["way"] == "fell":
        gain += (
            ": batching shares a step's overhead among the rows, the overhead speculation shares "
            "among drafted tokens, so less was left for the drafts to save"
            + (
                f", and at batch {t['b1']} speculation was slower than plain."
                if t["m1"] < 1
                else "."
            )
        )
    else:
        gain += ": batching neither took the gain away nor added to it on this pair."
    gain += " Whether speculation pays at your batch size is a measurement, not a rule."
    shares = [best[b]["speedup"] / best[b]["predicted"] for b in sorted(best)]
    fit = (
        f"- The formula at batch b needs α̂, c(b) and v(k) measured at that batch. The clock landed "
        f"at {min(shares):.2f} to {max(shares):.2f} of its prediction: "
        + (
            "the formula leaves out the slowest row and each round's bookkeeping."
            if max(shares) < 1
            else "its inputs are clock ratios timed apart from the decoding, and they move."
        )
    )
    lo, hi = min(costs["c_runs"]), max(costs["c_runs"])
    noise = (
        f"- c is a ratio of two clocks: on this shared CPU it ranged from {lo:.3f} to {hi:.3f} over "
        f"{len(costs['c_runs'])} measurements in one cell. Compare predictions within one run."
    )
    gains = {
        name: _gain(new, alphas0, known)
        for name, new in (("sequence-level", alphas1), ("DistillSpec", alphas2))
    }
    said = [
        f"{name} {'raised α' if lo > 0 else 'lowered α' if hi < 0 else 'left α within noise'}, {ci}"
        for name, (ci, lo, hi) in gains.items()
    ]
    gap, d_lo, d_hi = _paired(alphas2, alphas1, known)
    lead = (
        "DistillSpec accepted more"
        if d_lo > 0
        else "sequence-level accepted more"
        if d_hi < 0
        else "neither accepted more"
    )
    distilled = (
        f"- A draft trained for your model: on held-out prompts, paired with the stock draft, "
        f"{' and '.join(said)}; {lead}. The two recipes differ in trained weights and learning "
        f"rate ({lrs[0]:g} against {lrs[1]:g}) as well as method, so that is a recipe's result; "
        "sweep the learning rate for each before choosing a method."
    )
    return "\n".join([first, gain, fit, noise, distilled])


def colab(
    result: dict,
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    stock_alpha: float | None,
    second: dict | None,
) -> str:
    """The 'On Colab you will see' table: what the presets should show, set against this run's values."""
    models = profiles.GPU_PRESETS["t4"]["models"]
    pair = f"{models['target'].split('/')[-1]} + {models['draft'].split('/')[-1]}"
    t = trend(result)
    gpu = (
        "the same direction as expected on a GPU, for a different reason"
        if t["way"] == "fell"
        else "not the direction expected on a GPU"
    )
    stock = sum(alphas0[i] for i in known) / len(known) if known else float("nan")
    if stock_alpha is None:
        here = "here your model is the target itself, so there was nothing to lose"
    elif stock < stock_alpha - 0.05:
        here = f"here the tiny policy cost {stock_alpha - stock:.2f} of α ({stock_alpha:.2f} → {stock:.2f})"
    else:
        here = f"here the tiny policy lost no more than 0.05 of α ({stock_alpha:.2f} → {stock:.2f})"
    gains = [
        f"{name} {_gain(new, alphas0, known)[0]}"
        for name, new in (("sequence-level", alphas1), ("DistillSpec", alphas2))
    ]
    if second:
        other = (
            f"{' + '.join(second['names'])}: {second['V']:,} shared logits, c = {second['c']:.2f}, "
            f"α {second['alpha']:.2f}, equal to greedy on {second['equal']} of {second['n']} (measured above)"
        )
    else:
        pairs = "; ".join(
            f"{card}: {' + '.join(m.split('/')[-1] for m in names)}"
            for card, names in hub_settings.SECOND_PAIRS.items()
        )
        other = (
            f"{pairs}; measured by the cell above on those cards. One tokenizer, but the 7B pads "
            "its vocabulary to 152,064 rows and the 0.5B has 151,936: both are sliced to the "
            "tokenizer's length before any comparison. Not on this profile"
        )
    rows = [
        ("pair", f"every preset: {pair} (fp16 on t4, bf16 on l4 and a100)"),
        (
            "batched speed-up",
            "a 22-layer target's step at batch 1 waits on memory and kernel launches, so a "
            "2-layer draft saves most of a step per accepted token; as the batch grows the verify "
            "pass over b(k+1) tokens fills the card and the gain should shrink. On this run's CPU "
            f"{_batch_words(t)}: {gpu}. A tiny model's step is mostly fixed overhead, so the tiny "
            "trend does not predict the GPU's",
        ),
        (
            "your model with the stock draft",
            "a lower α than on the stock target wherever your fine-tune changed the text "
            f"(`COURSE_TARGET=./dpo_final`); {here}",
        ),
        (
            "distilled drafts",
            "a higher α on held-out prompts where your fine-tune lowered it; the paper's 10–45 % "
            f"speed-ups (section 2) as the reference. Here, α over the stock draft: {', '.join(gains)}",
        ),
        ("a second family (l4, a100)", other),
    ]
    table = "\n".join(f"| {name} | {said} |" for name, said in rows)
    return (
        "Expected on the presets' real models, none of it measured on a GPU yet:\n\n"
        f"| | expected on the preset's models |\n|---|---|\n{table}"
    )
