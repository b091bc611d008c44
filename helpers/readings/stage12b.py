"""Notebook 12b's readings (Constitutional AI): the hand-run round and comparison, the per-round
curves, the open recipe's assumption, the second judge, the helpfulness check, the training dashboard,
the stage table, the helpful-mix ablation, the summary and the stability box, each turned into the
sentences the learner reads; and the page's three plots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers.readings import within

HARMLESS, REFUSED = "harmless (harmful requests)", "refused (kind requests)"
JUDGED = "judged better than round 0"
BETTER, WORSE, SAME = "revision truly better", "revision truly worse", "no difference"


def _hname(hk: str) -> str:
    """The harmlessness column's name in words (presets: the refusal detector on red-team prompts)."""
    return "harmless rate" if hk == "harmless" else "refusal rate on red-team prompts"


SHIP_MAX = 0.20  # the course's shipping floor (capstone): kind requests answered at least 0.80


def refusal_verdict(rate: float) -> str:
    """A share of kind requests refused against the one threshold: at most SHIP_MAX ships."""
    if rate >= 0.5:
        return "most of them: unusable as a product"
    return ("above" if rate > SHIP_MAX else "within") + f" the {SHIP_MAX:.2f} ceiling"


def diff(new: float, old: float) -> float:
    """A change as the reader computes it from the two printed rates (two decimals)."""
    return round(round(new, 2) - round(old, 2), 2) + 0.0  # + 0.0: no "-0.00"


def change(delta: float, bar: float) -> str:
    """'-0.05 ± 0.06': a change with its paired noise bar (a zero bar: every request moved alike)."""
    return f"{delta:+.2f} ± {bar:.2f}" + (", all $d_j$ equal" if bar == 0 else "")


def source(fn, start: str) -> str:
    """`fn`'s source from the line that holds `start` on, dedented, as a Markdown code block."""
    import inspect
    import textwrap

    src = inspect.getsource(fn)
    body = textwrap.dedent(src[src.rindex("\n", 0, src.index(start)) + 1 :])
    return f"```python\n{body}```"


def chain_text(name: str, prompt: str, chain: list[dict]) -> str:
    """One chain as text: its round-0 answer, then each round's [principle] critique -> answer,
    '(kept)' where the answer did not change."""
    lines = [f"chain {name}: {prompt}", f"round 0: {chain[0]['answer']}"]
    for before, s in zip(chain, chain[1:]):
        answer = "(kept)" if s["answer"] == before["answer"] else s["answer"]
        lines.append(f"round {s['round']} [{s['principle']}] {s['critique']} -> {answer}")
    return "\n".join(lines)


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


def hand_feedback(p_xy: float, p_yx: float, mass_xy: float, mass_yx: float) -> str:
    """Reading of the comparison run by hand: p, whether both orders agree, and the letter mass."""
    p = (p_xy + 1 - p_yx) / 2
    text = f"**p = {p:.2f}: the feedback model prefers {'x' if p > 0.5 else 'y'}**, "
    text += (
        "in both orders (position-consistent); "
        if (p_xy > 0.5) == (p_yx < 0.5)
        else f"but slot {'A' if p_xy > 0.5 else 'B'} wins in both orders: a position bias, which "
        "the average cancels; "
    )
    low = min(mass_xy, mass_yx)
    return text + (
        f"letter mass {mass_xy:.2f} and {mass_yx:.2f}, so it answers with a letter."
        if low >= 0.5
        else f"letter mass only {low:.2f}: it mostly writes something else, and p rests on little."
    )


def _why_off(planted: dict, counts: dict) -> str:
    """Why the measured curves leave their dotted lines: the critic's flags and the reviser, counted."""
    said = {HARMLESS: (True, "harmful requests"), REFUSED: (False, "kind ones")}
    rows = {k: counts[u] for k, (u, _) in said.items() if k in planted and counts[u]["open"]}
    if not rows:
        return ""
    rate = {k: c["flagged"] / c["open"] for k, c in rows.items()}
    total = {key: sum(c[key] for c in rows.values()) for key in next(iter(rows.values()))}
    calm = total["open"] - total["flagged"]
    critic = any(abs(rate[k] - planted[k]) >= 0.05 for k in rows)
    reviser = (
        total["flagged_turned"] < 0.95 * total["flagged"] or total["unflagged_turned"] > 0.05 * calm
    )
    flags = " and ".join(
        f"{c['flagged']} of {c['open']} on {said[k][1]} ({rate[k]:.0%}, built {planted[k]:.0%})"
        for k, c in rows.items()
    )
    facts = (
        f"of the rounds that start from a complying answer, the critique flagged {flags}; the "
        f"reviser refused after {total['flagged_turned']} of {total['flagged']} flags and "
        f"{total['unflagged_turned']} of {calm} times without one ({total['undone']} of "
        f"{total['refused']} refusals undone)"
    )
    if not (critic or reviser):
        return f"\n\n**The chains keep the built rates**: {facts}. "
    who = {
        (True, False): "the critic, not the reviser",
        (False, True): "the reviser, not the critic",
    }
    text = (
        "\n\n**Why the measured lines leave the dotted ones: "
        f"{who.get((critic, reviser), 'the critic and the reviser')}.** "
        f"{facts[0].upper()}{facts[1:]}. "
    )
    if (
        critic
        and rate.get(HARMLESS, 1) < planted.get(HARMLESS, 0)
        and rate.get(REFUSED, 0) > planted.get(REFUSED, 1)
    ):
        text += (
            "The trained critic tells harmful from kind less sharply than built (a guess at why: "
            "this constitution's wording is new to it). "
        )
    return text


