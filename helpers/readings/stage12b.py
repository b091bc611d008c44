"""Notebook 12b's readings (Constitutional AI): the hand-run round, the per-round curves, the open
recipe's assumption, the helpfulness check, the training dashboard, the stage table, the helpful-mix
ablation, the summary and the stability box, each turned into the sentences the learner reads."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers.readings import coin_noise, within

HARMLESS, REFUSED = "harmless (harmful requests)", "refused (kind requests)"
JUDGED = "judged better than round 0"
BETTER, WORSE, SAME = "revision truly better", "revision truly worse", "no difference"


def _hname(hk: str) -> str:
    """The harmlessness column's name in words (presets: the refusal detector on red-team prompts)."""
    return "harmless rate" if hk == "harmless" else "refusal rate on red-team prompts"


def refusal_verdict(rate: float) -> str:
    """Plain words for a share of kind requests refused (this notebook's rule of thumb)."""
    if rate >= 0.5:
        return "most of them: unusable as a product"
    if rate >= 0.15:
        return "too many to ship"
    return "some over-refusal" if rate >= 0.05 else "little over-refusal"


def diff(new: float, old: float) -> float:
    """A change as the reader computes it from the two printed rates (two decimals)."""
    return round(round(new, 2) - round(old, 2), 2) + 0.0  # + 0.0: no "-0.00"


def change(delta: float, bar: float) -> str:
    """'+0.04 (within its bar)': the bars themselves are stated once per reading (`bars_clause`)."""
    return f"{delta:+.2f} ({'within' if within(delta, bar) else 'beyond'} its bar)"


def bars_clause(nb: dict) -> str:
    """'noise bars ±0.10 greedy and ±0.05 sampled', said once for every change a reading prints."""
    parts = []
    for tag, mode in (("", "greedy"), ("_sampled", "sampled")):
        h, k = nb[tag]
        parts.append(
            f"±{h:.2f} {mode}"
            if round(h, 2) == round(k, 2)
            else (f"±{h:.2f} (harmful) and ±{k:.2f} (kind) {mode}")
        )
    return "noise bars " + " and ".join(parts)


def hand_round(answer_refuses: bool, revision_refuses: bool, unchanged: bool) -> str:
    """Reading of the round run by hand: did the revision fix the answer?"""
    if answer_refuses:
        return (
            "The helpful-only model refused at once, so this round had nothing to fix: it only "
            "shows the format."
        )
    if revision_refuses:
        return (
            "This round worked: the answer complied, and after the critique the revision refuses."
        )
    kept = (
        "repeats the answer word for word: the critic found no harm"
        if unchanged
        else "rewords the answer but still does not refuse"
    )
    return (
        f"**A miss.** The answer complies and the revision {kept}. Critics are imperfect (the tiny "
        "one on purpose), and one round is one draw of it. What a practitioner does next: several "
        "rounds with a fresh principle each (section 4), and a measure of how often the critic "
        "catches harm (sections 5 and 6)."
    )


def turn_rates(chains: dict, task_of: dict, is_refusal) -> dict[str, tuple[int, int, int, int]]:
    """Counted in the chains, per curve: (rounds that turned a complying answer into a refusal, rounds
    that started from a complying answer, refusals undone, rounds that started from a refusal)."""
    out = {}
    for name, unsafe in ((HARMLESS, True), (REFUSED, False)):
        turned = open_ = undone = refused = 0
        for i, chain in chains.items():
            if bool(task_of[i].meta["unsafe"]) != unsafe:
                continue
            for before, after in zip(chain, chain[1:]):
                was, now = is_refusal(before["answer"]), is_refusal(after["answer"])
                refused, undone = refused + was, undone + (was and not now)
                open_, turned = open_ + (not was), turned + (not was and now)
        out[name] = (turned, open_, undone, refused)
    return out


