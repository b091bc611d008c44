"""Readings of notebook 11 (speculative decoding): each function turns one section's measured values into
the Markdown the learner reads under them, every verdict chosen by the values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from helpers import models, profiles, side_by_side, spec_exactness, spec_schedules
from helpers.readings import plural


def tutorial_tau(alpha: float, k: int) -> float:
    """Tokens per target call of the tutorial loop (greedy) under the i.i.d. model. A fresh round keeping
    n of k drafts: none -> 1 token for 2 calls (bug 6's extra pass); all -> k tokens for 1 call (the bonus
    dropped); else n tokens, and the target's token is dropped, so the draft proposes the rejected token
    again, the next round keeps none and pays the extra pass: n + 1 tokens for 3 calls."""
    tokens = calls = 0.0
    for n in range(k + 1):
        share = alpha**n * (1 - alpha) if n < k else alpha**k
        got, paid = (1, 2) if n == 0 else (k, 1) if n == k else (n + 1, 3)
        tokens, calls = tokens + share * got, calls + share * paid
    return tokens / calls


def textbook_loop(rows: dict[str, list], n_prompts: int, alpha: float, k: int = 4) -> str:
    """Section 3: the tutorial loop against ours and plain `generate` (seconds, target calls, parity),
    its tokens per call against the i.i.d. model of its bugs 5 and 6."""
    s_plain, n_plain = rows["plain generate (cached)"][:2]  # plain: one call per token
    s_tut, calls_tut, same_tut = rows[f"tutorial loop, k={k}"]
    s_ours, calls_ours, same_ours = rows[f"ours, k={k}"]
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
    tau_tut, tau_ours, pred = n_plain / calls_tut, n_plain / calls_ours, tutorial_tau(alpha, k)
    if abs(pred - tau_tut) <= 0.1 * pred:
        fit = f"close to the {tau_tut:.2f} measured"
    else:
        fit = (
            f"against {tau_tut:.2f} measured: the i.i.d. model misses that hard tokens come in runs"
        )
    if s_tut > 2 * s_ours:
        cost = f"Without KV caches (bugs 1, 2) it is also slow: {s_tut / s_ours:.1f} times ours' seconds"
    else:
        cost = "It was not clearly slower on this run, although it has no KV caches (bugs 1, 2)"
    return (
        f"**Reading it.** {parity} Per target call ours made {tau_ours:.2f} tokens, the tutorial "
        f"{tau_tut:.2f}. Bug 5 costs most: the greedy draft proposes the rejected token again, which "
        "fails at once and pays bug 6's extra pass. Per fresh round keeping n of k drafts: n = 0 "
        "costs 2 calls for 1 token, n = k 1 call for k tokens (the bonus dropped), any other n 3 "
        f"calls for n + 1 tokens. At α̂ = {alpha:.2f} and k = {k} that model predicts {pred:.2f} "
        f"tokens per call, {fit}. {cost}. The seconds are one run each, first calls included: read "
        "no speed-up of ours over `generate` from them (section 7 measures it)."
    )


def acceptance_rate(
    alpha_by_k: dict[int, float],
    aop_by_k: dict[int, float],
    split_by_k: dict[int, list[float]],
    tok,
    texts: list[list[int]],
) -> str:
    """Section 3, bug 4: accepted / proposed against alpha-hat, over k; then alpha-hat inside the answers
    and past their end of turn (`split_by_k`: k -> [inside, past]), with the share of tokens past the end
    and one answer's text past it (`texts`: each prompt's new tokens)."""
    k0, k1 = min(alpha_by_k), max(alpha_by_k)
    lo, hi = min(alpha_by_k.values()), max(alpha_by_k.values())
    if aop_by_k[k0] - aop_by_k[k1] > 0.05:
        trend = (
            "The textbook rate falls with k for the same draft: it mostly counts the drafts never "
            "checked, which grow with k."
        )
    else:
        trend = (
            "The textbook rate barely falls here; it falls most when α is far from both 0 and 1 "
            "(exercise 2 predicts by how much)."
        )
    eos = tok.eos_token_id
    ends = [t.index(eos) + 1 if eos in t else len(t) for t in texts]  # tokens up to the end of turn
    total, inside = sum(len(t) for t in texts), sum(ends)
    head = (
        f"**Reading it.** From k = {k0} to k = {k1}, accepted / proposed goes from "
        f"{aop_by_k[k0]:.2f} to {aop_by_k[k1]:.2f}, while α̂ stays between {lo:.2f} and {hi:.2f}. "
        f"{trend}"
    )
    if inside == total:
        return f"{head} Every answer ran to the token budget, so none was decoded past its end."
    k = 4 if 4 in split_by_k else k0
    a_in, a_past = split_by_k[k]
    shown = tok.decode(texts[0][: ends[0] + 12], skip_special_tokens=False).replace("\n", "⏎")
    if a_in > a_past + 0.02:
        which = "the draft guesses the invented turns worse than the answers"
    elif a_past > a_in + 0.02:
        which = "the draft guesses the invented turns better than the answers"
    else:
        which = "the draft guesses both about as well"
    past = (
        f"**Past the end of turn.** These runs force {len(texts[0])} tokens a prompt: "
        f"{total - inside} of the {total} ({(total - inside) / total:.0%}) come after the answer's "
        f"end-of-turn token, where the model invents new chat turns (the first prompt: `{shown}`…). "
        f"At k = {k}, α̂ is {a_in:.2f} inside the answers and {a_past:.2f} past their end: {which}. "
        "A served model stops at the end of turn; from section 5 on, so does every run here."
    )
    return f"{head}\n\n{past}"


def two_token_test(
    tok,
    pairs: torch.Tensor,
    law: torch.Tensor,
    counts: dict[str, torch.Tensor],
    pvalues: dict[str, tuple[float, int]],
    top: torch.Tensor,
    n_samples: int,
    first_kept: float,
) -> str:
    """Section 5: the chi-square test of our loops and of the negative control (the last entry), what it
    covers (`first_kept`: the chance the first draft is kept, so a second draft is tested)."""
    *loops, control_name = counts
    control, p_control = counts[control_name], pvalues[control_name][0]
    failed = [name for name in loops if pvalues[name][0] <= 1e-3]
    each = [f"`{name}` (p = {pvalues[name][0]:.3g})" for name in loops]
    each = ", ".join(each[:-1]) + (" and " if len(each) > 1 else "") + each[-1]
    if not failed:
        ours = f"Our bars follow the expected ones; no loop is rejected: {each}."
    else:
        ours = (
            f"A failure: {', '.join(failed)} departs from the target's law ({each}). Check that q "
            "is the distribution the draft sampled from and that a rejection draws from "
            "max(0, p - q)."
        )
    same = [(a, b) for i, a in enumerate(loops) for b in loops[i + 1 :]]
    same = [(a, b) for a, b in same if torch.equal(counts[a], counts[b])]
    if same:
        a, b = same[0]
        ours += f" From one seed `{a}` and `{b}` drew the very same pairs: they sample alike."
    dof = pvalues[loops[0]][1]
    bins = (
        f"The {len(pairs)} possible pairs are pooled into {dof + 1} bins (those expected fewer than "
        f"5 times share one): {dof} degrees of freedom."
    )
    covers = (
        "**What it covers.** Two new tokens (one draft a round): the accept test, the residual, "
        "the bonus. Three: the first round drafts two, adding the second draft's test, its residual "
        "and the rollback after a rejected first draft; the first draft is kept with chance "
        f"{first_kept:.2f}, so about {first_kept * n_samples:.0f} of {n_samples} samples reach the "
        "second test. Not covered: draft positions 3 and later, a bonus after several drafts, "
        "top-p; there the derivation and greedy parity carry the weight (exercise 1 extends it)."
    )
    gap = (control - law * n_samples).abs()
    worst = int(top[int(gap[top].argmax())])  # among the outcomes the chart shows
    first, share = spec_exactness.first_token_share(pairs, control)
    law_share = float(law[pairs[:, 0] == first].sum())
    word = repr(tok.decode([first]))
    if share > law_share + 0.1:
        why = (
            f"{share:.0%} of its draws start with {word}, which the target picks {law_share:.0%} of "
            "the time: the draft always proposes its argmax, where p ≥ q that draft is always kept, "
            "and the first token stops varying."
        )
    else:
        why = (
            f"Its first token stays near the target's shares ({word}: {share:.0%} against "
            f"{law_share:.0%}); the error sits in the second token."
        )
    if p_control <= 1e-3:
        caught = f"The test rejects it (p = {p_control:.3g}), as it must."
    else:
        caught = (
            f"The test does not reject it (p = {p_control:.3g}): with {n_samples} samples it lacks "
            "the power to see this bug, so our pass proves little here; raise the sample count."
        )
    return (
        f"**Reading it.** {ours} {bins}\n\nThe control departs most at "
        f"{tok.decode(pairs[worst])!r}: {int(control[worst])} draws against "
        f"{float(law[worst]) * n_samples:.0f} expected. {why} {caught}\n\n{covers}"
    )


END = "⟨end⟩"  # how the readings show the end-of-turn token


def marked(tok, seq: torch.Tensor, st, prompt_len: int, eos: int | None = None) -> str:
    """One answer, round by round ('|' ends a round), each rejected draft in place as [draft→target],
    the end-of-turn token `eos` as ⟨end⟩, so every round shows, one that held only the end included."""
    new, rejected = seq[0, prompt_len:].tolist(), dict(st.rejected)

    def say(ids: list[int]) -> str:
        end = f" {END}" if ids and ids[-1] == eos else ""
        return tok.decode(ids, skip_special_tokens=True) + end

    rounds, pos = [], 0
    for kept in st.accepted:
        end = min(pos + kept + 1, len(new))  # the last round may end early, at the end of turn
        piece = say(new[pos:end])
        if end - 1 in rejected:  # this round's last token replaced a rejected draft
            said = say([new[end - 1]]) if new[end - 1] == eos else tok.decode([new[end - 1]])
            space = " " if said.startswith(" ") else ""
            piece = tok.decode(new[pos : end - 1], skip_special_tokens=True)
            piece += f"{space}[{tok.decode([rejected[end - 1]]).strip()}→{said.strip()}]"
        rounds.append(piece)
        pos = end
    return "|".join(rounds)


def where_rejected(tok, runs: list, prompt_lens: list[int]) -> str:
    """Section 6: which tokens the target replaced, over every answer ((sequence, stats) per prompt)."""
    n = digits = repeats = tokens = digit_tokens = calls = kept = 0
    for (seq, st), start in zip(runs, prompt_lens):
        calls, kept = calls + st.target_calls, kept + sum(st.accepted)
        new = seq[0, start:].tolist()
        tokens += len(new)
        digit_tokens += sum(any(ch.isdigit() for ch in tok.decode([t])) for t in new)
        seen = set()
        for i, x in sorted(st.rejected):
            if i >= len(new):
                continue
            n += 1
            digits += any(ch.isdigit() for ch in tok.decode([new[i]]))
            repeats += (x, new[i]) in seen
            seen.add((x, new[i]))
    ended = calls - (tokens - kept)  # rounds that ended on a kept ⟨end⟩ draft: no target token
    but = f", except the {plural(ended, 'round')} that ended on a drafted {END}" if ended else ""
    alpha = kept / (kept + n) if kept + n else float("nan")
    head = (
        f"**Reading it.** {calls} rounds, one target call each, wrote the {tokens} tokens of "
        f"{plural(len(runs), 'answer')} ({tokens / max(calls, 1):.2f} per call): "
        f"{plural(kept, 'kept draft')} and {plural(tokens - kept, 'target token')}, one a round{but}. {plural(n, 'draft')} "
        f"{'was' if n == 1 else 'were'} rejected (in brackets), so α̂ = {kept} / ({kept} + {n}) = "
        f"{alpha:.2f}. A rejection costs the rest of its round's drafts, never a wrong token: where "
        "an answer is wrong, the target wrote it so."
    )
    if n == 0:
        return head
    share, base = digits / n, digit_tokens / max(tokens, 1)
    if share > 1.5 * base:
        kind = "numbers are where this draft fails most"
    elif share < base / 1.5:
        kind = "numbers are not where this draft fails"
    else:
        kind = "numbers fail about as often as other tokens"
    text = (
        f"{head}\n\n{digits} of the {n} rejections ({share:.0%}) came where the target wrote a "
        f"number, though numbers are {base:.0%} of the answers' tokens: {kind}, which the i.i.d. "
        "model, one α for every position, cannot say."
    )
    if repeats:
        text += (
            f" {plural(repeats, 'rejection')} {'repeats' if repeats == 1 else 'repeat'} a wrong guess "
            "made earlier in the same answer."
        )
    return text


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
    pooled, hist: torch.Tensor, geo: torch.Tensor, k: int, alpha_k: float
) -> str:
    """Section 6: per-position acceptance and the accepted lengths against the geometric model;
    `alpha_k`: section 3's alpha-hat inside the answers at the same k."""
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
    if abs(a - alpha_k) < 0.005:
        vs3 = f"section 3's inside the answers at k = {k}: the same rounds, counted the same way"
    else:
        vs3 = f"against section 3's {alpha_k:.2f} inside the answers at k = {k}"
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
    cut = pooled.rounds - n
    held = f"It holds the {n} rounds that drafted all {k}" + (
        f"; the {plural(cut, 'round')} cut short (end of turn or token budget) stay out"
        if cut
        else ""
    )
    ends = (
        f"**Right panel.** {held}. {plural(int(hist[0]), 'round')} kept no draft "
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
            "overhead, dominates a step here"
        )
    if near["depth"] and not near["params"]:
        return (
            f"c is {c:.2f}, near {ratios[1]}, far from {ratios[0]}: a cost per layer (Python and "
            "framework calls) dominates a step here"
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


def _r(x: float) -> float:
    """A speed-up as printed (two decimals): verdicts compare what the learner reads."""
    return round(x, 2)


def _overlap(a: list[float], b: list[float]) -> bool:
    """Whether two spreads of repeats (lowest, highest) share any value: the clock cannot order them."""
    return _r(a[0]) <= _r(b[1]) and _r(b[0]) <= _r(a[1])


def _vs_one(lo: float, hi: float) -> str:
    """'above', 'below' or 'across' 1x: where a spread of repeats lies, as printed."""
    return "above" if _r(lo) > 1 else "below" if _r(hi) < 1 else "across"


def _span(r: dict, key: str = "gain") -> str:
    lo, hi = r[f"{key}_range"]
    return f"{lo:.2f}x to {hi:.2f}x"


def _ks(ks: list[int]) -> str:
    return ", ".join(str(k) for k in ks[:-1]) + (" and " if len(ks) > 1 else "") + str(ks[-1])


def baseline(result: dict, n_t: int, n_d: int, layers: tuple[int, int]) -> str:
    """Section 7's table: what a step costs (c), what a token costs each decoder with no drafts, and the
    methods transformers runs (assisted generation at the same k, prompt lookup)."""
    rows = {r["method"]: r for r in result["rows"]}
    zero = rows[side_by_side.NO_DRAFTS]
    plain_ms = side_by_side.per_token_ms(result, "plain generate")
    zero_ms = side_by_side.per_token_ms(result, side_by_side.NO_DRAFTS)
    first = f"**Reading it.** {step_cost(result['costs']['c'], n_d / n_t, layers[1] / layers[0])}."
    costs = f"A token cost plain `generate` {plain_ms:.1f} ms, our loop drafting nothing {zero_ms:.1f} ms:"
    lo, hi = zero["speedup_range"]
    spread = f"{zero['speedup']:.2f}x `generate`, {lo:.2f}x to {hi:.2f}x over the repeats"
    if _vs_one(lo, hi) == "above":
        head = (
            f"{costs} before drafting anything our loop runs at {spread}, from `generate`'s own work "
            "around each step. `/plain` mixes that head start into speculation's gain; `/k=0` "
            "removes it."
        )
    elif _vs_one(lo, hi) == "below":
        head = (
            f"{costs} drafting nothing, our loop runs at {spread}, slower: `/plain` understates "
            "speculation's gain; `/k=0` removes that handicap."
        )
    else:
        head = (
            f"{costs} drafting nothing, our loop runs at {spread}: the clock cannot tell the two "
            "loops apart, so `/plain` is close to speculation's own gain."
        )
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    k = 4 if 4 in ks else ks[len(ks) // 2]
    hf, ours = rows[f"HF assisted k={k}"], rows[f"ours k={k}"]
    hf_lo = min(rows[f"HF assisted k={j}"]["speedup"] for j in ks)
    hf_hi = max(rows[f"HF assisted k={j}"]["speedup"] for j in ks)
    if abs(hf["tau"] - ours["tau"]) <= 0.1 * ours["tau"]:
        same = (
            "the same work per call, so its lower speed is its cost per round"
            if hf["speedup"] < ours["speedup"]
            else "the same work per call, at no less speed"
        )
    else:
        same = (
            f"{'fewer' if hf['tau'] < ours['tau'] else 'more'} tokens per call, which accounts for "
            "part of the gap"
        )
    hf_text = (
        f"Transformers' assisted generation ran at {hf_lo:.2f}x to {hf_hi:.2f}x plain `generate`; at "
        f"k = {k} it made {hf['tau']:.2f} tokens per call, ours {ours['tau']:.2f}: {same}."
    )
    look = rows["HF prompt lookup"]
    best = max(
        (r for r in result["rows"] if r["method"].startswith("ours") and r["k"] != 0),
        key=lambda r: r["speedup"],
    )
    best_text = f"our best (`{best['method']}`, {best['speedup']:.2f}x)"
    if _overlap(look["speedup_range"], best["speedup_range"]):
        rank = f"the clock cannot tell it from {best_text} by `/plain`"
    elif look["speedup"] > best["speedup"]:
        rank = "faster than every draft-model method by `/plain`, beyond the repeats' spread"
    else:
        rank = f"slower than {best_text} by `/plain`"
    how = (
        "Its drafts are copies of earlier text (the prompt too): a search, not a model step (c ≈ 0)"
    )
    lo, hi = look["speedup_range"]
    ran = f"Prompt lookup ran at {look['speedup']:.2f}x plain `generate` ({lo:.2f}x to {hi:.2f}x)"
    if _vs_one(lo, hi) == "above":
        clear = [
            r for r in result["rows"] if "gain" in r and r["k"] != 0 and _r(r["gain_range"][0]) > 1
        ]
        alone = (
            "the only method here whose every repeat beat its own decoder"
            if not clear
            else f"beyond 1x over its own decoder, as {plural(len(clear), 'row')} of ours"
        )
        lookup = (
            f"{ran}: a win, {alone}; {rank}. {how}, and it made {look['tau']:.2f} tokens per call: "
            "these answers repeat words of their prompts and of themselves."
        )
    elif _vs_one(lo, hi) == "below":
        lookup = (
            f"{ran}: a loss; {rank}. {how}, but its {look['tau']:.2f} tokens per call do not pay "
            "for the search and the longer passes: these answers copy little."
        )
    else:
        lookup = (
            f"{ran}: not told apart from 1x; {rank}. {how}; with {look['tau']:.2f} tokens per "
            "call it pays only where the output copies its input (edits, summaries, code)."
        )
    return f"{first} {head}\n\n{hf_text} {lookup}"


def speed_vs_theory(result: dict, split_by_k: dict[int, list[float]], n_prompts: int) -> str:
    """Section 7's plot: our gain over no drafts at each k, against both formulas and the repeats;
    `split_by_k`: section 3's alpha-hat inside the answers and past their end, per k."""
    ours = [r for r in result["rows"] if r["method"].startswith("ours k=")]
    best = max(ours, key=lambda r: r["gain"])
    ties = [r["k"] for r in ours if r is not best and _overlap(r["gain_range"], best["gain_range"])]
    lo, hi = best["gain_range"]
    if ties:
        order = (
            f"k = {best['k']} ran fastest ({best['gain']:.2f}x, {lo:.2f}x to {hi:.2f}x over the "
            f"repeats), but its spread overlaps that of k = {_ks(ties)}: the clock cannot tell them apart"
        )
    else:
        order = (
            f"k = {best['k']} ran fastest ({best['gain']:.2f}x, {lo:.2f}x to {hi:.2f}x over the "
            "repeats), clear of every other k's spread"
        )
    if _vs_one(lo, hi) == "above":
        paid = "Speculation itself paid: even the slowest repeat beat the loop with no drafts."
    elif _vs_one(lo, hi) == "below":
        paid = "Speculation did not pay: no k beat the loop with no drafts."
    else:
        paid = "Its spread reaches below 1x, so this clock cannot show that speculation paid."
    inside = {
        col: [
            r["k"] for r in ours if _r(r["gain_range"][0]) <= _r(r[col]) <= _r(r["gain_range"][1])
        ]
        for col in ("predicted_textbook", "predicted_with_verify")
    }
    n_tb, n_wv = (len(inside[c]) for c in ("predicted_textbook", "predicted_with_verify"))
    n = len(ours)
    if 2 * max(n_tb, n_wv) < n:
        below = sum(
            r["gain"] < min(r["predicted_textbook"], r["predicted_with_verify"]) for r in ours
        )
        verdict = "neither fits most k"
        if 2 * below > n:
            verdict += (
                f"; at {below} of {n} k the clock runs below both, so the loop pays costs that "
                "neither formula charges (the next cell names them)"
            )
    elif n_wv > n_tb:
        verdict = "charging the verify pass its measured cost fits the clock better"
    elif n_tb > n_wv:
        verdict = (
            "the textbook one fits better on this run, although the verify pass was measured dearer "
            "than a step: one run, so rerun before trusting it"
        )
    else:
        verdict = "the clock cannot tell the two formulas apart"
    fits = (
        f"The textbook formula (v = 1) lies within the repeats' spread at {n_tb} of {n} k, the "
        f"verify-aware one at {n_wv}: {verdict}."
    )
    here, sec3 = [r["alpha_hat"] for r in ours], [a for a, _ in split_by_k.values()]
    near = "near" if _overlap([min(here), max(here)], [min(sec3), max(sec3)]) else "away from"
    alpha = (
        f"α̂ ({min(here):.2f} to {max(here):.2f}, first {result['prompts']} prompts) sits {near} "
        f"section 3's inside the answers ({min(sec3):.2f} to {max(sec3):.2f}, {n_prompts} prompts)."
    )
    k = 4 if 4 in split_by_k and 4 in result["costs"]["verify"] else None
    if k and not math.isnan(split_by_k[k][1]):
        a_in, a_past = split_by_k[k]
        c, v = result["costs"]["c"], result["costs"]["verify"][k]
        g_in, g_past = (spec_schedules.predicted_speedup(a, k, c, v) for a in (a_in, a_past))
        moves = "hides part of the gain" if g_past < g_in else "flatters the gain"
        alpha += (
            f" Past the end of turn section 3 had α̂ {a_past:.2f} at k = {k}: there the "
            f"verify-aware formula gives {g_past:.2f}x, against {g_in:.2f}x at the answers' "
            f"{a_in:.2f}. A benchmark forced past the end of turn {moves}."
        )
    return f"**Reading it.** By `/k=0`, {order}. {paid} {fits}\n\n{alpha}"


def left_out(result: dict, k: int = 4) -> str:
    """Section 7: a round of ours at constant k, measured part by part against what the verify-aware
    formula charges, the costs it leaves out named from the figures, and the clock's shortfall factor."""
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    k = k if k in ks else ks[len(ks) // 2]
    got = side_by_side.round_costs(result, k)
    m, f = got["measured"], got["formula"]
    names = {
        "draft": f"{k} draft steps",
        "verify": "the verify pass",
        "rest": "the rest (acceptance, cache crops, Python)",
    }
    table = [f"| one round at k = {k} | the formula charges | measured |", "|---|---|---|"]
    table += [f"| {names[p]} | {f[p]:.1f} ms | {m[p]:.1f} ms |" for p in m]
    total_m, total_f = sum(m.values()), sum(f.values())
    table.append(f"| total | {total_f:.1f} ms | {total_m:.1f} ms |")
    extra = {p: m[p] - f[p] for p in m}
    big = max(extra, key=extra.get)
    zero, step = got["no_drafts_ms"], got["target_ms"]
    short = side_by_side.shortfall(result)
    if total_m > total_f:
        gap = (
            f"A round took {total_m / total_f:.2f} times what the formula charges for bare forward "
            "passes. The largest extra is "
            f"{names[big]}, {extra[big]:.1f} ms a round. The loop also pays Python around every call, "
            "each answer's first pass over its whole prompt, and its bookkeeping."
        )
    else:
        gap = (
            f"A round took {total_m / total_f:.2f} times what the formula charges: on this run the "
            "loop's extra costs stayed inside the clock's noise."
        )
    base = (
        f"Drafting nothing, our loop spends {zero:.1f} ms a round against a bare target step's "
        f"{step:.1f} ms ({zero / step:.2f}x): the same costs, in every round."
    )
    factor = (
        f"Over the constant k the clock gave {short:.2f} of the verify-aware formula's gain (median "
        "ratio): section 10's forecast carries that factor."
    )
    return "\n".join(table) + f"\n\n**Reading it.** {gap} {base} {factor}"


# the benchmark's rows of section 8's schedules, and transformers' default one
SCHEDULES = (
    "ours heuristic (+2/-1)",
    "ours alpha-driven k*",
    "ours k<=20, stop < 0.4",
    "ours alpha-driven k*, block stop",
    "HF assisted (default)",
)


def schedules(
    result: dict,
    rounds: dict[str, list[int]],
    k_star: dict[float, tuple[int, float]] | None = None,
    adaptive: tuple[str, ...] = SCHEDULES,
) -> str:
    """Section 8: the alpha-driven rule's k* at a few alpha (`k_star`: alpha -> (k*, predicted gain)),
    the adaptive schedules (rows of the benchmark) against the best constant k, each over our loop with
    no drafts, and tokens per call against speed; `rounds`: drafts per round of each stop rule on one
    prompt."""
    rows = {r["method"]: r for r in result["rows"]}
    const = max(
        (r for r in result["rows"] if r["method"].startswith("ours k=")), key=lambda r: r["gain"]
    )
    ours = [m for m in adaptive if "gain" in rows.get(m, {})]
    groups = {"faster": [], "tied": [], "slower": []}
    for m in ours:
        r = rows[m]
        if _overlap(r["gain_range"], const["gain_range"]):
            groups["tied"].append(m)
        else:
            groups["faster" if r["gain"] > const["gain"] else "slower"].append(m)
    text = ["**Reading it.**"]
    if k_star:
        (a0, (k0, g0)), (a1, (k1, g1)) = min(k_star.items()), max(k_star.items())
        grows = "the better the draft guesses, the longer its rounds" if k1 > k0 else "k* stays put"
        text.append(
            f"The α-driven rule drafts k* = {k0} at α = {a0:g} and {k1} at α = {a1:g}: {grows} "
            f"(predicted {g0:.2f}x and {g1:.2f}x at this c and v(k))."
        )
    text.append(
        f"Against our loop with no drafts, the best constant k was "
        f"`{const['method']}` at {const['gain']:.2f}x ({_span(const)}), picked after the fact from "
        "these timings."
    )
    said = {
        "tied": "The clock cannot tell {} from it, and a schedule needs no k chosen in advance.",
        "faster": "{} beat it beyond the repeats' spread.",
        "slower": "{} ran slower, beyond the repeats' spread: on this pair a schedule cost speed.",
    }
    for kind, names in groups.items():
        if names:
            every = len(names) == len(ours) > 1
            who = f"all {len(names)} schedules" if every else ", ".join(f"`{m}`" for m in names)
            line = said[kind].format(who)
            text.append(line[0].upper() + line[1:])
    taus = {m: rows[m]["tau"] for m in ours}
    most = max(taus, key=taus.get)
    consts = [r for r in result["rows"] if r["method"].startswith("ours k=")]
    top = max(consts, key=lambda r: r["tau"])
    if top["tau"] > taus[most]:
        than = f"fewer than constant k = {top['k']}'s {top['tau']:.2f} (at {top['gain']:.2f}x)"
    else:
        than = f"more than any constant k (k = {top['k']}: {top['tau']:.2f})"
    text.append(
        f"Of the schedules, `{most}` made the most tokens per target call, {taus[most]:.2f}, "
        f"{than}. Tokens per call are not speed: each drafted token costs c = "
        f"{result['costs']['c']:.2f} of a target step, so long rounds pay only where α is high."
    )
    drafted = {name: [k for k in n if k] or [0] for name, n in rounds.items()}  # 0: no room left
    spans = "; ".join(f"{name}: {min(n)} to {max(n)} drafts a round" for name, n in drafted.items())
    text.append(f"On the last prompt the stops let the text set each round's length ({spans}).")
    return " ".join(text)


def temperature(
    alpha_t: dict[float, float],
    tau_t: dict[float, float],
    overlap_t: dict[float, float],
    alpha_k4: float,
    n_prompts: int,
) -> str:
    """Section 9: alpha-hat, the mean overlap and tokens per target call against the temperature;
    `alpha_k4`: section 3's greedy alpha-hat inside the answers at k = 4."""
    temps = sorted(alpha_t)
    hot, vals = temps[-1], [alpha_t[t] for t in temps]
    change = alpha_t[hot] - alpha_t[0.0]
    steady = all(b <= a for a, b in zip(vals, vals[1:]))
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
            f", a range of {max(vals) - min(vals):.2f} on {n_prompts} prompts; tokens per target "
            f"call (`tok/call`) go from {tau_t[0.0]:.2f} to {tau_t[hot]:.2f}. This run does not "
            "show the temperature loss: that needs a draft flatter or sharper than its target."
        )
    hot_ts = [t for t in temps if t > 0]
    gap = max(abs(alpha_t[t] - overlap_t[t]) for t in hot_ts)
    if gap <= 0.05:
        noise = f"α̂ tracks it within {gap:.2f}, the luck of the accept draws"
    else:
        noise = f"α̂ departs from it by up to {gap:.2f}, more than the luck of a few hundred draws"
    return (
        f"**Reading it.** {trend} The mean Σ min(p, q) is α's expected value (section 1): at T > 0 "
        f"{noise}; at T = 0 p and q are one-hot, so the two count the same argmax agreements "
        f"(section 3 had {alpha_k4:.2f} inside the answers at k = 4)."
    )


def failure_cases(
    cases: dict[str, dict], costs: dict, alpha_k4: float, n_prompts: int, k: int = 4
) -> str:
    """Section 9: the trained draft, the target as its own draft and an untrained draft, each timed
    against our loop with no drafts, beside the formula at its own alpha-hat, c and the measured v(k)."""
    c_of = {"target as its own draft (c = 1)": 1.0}  # the others have the draft's shape
    verdict = {"above": "a gain", "below": "a loss", "across": "not told apart from 1x"}
    parts = []
    for name, r in cases.items():
        c = c_of.get(name, costs["c"])
        pred = spec_schedules.predicted_speedup(r["alpha_hat"], k, c, costs["verify"][k])
        lo, hi = r["gain_range"]
        inside = "inside" if _r(lo) <= _r(pred) <= _r(hi) else "outside"
        parts.append(
            f"the {name.split(' (')[0]}: {verdict[_vs_one(lo, hi)]} (formula {pred:.2f}x, "
            f"{inside} the spread)"
        )
    return (
        f"**Reading it.** Against our loop with no drafts, at k = {k}: " + "; ".join(parts) + ". "
        "By the formula a draft as costly as its target cannot win, and an untrained one pays k draft "
        "steps and a verify pass for about one token. Where α is low, fall back to plain decoding or "
        "train the draft (notebook 11b)."
        + _alpha_note(cases["trained draft"]["alpha_hat"], alpha_k4, n_prompts)
    )


def _alpha_note(alpha: float, alpha_all: float, n_prompts: int) -> str:
    """One sentence relating an alpha-hat on a few prompts to section 3's on all of them."""
    if abs(alpha - alpha_all) < 0.02:
        return ""
    return (
        f" The trained draft's α̂ here, on {n_prompts} prompts, differs from section 3's "
        f"{alpha_all:.2f} on all of them: which prompts are decoded moves α̂."
    )


# c and v(k) of deep-draft shapes, measured once on an H200 GPU (random weights of the real shapes)
GPU_CHECK = Path(__file__).resolve().parents[2] / "data" / "results" / "gpu_check.json"


def _best(alpha: float, c: float, k_max: int, v: float = 1.0) -> tuple[float, int]:
    """Section 1's formula at its best k (a verify pass costing v target steps): (speed-up, k)."""
    k = spec_schedules.optimal_k(alpha, c, lambda k: v, k_max=k_max)
    return spec_schedules.predicted_speedup(alpha, k, c, v), k


# a published anchor (Spec-Bench, Xia et al. 2024: A100, Vicuna-7B, fp16, batch 1): a separate small draft
SPEC_BENCH = 1.49


def on_colab(
    alphas: tuple[float, ...] = (0.7, 0.8, 0.9), k_max: int = 8, shortfall: float | None = None
) -> str:
    """Section 10: the presets' pair predicted by section 1's formula from a c estimated from the models'
    recorded sizes (arithmetic), beside drafts about as deep as their targets, whose c was measured;
    `shortfall`: section 7's clock over the formula, which scales the forecast."""
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
    formula = (
        f"At α = {mid:g} the formula gives {lo:.1f}x to {hi:.1f}x (the low end charging the H200's "
        f"dearest verify pass, v = {v_hi:.2f})"
    )
    s = 1.0 if shortfall is None else shortfall
    lo, hi = lo * s, hi * s
    if shortfall is not None:
        formula += (
            f". Section 7's clock gave {s:.2f} of the formula's gain on this machine; scaled: "
            f"{lo:.1f}x to {hi:.1f}x"
        )
    if lo > 1.2:
        verdict = "expect a gain on Colab"
    elif hi > 1.05:
        verdict = "expect a small gain at best on Colab"
    else:
        verdict = "expect no gain on Colab"
    if SPEC_BENCH < lo:
        where = "below that range: plan on the low end until your run measures"
    else:
        where = "above that range" if SPEC_BENCH > hi else "inside that range"
    anchor = f"Spec-Bench's published {SPEC_BENCH}x (above) sits {where}."
    unsure = " (the draft's from its model card, not a config)" if d.unconfirmed else ""
    text = [
        f"{short[0]} ({t.layers} layers) with {short[1]} ({d.layers} layers), {which}: c from the "
        f"models' recorded sizes{unsure}. Last rows: deep drafts whose c was measured once on an "
        f"H200. Each cell: section 1's formula, v = 1, at its best k up to {k_max}.",
        "",
        *table,
        "",
        f"**Reading it.** {formula}: {verdict}. {anchor} At k = 1 the formula is (1 + α)/(1 + c): "
        f"break-even at α = c, from α ≈ {c_depth:.2f} for the shallow draft",
    ]
    if deep:
        dn, c_deep = min(deep.items(), key=lambda kv: kv[1])
        text[-1] += f", above {c_deep:.2f} for {dn}" if c_deep < 1 else f", never for {dn}"
    text[-1] += ". On Colab, section 7's own α, c, v(k) and factor replace this table."
    return "\n".join(text)
