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
    """The top: c as a clock ratio and its spread over repeated measurements."""
    runs = costs["c_runs"]
    lo, hi = min(runs), max(runs)
    spread = (hi - lo) / costs["c"]
    said = (
        f"**Reading it.** c is the draft's step over the target's, two clocks: over "
        f"{len(runs)} measurements in a row it ranged from {lo:.3f} to {hi:.3f}, "
    )
    if spread > 0.2:
        said += f"{spread:.0%} of the median, within one cell. "
    else:
        said += f"{spread:.0%} of the median: steady here, though another moment can differ. "
    vk = costs["verify"]
    ks = sorted(vk)
    drops = [(vk[a] - vk[b], a, b) for a in ks for b in ks if a < b]
    drop, a, b = max(drops)
    ends = f"from v({ks[0]}) = {vk[ks[0]]:.2f} to v({ks[-1]}) = {vk[ks[-1]]:.2f}"
    if drop <= 0.02:
        shape = f"v(k) grew with k, {ends}"
    else:
        shape = (
            f"v(k) went {ends}, not steadily: v({b}) = {vk[b]:.2f} is below v({a}) = "
            f"{vk[a]:.2f}, though a longer pass cannot cost less; the dips are the clock's noise"
        )
    under = [k for k in ks if vk[k] < 1]
    if under:
        shape += (
            f". v(k) below 1 at k = {_listed([str(k) for k in under])} is a timing artefact: a "
            "pass over k+1 tokens cannot cost less than a 1-token step, so the clock moved"
        )
    return said + (
        f"{shape}. Millisecond steps on a shared CPU move, so compare predictions within one run, "
        "not with notebook 11's."
    )


def margin(costs: dict) -> float:
    """The clock's noise for a ratio of two timings: half c's spread over its median (the top cell)."""
    runs = costs["c_runs"]
    return (max(runs) - min(runs)) / (2 * costs["c"])


def _verdict(r: dict, m: float = 0.0) -> str:
    """Where one row's repeats lie against 1x, a margin under `m` (the clock's noise) called thin."""
    lo, hi = side_by_side_batched.spread(r)
    if lo > 1 + m:
        return "faster in every repeat, by more than the clock's noise"
    if lo > 1:
        return "thin: above 1x in every repeat, by less than the clock's noise"
    if hi < 1:
        return "slower in every repeat"
    return "both sides of 1x: the clock cannot tell it from k = 0"


def _sides(result: dict, m: float = 0.0) -> dict[str, list[int]]:
    """Every batch size, sorted by what the speed-up's range at the formula's k shows: faster (by more
    than `m`), thin (above 1x by less), slower, unclear (the range straddles 1x)."""
    out: dict = {"faster": [], "thin": [], "slower": [], "unclear": []}
    for b, r in sorted(side_by_side_batched.chosen_per_batch(result).items()):
        lo, hi = side_by_side_batched.spread(r)
        side = "faster" if lo > 1 + m else "thin" if lo > 1 else "slower" if hi < 1 else "unclear"
        out[side].append(b)
    return out


def _batched_verdict(result: dict, m: float = 0.0) -> str:
    """One sentence on every batch size at the formula's k, from the ranges over the repeats."""
    sides = _sides(result, m)
    said = {
        "faster": "was faster than our loop with no drafts in every repeat, by more than the "
        f"clock's noise ({m:.0%}), at batch {{}}",
        "thin": "was above 1x in every repeat but by less than the clock's noise at batch {}, a "
        "thin margin that decides nothing",
        "slower": "was slower than our loop with no drafts in every repeat at batch {}",
        "unclear": "straddled 1x at batch {}, where the clock cannot tell it from no drafts",
    }
    parts = [said[w].format(" and ".join(map(str, bs))) for w, bs in sides.items() if bs]
    return "Speculation at the formula's k " + "; it ".join(parts) + "."


