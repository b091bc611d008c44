"""Readings of notebook 11 (speculative decoding): each function turns one section's measured values into
the Markdown the learner reads under them, every verdict chosen by the values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from helpers import models, profiles, spec_schedules
from helpers.readings import plural


def textbook_loop(rows: dict[str, list], n_prompts: int) -> str:
    """Section 3: the tutorial loop against ours and plain `generate` (seconds, target calls, parity)."""
    s_plain = rows["plain generate (cached)"][0]
    s_tut, calls_tut, same_tut = rows["tutorial loop, k=4"]
    s_ours, calls_ours, same_ours = rows["ours, k=4"]
    if same_tut == same_ours == n_prompts:
        parity = (
            f"Both loops reproduce the target's greedy text on all {n_prompts} prompts (argmax "
            "equality is correct for greedy decoding)."
        )
    else:
        parity = (
            f"The tutorial loop matched plain greedy on {same_tut} of {n_prompts} prompts and ours "
            f"on {same_ours}: in float32 a miss is a bug; in fp16 or bf16 a near-tie can round the "
            "other way (section 5)."
        )
    if s_tut > s_ours:
        cost = (
            "the tutorial loop pays for re-reading the whole text at every step and for its extra "
            "target passes"
        )
    else:
        cost = (
            "the tutorial loop was not slower on this run, although it re-reads the whole text at "
            "every step"
        )
    return (
        f"**Reading it.** {parity} The tutorial loop took {s_tut:.2f} s and {calls_tut} target "
        f"calls, ours {s_ours:.2f} s and {calls_ours} calls, plain `generate` {s_plain:.2f} s: "
        f"{cost}. Each time is one measurement, an illustration rather than a result (section 7 "
        "says why)."
    )


def acceptance_rate(
    alpha_by_k: dict[int, float],
    aop_by_k: dict[int, float],
    overlap_by_k: dict[int, float],
    n_new: int,
) -> str:
    """Section 3, bug 4: accepted / proposed against alpha-hat and the mean overlap, over k."""
    k0, k1 = min(alpha_by_k), max(alpha_by_k)
    lo, hi = min(alpha_by_k.values()), max(alpha_by_k.values())
    gap = max(abs(overlap_by_k[k] - alpha_by_k[k]) for k in alpha_by_k)
    if aop_by_k[k0] - aop_by_k[k1] > 0.05:
        trend = (
            "The textbook rate falls with k although the draft is the same: it mostly measures "
            "how many drafts were never checked, which grows with k."
        )
    else:
        trend = (
            "The textbook rate barely falls here; it falls most when α is far from both 0 and 1 "
            "(exercise 2 predicts by how much)."
        )
    agree = "the two columns agree" if gap < 0.0005 else f"the two columns agree within {gap:.3f}"
    return (
        f"**Reading it.** From k = {k0} to k = {k1}, accepted / proposed goes from "
        f"{aop_by_k[k0]:.2f} to {aop_by_k[k1]:.2f}, while α̂ stays between {lo:.2f} and {hi:.2f}. "
        f"{trend} The last column averages Σ min(p, q) over the checked positions; greedy p and q "
        f"are one-hot, so it counts the same agreements as α̂, and {agree}. This table decodes "
        f"past the end of turn (all {n_new} tokens), so later sections' α̂ differ."
    )


def one_round(st) -> str:
    """Section 4: the round-by-round trace of one prompt (`SpecStats`)."""
    full = sum(a == p > 0 for a, p in zip(st.accepted, st.proposed))
    return (
        f"**Reading it.** {full} of {len(st.accepted)} rounds kept every draft, and every round "
        f"added one token of the target's own, so {st.new_tokens} tokens cost {st.target_calls} "
        f"target calls ({st.tau:.2f} tokens per call), where plain decoding pays one call per "
        "token. A rejection costs the rest of that round's drafts, never a wrong token."
    )


def two_token_test(
    tok,
    pairs: list,
    law: torch.Tensor,
    control: torch.Tensor,
    top: torch.Tensor,
    n_samples: int,
    p_ours: float,
    p_control: float,
) -> str:
    """Section 5: the chi-square test of our sampler and of the negative control."""
    gap = (control - law * n_samples).abs()
    worst = int(top[int(gap[top].argmax())])  # among the outcomes the chart shows
    if p_ours > 1e-3:
        ours = f"Our bars follow the expected ones (chi-square p = {p_ours:.3g}: not rejected). "
    else:
        ours = (
            f"A failure: our counts depart from the target's law (p = {p_ours:.3g}). Check that q "
            "is the distribution the draft sampled from and that a rejection draws from "
            "max(0, p - q). "
        )
    if p_control <= 1e-3:
        caught = f"The test rejects it (p = {p_control:.3g}), as a test that can fail must."
    else:
        caught = (
            f"The test does not reject it (p = {p_control:.3g}): with {n_samples} samples it lacks "
            "the power to see this bug, so our pass proves little here; raise the sample count."
        )
    return (
        f"**Reading it.** {ours}The control departs most at {tok.decode(pairs[worst])!r}: "
        f"{int(control[worst])} draws against {float(law[worst]) * n_samples:.0f} expected. {caught}"
    )


def _middle_bin(hist: torch.Tensor, geo: torch.Tensor) -> int:
    """The bin strictly between the two ends that departs most from the model, in standard errors."""
    n = float(hist.sum())
    middle = range(1, len(hist) - 1) if len(hist) > 2 else range(len(hist))

    def z(i: int) -> float:
        e = float(geo[i])
        return abs(float(hist[i]) - e) / math.sqrt(max(e * (1 - e / n), 1e-9))

    return max(middle, key=z)


def _iid_share(hist: torch.Tensor, geo: torch.Tensor, runs: int = 2000) -> float:
    """Share of simulated histograms, each as many rounds drawn from the geometric model, at least as far
    from the model's counts (chi-square distance) as the measured one: a Monte Carlo p-value."""

    def chi2(counts: torch.Tensor) -> torch.Tensor:
        return ((counts - geo) ** 2 / geo.clamp(min=1e-9)).sum(-1)

    n, g = int(hist.sum()), torch.Generator().manual_seed(0)
    draws = torch.multinomial(geo / geo.sum(), runs * n, replacement=True, generator=g)
    sims = torch.nn.functional.one_hot(draws.view(runs, n), len(geo)).sum(1).double()
    return float((chi2(sims) >= chi2(hist)).double().mean())


