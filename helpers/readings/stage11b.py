"""Readings of notebook 11b (speculative decoding for serving): batched decoding and the distilled drafts,
each verdict chosen by the measured values."""

from __future__ import annotations

from helpers import hub_settings, judge, profiles, side_by_side_batched, spec_schedules


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
        "than this: compare predictions within one run, not across pages."
    )


def _sides(result: dict) -> dict[str, list[int]]:
    """Every batch size, sorted by what its speed-up's range over the repeats shows: faster, slower,
    unclear (the range straddles 1x)."""
    out: dict = {"faster": [], "slower": [], "unclear": []}
    for b, r in sorted(side_by_side_batched.chosen_per_batch(result).items()):
        lo, hi = side_by_side_batched.spread(r)
        out["faster" if lo > 1 else "slower" if hi < 1 else "unclear"].append(b)
    return out


def _batched_verdict(result: dict) -> str:
    """One sentence on every batch size, from the speed-up's ranges over the repeats."""
    sides = _sides(result)
    said = {
        "faster": "was faster than plain in every repeat at batch {}",
        "slower": "was slower than plain in every repeat at batch {}",
        "unclear": "straddled 1x at batch {}, where the clock cannot tell it from plain",
    }
    parts = [said[w].format(" and ".join(map(str, bs))) for w, bs in sides.items() if bs]
    return "Speculation " + "; it ".join(parts) + "."


def _loop_ratio(r: dict) -> float:
    """Both models' passes per round inside the decoding, over what k·c(b) + v(k) target steps price."""
    return r["pass_ms"] / ((r["k"] * r["c"] + r["v"]) * r["target_ms"])


def _listed(xs: list[str]) -> str:
    return ", ".join(xs)


def _clock(chosen: dict[int, dict]) -> str:
    """One explanation of formula against clock at every batch size: plain `generate`'s measured step over
    a bare target step, ours' passes over their price, and where the formula with both costs lies
    against each batch's repeats."""
    sizes = sorted(chosen)
    steps = [side_by_side_batched.plain_overhead(chosen[b]) for b in sizes]
    loops = [_loop_ratio(chosen[b]) for b in sizes]
    place: dict[str, list[str]] = {"below every repeat": [], "above every repeat": [], "inside": []}
    for b in sizes:
        lo, hi = side_by_side_batched.spread(chosen[b])
        both = side_by_side_batched.explained(chosen[b])
        where = (
            "below every repeat" if both < lo else "above every repeat" if both > hi else "inside"
        )
        place[where].append(str(b))
    at = "; ".join(
        f"{w if w != 'inside' else 'inside the range of the repeats'} at batch {' and '.join(bs)}"
        for w, bs in place.items()
        if bs
    )
    said = (
        f"**Plain's overhead, at every batch.** The formula charges plain decoding one bare target "
        f"step per token, but plain `generate`'s step took {_listed([f'{x:.1f}x' for x in steps])} "
        f"a bare target step at batch {_listed([str(b) for b in sizes])} (last column), while "
        f"ours' passes inside the loop took {_listed([f'{x:.1f}x' for x in loops])} what c(b) and "
        f"v(k) price. The formula with both costs lies {at}. "
    )
    plain_more = all(s > lo for s, lo in zip(steps, loops))
    if plain_more and place["below every repeat"]:
        said += (
            "Plain pays more per step than our passes do, which lifts the clock above the formula: "
            "'faster than plain' here includes `generate`'s own per-step work, not only "
            "speculation's gain."
        )
    elif plain_more:
        said += (
            "Plain pays more per step than our passes do, yet the clock is not above the formula "
            "at any batch: that overhead is not what limits the clock here."
        )
    elif all(s < lo for s, lo in zip(steps, loops)):
        said += (
            "Our passes pay more per step than plain does, which pulls the clock below the formula: "
            "'faster than plain' here is speculation's gain minus our loop's extra work."
        )
    else:
        said += "The two overheads point different ways at different batches."
    if place["above every repeat"]:
        said += (
            f" Where the formula lies above every repeat (batch "
            f"{' and '.join(place['above every repeat'])}), a cost neither term names is left "
            "unexplained here."
        )
    return said + (
        " Our own loop with no drafts (k = 0), as notebook 11 times it, would separate the two; "
        "this section does not time it."
    )