def _listed(xs: list[str]) -> str:
    return ", ".join(xs)


def _throughput(result: dict) -> str:
    """The tok/s column: what batching alone bought (the no-draft loop per batch), a batch whose pass
    cost more than a larger batch's, and `generate`'s figure where its median equals the baseline's."""
    base = side_by_side_batched.no_drafts(result)
    gen = side_by_side_batched.generate_rows(result)
    sizes = sorted(base)
    ms = [base[b]["step_ms"] for b in sizes]
    tps = _listed([format(base[b]["tokens_per_s"], ".0f") for b in sizes])
    tpp = _listed([format(base[b]["tokens_per_pass"], ".2f") for b in sizes])
    said = (
        f"**Throughput** (tok/s: the rows' new tokens over the median seconds). With no drafts, "
        f"batching alone gave {tps} tok/s "
        f"at batch {_listed([str(b) for b in sizes])}: one pass took "
        f"{_listed([f'{x:.1f}' for x in ms])} ms for {tpp} "
        "new tokens (rows leave as they finish)."
    )
    odd = [
        (a, b)
        for i, a in enumerate(sizes)
        for b in sizes[i + 1 :]
        if ms[i] > 1.05 * ms[sizes.index(b)]
    ]
    if odd:
        a, b = odd[0]
        said += (
            f" A pass at batch {a} cost more than one at batch {b}: fewer rows cannot cost more "
            f"work, so batch {a}'s block most likely ran in a slow stretch of the shared CPU; "
            f"read its speed-ups, which share that stretch, with that caveat."
        )
    same = [b for b in sizes if b in gen and gen[b]["tokens_per_s"] == base[b]["tokens_per_s"]]
    if same:
        said += (
            f" `generate` prints the baseline's tok/s at batch {_listed([str(b) for b in same])}: "
            "their medians happened to be equal, and tok/s follows the median."
        )
    return said


def _rows_read(result: dict, m: float = 0.0) -> str:
    """Every row of the first table grouped by where its repeats lie against 1x (margin `m`), and
    `generate`."""
    ours = [r for r in result["rows"] if r["k"]]
    groups: dict[str, list[str]] = {}
    for r in ours:
        groups.setdefault(_verdict(r, m), []).append(f"batch {r['batch']} k = {r['k']}")
    said = " ".join(f"{v[0].upper()}{v[1:]}: {', '.join(xs)}." for v, xs in groups.items())
    if "slower in every repeat" in groups:
        said += " Where every repeat was below 1x, speculation cost time."
    else:
        said += " No configuration was slower in every repeat."
    gen = side_by_side_batched.generate_rows(result)
    sizes = sorted(gen)
    g = _listed([f"{gen[b]['speedup']:.2f}x" for b in sizes])
    return (
        f"Against our loop with no drafts over {result['repeats']} repeats (the first table), a "
        f"margin counts when every repeat clears 1x by more than {m:.0%}, half c's spread at the "
        f"top (the clock's noise). {said} `generate`, the reference, ran at {g} the no-draft "
        f"loop's speed at batch {_listed([str(b) for b in sizes])}: other code, same decoding."
    )