def _judged(judged: list[float], split: dict | None) -> str:
    """The judged curve: 0.5 at round 0 by construction, and what its mean mixes."""
    text = (
        f"\n\n**The judged curve** is {judged[0]:.2f} at round 0 by construction (an answer "
        f"against itself) and ends at {judged[-1]:.2f}, a mean over chains. "
    )
    if not split or not any(f in split for f in (BETTER, WORSE)):
        return text + (
            "With no grader it cannot say how much of it is harmful answers fixed and how much "
            "kind answers refused."
        )
    parts = ", ".join(
        f"{split[f][0]} {w} ({'mean $p$ ' if k == 0 else ''}{split[f][1]:.2f})"
        for k, (f, w) in enumerate(
            (f, w)
            for f, w in ((BETTER, "truly better"), (WORSE, "truly worse"), (SAME, "no different"))
            if f in split
        )
    )
    text += f"By the graders' verdict on each final answer: {parts}. "
    if WORSE in split and split[WORSE][1] >= 0.5:
        return text + (
            "The feedback model prefers the worse answers too, so the curve counts false alarms as "
            "progress."
        )
    return text + (
        "The feedback model tells fixes from false alarms; the **mean** nets them, so a rising "
        "curve can hide false alarms."
    )


def rounds(
    curve: dict[str, list[float]],
    planted: dict | None,
    counts: dict | None = None,
    split: dict | None = None,
) -> str:
    """Reading of the per-round plot: the built-in shape, why the measured curves leave it, the cost,
    the judged curve, and what the plot does and does not test."""
    harm, ref, judged = curve.get(HARMLESS), curve.get(REFUSED), curve[JUDGED]
    n, text = len(judged) - 1, ""
    if harm and planted:
        text += (
            f"**Built in.** The tiny critic was trained to flag harm in {planted[HARMLESS]:.0%} "
            f"of rounds on a harmful answer and {planted[REFUSED]:.0%} on a kind one; a flagged "
            "answer becomes a refusal that later rounds keep. Dotted: $1-(1-h_0)(1-c)^r$, what "
            "those rates $c$ predict from the round-0 share $h_0$. "
        )
    off = _why_off(planted, counts) if harm and planted and counts else ""
    if harm and not off:
        text += (
            f"Measured, the harmless rate goes {harm[0]:.2f} → {harm[-1]:.2f} after {n} rounds. "
        )
    text += off
    if ref:
        text += (
            "\n\n**The cost**: every round is another chance of a false alarm, and the chains end "
            f"refusing {ref[-1]:.2f} of kind requests ({refusal_verdict(ref[-1])}; {ref[0]:.2f} at "
            "round 0). "
        )
    text += _judged(judged, split)
    if harm and planted:
        text += (
            "\n\n**Not tested here:** Bai et al.'s finding that revisions make answers more "
            "harmless (this critic's rates were built in)."
        )
    return text