def _retimed(r: dict, costs: dict) -> str:
    """Batch 1's re-timed c and v(k) against the top cell's, read from the values."""
    lo, hi = min(costs["c_runs"]), max(costs["c_runs"])
    k, v_top = r["k"], costs["verify"].get(r["k"])
    inside = "inside" if lo <= r["c"] <= hi else "outside"
    return (
        f" At batch 1 the costs were timed again: c(1) = {r['c']:.2f} and v({k}) = {r['v']:.2f}, "
        f"against the top cell's c {costs['c']:.3f} (range {lo:.3f} to {hi:.3f}) and v({k}) "
        f"{v_top:.2f}; c(1) lies {inside} that range. The CPU's clock drifts between cells, so each "
        "prediction uses the costs timed next to it."
    )


def _outlier(chosen: dict[int, dict]) -> str:
    """A repeat far above its batch's median (the figure's tallest error bar), if any."""
    for b, r in sorted(chosen.items()):
        hi = side_by_side_batched.spread(r)[1]
        if hi > 1.5 * r["speedup"]:
            return (
                f" In the figure, one repeat at batch {b} reached {hi:.2f}x, over 1.5 times its "
                f"median {r['speedup']:.2f}x: most likely one slow plain pass; read the median."
            )
    return ""


def _parity(result: dict) -> str:
    """'48 decodings (8 rows at 3 batch sizes and 2 k; 6 distinct prompts)'."""
    ours = [r for r in result["rows"] if r["k"]]
    total = sum(r["rows"] for r in ours)
    nb, nk = len({r["batch"] for r in ours}), len({r["k"] for r in ours})
    distinct = result.get("distinct", result["prompts"])
    return (
        f"{total} decodings ({result['prompts']} rows at {nb} batch sizes and {nk} k; "
        f"{distinct} distinct prompts)"
    )