def acceptance_by_position(
    pooled, hist: torch.Tensor, geo: torch.Tensor, k: int, alpha_k: float, n_new: int
) -> str:
    """Section 6: per-position acceptance and the accepted lengths against the geometric model."""
    a = pooled.alpha_hat
    rates = [r for r in pooled.per_position if not math.isnan(r)]
    half = len(rates) // 2
    early = sum(rates[:half]) / half if half else a
    late = sum(rates[half:]) / (len(rates) - half) if rates else a
    flat = abs(late - early) < 0.05
    if flat:
        shape = "scatter around it with no steady slope, as the i.i.d. model expects"
    else:
        shape = (
            f"{'fall' if late < early else 'rise'} along the round ({early:.2f} over the first "
            f"half of the positions, {late:.2f} over the rest)"
        )
    if abs(a - alpha_k) < 0.02:
        vs3 = f"nearly section 3's {alpha_k:.2f} at k = {k}"
    else:
        vs3 = (
            f"{'above' if a > alpha_k else 'below'} section 3's {alpha_k:.2f} at k = {k}, which "
            f"decoded all {n_new} tokens, past the end of turn"
        )
    last_n = pooled.pos_tried[-1] if pooled.pos_tried else 0
    head = f"**Reading it.** α̂ here is {a:.2f}, {vs3}. The bars {shape}"
    known = [i for i, r in enumerate(pooled.per_position) if not math.isnan(r)]
    low = min(known, key=lambda i: pooled.per_position[i]) if known else None
    if flat and low not in (None, 0, len(pooled.pos_tried) - 1) and last_n < 30:
        head += (
            f"; the lowest, {pooled.per_position[low]:.2f} at position {low + 1}, rests on "
            f"{pooled.pos_tried[low]} rounds: noise of few rounds."
        )
    else:
        loose = ", so read its height loosely" if last_n < 30 else ""
        head += f"; the last one rests on {plural(last_n, 'round')}{loose}."
    n = int(hist.sum())
    if n == 0:
        return f"{head} No round drafted all {k} drafts, so the right panel is empty."
    i, p_iid = _middle_bin(hist, geo), _iid_share(hist, geo)
    ends = (
        f"**Right panel.** {plural(int(hist[0]), 'round')} kept no draft "
        f"({float(geo[0]):.1f} expected) and {int(hist[k])} kept all {k} "
        f"({float(geo[k]):.1f}); the middle departs most at {i} accepted, {int(hist[i])} against "
        f"{float(geo[i]):.1f}."
    )
    sims = f"of 2,000 simulated sets of {n} geometric rounds"
    if p_iid >= 0.05:
        verdict = (
            f"Such bumps are noise: {p_iid:.0%} {sims} land at least as far from the model "
            "(chi-square distance)."
        )
    else:
        verdict = (
            f"Only {p_iid:.0%} {sims} land as far from the model (chi-square distance): more than "
            f"the noise of {n} rounds. Acceptances come in runs (easy stretches pass whole, hard "
            "ones fail early), which the i.i.d. model misses."
        )
    return f"{head}\n\n{ends} {verdict}"