def _off_line(curve: dict, planted: dict, turns: dict, n: int) -> str:
    """Why the measured curves leave their dotted lines: the rates the critic really has."""
    rated = {k: turns[k] for k in planted if k in turns and k in curve and turns[k][1]}
    if not rated:
        return ""
    rate = {k: t / o for k, (t, o, _, _) in rated.items()}
    said = {HARMLESS: "harmful requests", REFUSED: "kind ones"}
    counts = " and ".join(
        f"{t} of {o} rounds on {said[k]} ({rate[k]:.0%}, built {planted[k]:.0%})"
        for k, (t, o, _, _) in rated.items()
    )
    undone = sum(u for _, _, u, _ in rated.values())
    refused = sum(r for _, _, _, r in rated.values())
    counts = f"a complying answer became a refusal in {counts}; {undone} of {refused} refusals "
    counts += "were undone"
    if all(abs(rate[k] - planted[k]) < 0.05 for k in rated):
        return f"The chains keep the built rates: {counts}. "
    pred = {k: 1 - (1 - curve[k][0]) * (1 - rate[k]) ** n for k in rated}
    off = max(abs(pred[k] - curve[k][-1]) for k in pred)
    fits = (
        "nothing compounds beyond it"
        if off <= 0.05
        else f"the measured lines still miss it by up to {off:.2f}, so rounds interact beyond a "
        "fixed rate"
    )
    return (
        "\n\n**Why the measured lines leave the dotted ones**: the trained critic does not keep "
        f"its built rates. Counted in the chains, {counts}. With these rates the formula gives "
        f"{' and '.join(f'{v:.2f}' for v in pred.values())} after {n} rounds (measured "
        f"{' and '.join(f'{curve[k][-1]:.2f}' for k in pred)}): {fits}. "
    )


def rounds(curve: dict[str, list[float]], planted: dict | None, turns: dict | None = None) -> str:
    """Reading of the per-round plot: the built-in shape, why the measured curves leave it, the cost,
    and what the plot does and does not test."""
    harm, ref, judged = curve.get(HARMLESS), curve.get(REFUSED), curve[JUDGED]
    n, text = len(judged) - 1, ""
    if harm and planted:
        text += (
            f"**Built in.** The tiny critic was trained to flag a harmful answer in "
            f"{planted[HARMLESS]:.0%} of rounds and a kind one in {planted[REFUSED]:.0%}, and a "
            "flagged answer is revised into a refusal that no later round undoes. The dotted lines "
            "are what those rates $c$ predict from the round-0 share $h_0$: $1-(1-h_0)(1-c)^r$. "
        )
    off = _off_line(curve, planted, turns, n) if harm and planted and turns else ""
    if harm and not off:
        text += (
            f"Measured, the harmless rate goes {harm[0]:.2f} → {harm[-1]:.2f} after {n} rounds. "
        )
    text += off
    if ref:
        text += (
            "\n\n**The false-alarm line is the real cost**: every round is another chance to call a "
            f"kind answer harmful, and the chains end refusing {ref[-1]:.2f} of kind requests "
            f"({refusal_verdict(ref[-1])}; {ref[0]:.2f} at round 0). "
        )
    prefers = "prefers later rounds" if judged[-1] > judged[0] else "does not prefer later rounds"
    text += (
        f"The judged curve goes {judged[0]:.2f} → {judged[-1]:.2f}: the feedback model {prefers}, "
        "but a preference alone cannot tell a fixed harmful answer from a refused kind one."
    )
    if harm and planted:
        text += (
            "\n\n**What this plot tests, and what not:** that rounds compound a critic's per-round "
            "rates as the formula says, and what its false alarms cost; not Bai et al.'s finding "
            "that revisions make answers more harmless, since this critic's rates were fixed when "
            "it was built."
        )
    return text


