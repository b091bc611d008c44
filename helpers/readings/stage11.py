"""Readings of notebook 11 (speculative decoding): each function turns one section's measured values into
the Markdown the learner reads under them, every verdict chosen by the values."""

from __future__ import annotations

import json
import math
import re
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
    per_tut, per_ours = s_tut / calls_tut * 1e3, s_ours / calls_ours * 1e3
    calls_x, call_x = calls_tut / calls_ours, per_tut / per_ours
    cost = (
        f"It took {s_tut / s_ours:.1f} times ours' seconds: {calls_x:.1f} times the target calls "
        f"(bugs 5, 6) times {call_x:.1f} times the time per call, drafts included ({per_tut:.0f} ms "
        f"against {per_ours:.0f} ms: the missing KV caches, bugs 1, 2). "
        + (
            "Most of the slowdown is the extra calls"
            if calls_x > call_x
            else "Most of it is the caches"
        )
        + "; on these short prompts a missing cache costs little, on a long real prompt far more"
    )
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


def detectable_shift(law: torch.Tensor, n_samples: int, dof: int, level: float = 1e-3) -> float:
    """The probability mass that, moved from the likeliest outcome of `law` to the second, the
    chi-square test at `level` rejects half the time with `n_samples` draws (noncentral chi-square)."""
    from scipy.optimize import brentq
    from scipy.stats import chi2, ncx2

    if dof < 1:  # one bin (a near-deterministic law): the test has nothing to compare
        return math.nan
    crit = chi2.ppf(1 - level, dof)
    lam = brentq(lambda x: ncx2.sf(crit, dof, x) - 0.5, 1e-6, 1e4)  # noncentrality at power 0.5
    p1, p2 = torch.sort(law.double(), descending=True).values[:2].tolist()
    return math.sqrt(lam / (n_samples * (1 / p1 + 1 / p2)))


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
        "**What it covers.** Two new tokens: the accept test, the residual, the bonus. Three: a "
        "second draft's test, its residual and the rollback; the first draft is kept with chance "
        f"{first_kept:.2f}, so about {first_kept * n_samples:.0f} of {n_samples} samples reach the "
        "second test. Not covered: draft positions 3 and later, a bonus after several drafts, "
        "top-p (exercise 1)."
    )
    gap = (control - law * n_samples).abs()
    worst = int(top[int(gap[top].argmax())])  # among the outcomes the chart shows
    first, share = spec_exactness.first_token_share(pairs, control)
    law_share = float(law[pairs[:, 0] == first].sum())
    word = repr(tok.decode([first]))
    if share > law_share + 0.1:
        why = (
            f"{share:.0%} of its draws start with {word}, which the target picks {law_share:.0%} of "
            "the time: the draft always proposes its argmax, and the ratio with the soft q keeps "
            f"it {share:.0%} of the time, so the first token stops varying."
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
    move = detectable_shift(law, n_samples, dof)
    a, b = (repr(tok.decode(pairs[int(i)])) for i in top[:2])
    power = (
        f"**What it can detect.** With {n_samples} samples and {dof} degrees of freedom, a law that "
        f"moves {move:.1%} of probability from {a} to {b} is rejected about half the time; smaller "
        "bugs mostly pass."
        if move == move  # not NaN
        else "**What it can detect.** Nothing: the law fills a single bin, so no bug can show."
    )
    return (
        f"**Reading it.** {ours} {bins} {power}\n\nThe control departs most at "
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


def graded(prompts: list[str], answers: list[str]) -> list[bool | None]:
    """Each answer graded by its task's rule where the prompt is a held-out task of the tiny world;
    None where no rule knows the prompt (a GPU preset's prompts)."""
    from helpers import tasks
    from helpers.world import families

    held = {t.prompt: t for t in families.heldout_by_family(1)}
    return [
        tasks.grade(held[p], a) if p in held and tasks.gradable(held[p]) else None
        for p, a in zip(prompts, answers)
    ]


def copies_prompt(text: str, prompt: str) -> bool:
    """Whether a token's text is a word of the prompt, or one letter of the prompt's last word (the
    word a spelling task spells)."""
    word = text.strip().lower()
    if not word.isalnum():
        return False
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    return word in words or (len(word) == 1 and bool(words) and word in words[-1])


def _wrong(tok, runs: list, prompt_lens: list[int], prompts: list[str]) -> str:
    """The target's wrong answers, by each task's rule, and why speculation keeps them."""
    answers = [
        tok.decode(seq[0, n:].tolist(), skip_special_tokens=True)
        for (seq, _), n in zip(runs, prompt_lens)
    ]
    grades = graded(prompts, answers)
    known = [(a, g) for a, g in zip(answers, grades) if g is not None]
    exact = (
        "Speculative decoding reproduces the target exactly, its wrong answers included: a rejection "
        "costs the rest of its round's drafts, never a token the target would not write."
    )
    if not known:
        return f"{exact} These prompts have no grading rule here: read the answers yourself."
    wrong = [a.split(". ")[0].strip() for a, g in known if not g]
    right = [a.strip() for a, g in known if g and "The answer is" in a and not a.startswith("The")]
    reads = (
        " The grader reads only the final 'The answer is …', so it passes "
        + "; ".join(f"'{a}'" for a in right)
        + ": a false sentence before a right final answer would still count as right."
        if right
        else ""
    )
    if not wrong:
        return f"The target answered all {len(known)} graded prompts right.{reads} {exact}"
    return (
        f"By each task's rule the target is wrong on {len(wrong)} of {len(known)} prompts ("
        + "; ".join(f"'{w}'" for w in wrong)
        + f"): this tiny target is weak.{reads} {exact} Better answers need a better target, not a "
        "better draft."
    )


def where_rejected(
    tok, runs: list, prompt_lens: list[int], prompts: list[str] | None = None
) -> str:
    """Section 6: which tokens the target replaced, over every answer ((sequence, stats) per prompt);
    with `prompts`: how many copy a word of the prompt, and which answers the target got wrong."""
    n = copied = tokens = copy_tokens = calls = kept = 0
    dense = (0.0, 0, 0, "")  # the answer with the most rejections per token
    for j, ((seq, st), start) in enumerate(zip(runs, prompt_lens)):
        calls, kept = calls + st.target_calls, kept + sum(st.accepted)
        new = seq[0, start:].tolist()
        tokens += len(new)
        mine = [i for i, _ in st.rejected if i < len(new)]
        n += len(mine)
        if prompts:
            words = [tok.decode([t]) for t in new]
            copy_tokens += sum(copies_prompt(w, prompts[j]) for w in words)
            copied += sum(copies_prompt(words[i], prompts[j]) for i in mine)
            if new and len(mine) / len(new) > dense[0]:
                dense = (len(mine) / len(new), len(mine), len(new), prompts[j])
    ended = calls - (tokens - kept)  # rounds that ended on a kept ⟨end⟩ draft: no target token
    but = f", except the {plural(ended, 'round')} that ended on a drafted {END}" if ended else ""
    alpha = kept / (kept + n) if kept + n else float("nan")
    head = (
        f"**Reading it.** {calls} rounds, one target call each, wrote the {tokens} tokens of "
        f"{plural(len(runs), 'answer')} ({tokens / max(calls, 1):.2f} per call): "
        f"{plural(kept, 'kept draft')} and {plural(tokens - kept, 'target token')}, one a "
        f"round{but}. {plural(n, 'draft')} {'was' if n == 1 else 'were'} rejected (in brackets), "
        f"so α̂ = {kept} / ({kept} + {n}) = {alpha:.2f}."
    )
    if not prompts:
        return head
    text = f"{head}\n\n{_wrong(tok, runs, prompt_lens, prompts)}"
    if n == 0:
        return text
    share, base = copied / n, copy_tokens / max(tokens, 1)
    if share > 1.5 * base:
        kind = (
            "the draft fails most where the answer must copy a word, letter or number of the prompt"
        )
    elif share < base / 1.5:
        kind = "copying from the prompt is not where this draft fails"
    else:
        kind = "copied tokens fail about as often as the others"
    return (
        f"{text}\n\n{copied} of the {n} rejections ({share:.0%}) came where the target copied a "
        f"word of the prompt (or a letter of one), though such tokens are {base:.0%} of the "
        f"answers: {kind}. The densest: {dense[1]} rejections in the {dense[2]} tokens of "
        f"'{dense[3]}'. The i.i.d. model, one α for every position, cannot say this."
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
    ratios = f"the parameter ratio ({c_params:.3f})", f"the depth ratio ({c_depth:.2f})"
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
    bare = result["costs"]["target_ms"]
    step = (
        f" The bare target step ({bare:.1f} ms, a median of 30 passes) is timed apart from the "
        "loops, once, at a longer context: it need not match a loop's token (see the cost table)."
    )
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
        rank = f"slower by `/plain` than {best_text}"
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
            f"{ran}: a loss, and {rank}. {how}: it finds the last few tokens earlier in the text "
            f"and proposes what followed them. It made {look['tau']:.2f} tokens per call, too few "
            "to pay for the search and the longer passes: section 6's copies are single words or "
            "letters of the prompt, not runs of text whose continuation a match could propose."
        )
    else:
        lookup = (
            f"{ran}: not told apart from 1x; {rank}. {how}; with {look['tau']:.2f} tokens per "
            "call it pays only where the output copies its input (edits, summaries, code)."
        )
    return f"{first} {head}{step}\n\n{hf_text} {lookup}"


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
    where = {side: [r["k"] for r in ours if _vs_one(*r["gain_range"]) == side] for side in SIDES}
    if len(where["above"]) == len(ours):
        paid = (
            "On this draw of the clock every k's slowest repeat beat the loop with no drafts "
            "(section 9 times k = 4 again)."
        )
    elif where["above"]:
        rest = [f"at k = {_ks(where[s])} {SIDES[s]}" for s in ("across", "below") if where[s]]
        paid = (
            f"On this draw of the clock, at k = {_ks(where['above'])} even the slowest repeat beat "
            f"the loop with no drafts; {'; '.join(rest)} (section 9 times k = 4 again)."
        )
    elif len(where["below"]) == len(ours):
        paid = "Speculation did not pay: no k beat the loop with no drafts."
    else:
        paid = "No k's spread stays above 1x, so this clock cannot show that speculation paid."
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
        verdict = "neither fits any k" if n_tb == n_wv == 0 else "neither fits most k"
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
    alpha = ""
    k = 4 if 4 in split_by_k and 4 in result["costs"]["verify"] else None
    if k and not math.isnan(split_by_k[k][1]):
        a_in, a_past = split_by_k[k]
        c, v = result["costs"]["c"], result["costs"]["verify"][k]
        g_in, g_past = (spec_schedules.predicted_speedup(a, k, c, v) for a in (a_in, a_past))
        moves = "hides part of the gain" if g_past < g_in else "flatters the gain"
        alpha += (
            f"Past the end of turn section 3 had α̂ {a_past:.2f} at k = {k}: there the "
            f"verify-aware formula gives {g_past:.2f}x, against {g_in:.2f}x at the answers' "
            f"{a_in:.2f}. A benchmark forced past the end of turn {moves}."
        )
    return f"**Reading it.** By `/k=0`, {order}. {paid} {fits} {_flat(ours, result)}\n\n{alpha}"


# where a spread of repeats lies against 1x, as the speed reading says it
SIDES = {
    "above": "beat it",
    "across": "the spread reaches below 1x",
    "below": "the loop with no drafts was faster",
}


def _flat(ours: list[dict], result: dict) -> str:
    """Whether the textbook formula's peak over k comes from k or from each k's own alpha-hat."""
    c, alphas = result["costs"]["c"], [r["alpha_hat"] for r in ours]
    a = sum(alphas) / len(alphas)
    at = {r["k"]: spec_schedules.predicted_speedup(a, r["k"], c) for r in ours}
    own = max(ours, key=lambda r: r["predicted_textbook"])
    near = [k for k, g in at.items() if max(at.values()) - g <= 0.05]
    if len(near) > 1:
        return (
            f"At one α̂ ({a:.2f}, their mean) the textbook formula is within 0.05 of its best at "
            f"k = {_ks(near)}: the drawn curve peaks at k = {own['k']} because that k's own α̂ was "
            f"{own['alpha_hat']:.2f}."
        )
    return (
        f"At one α̂ ({a:.2f}, their mean) the textbook formula also peaks at one k, {near[0]}: k "
        "itself, not only each k's α̂, shapes the curve."
    )


def left_out(result: dict, k: int = 4) -> str:
    """Section 7: a round of ours at constant k, measured part by part against what the verify-aware
    formula charges, and the three ratios that take the formula's gain to the clock's."""
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    k = k if k in ks else ks[len(ks) // 2]
    got, f3 = side_by_side.round_costs(result, k), side_by_side.gain_factors(result, k)
    m, f = got["measured"], got["formula"]
    names = {
        "draft": f"{k} draft steps",
        "verify": "the verify pass",
        "rest": "the rest (acceptance, cache crops, Python)",
    }
    table = [f"| one round at k = {k} | the formula | measured |", "|---|---|---|"]
    table += [f"| {names[p]} | {f[p]:.1f} ms | {m[p]:.1f} ms |" for p in m]
    table.append(f"| total | {f3['round_formula_ms']:.1f} ms | {f3['round_ms']:.1f} ms |")
    table.append(f"| tokens per round | {f3['tau_formula']:.2f} | {f3['tau']:.2f} |")
    x1, x2, x3 = f3["tokens"], f3["round"], f3["baseline"]
    per_answer = result.get("tokens", result["prompts"] * result["new_tokens"]) / result["prompts"]
    if x1 < 0.95:
        why = (
            f"each answer (about {per_answer:.0f} tokens) ends part-way through a round, and the "
            "formula assumes an endless text"
        )
    else:
        why = "they match the formula's"
    tokens = (
        f"**Reading it.** A gain is tokens per round over a round's cost, so ratios take the "
        f"formula's {f3['formula']:.2f}x to the clock's {f3['gain']:.2f}x. The first is tokens per "
        f"round, {f3['tau']:.2f} made against the formula's {f3['tau_formula']:.2f} ({x1:.2f}): {why}."
    )
    clock = x2 * x3
    settle = (
        "they nearly cancel, so the gap left is tokens per round"
        if abs(clock - 1) <= 0.1
        else "they do not cancel: the loop's own costs move the gain"
        + (" up" if clock > 1 else " down")
    )
    cost = (
        f"The other two come from timing steps apart from the loop (a bare target step, "
        f"{got['target_ms']:.1f} ms, timed once before the benchmark, after the first prompt and half the budget): the "
        f"round against the formula's charge ({x2:.2f}) and our loop drafting nothing, "
        f"{got['no_drafts_ms']:.1f} ms a round, against that bare step ({x3:.2f}). Together "
        f"{clock:.2f}: {settle}. {f3['formula']:.2f} × {x1:.2f} × {clock:.2f} = "
        f"{f3['product']:.2f}x."
    )
    return "\n".join(table) + f"\n\n{tokens} {cost}"


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
    running: list[float] | None = None,
) -> str:
    """Section 8: the alpha-driven rule's k* at a few alpha (`k_star`: alpha -> (k*, predicted gain)),
    the adaptive schedules (rows of the benchmark) against the best constant k, each over our loop with
    no drafts, and tokens per call against speed; `rounds`: drafts per round of each stop rule on one
    prompt; `running`: the alpha-driven rule's running alpha-hat each round there (its first entry of
    `rounds` is that rule's drafts)."""
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
    tied = [m for m in ours if abs(taus[m] - taus[most]) < 0.005]
    who = ", ".join(f"`{m}`" for m in tied)
    consts = [r for r in result["rows"] if r["method"].startswith("ours k=")]
    top = max(consts, key=lambda r: r["tau"])
    if top["tau"] > taus[most]:
        than = f"fewer than constant k = {top['k']}'s {top['tau']:.2f} (at {top['gain']:.2f}x)"
    else:
        than = f"more than any constant k (k = {top['k']}: {top['tau']:.2f})"
    each = " each" if len(tied) > 1 else ""
    text.append(
        f"Of the schedules, {who} made the most tokens per target call, {taus[most]:.2f}{each}, "
        f"{than}. Tokens per call are not speed: each drafted token costs c = "
        f"{result['costs']['c']:.2f} of a target step, so long rounds pay only where α is high."
    )
    drafted = {name: [k for k in n if k] or [0] for name, n in rounds.items() if "stop" in name}
    spans = "; ".join(f"{name}: {min(n)} to {max(n)} drafts a round" for name, n in drafted.items())
    if drafted:
        text.append(f"On the last prompt the stops let the text set each round's length ({spans}).")
    if running:
        text.append(_alpha_driven(result, running, rounds.get("alpha-driven k*", [])))
    return " ".join(text)


def _alpha_driven(
    result: dict, running: list[list[float]], drafted: list[list[int]], k: int = 4
) -> str:
    """Why the alpha-driven rule made fewer (or not fewer) tokens per call than constant k, from its
    running alpha-hat and drafts per round on each benchmarked prompt."""
    rows = {r["method"]: r for r in result["rows"]}
    ad, const = rows.get("ours alpha-driven k*"), rows.get(f"ours k={k}")
    if ad is None or const is None or not drafted:
        return ""
    c, v = result["costs"]["c"], result["costs"]["verify"]
    k0 = spec_schedules.optimal_k(running[0][0], c, v.get)  # the prior's k*
    every = [n for d in drafted for n in d]
    mean, lens = sum(every) / len(every), [len(d) for d in drafted]
    seen = (
        f"Replayed on the {len(drafted)} benchmarked prompts, it drafted {mean:.1f} a round over "
        f"{min(lens)} to {max(lens)} rounds an answer; its prior (α {running[0][0]:.2f}) gives a "
        f"first round of k* = {k0}, and its running α̂ spanned "
        f"{min(min(r) for r in running):.2f} to {max(max(r) for r in running):.2f}."
    )
    if ad["tau"] >= const["tau"] - 0.05:
        return (
            f"The α-driven rule made {ad['tau']:.2f} tokens per call, no fewer than constant k = "
            f"{k}'s {const['tau']:.2f}: its speed is set by the cost of its rounds. {seen}"
        )
    cause = (
        f"On answers this short its start below k = {k} weighs on every answer: the likelier cause."
        if mean < k
        else f"It drafted no fewer than {k} a round, so its rounds, not its k, fell short."
    )
    return (
        f"The α-driven rule made {ad['tau']:.2f} tokens per call against constant k = {k}'s "
        f"{const['tau']:.2f}. {seen} {cause}"
    )


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
    cases: dict[str, dict],
    costs: dict,
    alpha_k4: float,
    n_prompts: int,
    k: int = 4,
    section7: dict | None = None,
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
        + _again(cases["trained draft"], section7, k)
    )


def two_runs(case: dict, section7: dict | None, k: int = 4) -> tuple[str, str]:
    """Section 7's and section 9's timing of the same k = 4 setup, read together: (verdict, words);
    verdict is 'paid', 'lost' or 'unsettled' (the runs disagree, or a spread crosses 1x)."""
    rows = {r["method"]: r for r in (section7 or {}).get("rows", [])}
    if f"ours k={k}" not in rows:
        side = _vs_one(*case["gain_range"])
        verdict = {"above": "paid", "below": "lost"}.get(side, "unsettled")
        return verdict, f"{case['gain']:.2f}x ({_span(case)})"
    row = rows[f"ours k={k}"]
    sides = {_vs_one(*row["gain_range"]), _vs_one(*case["gain_range"])}
    lo = min(row["gain_range"][0], case["gain_range"][0])
    hi = max(row["gain_range"][1], case["gain_range"][1])
    verdict = "paid" if sides == {"above"} else "lost" if sides == {"below"} else "unsettled"
    words = (
        f"{row['gain']:.2f}x and {case['gain']:.2f}x, every repeat of both runs within {lo:.2f}x to "
        f"{hi:.2f}x"
    )
    return verdict, words


def _again(case: dict, section7: dict | None, k: int) -> str:
    """The trained draft timed a second time against section 7's row of the same setup."""
    rows = {r["method"]: r for r in (section7 or {}).get("rows", [])}
    if f"ours k={k}" not in rows:
        return ""
    row = rows[f"ours k={k}"]
    same = (
        f"\n\n**The same setup, timed twice.** The trained draft repeats section 7's `ours k={k}`: "
        f"the same {section7['prompts']} prompts, budget, end of turn and {section7['repeats']} "
        f"repeats. There {row['gain']:.2f}x ({_span(row)}), here {case['gain']:.2f}x "
        f"({_span(case)})."
    )
    verdict, _ = two_runs(case, section7, k)
    if verdict == "paid":
        return f"{same} Every repeat of both runs beat the loop with no drafts: on this CPU k = {k} paid."
    if verdict == "lost":
        return f"{same} Every repeat of both runs lost to the loop with no drafts: on this CPU k = {k} lost."
    back = (
        f" Section 7's verdict (every repeat beat the loop) is withdrawn for k = {k}."
        if _vs_one(*row["gain_range"]) == "above"
        else ""
    )
    return (
        f"{same} The two runs disagree, or one crosses 1x, so this CPU cannot settle whether k = {k} "
        f"pays.{back} α and exactness are this page's results; a CPU speed-up is a range over runs."
    )


def speed_found(case: dict, section7: dict, k: int = 4) -> str:
    """The summary's line on speed: what both timings of k = 4 on this CPU showed, from their values."""
    verdict, words = two_runs(case, section7, k)
    said = {
        "paid": f"speculation at k = {k} beat our loop with no drafts in both runs",
        "lost": f"speculation at k = {k} lost to our loop with no drafts in both runs",
        "unsettled": (
            f"the two runs disagree, so this CPU cannot settle whether k = {k} pays; α and "
            "exactness are this page's results"
        ),
    }[verdict]
    return (
        f"- **Speed on this run's CPU:** {said} ({words}, α̂ {case['alpha_hat']:.2f}). A GPU's "
        "costs differ (section 10): measure there."
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


def on_colab(alphas: tuple[float, ...] = (0.7, 0.8, 0.9), k_max: int = 8) -> str:
    """Section 10: the presets' pair predicted by section 1's formula (v = 1) from a c estimated from
    the models' recorded sizes (arithmetic), beside drafts about as deep as their targets, whose c was
    measured once on an H200; no clock of this page is carried over."""
    from helpers.tools.gpu_check import SHAPES  # the shapes the H200 run built

    presets = profiles.GPU_PRESETS
    pairs = sorted({(p["models"]["target"], p["models"]["draft"]) for p in presets.values()})
    t, d = (models.get(m) for m in pairs[0])
    which = "every preset's pair" if len(pairs) == 1 else f"the {sorted(presets)[0]} preset's pair"
    short = [m.id.split("/")[-1] for m in (t, d)]
    c_depth, c_params = d.layers / t.layers, d.params / t.params
    rows = [
        (
            f"{c_depth:.2f}: depth ratio {d.layers}/{t.layers} (bound: launches per layer set c)",
            c_depth,
        ),
        (f"{c_params:.2f}: parameter ratio (bound: reading weights sets c)", c_params),
    ]
    gpu = {"pairs": {}, "self_draft": {}}
    if GPU_CHECK.exists():
        gpu = json.loads(GPU_CHECK.read_text())
    deep = {}  # draft's name -> its measured c
    for pair, m in gpu["pairs"].items():
        tn, dn = pair.split(" + ")
        depth = "/".join(str(SHAPES[n][1]["num_hidden_layers"]) for n in (dn, tn))
        deep[dn] = m["c"]
        rows.append((f"{m['c']:.2f}: {dn} for {tn}, {depth} layers (H200)", m["c"]))
    table = ["| c, and where it comes from | " + " | ".join(f"α = {a:g}" for a in alphas) + " |"]
    table.append("|---" * (len(alphas) + 1) + "|")
    for label, c in rows:
        table.append(
            f"| {label} | " + " | ".join(f"{_best(a, c, k_max)[0]:.2f}x" for a in alphas) + " |"
        )
    mid = alphas[len(alphas) // 2]
    lo, hi = sorted(_best(mid, c, k_max)[0] for c in (c_depth, c_params))
    formula = (
        f"The two ratios are bounds, not a measurement of this pair: its c is unmeasured. At α = "
        f"{mid:g} they give {lo:.2f}x to {hi:.2f}x"
    )
    if lo > 1.2:
        verdict = "a gain, if the draft guesses that well"
    elif hi > 1.05:
        verdict = "a small gain at best"
    else:
        verdict = "no gain"
    if SPEC_BENCH < lo:
        where = (
            "below that: a real loop pays costs the formula leaves out (section 7), so plan on less "
            "until your run measures"
        )
    else:
        where = "above that range" if SPEC_BENCH > hi else "inside that range"
    unsure = " (the draft's from its model card, not a config)" if d.unconfirmed else ""
    text = [
        f"{short[0]} ({t.layers} layers) with {short[1]} ({d.layers} layers), {which}: c from the "
        f"models' recorded sizes{unsure}. Last rows: deep drafts whose c was measured once on an "
        f"H200 (random weights of the real shapes; a T4's c will differ). Each cell: section 1's "
        f"formula, v = 1, at its best k up to {k_max}: arithmetic, not a measurement.",
        "",
        *table,
        "",
        f"**Reading it.** {formula}: {verdict}. Spec-Bench's published {SPEC_BENCH}x (above) sits "
        f"{where}. This page's CPU clock is not carried over: its costs are Python's per layer, not "
        f"a GPU's. At k = 1 the formula is (1 + α)/(1 + c): break-even at α = c, from α ≈ "
        f"{c_depth:.2f} for the shallow draft",
    ]
    if deep:
        dn, c_deep = min(deep.items(), key=lambda kv: kv[1])
        text[-1] += f", above {c_deep:.2f} for {dn}" if c_deep < 1 else f", never for {dn}"
    text[-1] += ". On Colab, section 7's own α, c and v(k) replace this table."
    return "\n".join(text)