def _k_choice(result: dict) -> str:
    """The formula's k against the clock's fastest k at each batch, and whether the clock separates them."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    fastest = side_by_side_batched.best_per_batch(result)
    said = []
    for b in sorted(chosen):
        f, c = chosen[b], fastest[b]
        if f is c:
            said.append(f"at batch {b} both pick k = {f['k']}")
            continue
        flo, fhi = side_by_side_batched.spread(f)
        clo, chi = side_by_side_batched.spread(c)
        apart = "the clock separates them" if clo > fhi else "their ranges overlap, so it is a tie"
        said.append(
            f"at batch {b} the formula picks k = {f['k']} ({f['predicted']:.2f}x predicted, "
            f"{f['speedup']:.2f}x measured) and the clock k = {c['k']} ({c['predicted']:.2f}x "
            f"predicted, {c['speedup']:.2f}x measured): {apart}"
        )
    text = "; ".join(said)
    return f"**Which k.** {text[0].upper()}{text[1:]}."


def _where(rs: list[dict], sizes: list[int]) -> str:
    """Where `explained` lies against each batch's repeats: 'above every repeat at batch 1; ...'."""
    place: dict[str, list[str]] = {"above every repeat": [], "below every repeat": [], "inside": []}
    for b, r in zip(sizes, rs):
        lo, hi = side_by_side_batched.spread(r)
        x = side_by_side_batched.explained(r)
        place[
            "above every repeat" if x > hi else "below every repeat" if x < lo else "inside"
        ].append(str(b))
    return "; ".join(
        f"{w if w != 'inside' else 'inside the repeats'} at batch {' and '.join(bs)}"
        for w, bs in place.items()
        if bs
    )