def revisions(
    verdict: Counter,
    pref: dict,
    rev_agree: dict | None,
    clean: float,
    kind_worse: int = 0,
    tie: float = 0.05,
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
        predict = (
            f"so its {kind_worse} refusals of kind requests would be chosen answers: we predict "
            "that DPO on these labels learns to refuse kind requests"
            if kind_worse
            else f"so its {worse} worse revisions would be chosen answers: we predict that DPO on "
            "these labels learns their mistakes"
            if worse
            else f"so its {same} pairs with no difference would be noise in the DPO data"
        )
        lead = (
            f"wrong for {worse} of the {n_changed} changed chains ({worse / n_changed:.0%})"
            if worse
            else f"never wrong on the {n_changed} changed chains"
        )
        lead += f", and meaningless for {same} more ({same / n_changed:.0%})" if same else ""
        text = (
            f"**The lesson: the assumption is {lead}.** By the graders, {better} revisions are "
            f"truly better, {worse} truly worse ({'all' if kind_worse == worse else kind_worse} of "
            f"them a kind answer turned into a refusal) and {same} no different (a label there is "
            f"noise). The recipe labels all 'revision better', {predict} (an exercise tests it). "
        )
    else:
        text = f"Here the assumption held on all {n_changed} changed chains. "
    real = rev_agree["agreement"]
    lower = (
        ""
        if rev_agree["ci"][1] >= clean
        else f", below its {clean:.0%} on the clean pairs: its labels carry more errors than "
        "those suggest"
    )
    text += (
        f"The feedback model tells them apart: it agrees with the graders on {real:.0%} of the "
        f"{rev_agree['n']} chains where one answer is truly better{lower}, and prefers the "
        f"revision in {prefers:.0%} (ties, $|p - 0.5| \\le {tie}$, count half), not the recipe's "
        "100%. "
    )
    if real >= 0.95 and clean >= 0.95:
        return text + (
            "**By construction**: the tiny feedback model learned this world's right and wrong "
            "answers, so it is an oracle here and RL-CAI (section 8) learns from near-perfect "
            "labels. A real one errs: 12c measures what that does to DPO; on Colab, read its "
            "agreement on labelled pairs above."
        )
    return text + (
        "The tiny feedback model learned this world's right and wrong answers, yet errs here: its "
        "mistakes become RL-CAI's labels (section 8)."
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
    own: dict,
    margin: float,
    asked: str = "its own question",
) -> tuple[str, str]:
    """Reading of the second judge: the revisions each judge would keep, by fate, and what its
    measured agreement said in advance. `kept` and `agree` list the recipe's row, the feedback model
    and the second judge in that order (the recipe has no agreement); `own` is the second judge's
    agreement under `asked`, the question it was trained on. Returns (text, short verdict)."""
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
        f"The second judge agrees {a:.2f} (95% CI {lo:.2f}-{hi:.2f}) on the fresh labelled pairs, "
    )
    text += (
        "no better than a coin: the measurement flags it before any revision is judged. "
        if lo <= 0.5
        else f"against the feedback model's {agree[strong]['agreement']:.2f}. "
    )
    if own["agreement"] - a > 0.2:
        text += (
            f"Asked only {asked}, the same model agrees {own['agreement']:.2f}: the wording fails, "
            "not the model; a judge's quality holds only for the questions it was measured with. "
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
    # two standard errors of the difference between the two kept shares (pooled), a rough noise bar
    pooled = (wk + bk) / max(wn + bn, 1)
    bar = 2 * (pooled * (1 - pooled) * (1 / max(wn, 1) + 1 / max(bn, 1))) ** 0.5
    gap = bk / max(bn, 1) - wk / max(wn, 1)
    separates = gap > bar
    text += (
        f"As a filter (keeping a revision where $p > 0.5 + {margin}$, section 8's DPO margin; the "
        "table above), "
    )
    if wn == 0:
        verdict = "this run has no worse revision to catch"
        text += f"**{verdict}**: the filter's only effect is the better ones it drops. "
    elif wk + bk == 0:
        verdict = "it keeps no revision at all"
        text += (
            f"**{verdict}**: it is never confident enough, and a filter that drops every "
            "revision leaves SFT and DPO nothing to learn from. "
        )
    elif wk == 0 and bk >= bn / 2:
        verdict = "it keeps no worse revision either"
        text += f"**{verdict}**: on this world the second judge would have done the job. "
    elif wk == 0:
        verdict = f"it keeps no worse revision, but only {bk} of the {bn} better ones"
        text += f"**{verdict}**: safe, and most of the good data is thrown away. "
    elif separates:
        verdict = (
            "it keeps better revisions more often than worse ones, beyond the noise, but lets "
            "some worse through"
        )
        text += f"**{verdict}**: its labels would teach DPO part of the recipe's mistake. "
    else:
        verdict = "it does not tell worse revisions from better ones beyond the noise"
        text += (
            f"**{verdict}**: it keeps {bk / max(bn, 1):.0%} of the better and "
            f"{wk / max(wn, 1):.0%} of the worse, a gap of "
            f"{gap:.2f} within two standard errors of a difference of two shares, "
            f"$2\\sqrt{{\\bar p(1-\\bar p)(1/{wn}+1/{bn})}} = {bar:.2f}$ ($\\bar p = "
            f"{wk + bk}/{wn + bn}$ kept overall). "
        )
    short = (
        f"agreement {a:.2f} under this constitution's questions, {own['agreement']:.2f} under its "
        f"own; as a filter it keeps {wk} of {wn} worse revisions and {bk} of {bn} better (the "
        f"feedback model {swk} and {sbk}): {verdict}"
    )
    return table + text.strip(), short


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
            f"The helpfulness question works: in {helps} of {n} pairs on the extra kind requests "
            "where exactly one answer refuses, the feedback model prefers the one that helps (a coin "
            "would pick it in half)."
        )
    return (
        f"The helpfulness question prefers the refusal in {n - helps} of {n} such pairs (a coin: "
        "half), and those pairs teach DPO to refuse kind requests. A practitioner rewords "
        "`constitution.helpfulness` and checks again, or keeps these pairs out of DPO."
    )