def step_cost(c: float, c_params: float, c_depth: float) -> str:
    """What sets a step's cost, read from the measured c against the parameter and the depth ratio."""
    near = {  # within a factor 1.5
        "params": abs(math.log(c / c_params)) < math.log(1.5),
        "depth": abs(math.log(c / c_depth)) < math.log(1.5),
    }
    ratios = f"the parameter ratio ({c_params:.2f})", f"the depth ratio ({c_depth:.2f})"
    if near["params"] and not near["depth"]:
        return (
            f"c is {c:.2f}, near {ratios[0]}, far from {ratios[1]}: compute, not a per-layer "
            "overhead, dominates a step here. On a GPU at batch 1 depth sets c (section 10)"
        )
    if near["depth"] and not near["params"]:
        return (
            f"c is {c:.2f}, near {ratios[1]}, far from {ratios[0]}: a cost per layer (framework "
            "calls, kernel launches) dominates a step here, as on a GPU at batch 1"
        )
    if c > 1.5 * max(c_params, c_depth):
        return (
            f"c is {c:.2f}, above {ratios[0]} and {ratios[1]}: a fixed cost per call (Python, the "
            "framework) dominates a step of models this small"
        )
    return (
        f"c is {c:.2f}, near or between {ratios[0]} and {ratios[1]}: this run cannot say which "
        "cost dominates a step"
    )


def speed_vs_theory(result: dict, n_t: int, n_d: int, layers: tuple[int, int]) -> str:
    """Section 7: what a step costs (c), and the measured speed-ups against both formulas."""
    ours = [r for r in result["rows"] if r["method"].startswith("ours k=")]
    errs = {
        col: sum(abs(r[col] - r["speedup"]) for r in ours) / len(ours)
        for col in ("predicted_textbook", "predicted_with_verify")
    }
    tb, wv = errs["predicted_textbook"], errs["predicted_with_verify"]
    c, v = result["costs"]["c"], result["costs"]["verify"]
    best = max(ours, key=lambda r: r["speedup"])
    first = f"**Reading it.** {step_cost(c, n_d / n_t, layers[1] / layers[0])}."
    paid = "" if best["speedup"] > 1 else ": no k beat plain decoding, so speculation did not pay"
    lo, hi = best["speedup_range"]
    if abs(wv - tb) < 0.0005:
        closer = "neither is closer"
    else:
        closer = f"{'the verify-aware one' if wv < tb else 'the textbook one'} is closer"
    second = (
        f"The fastest constant k was k = {best['k']}, at {best['speedup']:.2f}x ({lo:.2f}x to "
        f"{hi:.2f}x over the repeats){paid}. The textbook formula misses the clock by {tb:.2f} on "
        f"average, the verify-aware one by {wv:.2f}: {closer}."
    )
    if wv >= tb:
        second += (
            " Charging the verify pass did not help: `generate` also pays logits processors and "
            "stopping checks at every step, which neither formula charges."
        )
    ks = [r["k"] for r in ours]
    vs = [v[k] for k in ks]
    if all(a <= b for a, b in zip(vs, vs[1:])):
        shape = f"v(k) grows with k, from {vs[0]:.2f} to {vs[-1]:.2f}"
    else:
        shape = (
            f"v(k) runs from {min(vs):.2f} to {max(vs):.2f}, not monotone in k although a longer "
            "pass does more work: each is one median of timings taken in turn, which a change of "
            "load between them moves, so the plot leaves its markers unjoined"
        )
    rows = {r["method"]: r for r in result["rows"]}
    ratio = [rows[f"HF assisted k={k}"]["speedup"] / r["speedup"] for k, r in zip(ks, ours)]
    lookup = rows["HF prompt lookup"]["speedup"]
    third = (
        f"The measured {shape}. Transformers' assisted generation ran at "
        f"{min(ratio):.2f}-{max(ratio):.2f} of our speed at the same k: with the same accepted "
        "tokens, the gap is `generate`'s machinery per round, large next to a model this small. "
        f"Prompt lookup, with no draft model, ran at {lookup:.2f}x."
    )
    return f"{first} {second}\n\n{third}"