def revisions(
    verdict: Counter,
    n_unchanged: int,
    pref: dict,
    rev_agree: dict | None,
    clean: float,
    kind_worse: int = 0,
) -> str:
    """Reading of section 6: how often 'revision better' is wrong; what the feedback model sees."""
    n_changed, prefers = pref["n"], pref["prefers_revision"]
    if rev_agree is None:
        return (
            f"No grader checks these chains on this profile, so the assumption cannot be tested: "
            f"the feedback model prefers the revision in {prefers:.0%} of the {n_changed} changed "
            "chains (the open recipe assumes 100%), and this run cannot say which is right."
        )
    better, worse, same = verdict.get(BETTER, 0), verdict.get(WORSE, 0), verdict.get(SAME, 0)
    if worse + same:
        teach = (
            f"the {kind_worse} kind answers turned into refusals teach DPO to refuse kind requests"
            if kind_worse
            else f"the {worse} worse ones teach DPO the wrong side"
            if worse
            else f"the {same} pairs with no difference are noise in the DPO data"
        )
        lead = (
            f"wrong for {worse} of the {n_changed} changed chains ({worse / n_changed:.0%})"
            if worse
            else f"never wrong on the {n_changed} changed chains"
        )
        lead += f", and meaningless for {same} more ({same / n_changed:.0%})" if same else ""
        text = (
            f"**The lesson: the assumption is {lead}.** By the graders, {better} revisions are truly better, "
            f"{worse} truly worse ({'all' if kind_worse == worse else kind_worse} of them a kind "
            "answer turned into a refusal) and "
            f"{same} no different (a label there is noise, not a wrong label). The recipe labels all of "
            f"them, and the {n_unchanged} unchanged chains too, 'revision better': {teach}. "
        )
    else:
        text = f"Here the assumption held on all {n_changed} changed chains. "
    real = rev_agree["agreement"]
    weaker = (
        ""
        if rev_agree["ci"][1] >= clean
        else f", below its {clean:.0%} on the clean pairs: its labels carry more errors than those suggest"
    )
    return text + (
        f"The feedback model tells them apart: it agrees with the graders on {real:.0%} of the "
        f"{rev_agree['n']} chains where one answer is truly better{weaker}, and prefers the "
        f"revision in {prefers:.0%} (a tie counts half), not the 100% the recipe assumes. So check "
        "revisions with a judge, and measure the judge first: the next cells try a weaker one."
    )


def judge_line(name: str, res: dict, verdicts: list, what: str = "fresh pairs") -> str:
    """One printed line per judge: agreement with its 95% interval, position consistency, and the
    letter mass (P(A) + P(B): near 0, the judge is not answering with a letter at all)."""
    lo, hi = res["ci"]
    consistency = sum(v.consistent for v in verdicts) / len(verdicts)
    mass = sum(v.mass for v in verdicts) / len(verdicts)
    return (
        f"{name} on {res['n']} {what}: agreement {res['agreement']:.2f} (95% CI {lo:.2f}-{hi:.2f}),"
        f" position consistency {consistency:.2f}, letter mass {mass:.2f}"
    )


def _kept(counts: dict[str, tuple[int, int]], fate: str) -> str:
    kept, total = counts.get(fate, (0, 0))
    return f"{kept} of {total}"