def dashboard(
    sft: list[tuple], d: dict, steps: int, batch: int, n_pairs: int, beta: float = 0.1
) -> str:
    """Reading of the training dashboard: SFT loss, DPO margin and accuracy, log-probs."""
    text = "**Reading the dashboard.** "
    if sft:
        (s0, a), (s1, z) = sft[0], sft[-1]
        text += (
            f"Left: the SFT loss, logged at steps {s0} to {s1} (no step-0 point), goes {a:.3f} → "
            f"{z:.3f}; the plot cannot show where it started. "
        )
    if not d["step"]:
        return text + "DPO logged no step on this profile: the other panels are empty."
    passes = steps * min(batch, n_pairs) / n_pairs if n_pairs else 0.0
    acc, mar = d["rewards/accuracies"], d["rewards/margins"]
    text += (
        f"Middle: at the first log (step {d['step'][0]}) the accuracy is {acc[0]:.2f} with a "
        f"margin of {mar[0]:.2f}"
        + (": most pairs (a refusal against a help) separate at once. " if acc[0] >= 0.7 else ". ")
        + f"After {d['step'][-1]} DPO steps of {batch} pairs (about {passes:.0f} passes over "
        f"{n_pairs} pairs) the reward margin is {d['rewards/margins'][-1]:.2f} ($\\beta = {beta}$ "
        "times the chosen minus the rejected log-ratio to the reference, in nats) and the accuracy "
        f"{d['rewards/accuracies'][-1]:.2f} (0.5 is chance)"
    )
    text += (
        f": on pairs seen about {passes:.0f} times that is memorisation as much as learning; "
        "section 9's held-out requests are the test. "
        if passes > 3
        else ". "
    )
    chosen, rejected = d["logps/chosen"], d["logps/rejected"]
    dc, dr = chosen[-1] - chosen[0], rejected[-1] - rejected[0]
    text += (
        f"Right: the chosen answers' log-prob moves between {min(chosen):.2f} and {max(chosen):.2f}"
        f" ({chosen[0]:.2f} → {chosen[-1]:.2f}; each point one batch of {batch} pairs), the "
        f"rejected ones' {rejected[0]:.1f} → {rejected[-1]:.1f}"
    )
    if dc - dr <= 0:
        return text + ": the gap did not widen, so DPO did not learn these pairs."
    if dc < -0.5:
        return text + (
            ": the chosen answers lost likelihood too, which the RPO term should limit; raise its "
            "weight before training longer."
        )
    return text + (
        ": the chosen answers kept their likelihood within batch noise, as the RPO term asks (with "
        "no run at $\\alpha = 0$, this page cannot say the term did it)."
    )


COLUMNS = {  # one name per measure: greedy unless marked T=1
    "harmless": "harmless",
    "refusal_harmful": "refuses harmful",
    "refusal_benign": "refuses kind",
    "harmless_sampled": "harmless, T=1",
    "refusal_harmful_sampled": "refuses harmful, T=1",
    "refusal_benign_sampled": "refuses kind, T=1",
}


def table(rows: dict[str, dict]) -> str:
    """A results table in Markdown: one row per model, every rate at two decimals."""
    cols = list(next(iter(rows.values())))
    out = ["| model | " + " | ".join(COLUMNS.get(c, c) for c in cols) + " |"]
    out.append("|---" * (len(cols) + 1) + "|")
    out += [
        f"| {name} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + " |" for name, r in rows.items()
    ]
    return "\n".join(out)


def held_line(n_harm: int, n_kind: int, samples: int) -> str:
    """The held-out set in one line: its size and split, and the answers each request gets."""
    return (
        f"held out: {n_harm} harmful and {n_kind} kind requests, each answered once greedily and "
        f"{samples} times at T = 1"
    )


def _modes(r: dict, key: str) -> tuple[float, float]:
    return r[key], r[key + "_sampled"]


def _hk(r: dict) -> str:
    return "harmless" if "harmless" in r else "refusal_harmful"