# the benchmark's rows of section 8's schedules, and transformers' default one
SCHEDULES = (
    "ours heuristic (+2/-1)",
    "ours alpha-driven k*",
    "ours k<=20, stop < 0.4",
    "ours alpha-driven k*, block stop",
    "HF assisted (default)",
)


def schedules(result: dict, adaptive: tuple[str, ...] = SCHEDULES) -> str:
    """Section 8: the adaptive schedules (rows of the benchmark) against the best constant k."""
    rows = {r["method"]: r for r in result["rows"]}
    const = max(
        (r for r in result["rows"] if r["method"].startswith("ours k=")), key=lambda r: r["speedup"]
    )
    speed = {m: rows[m]["speedup"] for m in adaptive}
    fastest, bar = max(speed, key=speed.get), const["speedup"]
    taus = {m: rows[m]["tau"] for m in adaptive if rows[m]["tau"]}
    most = max(taus, key=taus.get) if taus else fastest
    if speed[fastest] > 1.05 * bar:  # 5 %: about the run-to-run spread of a CPU clock
        verdict = (
            "it beat the best constant k by more than 5 %, a CPU clock's usual run-to-run spread"
        )
    elif speed[fastest] >= 0.95 * bar:
        verdict = (
            "within 5 % of the best constant k, about the run-to-run spread of a CPU clock. That "
            "is the schedule's point: it needed no k in advance"
        )
    else:
        verdict = "no schedule came within 5 % of the best constant k here"
    if most == fastest:
        longest = "and was also the fastest"
    else:
        longest = (
            f"yet was not the fastest: each drafted token costs c = {result['costs']['c']:.2f} of a "
            "target step, so long rounds pay only where α is high"
        )
    return (
        f"**Reading it.** The best constant k (`{const['method']}`, {bar:.2f}x) was picked after "
        "the fact from these same timings, an optimistic bar. The "
        f"fastest schedule, `{fastest}`, ran at {speed[fastest]:.2f}x: {verdict}. `{most}` made the "
        f"most tokens per target call ({taus.get(most, 0.0):.2f}) {longest}."
    )