def _factors(result: dict) -> str:
    """The formula's two factors beside the run's, at the formula's k, and which carries the gap."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    sizes = sorted(chosen)
    rs = [chosen[b] for b in sizes]

    def col(key: str, form: str = ".2f") -> str:
        return _listed([format(r[key], form) for r in rs])

    at = _listed([f"batch {b} (k = {chosen[b]['k']})" for b in sizes])
    steps = _listed([f"{side_by_side_batched.loop_overhead(result, b):.2f}" for b in sizes])
    each = []
    for b, r in zip(sizes, rs):
        tf, pf = r["pass_ratio"] / r["expected"], r["priced"] / r["round_cost"]
        gap = [(tf, "tokens per round"), (pf, "the round's price")]
        worst = min(gap)
        if abs(tf * pf - 1) < 0.05:
            why = "the two nearly cancel"
        elif worst[0] >= 1:
            why = "both beat the formula"
        elif worst[1] == "tokens per round" and b == 1:
            why = (
                "tokens per round carry the gap: a batch of one has no slowest row, but answers "
                "this short end mid-round, and the last round's k shrinks to fit the budget"
            )
        else:
            why = (
                f"{worst[1]} carry the gap"
                if worst[1][:3] == "tok"
                else f"{worst[1]} carries the gap"
            )
        dear = "cost more than priced" if pf < 1 else "cost less than priced"
        each.append(
            f"batch {b}: tokens {tf:.2f} × price {pf:.2f} = {tf * pf:.2f} (a round {dear}); {why}"
        )
    return (
        f"**Formula against clock, factor by factor** (second table, at {at}). The formula expects "
        f"{col('expected')} tokens per round from α̂; the no-draft loop needed {col('pass_ratio')} "
        f"times as many target passes (tokens factor: passes over expected). It prices a round at "
        f"k·c(b) + v(k) = {col('priced')} bare target steps; a round took {col('round_cost')} "
        f"no-draft steps (price factor: priced over taken). Measured over predicted is their "
        f"product: {'; '.join(each)}. One no-draft step took {steps} bare target steps (masks, "
        "positions, writing tokens). A cost paid per model call is paid k+1 times a round but once a "
        "no-draft step, and the bare c(b) leaves it out: a likely part of a round's extra cost. "
        f"Bookkeeping (time outside both models' passes) took {col('bookkeeping', '.0%')} of "
        f"ours. In the figure, the third line (passes k=0/ours over kc+v: the formula with the "
        f"measured tokens factor) lies {_where(rs, sizes)}."
    )


TREND = 0.05  # a change from the first batch to the last under this counts as flat


def _direction(xs: list[float]) -> str:
    """'up' when every step rises and the last exceeds the first by more than TREND; 'down' likewise;
    else 'none'."""
    steps = [b - a for a, b in zip(xs, xs[1:])]
    if xs[-1] > xs[0] + TREND and min(steps) > 0:
        return "up"
    if xs[-1] < xs[0] - TREND and max(steps) < 0:
        return "down"
    return "none"


def _equal_k(result: dict) -> str:
    """v_b(k) at each k, and c(b), from the smallest batch to the largest."""
    ours = [r for r in result["rows"] if r["k"]]
    sizes = sorted({r["batch"] for r in ours})

    def way(xs: list[float]) -> str:
        return {"up": "rose at every step", "down": "fell at every step"}.get(
            _direction(xs), f"showed no trend (not monotone, or under {TREND})"
        )

    parts = []
    for k in sorted({r["k"] for r in ours}):
        vs = [next(r["v"] for r in ours if r["k"] == k and r["batch"] == b) for b in sizes]
        parts.append(f"v({k}) {' → '.join(f'{v:.2f}' for v in vs)}: it {way(vs)}")
    cs = [next(r["c"] for r in ours if r["batch"] == b) for b in sizes]
    parts.append(f"c(b) {' → '.join(f'{c:.2f}' for c in cs)}: it {way(cs)}")
    return (
        "**At equal k across batches.** On a GPU the verify pass turns compute-bound as b(k+1) "
        "grows, so v(k) climbs toward k + 1 and the formula predicts less. Here, from batch "
        f"{sizes[0]} to {sizes[-1]}: {'; '.join(parts)}. One CPU thread computes every token in "
        "turn, with no memory-bound regime, so this run cannot show the GPU's batch trend."
    )


def _parity(result: dict) -> str:
    """'96 decodings (8 rows at 3 batch sizes and 4 decoders; 6 distinct prompts)'."""
    rows = result["rows"]
    total = sum(r["rows"] for r in rows)
    nb = len({r["batch"] for r in rows})
    nd = len({r["method"] for r in rows})
    distinct = result.get("distinct", result["prompts"])
    return (
        f"{total} decodings ({result['prompts']} rows at {nb} batch sizes and {nd} decoders; "
        f"{distinct} distinct prompts)"
    )


def _alpha_same_k(result: dict) -> str:
    """Why α̂ at one k can differ across batches for the same greedy rows, if it does."""
    ours = [r for r in result["rows"] if r["k"]]
    moved = []
    for k in sorted({r["k"] for r in ours}):
        a = sorted({f"{r['alpha_hat']:.2f}" for r in ours if r["k"] == k})
        if len(a) > 1:
            moved.append(f"α̂ at k = {k} is {a[0]} to {a[-1]}")
    said = ""
    if moved:
        said = (
            f" {'; '.join(moved)} across batches for the same greedy rows: a batch's rows share "
            "each round's k, which shrinks when any row nears the token budget."
        )
    per_k = {
        k: [r["alpha_hat"] for r in ours if r["k"] == k] for k in sorted({r["k"] for r in ours})
    }
    mean = {k: sum(v) / len(v) for k, v in per_k.items()}
    lo, hi = min(mean, key=mean.get), max(mean, key=mean.get)
    if mean[hi] - mean[lo] > 0.02:
        said += (
            f" α̂ is {mean[lo]:.2f} at k = {lo} and {mean[hi]:.2f} at k = {hi} on the same rows: "
            "each k cuts the same text into rounds at other places, so other positions get "
            "drafted."
        )
    return said


def batched(result: dict, costs: dict) -> str:
    """Section 1: parity, every row of the first table against the no-draft loop, the formula's k against
    the clock's, the formula's factors against the run's, and v(k) at equal k across batches."""
    ok = sum(r["parity"] for r in result["rows"])
    total = sum(r["rows"] for r in result["rows"])
    alone = "their prompt's greedy `generate` decoded alone, each stopping at its end-of-turn"
    if ok == total:
        parity = f"All {_parity(result)} equal {alone}."
    else:
        parity = (
            f"Only {ok} of {_parity(result)} equal {alone}: in float32 that is a bug; in fp16 or "
            "bf16 it can be a near-tie rounded the other way."
        )
    m = margin(costs)
    first = f"**Reading it.** {parity} {_rows_read(result, m)}{_alpha_same_k(result)}"
    one = side_by_side_batched.chosen_per_batch(result).get(1)
    if one:
        k1 = one["k"]
        first += (
            f" Section 1 re-timed c(1) = {one['c']:.2f} and v({k1}) = {one['v']:.2f} where the top "
            f"cell gave {costs['c']:.3f} and {costs['verify'][k1]:.2f}."
        )
        if one["v"] < 1:
            first += (
                f" v({k1}) below 1 is a timing artefact: a pass over {k1 + 1} tokens cannot cost "
                "less than a 1-token step, so the clock moved, and the prediction built on it is "
                "too high."
            )
        slow = one["target_ms"] / costs["target_ms"]
        if slow > 1.3:
            first += (
                f" Section 1 timed the target step {slow:.1f}x slower than the top cell "
                f"({one['target_ms']:.2f} against {costs['target_ms']:.2f} ms)."
            )
        elif slow < 1 / 1.3:
            first += (
                f" Section 1 timed the target step {1 / slow:.1f}x faster than the top cell "
                f"({one['target_ms']:.2f} against {costs['target_ms']:.2f} ms)."
            )
    parts = [first, _throughput(result), _k_choice(result), _factors(result)]
    return "\n\n".join([*parts, _equal_k(result)])