def mix_refusals(
    chains: dict[str, list[dict]], task_of: dict, helpful: list[tuple[str, str]], is_refusal
) -> dict[str, tuple[int, int]]:
    """SL-CAI's training rows for kind requests, as (refusing, all): the kind requests' final
    revisions ("chains") and the helpful answers ("helpful"); empty answers are not rows; and
    the harmful requests' final revisions as (complying, all) ("harm")."""

    def count(answers: list[str]) -> tuple[int, int]:
        rows = [a for a in answers if a.strip()]
        return sum(bool(is_refusal(a)) for a in rows), len(rows)

    finals = [c[-1]["answer"] for i, c in chains.items() if not task_of[i].meta["unsafe"]]
    harm = [c[-1]["answer"] for i, c in chains.items() if task_of[i].meta["unsafe"]]
    refused, n = count(harm)
    return {
        "chains": count(finals),
        "helpful": count([a for _, a in helpful]),
        "harm": (n - refused, n),  # harmful rows that still comply
    }


def sl_cai(
    base_r: dict,
    sl_r: dict,
    round0: float | None,
    bars: dict,
    mix: dict[str, tuple[int, int]] | None = None,
) -> str:
    """Reading of SL-CAI's row against the base: its refusals of kind requests with paired bars, the
    base's own sampled refusals, and the refusing share of the rows SL-CAI was trained on."""
    hk = _hk(sl_r)
    (g, s), (bg, bs) = _modes(sl_r, "refusal_benign"), _modes(base_r, "refusal_benign")
    dg, ds = diff(g, bg), diff(s, bs)
    bar_g, bar_s = bars["refusal_benign"], bars["refusal_benign_sampled"]
    text = (
        f"SL-CAI's {_hname(hk)} is {sl_r[hk]:.2f} greedy and {sl_r[hk + '_sampled']:.2f} sampled "
        f"(base: {base_r[hk]:.2f} and {base_r[hk + '_sampled']:.2f}). On kind requests it refuses "
        f"{g:.2f} greedily and {s:.2f} sampled, the base {bg:.2f} and {bs:.2f}: changes "
        f"{change(dg, bar_g)}{',' if bar_g == 0 else ''} and {change(ds, bar_s)}. "
    )
    beyond = [(d, b) for d, b in ((dg, bar_g), (ds, bar_s)) if d > b]
    if beyond and all(d <= 1.5 * b for d, b in beyond):
        text += "**A rise beyond the bar, only just** (the bar: a rough 95% interval). "
    else:
        text += "**A rise beyond the bar.** " if beyond else "**No rise beyond the bar.** "
    text += (
        f"As levels (the scale RL-CAI is read on too), {s:.2f} sampled is {refusal_verdict(s)} "
        f"and the base's {bs:.2f} {refusal_verdict(bs)}. "
    )
    if bs > bg:
        text += (
            f"The base refuses {'only' if bg == 0 else 'more'} when sampled"
            + (f" (the chains' round 0, also sampled: {round0:.2f})" if round0 is not None else "")
            + ": it gives refusing some probability"
            + (", as on harmful requests," if base_r[hk + "_sampled"] > base_r[hk] else "")
            + " and T = 1 draws it. "
        )
    if mix and mix["chains"][1] + mix["helpful"][1]:
        (cr, cn), (hr, hn) = mix["chains"], mix["helpful"]
        share = (cr + hr) / (cn + hn)
        text += (
            f"SL-CAI's training rows for kind requests refuse {cr + hr} of {cn + hn} ({share:.2f}: "
            f"{cr} of {cn} final revisions, {hr} of {hn} helpful answers), and sampled it refuses "
            f"{s:.2f}, "
        )
        text += (
            "about that share, but the base already refused "
            f"{bs:.2f} sampled: a match, not a mechanism (the ablation below tests it). "
            if abs(s - share) <= max(bar_s, 0.05)
            else f"{'more' if s > share else 'less'} than that share. "
        )
    if mix and mix.get("harm", (0, 0))[1]:
        hc, hn = mix["harm"]
        text += (
            f"The harmful requests' final revisions still comply in {hc} of {hn}: SFT trains on "
            "those too"
            + (", unfiltered; on real data, filter them with a measured judge. " if hc else ". ")
        )
    if beyond:
        text += (
            "To bring it down, drop the revisions that refuse a kind request or add helpful rows."
        )
    return text.strip()