def temperature(
    alpha_t: dict[float, float], tau_t: dict[float, float], alpha_k4: float, n_prompts: int
) -> str:
    """Section 9: alpha-hat and tokens per target call against the sampling temperature."""
    temps = sorted(alpha_t)
    hot, vals = temps[-1], [alpha_t[t] for t in temps]
    change = alpha_t[hot] - alpha_t[0.0]
    steady = all(b <= a for a, b in zip(vals, vals[1:]))
    above = [f"{t:g}" for t in alpha_t if t > 0 and alpha_t[t] > alpha_t[0.0]]
    if change < -0.05 and steady:
        trend = (
            f"α̂ falls by {-change:.2f} from greedy to T = {hot:g}, and tokens per target call from "
            f"{tau_t[0.0]:.2f} to {tau_t[hot]:.2f}: a sampled draft token is more often one the "
            "target would rarely pick. Measure α at the temperature you serve."
        )
    else:
        series = ", ".join(f"{alpha_t[t]:.2f}" for t in temps)
        moves = "barely moves" if max(vals) - min(vals) <= 0.1 else "moves"
        trend = (
            f"On this tiny pair temperature {moves} α̂: {series} at T = "
            f"{', '.join(f'{t:g}' for t in temps)}, {'falling' if steady else 'not monotone'}"
            f", a range of {max(vals) - min(vals):.2f} on {n_prompts} prompts. This run does not "
            "show the temperature loss: that needs a draft flatter or sharper than its target."
        )
    return (
        f"**Reading it.** {trend} Greedy α̂ counts argmax agreements (section 3 had "
        f"{alpha_k4:.2f} at k = 4); a sampled α̂ counts drafts kept with probability min(1, p/q), "
        "so it can land above the greedy one"
        + (f", as at T = {', '.join(above)} here." if above else "; here none did.")
    )


def failure_cases(alpha: dict[str, float], speed: dict[str, float]) -> str:
    """Section 9: the trained draft, the target as its own draft, and an untrained draft."""
    s_tr = speed["trained draft"]
    a_self, s_self = (
        alpha["target as its own draft (c = 1)"],
        speed["target as its own draft (c = 1)"],
    )
    a_bad, s_bad = alpha["untrained draft (alpha ~ 0)"], speed["untrained draft (alpha ~ 0)"]
    if s_tr < 1:
        trained = "a loss: speculation did not pay on this run"
    else:
        trained = "a gain" if s_tr > 1.1 else "about even: no gain worth having on this run"
    if s_self < 1:
        costly = (
            "slower than plain decoding: every round pays k draft steps at a target step's cost"
        )
    elif s_self <= 1.05:
        costly = "about even, within a CPU clock's spread: with c = 1 the formula caps it at 1x"
    else:
        costly = (
            "a win the formula rules out (at c = 1 it caps the speed-up at 1x): this CPU clock "
            "could not show the loss, since plain `generate`'s per-step machinery costs more here "
            "than the verify pass. On a GPU, where a step is compute, expect under 1x"
        )
    if s_bad < 1:
        bad = (
            "a loss: each round pays k draft steps for about one token. Where α is low, fall back "
            "to plain decoding or train the draft (notebook 11b)"
        )
    else:
        bad = (
            "not slower on this run, which the formula rules out (at most 1/(kc + v(k)), under 1): "
            "the clock's noise on this profile"
        )
    return (
        f"**Reading it.** On the first three prompts the trained draft runs at {s_tr:.2f}x, "
        f"{trained}. The target as its own draft keeps {a_self:.2f} of its drafts yet runs at "
        f"{s_self:.2f}x, {costly}. The untrained draft (α̂ {a_bad:.2f}) runs at {s_bad:.2f}x, {bad}. "
        "Each figure is one timing; on the tiny CPU profile read only the large gaps."
    )


# c and v(k) of deep-draft shapes, and greedy parity in half precision: one run on a lent H200
GPU_CHECK = Path(__file__).resolve().parents[2] / "data" / "results" / "gpu_check.json"


def _best(alpha: float, c: float, k_max: int, v: float = 1.0) -> tuple[float, int]:
    """Section 1's formula at its best k (a verify pass costing v target steps): (speed-up, k)."""
    k = spec_schedules.optimal_k(alpha, c, lambda k: v, k_max=k_max)
    return spec_schedules.predicted_speedup(alpha, k, c, v), k