def batched(result: dict, costs: dict) -> str:
    """Section 1: parity, the measured speed-up per batch with its spread, the formula's prediction, the
    costs it leaves out (measured), plain's overhead, and what a GPU changes."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    sizes = sorted(chosen)
    b0, b1 = sizes[0], sizes[-1]
    ours = [r for r in result["rows"] if r["k"]]
    ok, total = sum(r["parity"] for r in ours), sum(r["rows"] for r in ours)
    plain = {r["batch"]: r["tokens_per_s"] for r in result["rows"] if r["k"] is None}
    alone = "their prompt's greedy `generate` decoded alone"
    if ok == total:
        parity = f"All {_parity(result)} equal {alone}."
    else:
        parity = (
            f"Only {ok} of {_parity(result)} equal {alone}: in float32 that is a bug; in fp16 or "
            "bf16 it can be a near-tie rounded the other way."
        )
    each = ", ".join(
        f"{chosen[b]['speedup']:.2f}x at batch {b} ({lo:.2f}x to {hi:.2f}x)"
        for b in sizes
        for lo, hi in [side_by_side_batched.spread(chosen[b])]
    )
    first = (
        f"**Reading it.** {parity} At the formula's k the speed-up is {each}, each with its range "
        f"over {result['repeats']} repeats. {_batched_verdict(result)} Plain `generate` makes "
        f"{plain[b1] / plain[b0]:.1f}x the tokens per second at batch {b1} that it makes at batch "
        f"{b0}.{_outlier(chosen)}"
    )
    pred = {b: chosen[b]["predicted"] for b in sizes}
    slow = chosen[b1]
    books = sorted({f"{chosen[b]['bookkeeping']:.0%}" for b in sizes}, key=lambda x: float(x[:-1]))
    both = _listed([f"{side_by_side_batched.explained(chosen[b]):.2f}x" for b in sizes])
    second = (
        f"**What the formula leaves out.** With α̂, c(b) and v(k) measured at each batch (second "
        f"table) it predicts {_listed([f'{pred[b]:.2f}x' for b in sizes])}.{_retimed(chosen[b0], costs)} "
        "Two costs outside the formula were measured in the timed runs. **The slowest row**: a "
        f"batch runs until its last row is done; at batch {b1} it ran {slow['rounds']} rounds where "
        f"its mean row needed {slow['mean_row_rounds']:.1f} (a factor of {slow['slowest']:.2f}). "
        "**Bookkeeping**: acceptance, masking and writing tokens took "
        f"{' to '.join([books[0], books[-1]] if len(books) > 1 else books)} of ours' time. With "
        f"both, the formula gives {both}."
    )
    k0, k1 = chosen[b0]["k"], chosen[b1]["k"]
    v0, v1 = chosen[b0]["v"], chosen[b1]["v"]
    way = "rose" if v1 > v0 + 0.15 else "did not rise"
    third = (
        "**On a GPU** the formula's inputs move with the batch: at small b a step waits on memory, "
        "so c(b) is small and v(k) near 1; as b(k+1) grows the verify pass turns compute-bound, "
        f"v(k) climbs toward k + 1 and the formula predicts less. Here v({k0}) at batch {b0} was "
        f"{v0:.2f} and v({k1}) at batch {b1} {v1:.2f} (second table): it {way}."
    )
    return f"{first}\n\n{second}\n\n{_clock(chosen)}\n\n{third}"


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
        "trained weights). So this comparison does not separate the method from its recipe; "
        "exercise 4 trains both at three learning rates each."
    )


def _winner(new: list, old: list, known: list[int]) -> str:
    """'on' (on-policy accepts more), 'seq' (sequence-level does) or 'neither', from the paired interval
    of new (on-policy) minus old (sequence-level)."""
    _, lo, hi = _paired(new, old, known)
    return "on" if lo > 0 else "seq" if hi < 0 else "neither"


def _keep(w: str) -> str:
    return {
        "on": "keep DistillSpec's draft",
        "seq": "keep the sequence-level draft",
        "neither": "neither draft is better",
    }[w]


def distillation(
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    t_seq: float,
    t_op: float,
    stock_alpha: float | None = None,
    lrs: tuple[float, float] | None = None,
    sampled: tuple[list, list, list] | None = None,
    batched: dict | None = None,
) -> str:
    """Section 2: each distilled draft against the stock draft, and the two against each other (paired),
    greedy and, if given, `sampled` (the three drafts' sampled α per prompt, in the same order).
    `lrs`: the sequence-level (LoRA) and on-policy (every weight) learning rates. `batched`: section 1's
    result, whose α̂ for the same stock pair this section's is set against."""
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
        verdicts = [f"Greedy, both distillations raised α over the stock draft: {each}."]
    gap, d_lo, d_hi = _paired(alphas2, alphas1, known)
    w_greedy = _winner(alphas2, alphas1, known)
    stock = sum(alphas0[i] for i in known) / len(known) if known else float("nan")
    if stock_alpha is None:
        before = ""
    elif stock < stock_alpha - 0.05:
        before = (
            f"On the stock target the same draft reaches {stock_alpha:.2f} (the same mean over prompts): your fine-tune cost "
            f"{stock_alpha - stock:.2f} of α. "
        )
    else:
        before = (
            f"On the stock target the same draft reaches {stock_alpha:.2f} (the same mean over prompts): your fine-tune did not "
            "lower α by more than 0.05, so there is little for a distilled draft to win back. "
        )
    if stock_alpha is not None and batched:
        a = sorted(
            {
                f"{r['alpha_hat']:.2f}"
                for r in side_by_side_batched.chosen_per_batch(batched).values()
            }
        )
        lo, hi = float(a[0]), float(a[-1])
        side = "lower" if hi < stock_alpha else "higher" if lo > stock_alpha else "about the same"
        before += (
            f"Section 1's α̂ for that pair, {' to '.join([a[0], a[-1]] if len(a) > 1 else a)}, is "
            f"{side}: it decoded {batched['prompts']} other rows to the full {batched['new_tokens']}"
            "-token budget, past their end of turn. α belongs to the text decoded. "
        )
    out = (
        f"**Reading it.** The stock draft's α on your model is {stock:.2f} over {len(known)} "
        f"held-out prompts (greedy, stopped at the end of turn). {before}"
        f"{' '.join(verdicts)} On-policy minus sequence-level is {gap:+.3f} (95% CI {d_lo:+.3f} "
        f"to {d_hi:+.3f}), "
        + {
            "on": "above zero: DistillSpec's draft accepts more greedily.",
            "seq": "below zero: the sequence-level draft accepts more greedily.",
            "neither": "an interval that contains zero: neither accepts more greedily.",
        }[w_greedy]
    )
    if sampled:
        s0, s1, s2 = sampled
        gains = [
            f"{n} {_gain(new, s0, known)[0]}"
            for n, new in (("sequence-level", s1), ("DistillSpec", s2))
        ]
        sgap, s_lo, s_hi = _paired(s2, s1, known)
        w_sampled = _winner(s2, s1, known)
        out += (
            f" Sampled at temperature 1, where DistillSpec's loss aims: {', '.join(gains)} over "
            f"the stock draft; on-policy minus sequence-level {sgap:+.3f} (95% CI {s_lo:+.3f} to "
            f"{s_hi:+.3f})."
        )
        if w_greedy == w_sampled:
            out += f" Both settings agree: {_keep(w_greedy)}, for greedy and sampled serving alike"
        else:
            out += (
                f" The settings disagree: for greedy serving {_keep(w_greedy)}; for sampled "
                f"serving {_keep(w_sampled)}"
            )
    else:
        out += f" For greedy serving, {_keep(w_greedy)}; sampled serving was not measured"
    out += f" ({t_op:.0f} s of DistillSpec training against {t_seq:.0f} s)."
    return out + (f"\n\n{recipes(lrs)}" if lrs else "")


def _overlaps(alpha: dict[str, float], ci: dict[str, tuple]) -> str:
    """Which pairs of 95% intervals do not overlap."""
    names = list(alpha)
    apart = [
        (x, y)
        for i, x in enumerate(names)
        for y in names[i + 1 :]
        if ci[x][1] < ci[y][0] or ci[y][1] < ci[x][0]
    ]
    if len(apart) == len(names) * (len(names) - 1) // 2:
        return "no two intervals overlap"
    if not apart:
        return "every two intervals overlap, so the bars alone separate no draft"
    short = {x: x.split(",")[0] for x in names}
    return ", ".join(f"{short[x]} and {short[y]} do not overlap" for x, y in apart) + (
        ", the rest do"
    )


def _spike(tvd: list[float], w: int = 10) -> str:
    """The TVD curve's largest excursion of its running mean over w steps, and whether it came back."""
    smooth = [sum(tvd[max(0, i - w + 1) : i + 1]) / min(i + 1, w) for i in range(len(tvd))]
    start = w if len(tvd) > 2 * w else 0  # past the first w steps: the curve starts high
    typical = sorted(smooth[start:])[len(smooth[start:]) // 2]
    top = max(range(start, len(smooth)), key=smooth.__getitem__)
    peak = smooth[top]
    if peak < 1.3 * typical:
        return f"No spike: the running mean peaks at {peak:.2f}, within 30 % of its median {typical:.2f}."
    window = tvd[max(0, top - w + 1) : top + 1]
    said = (
        f"The largest event is a spike: the running mean climbs to {peak:.2f} at step {top} "
        f"(single steps to {max(window):.2f}) against a median of {typical:.2f}"
    )
    back = next((i for i in range(top, len(smooth)) if smooth[i] <= typical + 0.03), None)
    if back is not None:
        return said + (
            f", and is back by step {back}: training did not diverge. A full-weight update near the "
            "edge of stability, or a batch of odd samples, looks like this; exercise 4's "
            "learning-rate sweep tells which."
        )
    return said + (
        ", and had not come back by the last step: at this learning rate the full-weight update "
        "went unstable, which costs the draft α; try a lower rate first."
    )


def _side(x: float, ref: float) -> str:
    return "lower" if x < ref - 0.05 else "higher" if x > ref + 0.05 else "about the same"


def distill_plot(
    tvd: list[float],
    alpha: dict[str, float],
    ci: dict[str, tuple],
    s_alpha: dict[str, float] | None = None,
    s_ci: dict[str, tuple] | None = None,
) -> str:
    """Section 2's figure: the on-policy TVD curve with its spike if any, and α per draft with its
    interval (greedy, and sampled if given)."""
    n = min(10, len(tvd))
    first, last = sum(tvd[:n]) / n, sum(tvd[-n:]) / n
    if last < first - 0.02:
        curve = f"fell from {first:.2f} over the first {n} steps to {last:.2f} over the last {n}"
    else:
        curve = (
            f"did not fall ({first:.2f} over the first {n} steps, {last:.2f} over the last {n}): "
            "the training did not move the draft toward the target on its own samples"
        )
    op = next(name for name in alpha if "on-policy" in name)
    sides = {"greedy": _side(alpha[op], 1 - last)}
    if s_alpha:
        sides["sampled"] = _side(s_alpha[op], 1 - last)
    got = " and ".join(
        f"{mode} α {a[op]:.2f}" for mode, a in (("greedy", alpha), ("sampled", s_alpha)) if a
    )
    if set(sides.values()) == {"lower"}:
        read = (
            "lower: the loss is measured on the draft's own samples, α on held-out prompts where "
            "the target writes, so the curve's level overstates α"
        )
    elif set(sides.values()) == {"about the same"}:
        read = "about the same: the loss predicted the acceptance"
    else:
        read = "; ".join(f"{mode} {way}" for mode, way in sides.items())
    said = (
        f"**Reading it.** Left: the TVD on the draft's own samples {curve}; single steps scatter "
        f"({min(tvd):.2f} to {max(tvd):.2f}), since each step draws new samples. {_spike(tvd)} "
        f"1 − TVD, the acceptance on the draft's own samples, ends near {1 - last:.2f}; on "
        f"held-out prompts DistillSpec's draft reaches {got}, {read}. Right: α per draft with "
        f"95% bootstrap intervals; greedy: {_overlaps(alpha, ci)}"
    )
    if s_alpha and s_ci:
        said += f"; sampled: {_overlaps(s_alpha, s_ci)}"
    return said + (
        ". The paired intervals above are the sharper test. All these intervals range over the "
        "held-out prompts with one training run per recipe: a second training seed could move a "
        "draft's α by more than they show."
    )


def speedup_column(alpha: dict[str, float], costs: dict, result: dict | None = None) -> str:
    """Section 2: what the table's best speed-up column is (the formula on this run's c and v(k)); its
    band spans every c this run measured (the top cell's and section 1's at batch 1, if given)."""
    vk = costs["verify"]
    every_c = list(costs["c_runs"]) + [
        r["c"] for r in (result or {}).get("rows", []) if r["k"] and r["batch"] == 1
    ]

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
    lo, hi = min(every_c), max(every_c)
    k = best_k(alpha["stock draft"], costs["c"])
    ks = sorted(vk)
    bumpy = any(vk[a] > vk[b] for a, b in zip(ks, ks[1:]))
    choice = (
        f" Its k = {k} comes from the top cell's v(k), which is not monotone in k, so that choice "
        "rests partly on the clock's noise."
        if bumpy
        else f" Its k = {k} comes from the top cell's v(k), which grows with k."
    )
    moves = (
        f"{choice} With c at the ends of every c this run measured ({lo:.3f} and {hi:.3f}) the stock draft's "
        f"best would be {best(alpha['stock draft'], hi):.2f}x to "
        f"{best(alpha['stock draft'], lo):.2f}x, and the {top.split(',')[0]} draft's "
        f"{best(alpha[top], hi):.2f}x to {best(alpha[top], lo):.2f}x."
    )
    return (
        f"**The best column.** With the stock draft the formula's best is {stock:.2f}x, {said}; "
        f"the {top.split(',')[0]} draft's α gives {best(alpha[top]):.2f}x. The column is the "
        f"formula on the c and v(k) measured at the top of this notebook, not a measurement{noise}."
        f"{moves} On the tiny CPU profile read α as the result and the column as an illustration."
    )


def trend(result: dict) -> dict:
    """How the measured speed-up moved from the smallest batch to the largest, at the formula's k: 'rose'
    or 'fell' when the two ranges over the repeats do not overlap, else 'held' (the clock cannot tell)."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    sizes = sorted(chosen)
    b0, b1 = sizes[0], sizes[-1]
    (lo0, hi0), (lo1, hi1) = (side_by_side_batched.spread(chosen[b]) for b in (b0, b1))
    way = "rose" if lo1 > hi0 else "fell" if hi1 < lo0 else "held"
    return {
        "way": way,
        "b0": b0,
        "b1": b1,
        "m0": chosen[b0]["speedup"],
        "m1": chosen[b1]["speedup"],
        "repeats": result["repeats"],
    }


def _batch_words(t: dict) -> str:
    """'the speed-up fell from 1.15x at batch 1 to 1.01x at batch 8 (their ranges over 4 repeats do
    not overlap)'."""
    ends = f"{t['m0']:.2f}x at batch {t['b0']}"
    if t["way"] == "held":
        return (
            f"the speed-up went from {ends} to {t['m1']:.2f}x at batch {t['b1']}, but their ranges "
            f"over {t['repeats']} repeats overlap: the clock cannot tell them apart"
        )
    return (
        f"the speed-up {t['way']} from {ends} to {t['m1']:.2f}x at batch {t['b1']} (their ranges "
        f"over {t['repeats']} repeats do not overlap)"
    )


def _gpu_rows(result: dict) -> str:
    """v(k) at the formula's k from the smallest batch to the largest (the second table's column)."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    b0, b1 = min(chosen), max(chosen)
    r0, r1 = chosen[b0], chosen[b1]
    way = "rose" if r1["v"] > r0["v"] + 0.15 else "did not rise"
    return (
        f"v(k) at the formula's k {way}, v({r0['k']}) {r0['v']:.2f} at batch {b0} and "
        f"v({r1['k']}) {r1['v']:.2f} at batch {b1}"
    )


def summary(
    result: dict,
    costs: dict,
    alphas0: list,
    alphas1: list,
    alphas2: list,
    known: list[int],
    lrs: tuple[float, float],
    sampled: tuple[list, list, list] | None = None,
    pvalues: list[float] | None = None,
) -> str:
    """The summary's bullets, each from this run's values: parity and the sampled rows' test, the batched
    speed-up with its spread, the formula and the costs outside it, c's noise, and the distilled drafts."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    sizes = sorted(chosen)
    ours = [r for r in result["rows"] if r["k"]]
    ok = sum(r["parity"] for r in ours)
    first = (
        f"- Batched speculative decoding stays exact per row: {ok} of {_parity(result)} equalled "
        "their prompt's greedy decoding alone"
    )
    if pvalues:
        passed = sum(p > 1e-3 for p in pvalues)
        first += (
            f", and sampled rows of {passed} of {len(pvalues)} prompts passed notebook 11's "
            f"chi-square test (smallest p {min(pvalues):.2g}; a test with few bins has little "
            "power)."
        )
    else:
        first += "."
    gain = (
        f"- Against batched `generate`, over {result['repeats']} repeats: "
        f"{_batched_verdict(result)[0].lower()}{_batched_verdict(result)[1:]} Plain's step took "
        f"{_listed([f'{side_by_side_batched.plain_overhead(chosen[b]):.1f}x' for b in sizes])} a "
        "bare target step: these speed-ups include `generate`'s own overhead."
    )
    b1 = sizes[-1]
    r = chosen[b1]
    pred = ", ".join(f"{chosen[b]['predicted']:.2f}x" for b in sizes)
    above = r["speedup"] > side_by_side_batched.explained(r) + 0.05
    rest = (
        "; plain's overhead, which the formula does not charge, points the same way"
        if above and side_by_side_batched.plain_overhead(r) > _loop_ratio(r)
        else ""
    )
    fit = (
        f"- The formula with α̂, c(b) and v(k) measured at each batch predicted {pred}. Two costs "
        f"outside it, measured at batch {b1}: the slowest row (a factor of {r['slowest']:.2f}) "
        f"and bookkeeping ({r['bookkeeping']:.0%} of ours' time) bring it to "
        f"{side_by_side_batched.explained(r):.2f}x against {r['speedup']:.2f}x on the clock{rest}. On a "
        "GPU the verify pass turns compute-bound as b(k+1) grows, so v(k) climbs and the formula "
        f"itself predicts less (here {_gpu_rows(result)})."
    )
    lo, hi = min(costs["c_runs"]), max(costs["c_runs"])
    noise = (
        f"- c is a ratio of two clocks: {lo:.3f} to {hi:.3f} over {len(costs['c_runs'])} "
        "measurements in one cell. Compare predictions within one run."
    )
    gains = {
        name: _gain(new, alphas0, known)
        for name, new in (("sequence-level", alphas1), ("DistillSpec", alphas2))
    }
    said = [
        f"{name} {'raised α' if lo > 0 else 'lowered α' if hi < 0 else 'left α within noise'}, {ci}"
        for name, (ci, lo, hi) in gains.items()
    ]

    def lead_of(w: str) -> str:
        return {
            "on": "DistillSpec accepted more",
            "seq": "sequence-level accepted more",
            "neither": "neither accepted more",
        }[w]

    w = _winner(alphas2, alphas1, known)
    lead = lead_of(w)
    distilled = (
        f"- A draft trained for your model, paired with the stock draft on held-out prompts: "
        f"greedy, {' and '.join(said)}; {lead}"
    )
    if sampled:
        ws = _winner(sampled[2], sampled[1], known)
        distilled += (
            ", sampled at temperature 1 as well."
            if ws == w
            else f"; sampled at temperature 1, {lead_of(ws)}."
        )
    else:
        distilled += "."
    distilled += (
        f" The recipes differ in trained weights and learning rate ({lrs[0]:g} against "
        f"{lrs[1]:g}) as well as method: a recipe's result, not a method's."
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
        other = f"{pairs}; the two vocabularies are padded to different sizes and sliced to the tokenizer's"
    gpu = _gpu_rows(result)
    rows = [
        ("pair", f"every preset: {pair} (fp16 on t4, bf16 on l4 and a100)"),
        (
            "batched speed-up",
            "at small batch a step waits on memory and launches (c(b) small, v(k) near 1); as "
            "b(k+1) grows the verify pass turns compute-bound, v(k) climbs and the gain should "
            f"shrink, the slowest row and bookkeeping on top. Here {_batch_words(t)}; {gpu}"
            + ("" if "rose" in gpu else ": this CPU's steps are mostly fixed overhead"),
        ),
        (
            "your model with the stock draft",
            f"a lower α wherever your fine-tune changed the text (`COURSE_TARGET=./dpo_final`); {here}",
        ),
        (
            "distilled drafts",
            "a higher α where your fine-tune lowered it; the paper's 10–45 % speed-ups as the "
            f"reference. Here, greedy α over the stock draft: {', '.join(gains)}",
        ),
        ("a second family (l4, a100)", other),
    ]
    table = "\n".join(f"| {name} | {said} |" for name, said in rows)
    return (
        "Expected on the presets' real models, none of it measured on a GPU yet:\n\n"
        f"| | expected on the preset's models |\n|---|---|\n{table}"
    )