def helpful_mix(
    sl_r: dict, plain_r: dict, bars: dict, n_helpful: int, mix: dict | None = None
) -> tuple[str, str]:
    """Reading of the ablation (SL-CAI with the helpful rows against without), with whether each
    model's sampled rate matches its kind rows' refusing share; a short verdict."""
    hk = _hk(sl_r)
    parts, fewer, more, lost = [], False, False, False
    for tag, mode in (("", "greedy"), ("_sampled", "sampled")):
        bar_h, bar_k = bars[hk + tag], bars["refusal_benign" + tag]
        dr = diff(sl_r["refusal_benign" + tag], plain_r["refusal_benign" + tag])
        dh = diff(sl_r[hk + tag], plain_r[hk + tag])
        fewer, more, lost = fewer or dr < -bar_k, more or dr > bar_k, lost or dh < -bar_h
        parts.append(
            f"{mode}, kind requests refused {plain_r['refusal_benign' + tag]:.2f} → "
            f"{sl_r['refusal_benign' + tag]:.2f} ({change(dr, bar_k)}) and {_hname(hk)} "
            f"{plain_r[hk + tag]:.2f} → {sl_r[hk + tag]:.2f} ({change(dh, bar_h)})"
        )
    text = f"Adding the {n_helpful} helpful rows (without → with): " + "; ".join(parts) + ". "
    if mix and mix["chains"][1]:
        (cr, cn), s = mix["chains"], plain_r["refusal_benign_sampled"]
        text += (
            f"Without them the kind rows refuse {cr} of {cn} ({cr / cn:.2f}) and the model {s:.2f} "
        )
        text += (
            "sampled: close, as with them. "
            if abs(s - cr / cn) <= 0.05
            else "sampled: SFT does not copy its kind rows' mix; the harmful rows' refusals pull "
            "kind requests too (a guess). "
        )
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


def trade(dh: float, bar_h: float, dr: float, bar_k: float) -> str:
    """A change of (harmless rate, refusals of kind requests) in words: a trade whenever one moves
    the good way and the other the bad way, each side said to be beyond its bar or within it."""
    sides = [  # (change in the good direction, bar, said as a gain, said as a loss)
        (dh, bar_h, "more harmlessness", "less harmlessness"),
        (-dr, bar_k, "fewer refusals of kind requests", "more refusals of kind requests"),
    ]
    gains = [(up, not within(d, bar)) for d, bar, up, _ in sides if d > 0]
    losses = [(down, not within(d, bar)) for d, bar, _, down in sides if d < 0]
    if not any(real for _, real in gains + losses):
        return "no change beyond the noise"
    if gains and losses:
        (gain, g_real), (loss, l_real) = gains[0], losses[0]
        return (
            f"a trade, {gain} ({'beyond' if g_real else 'within'} the noise) for {loss} "
            f"({'beyond' if l_real else 'within'} it)"
        )
    return "a gain with no loss" if gains else "a loss with no gain"


def pair_directions(rows: list[dict], is_refusal) -> tuple[int, int]:
    """DPO pairs where exactly one answer refuses: (how many choose the refusal, how many the help)."""
    split = [
        is_refusal(r["chosen"][0]["content"])
        for r in rows
        if is_refusal(r["chosen"][0]["content"]) != is_refusal(r["rejected"][0]["content"])
    ]
    return sum(split), len(split) - sum(split)


def directions_by_type(rows: list[dict], is_refusal, harmful: set) -> dict[str, tuple[int, int]]:
    """pair_directions split by the prompt's type: {"harmful": ..., "kind": ...}."""
    parts = {"harmful": [], "kind": []}
    for r in rows:
        parts["harmful" if r["prompt"][0]["content"] in harmful else "kind"].append(r)
    return {k: pair_directions(v, is_refusal) for k, v in parts.items()}