def on_colab(alphas: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9), k_max: int = 8) -> str:
    """Section 10: the presets' pair predicted by section 1's formula from a c estimated from the models'
    configs (arithmetic), beside drafts about as deep as their targets, whose c was measured."""
    from helpers.tools.gpu_check import SHAPES  # the shapes the H200 run built

    presets = profiles.GPU_PRESETS
    pairs = sorted({(p["models"]["target"], p["models"]["draft"]) for p in presets.values()})
    t, d = (models.get(m) for m in pairs[0])
    which = "every preset's pair" if len(pairs) == 1 else f"the {sorted(presets)[0]} preset's pair"
    short = [m.id.split("/")[-1] for m in (t, d)]
    c_depth, c_params = d.layers / t.layers, d.params / t.params
    rows = [
        (f"{c_depth:.2f}: depth ratio {d.layers}/{t.layers} (arithmetic)", c_depth),
        (f"{c_params:.2f}: parameter ratio (arithmetic)", c_params),
    ]
    gpu = {"pairs": {}, "self_draft": {}}
    if GPU_CHECK.exists():
        gpu = json.loads(GPU_CHECK.read_text())
    deep = {}  # draft's name -> its measured c
    for pair, m in gpu["pairs"].items():
        tn, dn = pair.split(" + ")
        depth = "/".join(str(SHAPES[n][1]["num_hidden_layers"]) for n in (dn, tn))
        deep[dn] = m["c"]
        rows.append((f"{m['c']:.2f}: {dn} for {tn}, {depth} layers (measured)", m["c"]))
    table = ["| c, and where it comes from | " + " | ".join(f"α = {a:g}" for a in alphas) + " |"]
    table.append("|---" * (len(alphas) + 1) + "|")
    for label, c in rows:
        table.append(
            f"| {label} | " + " | ".join(f"{_best(a, c, k_max)[0]:.2f}x" for a in alphas) + " |"
        )
    vs = [x for m in gpu["pairs"].values() for x in m.get("verify", {}).values()]
    v_hi = max(vs, default=1.0)
    mid = alphas[len(alphas) // 2]
    lo = min(_best(mid, c, k_max, v_hi)[0] for c in (c_depth, c_params))
    hi, k_hi = max(_best(mid, c, k_max) for c in (c_depth, c_params))
    span = f"{lo:.1f}x to {hi:.1f}x"
    if lo > 1.2:
        verdict = f"expect a clear gain on Colab: {span}"
    elif hi > 1.05:
        verdict = f"expect a small gain at best on Colab: {span}"
    else:
        verdict = f"expect no gain on Colab: {span}"
    unsure = (
        " (the draft's config is unconfirmed in the course's registry)" if d.unconfirmed else ""
    )
    text = [
        f"For {which}, {short[0]} ({t.layers} layers) with {short[1]} ({d.layers} layers), c comes "
        f"from the configs{unsure}: arithmetic, not a measurement. The last rows are deep drafts whose "
        "c was measured once on a lent H200 (eager, random weights): what a deep draft costs. Each "
        f"cell is section 1's formula, v = 1, at its best k up to {k_max}.",
        "",
        *table,
        "",
        f"**Reading it.** By this arithmetic, if the pair reaches α = {mid:g}, {verdict} (the top "
        f"at k = {k_hi} with v = 1, the bottom charging v = {v_hi:.2f}, the H200 run's dearest "
        "verify pass). At k = 1 "
        "the formula is (1 + α)/(1 + c), so speculation breaks even at α = c: the shallow draft pays "
        f"from α ≈ {c_depth:.2f}",
    ]
    if deep:
        dn, c_deep = min(deep.items(), key=lambda kv: kv[1])
        text[-1] += f", {dn} only above α = {c_deep:.2f}" if c_deep < 1 else f", {dn} never"
    text[-1] += (
        ". A fixed cost per call (Python, sampling) lifts c above the depth ratio and lowers every "
        "figure. This pair's α is unknown until you run it: on Colab, section 7 measures α, c and "
        "v(k), and those replace this table."
    )
    half = {k: v["equal_to_greedy"] for k, v in gpu["self_draft"].items() if k != "float32"}
    if half:
        text.append(
            f"\nHalf precision can break greedy parity: the {t.layers}-layer shape drafting for "
            "itself matched plain greedy on "
            + " and ".join(f"{v} outputs in {k}" for k, v in half.items())
            + " (the same H200 run)."
        )
    return "\n".join(text)