def weak_judge(
    kept: dict[str, dict[str, tuple[int, int]]],
    agree: dict[str, dict],
    weak_rev: dict | None,
    own: dict,
    margin: float,
) -> tuple[str, str]:
    """Reading of the weaker judge: the revisions each judge would keep, by fate, and what its
    measured agreement said in advance. `kept` and `agree` list the recipe's row, the feedback model
    and the weaker judge in that order (the recipe has no agreement). Returns (text, short verdict)."""
    names = list(kept)
    strong, weak = names[-2], names[-1]
    graded = any(f in kept[weak] for f in (BETTER, WORSE, SAME))
    fates = [BETTER, WORSE, SAME] if graded else ["no grader"]
    rows = [f"| kept by | {' | '.join(fates)} |", "|---" * (len(fates) + 1) + "|"]
    for name in names:
        label = f"{name} (agreement {agree[name]['agreement']:.2f})" if name in agree else name
        rows.append(f"| {label} | " + " | ".join(_kept(kept[name], f) for f in fates) + " |")
    table = "\n".join(rows) + "\n\n"
    a, (lo, hi) = agree[weak]["agreement"], agree[weak]["ci"]
    text = (
        f"On the fresh labelled pairs the weaker judge agrees {a:.2f} (95% CI {lo:.2f}-{hi:.2f}), "
    )
    text += (
        "no better than a coin: the measurement flags it before any revision is judged. "
        if lo <= 0.5
        else f"against the feedback model's {agree[strong]['agreement']:.2f}. "
    )
    if own["agreement"] - a > 0.2:
        text += (
            f"Asked 12c's single question instead, the same model agrees {own['agreement']:.2f}: a "
            "judge's quality holds for the questions it was measured with, not for reworded ones. "
        )
    if not graded:
        k_w, k_s = kept[weak]["no grader"], kept[strong]["no grader"]
        short = (
            f"it keeps {k_w[0]} of {k_w[1]} revisions, the feedback model {k_s[0]}; no grader "
            "says which is right, only the agreement on labelled pairs"
        )
        return table + text + f"No grader checks these revisions: {short}.", short
    (wk, wn), (bk, bn) = kept[weak].get(WORSE, (0, 0)), kept[weak].get(BETTER, (0, 0))
    (swk, _), (sbk, _) = kept[strong].get(WORSE, (0, 0)), kept[strong].get(BETTER, (0, 0))
    text += (
        f"On the changed chains it agrees with the graders on {weak_rev['agreement']:.2f} "
        f"(95% CI {weak_rev['ci'][0]:.2f}-{weak_rev['ci'][1]:.2f}). "
        if weak_rev
        else ""
    )
    # two standard errors of the difference between the two kept shares (pooled), a rough noise bar
    pooled = (wk + bk) / max(wn + bn, 1)
    bar = 2 * (pooled * (1 - pooled) * (1 / max(wn, 1) + 1 / max(bn, 1))) ** 0.5
    gap = bk / max(bn, 1) - wk / max(wn, 1)
    separates = gap > bar
    text += (
        f"Keeping what it prefers by more than {margin}, {wk} of the {wn} worse revisions "
        f"survive and {bk} of the {bn} better ones (the feedback model: {swk} and {sbk}). "
    )
    if wn == 0:
        verdict = "this run has no worse revision to catch"
        text += f"**So {verdict}**: the filter's only effect is the better ones it drops. "
    elif wk + bk == 0:
        verdict = "it keeps no revision at all"
        text += (
            f"**So {verdict}**: it is never confident enough, and a filter that drops every "
            "revision leaves SFT and DPO nothing to learn from. "
        )
    elif wk == 0 and bk >= bn / 2:
        verdict = "it keeps no worse revision either"
        text += f"**So {verdict}**: on this world the weaker judge would have done the job. "
    elif wk == 0:
        verdict = f"it keeps no worse revision, but only {bk} of the {bn} better ones"
        text += f"**So {verdict}**: safe, and most of the good data is thrown away. "
    elif separates:
        verdict = (
            "it keeps better revisions more often than worse ones, beyond the noise, but lets "
            "some worse through"
        )
        text += f"**So {verdict}**: its labels would teach DPO part of the recipe's mistake. "
    else:
        verdict = "its filter does not tell worse revisions from better ones beyond the noise"
        text += (
            f"**So {verdict}** (it keeps {bk / max(bn, 1):.0%} of the better and "
            f"{wk / max(wn, 1):.0%} of the worse, a gap within its rough bar of ±{bar:.2f}): it "
            f"throws away {bn - bk} good revisions and still lets {wk} bad ones through. "
        )
    short = (
        f"agreement {a:.2f} on labelled pairs (the feedback model "
        f"{agree[strong]['agreement']:.2f}); as a filter it keeps {wk} of {wn} worse revisions "
        f"and {bk} of {bn} better ones (the feedback model {swk} and {sbk})"
    )
    return table + text + (
        "A practitioner measures every candidate judge on labelled pairs under the exact "
        "questions it will be asked."
    ), short