def _paired(new: list, old: list, known: list[int]) -> tuple[float, float, float]:
    """Mean of new - old over the prompts both measured, and its 95% bootstrap interval."""
    d = [new[i] - old[i] for i in known]
    if not d:
        return 0.0, 0.0, 0.0
    return (sum(d) / len(d), *judge.bootstrap_ci(d))


def _gain(new: list, old: list, known: list[int]) -> tuple[str, float, float]:
    """'+0.29 (95% CI +0.20 to +0.38)' for new - old, paired, with the interval's ends (the paired
    table's precision)."""
    mean, lo, hi = _paired(new, old, known)
    return f"{mean:+.2f} (95% CI {lo:+.2f} to {hi:+.2f})", lo, hi


def recipes(lrs: tuple[float, float]) -> str:
    """What besides the method parts the two distillations: trained weights and learning rate."""
    same = "the same learning rate" if lrs[0] == lrs[1] else "different learning rates"
    return (
        f"The recipes differ beyond the method: LoRA at {lrs[0]:g} against every weight at "
        f"{lrs[1]:g} ({same}), so this compares recipes, not methods; exercise 4 sweeps the rates."
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
            f"On the stock target the same draft reaches {stock_alpha:.2f} (the same mean over "
            f"prompts): your fine-tune cost {round(stock_alpha, 2) - round(stock, 2):.2f} of α. "
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
            f"{side}: other prompts, and pooled over rounds (exercise 1). "
        )
    out = (
        f"**Reading it.** The stock draft's α on your model is {stock:.2f} over {len(known)} "
        f"held-out prompts (greedy, stopped at the end of turn). {before}"
        f"{' '.join(verdicts)} On-policy minus sequence-level is {gap:+.2f} (95% CI {d_lo:+.2f} "
        f"to {d_hi:+.2f}), "
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
            f"the stock draft; on-policy minus sequence-level {sgap:+.2f} (95% CI {s_lo:+.2f} to "
            f"{s_hi:+.2f})."
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
    out += (
        f". Training took {t_op:.0f} s for DistillSpec and {t_seq:.0f} s for sequence-level on "
        "this machine, one run each: a cost to weigh, not part of α."
    )
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
            f", and is back by step {back}: training did not diverge. Either one step's update was "
            "too large for this learning rate (every weight trains, so one batch can push the "
            "draft far) or a batch of odd samples raised the loss; exercise 4's learning-rate "
            "sweep tells which."
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


def best_k(a: float, costs: dict, c: float | None = None) -> tuple[float, int]:
    """The formula's best speed-up over k at acceptance rate a, with the top cell's c and v(k), and its k."""
    vk, c = costs["verify"], costs["c"] if c is None else c
    k = max(vk, key=lambda k: spec_schedules.predicted_speedup(a, k, c, vk[k]))
    return spec_schedules.predicted_speedup(a, k, c, vk[k]), k


def speedup_column(alpha: dict[str, float], costs: dict, result: dict | None = None) -> str:
    """Section 2: the table's formula column is a prediction, not a timing; which draft and k give its
    best; section 1's clock-over-formula ratio at batch 1 applied to it; its band over every c measured."""
    every_c = list(costs["c_runs"]) + [
        r["c"] for r in (result or {}).get("rows", []) if r["k"] and r["batch"] == 1
    ]
    stock, k0 = best_k(alpha["stock draft"], costs)
    top = max((n for n in alpha if n != "stock draft"), key=lambda n: best_k(alpha[n], costs)[0])
    name = top.split(",")[0]
    best, k1 = best_k(alpha[top], costs)
    if stock < 1:
        said = "under 1x: speculation with it would slow your model down"
    elif stock < 1.1:
        said = "under a 10 % gain: it would barely pay on your model"
    else:
        said = "still a gain on your model"
    lo, hi = min(every_c), max(every_c)
    out = (
        f"**The formula column.** It is a prediction, not a timing: notebook 11's formula at each "
        f"draft's greedy α with the c and v(k) of the top cell, at its best k. The stock draft's "
        f"is {stock:.2f}x at k = {k0}, {said}; the highest is the {name} draft's, {best:.2f}x at "
        f"k = {k1}. At the lowest and highest c this run measured ({lo:.3f} and {hi:.3f}) the "
        f"{name} draft's would be {best_k(alpha[top], costs, hi)[0]:.2f}x to "
        f"{best_k(alpha[top], costs, lo)[0]:.2f}x."
    )
    miss = formula_misses(result)
    if best < 1:
        out += " Neither distilled draft was timed; the formula itself puts them below 1x."
    elif miss:
        lo, hi = miss
        out += (
            f" Neither distilled draft was timed. Section 1 showed the clock giving {lo:.2f} to "
            f"{hi:.2f} of the formula's prediction at its batches, so this page cannot say whether "
            "they would beat no drafts on this CPU."
        )
    else:
        out += " Neither distilled draft was timed: read α as the result, this as a prediction."
    return out


def formula_misses(result: dict | None) -> tuple[float, float] | None:
    """Section 1's measured over predicted speed-up at the formula's k: its lowest and highest over the
    batches."""
    chosen = side_by_side_batched.chosen_per_batch(result) if result else {}
    ratios = [r["speedup"] / r["predicted"] for r in chosen.values()]
    return (min(ratios), max(ratios)) if ratios else None


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
    """v(k) at each k from the smallest batch to the largest, with its direction."""
    ours = [r for r in result["rows"] if r["k"]]
    sizes = sorted({r["batch"] for r in ours})
    said = []
    for k in sorted({r["k"] for r in ours}):
        vs = [next(r["v"] for r in ours if r["k"] == k and r["batch"] == b) for b in sizes]
        up = _direction(vs) == "up"
        said.append(f"v({k}) {' → '.join(f'{v:.2f}' for v in vs)} ({'rose' if up else 'no trend'})")
    return f"from batch {sizes[0]} to {sizes[-1]}, " + ", ".join(said)


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
    alpha: dict[str, float] | None = None,
) -> str:
    """The summary's bullets, each from this run's values: parity and the sampled rows' test, the batched
    speed-up with its spread, the formula and the costs outside it, c's noise, and the distilled drafts."""
    chosen = side_by_side_batched.chosen_per_batch(result)
    sizes = sorted(chosen)
    ok = sum(r["parity"] for r in result["rows"])
    first = (
        f"- Batched speculative decoding stays exact per row: {ok} of {_parity(result)} equalled "
        "their prompt's greedy decoding alone"
    )
    if pvalues:
        passed = sum(p > 1e-3 for p in pvalues)
        first += (
            f", and sampled rows of {passed} of {len(pvalues)} prompts passed notebook 11's "
            f"chi-square test (smallest p {min(pvalues):.2g}; one draft a round, few bins, little "
            "power)."
        )
    else:
        first += "."
    share = [format(1 / chosen[b]["pass_ratio"], ".2f") for b in sizes]
    gain = (
        f"- Rows stopping at their end-of-turn, over {result['repeats']} repeats: "
        f"{_batched_verdict(result, margin(costs))[0].lower()}"
        f"{_batched_verdict(result, margin(costs))[1:]} Without a clock, "
        f"ours needed {_listed(share)} of the no-draft loop's "
        f"target passes at batch {_listed([str(b) for b in sizes])}."
    )
    pred = _listed([f"{chosen[b]['predicted']:.2f}x" for b in sizes])
    meas = _listed([f"{chosen[b]['speedup']:.2f}x" for b in sizes])
    carry = []
    for b in sizes:
        r = chosen[b]
        tf, pf = r["pass_ratio"] / r["expected"], r["priced"] / r["round_cost"]
        gap_t, gap_p = abs(1 - tf), abs(1 - pf)
        if abs(tf * pf - 1) < 0.05 and max(gap_t, gap_p) < 0.05:
            carry.append(f"batch {b} close to the formula")
        elif abs(gap_t - gap_p) <= 0.02:
            carry.append(f"batch {b} both about equal")
        else:
            carry.append(f"batch {b} {'tokens per round' if gap_t > gap_p else 'the round price'}")
    fit = (
        f"- The formula with α̂, c(b) and v(k) measured at each batch predicted {pred}; the clock "
        f"gave {meas}. The factor furthest from the formula: {_listed(carry)}."
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
    distilled += f" LoRA at {lrs[0]:g} against every weight at {lrs[1]:g}: recipes, not methods."
    miss = formula_misses(result)
    if alpha and miss:
        best, k = max(best_k(a, costs) for n, a in alpha.items() if n != "stock draft")
        distilled += (
            f" The distilled drafts were not timed: the formula, with the top cell's costs, gives "
            f"the best {best:.2f}x at k = {k}, but section 1's clock gave {miss[0]:.2f} to "
            f"{miss[1]:.2f} of its predictions, so whether they beat no drafts here is open."
        )
    return "\n".join([first, gain, fit, distilled])


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
        lost = round(stock_alpha, 2) - round(stock, 2)
        here = f"here the tiny policy cost {lost:.2f} of α ({stock_alpha:.2f} → {stock:.2f})"
    else:
        here = f"here the tiny policy lost no more than 0.05 of α ({stock_alpha:.2f} → {stock:.2f})"
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
            "at batch 1 a memory-bound pass: v(k) near 1 and c small, so a clear gain; as b(k+1) grows the pass turns compute-bound, v(k) "
            "climbs toward k + 1 and the gain shrinks, below 1x at some batch. One CPU thread has "
            f"no memory-bound regime, so this run cannot show that trend. Here {_batch_words(t)}; "
            f"{gpu}",
        ),
        (
            "your model with the stock draft",
            f"a lower α wherever your fine-tune changed the text (`COURSE_TARGET=./dpo_final`); {here}",
        ),
        (
            "distilled drafts",
            "a higher α where your fine-tune lowered it; the paper's 10–45 % speed-ups as the "
            "reference",
        ),
        ("a second family (l4, a100)", other),
    ]
    table = "\n".join(f"| {name} | {said} |" for name, said in rows)
    return (
        "Expected on the presets' real models, none of it measured on a GPU yet:\n\n"
        f"| | expected on the preset's models |\n|---|---|\n{table}"
    )