def rl_cai(
    sl_r: dict,
    rl_r: dict,
    bars: dict,
    directions: dict[str, tuple[int, int]] | None = None,
    p_kind_refusal: float | None = None,
) -> tuple[str, str]:
    """Reading of RL-CAI against SL-CAI, each change with its paired bar; where the push came from
    (DPO pairs by request type, and the feedback model's p for refusing a kind request); and why it
    is not Bai et al.'s 'less evasive'; with a short verdict."""
    hk = _hk(rl_r)
    parts, whats, bad, moves = [], [], False, {}
    for tag, mode in (("", "greedy"), ("_sampled", "sampled")):
        bar_h, bar_k = bars[hk + tag], bars["refusal_benign" + tag]
        dh = diff(rl_r[hk + tag], sl_r[hk + tag])
        dr = diff(rl_r["refusal_benign" + tag], sl_r["refusal_benign" + tag])
        moves[mode] = (dh < -bar_h, dr < -bar_k)  # (harmlessness lost, refusals cut), beyond bars
        what = trade(dh, bar_h, dr, bar_k)
        bad = bad or what == "a loss with no gain"
        whats.append(f"{mode}, {what}")
        parts.append(
            f"{mode}, {_hname(hk)} {change(dh, bar_h)} and refusals of kind requests "
            f"{change(dr, bar_k)}: {what}"
        )
    g, s = _modes(rl_r, "refusal_benign")
    text = (
        f"RL-CAI refuses {g:.2f} of kind requests greedily and {s:.2f} sampled (as a level: "
        f"{refusal_verdict(max(g, s))}). Against SL-CAI: " + "; ".join(parts) + "."
    )
    evasive_less = any(cut for _, cut in moves.values())
    if directions:
        (hr, hh), (kr, kh) = directions["harmful"], directions["kind"]
        text += (
            f" Its DPO pairs where one answer refuses: on kind requests they chose the help {kh} "
            f"times, the refusal {kr}; on harmful requests the refusal {hr}, the help {hh}."
        )
    if evasive_less:
        text += " **Fewer refusals of kind requests, built into this world**: the feedback model"
        text += (
            f" prefers help on a kind request even under a harm question (mean $p$ {p_kind_refusal:.2f}"
            " for revisions that refused one, section 5)"
            if p_kind_refusal is not None
            else " learned the world's right answers"
        )
        text += (
            ". A real judge asked 'which is less harmful?' tends to pick the refusal: the "
            "over-refusal Bai et al. mixed helpfulness data against. Nor is this their 'less "
            "evasive' (harmful requests answered without a bare refusal): here harmless means "
            "refusing."
        )
        if any(lost for lost, _ in moves.values()):
            text += (
                " The harmlessness lost"
                + (
                    f" matches the {hh} pairs that chose help on a harmful request"
                    if directions and hh
                    else ", with no pair choosing help on a harmful request, may be the kind pairs' "
                    "push spreading to harmful requests (untested)"
                )
                + "."
            )
    else:
        text += " Refusals of kind requests did not fall beyond the noise."
    if bad:
        text += (
            " **RL-CAI did not pay in this run**: check its pairs (how many, and whether the "
            "feedback model picked the right answer) before shipping it, or ship SL-CAI."
        )
    short = "against SL-CAI, " + "; ".join(whats)
    return text, short + (
        "; the drop is built into this world's feedback model" if evasive_less else ""
    )


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
            f"{ref[-1]:.2f}: the tiny critic's built-in shape, and its cost."
        )
        if base_r and "harmless" in base_r:
            rounds_text += (
                f" Round 0 is sampled at T = 1 ({harm[0]:.2f}); the table's base is greedy "
                f"({base_r['harmless']:.2f}; sampled {base_r['harmless_sampled']:.2f})."
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
        + (f"- **A second judge, asked reworded questions**: {weak}.\n" if weak else "")
        + f"- **The helpful mix**: {mix}.\n"
        f"- **RL-CAI**, trained on {n_pairs} distinct confident pairs"
        + (f" ({draws} drawn per prompt)" if draws > 1 else "")
        + f": {rl}.\n"
        + (
            "- **Not testable in the tiny world**: a fallible feedback model (this one learned the "
            "world's right answers; 12c), harmlessness without evasion (here harmless means "
            "refusing), and the constitution's effect on the critic (its rates are built in).\n"
            if graded
            else ""
        )
        + "- **In practice**: check revisions with a judge measured on labelled pairs under your own "
        "questions, mix helpful answers into SFT, and count refusals of kind requests after every "
        "round and every stage."
    )


PAIRS_ROW = (
    "12b RL-CAI (pairs at T=1) confident pairs"  # the seeds table's name for the record's `pairs`
)


def stability(path: Path, sl_r: dict | None = None, rl_r: dict | None = None) -> str:
    """How this world's figures compare with the other worlds' in the seeds table (this page's column:
    this run), this run's sampled rate the box lacks, what its RL-CAI rows are, and which worlds were
    built another way."""
    d = json.loads(Path(path).read_text())
    fig, seeds, before = d["figures"], d.get("seeds", []), set(d.get("before_pin", []))
    kind, harm = fig.get("12b SL-CAI refuses kind requests"), fig.get("12b SL-CAI harmless")
    rl = fig.get("12b RL-CAI (pairs at T=1) harmless") or []
    if not kind or all(v is None for v in kind[1:]):
        return (
            "No other world measured this stage yet: every verdict above holds for this world only."
        )
    others = [v for v in kind[1:] if v is not None]
    spread = max(abs(v - kind[0]) for v in others)
    text = (
        f"On the other worlds SL-CAI refused {' and '.join(f'{v:.2f}' for v in others)} of kind "
        f"requests greedily ({kind[0]:.2f} here), about as harmless "
        f"({' and '.join(f'{v:.2f}' for v in harm[1:] if v is not None)}; {harm[0]:.2f} here): "
        + (
            f"this world's greedy {kind[0]:.2f} belongs to this world, not to the recipe. "
            if spread > 0.1
            else "the over-refusal figure holds across worlds. "
        )
    )
    if sl_r and "refusal_benign_sampled" in sl_r:
        text += (
            f"The box is greedy only; sampled, SL-CAI refused {sl_r['refusal_benign_sampled']:.2f}"
            + (f" and RL-CAI {rl_r['refusal_benign_sampled']:.2f}" if rl_r else "")
            + " here, with no sampled figure from the other worlds to compare: RL-CAI's sampled "
            "drop is this world's only. "
        )
    built = [str(x) for x in seeds[1:] if x in before]
    if built:
        text += f"(Part of a gap may be the earlier build of seed{'s' if len(built) > 1 else ''} "
        text += f"{' and '.join(built)}.) "
    text += "RL-CAI (pairs at T=1) is section 8's DPO model, " + (
        "measured on this world only"
        if all(v is None for v in rl[1:])
        else "measured on the others too"
    )
    if (fig.get(PAIRS_ROW) or [None])[0] is not None:
        text += "; its pairs row counts distinct confident pairs"
    return text + "."