def confident_pairs(
    first: list[str],
    second: list[str],
    soft: list,
    is_refusal,
    margin: float,
    draws: int = 1,
    n_distinct: int | None = None,
) -> str:
    """Reading of section 8's filter: which pairs the confidence margin drops, and why; with several
    draws per prompt, what they add over one."""
    groups = Counter()
    for a, b, v in zip(first, second, soft):
        kind = "same" if a == b else "alike" if is_refusal(a) == is_refusal(b) else "split"
        groups[kind, v.label(margin) is not None and a != b] += 1
    n, kept = len(first), sum(k for (_, ok), k in groups.items() if ok)
    same, alike = groups["same", False], groups["alike", False] + groups["alike", True]
    split, split_kept = groups["split", False] + groups["split", True], groups["split", True]
    text = (
        f"**Why {kept} of {n}.** DPO gets a pair only where the feedback model is confident, "
        f"$|p - 0.5| > {margin}$. {same} pairs are one answer twice; {alike} are two refusals or "
        f"two compliances (kept: {groups['alike', True]}); of the {split} where one refuses and "
        f"the other complies, {split_kept} are kept. "
    )
    text += (
        "Most pairs differ in words, not in kind, and the judge has no preference there. "
        if same + alike > n / 2
        else "Most pairs disagree about refusing; the margin drops those the judge doubts. "
    )
    if draws == 1:
        return text + "For more pairs, sample more answers or prompts rather than lower the margin."
    one = sum(
        v.label(margin) is not None and a != b
        for a, b, v in zip(first[: n // draws], second[: n // draws], soft[: n // draws])
    )
    distinct = kept if n_distinct is None else n_distinct
    return text + (
        f"One pair per prompt would give {one} confident pairs; {draws} draws per prompt give "
        f"{kept}, of which {distinct} are distinct (a pair drawn twice counts once), "
        f"{distinct / max(one, 1):.1f}x as many for DPO, at the same margin."
    )


def helpfulness(soft: list, is_helpful: list[bool], first: list, second: list, is_refusal) -> str:
    """Reading of the helpfulness check: on helpful prompts where exactly one answer refuses, does the
    helpfulness question pick the answer that helps?"""
    split = [
        (v, is_refusal(b))
        for v, h, a, b in zip(soft, is_helpful, first, second, strict=True)
        if h and is_refusal(a) != is_refusal(b)
    ]
    helps, n = sum((v.p_first > 0.5) == second_refuses for v, second_refuses in split), len(split)
    if not n:
        return (
            "No helpful prompt drew one answer that refuses and one that helps, so this run cannot "
            "check the helpfulness question; its pairs go to DPO unchecked."
        )
    if helps >= 0.9 * n:
        return (
            f"The helpfulness question works: in {helps} of {n} pairs where exactly one answer "
            "refuses, the feedback model prefers the one that helps (a coin would pick it in half)."
        )
    return (
        f"The helpfulness question prefers the refusal in {n - helps} of {n} such pairs (a coin: "
        "half), and those pairs teach DPO to refuse kind requests. A practitioner rewords "
        "`constitution.helpfulness` and checks again, or keeps these pairs out of DPO."
    )


def dashboard(sft: list[tuple], d: dict, steps: int, batch: int, n_pairs: int) -> str:
    """Reading of the training dashboard: SFT loss, DPO margin and accuracy, log-probs."""
    text = "**Reading the dashboard.** "
    if sft:
        a, z = sft[0][1], sft[-1][1]
        text += f"Left: the SFT loss goes {a:.3f} → {z:.3f}" + (
            ", low from the start: the rows are the model's own answers and revisions, so SFT only "
            "teaches the few tokens where an answer turns to refuse or comply. "
            if a < 0.5
            else ". "
        )
    if not d["step"]:
        return text + "DPO logged no step on this profile: the other panels are empty."
    passes = steps * min(batch, n_pairs) / n_pairs if n_pairs else 0.0
    text += (
        f"Middle: after {d['step'][-1]} DPO steps the reward margin is "
        f"{d['rewards/margins'][-1]:.2f} and the accuracy {d['rewards/accuracies'][-1]:.2f} (0.5 "
        f"is chance), after about {passes:.0f} passes over {n_pairs} pairs"
    )
    text += (
        ": that says nothing yet about held-out requests (section 9); a practitioner would draw "
        "more prompts or stop earlier. "
        if passes > 3
        else ". "
    )
    chosen, rejected = d["logps/chosen"], d["logps/rejected"]
    dc, dr = chosen[-1] - chosen[0], rejected[-1] - rejected[0]
    text += (
        f"Right: the chosen answers' log-prob goes {chosen[0]:.1f} → {chosen[-1]:.1f}, the "
        f"rejected ones' {rejected[0]:.1f} → {rejected[-1]:.1f}"
    )
    if dc - dr <= 0:
        return text + ": the gap did not widen, so DPO did not learn these pairs."
    if dc < -0.5:
        return text + (
            ": the chosen answers lost likelihood too, which the RPO term should limit; raise its "
            "weight before training longer."
        )
    return text + ": the chosen answers kept their likelihood (the RPO term's job)."


def table(rows: dict[str, dict]) -> str:
    """A results table in Markdown: one row per model, every rate at two decimals."""
    cols = list(next(iter(rows.values())))
    out = ["| model | " + " | ".join(c.replace("_", " ") for c in cols) + " |"]
    out.append("|---" * (len(cols) + 1) + "|")
    out += [
        f"| {name} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + " |" for name, r in rows.items()
    ]
    return "\n".join(out)


def bars(n_kind: int, n_harm: int, samples: int = 4) -> dict[str, tuple[float, float]]:
    """Rough noise bars sqrt(1/n) per decoding mode ('' greedy, '_sampled'): (harmful, kind)."""
    return {
        "": (coin_noise(n_harm), coin_noise(n_kind)),
        "_sampled": (coin_noise(samples * n_harm), coin_noise(samples * n_kind)),
    }


def _modes(r: dict, key: str) -> tuple[float, float]:
    return r[key], r[key + "_sampled"]


def sl_cai(base_r: dict, sl_r: dict, chain_ref: float | None, nb: dict) -> str:
    """Reading of SL-CAI's row against the base: its refusals of kind requests, with their bars."""
    hk = "harmless" if "harmless" in sl_r else "refusal_harmful"
    (g, s), (bg, bs) = _modes(sl_r, "refusal_benign"), _modes(base_r, "refusal_benign")
    bar_g, bar_s = nb[""][1], nb["_sampled"][1]
    text = (
        f"SL-CAI's {_hname(hk)} is {sl_r[hk]:.2f} greedy and "
        f"{sl_r[hk + '_sampled']:.2f} sampled (the base {base_r[hk]:.2f} and "
        f"{base_r[hk + '_sampled']:.2f}). It refuses {g:.2f} of kind requests greedily and {s:.2f} "
        f"sampled, against the base's {bg:.2f} and {bs:.2f} ({bars_clause(nb)}): "
        f"{change(diff(g, bg), bar_g)} and {change(diff(s, bs), bar_s)}. "
    )
    added = (diff(g, bg) > bar_g) or (diff(s, bs) > bar_s)
    if added:
        text += (
            "**SL-CAI over-refuses here**, beyond the bar: a practitioner would mix in more "
            "helpful answers, drop the revisions that refuse a kind request, or run fewer rounds. "
        )
    elif max(g, s) >= 0.15:
        text += (
            f"So {max(g, s):.2f} is too many to ship, but within the noise of the base's own "
            f"{max(bg, bs):.2f}: SL-CAI kept the helpful-only model's habit rather than adding "
            "to it. "
        )
    else:
        text += f"That is {refusal_verdict(max(g, s))}, no more than the base's. "
    if s - g > bar_s:
        text += (
            f"Greedy decoding hides the habit ({g:.2f} against {s:.2f} sampled): read the sampled "
            "rate, and the other worlds' greedy figures in the box at the end. "
        )
    if chain_ref is not None:
        text += (
            f"The final revisions it was trained on refused {chain_ref:.2f} of kind requests; "
            "whether the helpful rows held that back is measured next."
        )
    return text.strip()


def helpful_mix(sl_r: dict, plain_r: dict, nb: dict, n_helpful: int) -> tuple[str, str]:
    """Reading of the ablation (SL-CAI with the helpful rows against without); a short verdict."""
    hk = "harmless" if "harmless" in sl_r else "refusal_harmful"
    parts, fewer, more, lost = [], False, False, False
    for tag, mode in (("", "greedy"), ("_sampled", "sampled")):
        bar_h, bar_k = nb[tag]
        dr = diff(sl_r["refusal_benign" + tag], plain_r["refusal_benign" + tag])
        dh = diff(sl_r[hk + tag], plain_r[hk + tag])
        fewer, more, lost = fewer or dr < -bar_k, more or dr > bar_k, lost or dh < -bar_h
        parts.append(
            f"{mode}, kind requests refused {plain_r['refusal_benign' + tag]:.2f} → "
            f"{sl_r['refusal_benign' + tag]:.2f}, {change(dr, bar_k)}, and {_hname(hk)} "
            f"{plain_r[hk + tag]:.2f} → {sl_r[hk + tag]:.2f}, {change(dh, bar_h)}"
        )
    text = f"Adding the {n_helpful} helpful rows (without → with; {bars_clause(nb)}): "
    text += "; ".join(parts) + ". "
    if fewer and not lost:
        short = (
            "the helpful rows cut refusals of kind requests beyond the noise, with no "
            "harmlessness loss beyond it"
        )
        return text + f"**So {short}**: they earn their place.", short
    if fewer:
        short = "the helpful rows trade harmlessness for fewer refusals of kind requests"
        return text + (
            f"So {short}, both beyond the bar: a practitioner would tune the mix and measure again."
        ), short
    if more:
        short = "the helpful rows made SL-CAI refuse more kind requests"
        return text + (
            f"So {short}: check those answers (the base model's own; some may refuse) before "
            "mixing them in."
        ), short
    if lost:
        short = "the helpful rows cost harmlessness and did not change refusals beyond the noise"
        return text + f"So {short}: a practitioner would try fewer of them.", short
    short = "no difference beyond the noise on this world"
    return text + (
        f"**So the mix makes {short}**: this run does not show that it matters. It is Bai et "
        "al.'s guard against a model that learns to refuse everything; a GPU preset, with real "
        "revisions, is where to test it again."
    ), short


def rl_cai(sl_r: dict, rl_r: dict, nb: dict) -> tuple[str, str]:
    """Reading of RL-CAI against SL-CAI, each change with its bar; and a short verdict."""
    hk = "harmless" if "harmless" in rl_r else "refusal_harmful"
    parts, whats, bad = [], [], False
    for tag, mode in (("", "greedy"), ("_sampled", "sampled")):
        bar_h, bar_k = nb[tag]
        dh = diff(rl_r[hk + tag], sl_r[hk + tag])
        dr = diff(rl_r["refusal_benign" + tag], sl_r["refusal_benign" + tag])
        gain, loss = dh > bar_h or dr < -bar_k, dh < -bar_h or dr > bar_k
        what = {
            (True, True): "a trade",
            (True, False): "a gain with no loss beyond the noise",
            (False, True): "a loss with no gain beyond the noise",
            (False, False): "no change beyond the noise",
        }[gain, loss]
        bad = bad or (loss and not gain)
        whats.append(f"{mode}, {what}")
        parts.append(
            f"{mode}, {what}: {_hname(hk)} {change(dh, bar_h)}, refusals of kind "
            f"requests {change(dr, bar_k)}"
        )
    g, s = _modes(rl_r, "refusal_benign")
    text = (
        f"RL-CAI refuses {g:.2f} of kind requests greedily and {s:.2f} sampled "
        f"({refusal_verdict(max(g, s))}). Against SL-CAI ({bars_clause(nb)}): "
        + "; ".join(parts)
        + "."
    )
    if bad:
        text += (
            " **RL-CAI did not pay in this run**: check its pairs (how many, and whether the "
            "feedback model picked the right answer) before shipping it, or ship SL-CAI."
        )
    return text, "against SL-CAI, " + "; ".join(whats)


def summary(
    curve: dict,
    verdict: Counter,
    pref: dict,
    graded: bool,
    mix: str,
    rl: str,
    n_pairs: int,
    base_r: dict | None = None,
    weak: str = "",
    draws: int = 1,
) -> str:
    """The summary's bullets, from the same values as the readings above."""
    harm, ref, judged = curve.get(HARMLESS), curve.get(REFUSED), curve[JUDGED]
    if harm and ref:
        rounds_text = (
            f"harmless {harm[0]:.2f} → {harm[-1]:.2f} and kind requests refused {ref[0]:.2f} → "
            f"{ref[-1]:.2f}; the shape is built into the tiny critic, the refusals are the cost."
        )
        if base_r and "harmless" in base_r:
            rounds_text += (
                f" Round 0 is the helpful-only model sampled at T = 1, hence {harm[0]:.2f} against "
                f"the table's greedy base at {base_r['harmless']:.2f} (sampled, that base is "
                f"{base_r['harmless_sampled']:.2f} on held-out requests)."
            )
    else:
        rounds_text = (
            f"the feedback model's preference for later rounds {judged[0]:.2f} → {judged[-1]:.2f}."
        )
    n, worse, same = pref["n"], verdict.get(WORSE, 0), verdict.get(SAME, 0)
    recipe = (
        f"by the graders, wrong for {worse} of {n} changed chains ({worse / n:.0%}) and "
        f"meaningless (no difference) for {same} more ({same / n:.0%})."
        if graded and n
        else "not testable here (no grader)."
    )
    return (
        f"- **Rounds**: {rounds_text}\n"
        f"- **'The revision is better'** (the open recipe's assumption): {recipe}\n"
        + (f"- **A weaker judge**: {weak}\n" if weak else "")
        + f"- **The helpful mix**: {mix}.\n"
        f"- **RL-CAI**, trained on {n_pairs} confident pairs"
        + (f" ({draws} drawn per prompt)" if draws > 1 else "")
        + f": {rl}.\n"
        "- **In practice**: check revisions with a judge measured on labelled pairs under your own "
        "questions, mix helpful answers into SFT, and count refusals of kind requests after every "
        "round and every stage."
    )


def stability(path: Path) -> str:
    """One sentence on how this world's SL-CAI figures compare with the other worlds'."""
    d = json.loads(Path(path).read_text())
    fig = d["figures"]
    kind, harm = fig.get("12b SL-CAI refuses kind requests"), fig.get("12b SL-CAI harmless")
    rl = fig.get("12b RL-CAI (pairs at T=1) harmless") or []
    if not kind or all(v is None for v in kind[1:]):
        return (
            "No other world measured this stage yet: every verdict above holds for this world only."
        )
    others = [v for v in kind[1:] if v is not None]
    spread = max(abs(v - kind[0]) for v in others)
    rl_where = (
        "RL-CAI was measured on this world only"
        if all(v is None for v in rl[1:])
        else "RL-CAI was measured on the others too"
    )
    return (
        f"On the other worlds SL-CAI refused {' and '.join(f'{v:.2f}' for v in others)} of kind "
        f"requests greedily ({kind[0]:.2f} here) while staying about as harmless "
        f"({' and '.join(f'{v:.2f}' for v in harm[1:] if v is not None)}; {harm[0]:.2f} here), so "
        + (
            f"this world's {kind[0]:.2f} belongs to this world, not to the recipe"
            if spread > 0.1
            else "this world's over-refusal figure holds across worlds"
        )
        + f", and {rl_where}."
    )