def plot_rounds(curve: dict[str, list[float]], planted: dict | None) -> None:
    """Section 5's plot: the graded curves with their built-in dotted lines (left), the judged one
    (right)."""
    import matplotlib.pyplot as plt

    from helpers.constitutional import planted_curve

    xs = range(len(curve[JUDGED]))
    fig, (ax, axj) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, ys in curve.items():
        if name == JUDGED:
            continue
        line = ax.plot(xs, ys, "o-", label=name)[0]
        if name in (planted or {}):  # tiny: the curve its critic's built-in rate predicts
            c = planted[name]
            built = planted_curve(ys[0], c, len(ys) - 1)
            ax.plot(xs, built, ":", color=line.get_color(), label=f"built in ({c:.0%} a round)")
    ax.set(xlabel="critique -> revision rounds", ylabel="share of chains", ylim=(0, 1.05))
    ax.set(xticks=xs, title="Graded: the answer after each round")
    _ = (
        ax.legend(fontsize=8)
        if ax.lines
        else ax.text(0.3, 0.5, "no grader", transform=ax.transAxes)
    )
    axj.plot(xs, curve[JUDGED], "o-", color="grey")
    axj.axhline(0.5, ls=":", c="grey")
    axj.annotate(
        "0.5 by construction", (0, 0.5), (0.2, 0.3), fontsize=8, arrowprops={"arrowstyle": "->"}
    )
    axj.set(xlabel="critique -> revision rounds", ylabel="mean P(round r better than round 0)")
    axj.set(ylim=(0, 1.05), xticks=xs, title="Judged: the feedback model's preference")
    plt.tight_layout()
    plt.show()


def plot_dashboard(curve_sft: list[tuple], d: dict) -> None:
    """Section 8's dashboard: the SFT loss, DPO's reward margin and accuracy, and the log-probs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(14, 3.4))
    ax[0].plot([s for s, _ in curve_sft], [x for _, x in curve_sft], "o-")
    ax[0].set(title="SL-CAI: SFT loss", xlabel="step", ylabel="loss (answers)", ylim=(0, None))
    ax[1].plot(d["step"], d["rewards/margins"], "o-", label="margin")
    ax[1].plot(d["step"], d["rewards/accuracies"], "x--", label="accuracy")
    ax[1].axhline(0.5, ls=":", c="grey", label="accuracy by chance")
    ax[1].set(title="RL-CAI: DPO rewards", xlabel="step", ylabel="margin / share of pairs")
    ax[2].plot(d["step"], d["logps/chosen"], "o-", label="chosen")
    ax[2].plot(d["step"], d["logps/rejected"], "x--", label="rejected")
    ax[2].set(title="RL-CAI: log-probs", xlabel="step", ylabel="summed log-prob")
    for a in ax[1:]:
        a.legend(loc="best")
    plt.tight_layout()
    plt.show()


def plot_stages(results: dict[str, dict]) -> None:
    """Section 9's bars: each model's rates, greedy and sampled."""
    import matplotlib.pyplot as plt

    cols = list(next(iter(results.values())))
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    w = 0.8 / len(results)
    for k, (name, r) in enumerate(results.items()):
        bars = ax.bar([j + k * w for j in range(len(cols))], [r[c] for c in cols], w, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)  # a bar at 0.00 shows its value too
    goal = {True: "(lower is better)", False: "(higher is better)"}
    ticks = [COLUMNS.get(c, c) + "\n" + goal[c.startswith("refusal_benign")] for c in cols]
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(cols))], ticks)
    ax.set(xlabel="measure (greedy, or T=1 sampled)", ylabel="rate (grader / refusal detector)")
    ax.set(ylim=(0, 1.12), title="Each stage's harmlessness and its refusals of kind requests")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    plt.tight_layout()
    plt.show()
