"""Readings of notebook 12c (RLAIF): the judge's quality, the parsers, the labels, the DPO dashboard, the
rates before and after, the win rates and the summary. Every verdict is chosen by the measured values."""

from __future__ import annotations

import re

from helpers.judge import strict_label, substring_label
from helpers.readings import coin_noise, n_of, plural
from helpers.rlaif import strict_grade, true_preference
from helpers.tasks import grade

BEFORE = "policy before DPO"
RPO = ("confident labels + NLL (RPO)", "confident labels")
METRICS = ("harmless", "helpful", "harmless_sampled", "helpful_sampled")


def span(xs: list[float], fmt: str = ".2f") -> str:
    """'a–b' for a list of figures, or one figure when they all print the same."""
    lo, hi = f"{min(xs):{fmt}}", f"{max(xs):{fmt}}"
    return lo if lo == hi else f"{lo}–{hi}"


def listed(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


# ---------------------------------------------------------------- section 5: the judge
def judge_table(quality: dict, strict_q: dict | None = None) -> str:
    """The judges' measures as printed text, one row per judge, and the judge under the strict grader."""
    cols = (("first_order_agreement", "one order"), ("consistency", "consistency"))
    cols += (("letter_mass", "P(A)+P(B)"),)
    head = f"{'':27}{'agreement':>9}{'95% CI':>13}{'n':>4}" + "".join(f"{h:>13}" for _, h in cols)
    rows = quality | ({"judge, strict grader": strict_q} if strict_q else {})
    lines = [head]
    for name, q in rows.items():
        ci = f"{q['ci'][0]:.3f}-{q['ci'][1]:.3f}"
        rest = "".join(f"{q[k]:13.3f}" for k, _ in cols if k in q)
        lines.append(f"{name:27}{q['agreement']:9.3f}{ci:>13}{q['n']:4}{rest}")
    return "\n".join(lines)


def _flips(verdicts: list, truth: list[int]) -> tuple[int, int]:
    """(verdicts that averaging both orders turns from wrong to right, from right to wrong), against
    reading the first order alone; a tie after averaging counts as not right."""
    one = [(v.p_ab > 0.5) == (t == 0) for v, t in zip(verdicts, truth)]
    both = [v.label() == t for v, t in zip(verdicts, truth)]
    return sum(b and not o for o, b in zip(one, both)), sum(o and not b for o, b in zip(one, both))


def judge_quality(quality: dict, judged: dict | None = None, truth: list | None = None) -> str:
    """The judge's agreement against the untrained model's and a coin's, and how many verdicts averaging
    both orders changes."""
    base = "untrained policy as judge"
    jq, bq = quality["judge"], quality[base]
    (jlo, jhi), (blo, bhi) = jq["ci"], bq["ci"]
    if jlo > bhi and jlo > 0.5:
        beat = "lies above the untrained model's and a coin's 0.5: the judge beats the baseline"
    else:
        beat = (
            f"does not clear both the untrained model's ({blo:.2f}-{bhi:.2f}) and a coin's 0.5: this "
            "judge is not shown to judge, so its labels are not worth training on. Choose a larger "
            "judge, or check its prompt and letters, before it labels anything"
        )
    txt = (
        f"**Reading.** The judge agrees with the truth on {jq['agreement']:.2f} of {jq['n']} pairs "
        f"(95% CI {jlo:.2f}-{jhi:.2f}); that interval {beat}."
    )
    if judged and truth:
        fixed, broken = _flips(judged["judge"], truth)
        if fixed + broken == 0:
            txt += " Averaging both orders changes no verdict against the first order alone."
        else:
            txt += (
                f" Against the first order alone, averaging both orders turns {plural(fixed, 'verdict')} "
                f"from wrong to right and {broken} from right to wrong"
                + (
                    f", out of {jq['n']}: too few to show a benefit here. Averaging is for a judge "
                    "with a position bias"
                    + (
                        f"; this one keeps its verdict after a swap on {jq['consistency']:.2f} of pairs."
                        if jq["consistency"] >= 0.9
                        else "."
                    )
                    if abs(fixed - broken) <= 2
                    else "."
                )
            )
    txt += (
        f" The untrained model puts {bq['letter_mass']:.3f} of its probability on the two letters "
        f"and keeps its verdict after a swap on {bq['consistency']:.2f} of pairs"
    )
    if bq["letter_mass"] < 0.5 and bq["consistency"] < 0.1:
        ps = [v.p_first for v in judged[base]] if judged and base in judged else []
        within = f" (p within {min(ps):.3f}-{max(ps):.3f})" if ps else ""
        txt += f": it does not answer with a letter{within}"
    lo2, hi2 = round(blo, 2), round(bhi, 2)  # the coin, at the precision the interval is printed at
    if lo2 <= 0.5 <= hi2:
        edge = "at the edge of" if 0.5 in (lo2, hi2) else "inside"
        coin = f"{edge} a coin's interval: no usable signal"
    else:
        coin = "clear of a coin's 0.5" + (
            ", though a model that does not answer with a letter is not a judge to train on"
            if bq["letter_mass"] < 0.5
            else ""
        )
    return f"{txt}. Its agreement {bq['agreement']:.2f} ({blo:.2f}-{bhi:.2f}) is {coin}."


def _object_only(tests: tuple, held: list) -> list[int]:
    """Indices of the strict test's pairs that the world's grader calls even: the two answers differ
    only in the object (both help, or both refuse)."""
    task_of = {t.prompt: t for t in held}
    return [
        i
        for i, (q, a, b) in enumerate(zip(*tests[:3]))
        if true_preference(task_of[q], a, b) is None
    ]


def strict_judge(
    strict_q: dict | None, strict_v: list, tests: tuple, world: tuple, held: list
) -> str:
    """The judge against the strict grader: its agreement, and its p on the pairs that differ only in
    the object. `tests`, `world`: (questions, first, second, truth) under the strict and the world's
    grader."""
    if not strict_q:
        return ""
    task_of = {t.prompt: t for t in held}
    n_world = len(world[0])
    both = sum(
        true_preference(task_of[q], a, b, strict_grade) is not None for q, a, b in zip(*world[:3])
    )
    (lo, hi), n = strict_q["ci"], strict_q["n"]
    txt = (
        f"**Against the strict grader.** Of the {n_world} pairs the world's grader decides, "
        f"{n_world - both} have a passing answer about another thing: the strict grader calls them "
        f"even. On the same samples it decides {n} pairs, and the judge agrees on "
        f"{strict_q['agreement']:.2f} of them (95% CI {lo:.2f}-{hi:.2f})."
    )
    only = _object_only(tests, held)
    if not only:
        return (
            txt
            + " No pair differs only in the object, so this test cannot show whether the judge reads it."
        )
    ps = [strict_v[i].p_first for i in only]
    right = sum(strict_v[i].label() == tests[3][i] for i in only)
    if max(abs(p - 0.5) for p in ps) < 0.05:
        seen = (
            f"the judge's p stays within {min(ps):.3f}-{max(ps):.3f}: it cannot tell the two apart "
            "(it was trained on pairs that differ in refusing or helping only)"
        )
    else:
        seen = (
            f"the judge's p spreads from {min(ps):.2f} to {max(ps):.2f}: it reads something there"
        )
    return (
        f"{txt} {n_of(len(only), n)} differ only in the object (both help, or both refuse); there "
        f"{seen}, and its label is right on {n_of(right, len(only))}. So the judge's agreement "
        "above measures refusing against helping, not answering the request that was asked."
    )


def points(cal: list[tuple[float, float, int]]) -> int:
    """How many distinct points the calibration bins draw (bins at the same spot overlap)."""
    return len({(round(m, 2), round(f, 2)) for m, f, _ in cal})


def _cal_line(name: str, p: list[float], cal: list[tuple[float, float, int]]) -> str:
    """One calibration curve: how spread its soft labels are, and whether its bins sit on the diagonal."""
    sure = sum(x < 0.1 or x > 0.9 for x in p)
    n_bin = min(c[2] for c in cal)
    noise, gap = bar(n_bin), max(abs(c[0] - c[1]) for c in cal)
    fit = (
        f"within a bin's noise ({noise:.2f} at {n_bin} pairs a bin) of the diagonal"
        if gap <= noise
        else f"off the diagonal by {gap:.2f}, beyond a bin's noise ({noise:.2f}): its p is no frequency"
    )
    return (
        f"Under the {name}, {n_of(sure, len(p))} soft labels lie below 0.1 or above 0.9; its "
        f"{len(cal)} bins draw {plural(points(cal), 'distinct point')}, {fit}."
    )


def calibration(sets: dict[str, tuple[list, list]], cals: dict[str, list]) -> str:
    """The calibration curves (one per grader) and how much the soft labels' spread lets them show."""
    lines = [_cal_line(k, sets[k][0], c) for k, c in cals.items()]
    middle = sum(0.2 <= x <= 0.8 for p, _ in sets.values() for x in p)
    if middle < 10:
        tail = (
            f" Only {plural(middle, 'label')} lie between 0.2 and 0.8, so on this profile the plot "
            "cannot say whether a p of 0.7 means 70 %. A Colab run's human-labelled hh-rlhf pairs "
            "are hard for its judge and spread p across the range: there the plot is the test."
        )
    else:
        tail = f" {plural(middle, 'label')} between 0.2 and 0.8 fill the middle bins."
    return "**Reading the plots.** " + " ".join(lines) + tail


def length(lb: dict) -> str:
    """Whether the judge prefers longer answers more often than the truth does."""
    j_long, t_long, n_long = lb["judge_prefers_longer"], lb["truth_prefers_longer"], lb["n"]
    if not n_long:
        return "No judged pair has answers of unequal length: length bias is not measured here."
    if round(abs(j_long - t_long) * n_long) <= 1:
        return (
            f"Over {n_long} pairs of unequal length the judge picks the longer answer as often as "
            f"the truth does ({j_long:.0%} against {t_long:.0%}, within one pair): no length bias "
            "of its own here."
        )
    return (
        f"Over {n_long} pairs of unequal length the judge picks the longer answer {j_long:.0%} "
        f"of the time and the truth {t_long:.0%}: "
        + (
            "a bias toward length, the one real judges are known for. Compare answers of equal "
            "length, or penalise length, before training on its labels."
            if j_long > t_long
            else "a bias toward short answers. Check what the short answers it prefers say "
            "before training on its labels."
        )
    )


# ---------------------------------------------------------------- section 5: parsing written verdicts
def _abstains(share: float, n: int) -> str:
    """What the strict parser's abstention share means."""
    if share >= 1:
        return f"abstains on all {n} (100%): no reply is a bare letter, and it says so instead of guessing"
    if share <= 0:
        return "abstains on none: every reply is a bare letter"
    return f"abstains on {share:.0%} and reads the rest"


def _substring(a_share: float, noise: float) -> str:
    """What the substring test's share of A labels means."""
    if a_share >= 1:
        return "it labelled every pair A: each reply contains a capital A somewhere"
    if a_share <= 0:
        return "it labelled every pair B: no reply contains a capital A"
    if a_share > 0.5 + noise:
        return (
            f"A on {a_share:.0%}: it leans to A, because sentences such as 'Answer B is better' "
            "contain a capital A"
        )
    if a_share < 0.5 - noise:
        return (
            f"A on {a_share:.0%}, B on the rest: a reply without a capital A counts as B, and most "
            "replies have none"
        )
    return f"A on {a_share:.0%}, wherever a capital A happens to appear, and B on the rest"


def parser_table(texts: dict[str, list[str]], table: dict[str, dict], truth: list[int]) -> str:
    """The parsers' scores per writer as printed text, and the instruct model's first three verdicts as
    the substring test reads them."""
    first = next(iter(table.values()))
    lines = [f"{'written by':32}{'n':>4}" + "".join(f"{k:>19}" for k in first)]
    for name, row in table.items():
        lines.append(f"{name:32}{len(texts[name]):4}" + "".join(f"{x:19.2f}" for x in row.values()))
    lines += ["", "the instruct model's first verdicts, as the substring test reads them:"]
    sent = list(texts.values())[1]
    for t, y in zip(sent[:3], truth):
        lines.append(f"  says {'AB'[substring_label(t)]} (truth {'AB'[y]}): {t.strip()[:80]!r}")
    return "\n".join(lines)


def parsers(texts: dict[str, list[str]], table: dict[str, dict]) -> str:
    """What the substring test and the strict parser make of a letter, a sentence and the untrained model's text."""
    letter_name, sent_name, untrained = list(texts)
    letter, sent = table[letter_name], table[sent_name]
    n_j, n_s = len(texts[letter_name]), len(texts[sent_name])
    n_bare = sum(strict_label(t) is not None for t in texts[letter_name])
    named = sum(bool(re.search(r"\b[AB]\b", t)) for t in texts[sent_name])
    noise = coin_noise(n_s)  # a coin's agreement over n pairs: 0.5 give or take about this
    s_agree = sent["substring: agrees"]
    if abs(s_agree - 0.5) <= noise:
        coin = f"within a coin's noise (0.5 ± {noise:.2f}): these labels carry no verdict"
    else:
        side = "above" if s_agree > 0.5 else "below"
        coin = f"{side} a coin's 0.5 by more than its noise ({noise:.2f})"
    if n_bare == n_j:
        first = (
            f"Asked for one letter, our judge wrote a bare letter in all {n_j} replies, so the two "
            f"parsers agree with the truth alike ({letter['substring: agrees']:.2f} and "
            f"{letter['strict: agrees']:.2f}): on a bare letter the bug cannot show."
        )
    else:
        first = (
            f"Asked for one letter, our judge wrote a bare letter in {n_bare} of {n_j} replies; the "
            f"substring test agrees {letter['substring: agrees']:.2f} with the truth, the strict "
            f"parser {letter['strict: agrees']:.2f} (it abstains on the rest)."
        )
    u = table[untrained]
    return (
        f"**Reading the parsers.** {first} Asked for a sentence, the instruct model named A or B as "
        f"a word in {named} of its {n_s} replies. The substring test labelled all {n_s} anyway "
        f"({_substring(sent['substring: says A'], noise)}) and agrees {s_agree:.2f} with the truth, "
        f"{coin}. The strict parser {_abstains(sent['strict: abstains'], n_s)}. On the untrained "
        f"policy's text the substring test agrees {u['substring: agrees']:.2f} and the strict parser "
        f"abstains on {u['strict: abstains']:.0%}. A DPO set built with the "
        "substring test looks complete and teaches noise; this course's judge reads the two "
        "letters' probabilities and never parses text."
    )


# ---------------------------------------------------------------- section 6: the labels
def off_object(train_prompts: list, train_pairs: list, tr: list) -> tuple[int, int]:
    """(answers the world's grader passes that fail the strict one, answers it passes) among the pairs
    with a true preference: a passing answer about another thing (or, refusing, another verb)."""
    passing = [
        (t, b if p else a) for t, (a, b), p in zip(train_prompts, train_pairs, tr) if p is not None
    ]
    return sum(not strict_grade(t, ans) for t, ans in passing), len(passing)


def _kept(audit: dict, train_pairs: list) -> str:
    """Why fewer hard-label pairs than sampled pairs remain."""
    n, kept = len(train_pairs), audit["hard"]["labelled"]
    same = sum(a == b for a, b in train_pairs)
    if kept >= n:
        return f"All {n} sampled pairs got a hard label."
    txt = (
        f"Of the {n} sampled pairs, {same} are one answer written twice: the judge gives them "
        "p = 0.5 exactly (one prompt in both orders), and `preference_rows` drops them"
    )
    if (even := n - kept - same) > 0:
        txt += f"; {even} more pairs of different answers got p = 0.5 exactly and are dropped too"
    return txt + f"; {kept} remain."


def labels(
    audit: dict,
    train_prompts: list,
    train_pairs: list,
    tr: list,
    example_row: dict,
    strict: dict | None = None,
) -> str:
    """Why pairs were dropped, how many DPO labels have a true preference (under the world's grader,
    and under the strict one: `strict`, its audit), and how many passing answers name the wrong thing."""
    hard, conf = audit["hard"], audit["confident"]
    kept = _kept(audit, train_pairs)
    if not hard["known"]:
        return (
            f"**Reading the labels.** {kept} No grader knows these prompts, so no label can be "
            "checked here: the judge's agreement with human labels in section 5 is the only check."
        )
    unknown = hard["labelled"] - hard["known"]
    share = unknown / hard["labelled"] if hard["labelled"] else 0.0
    conf_right = (
        f"the judge is right on {conf['right']:.1%} of those" if conf["known"] else "none checked"
    )
    txt = (
        f"{kept} Of these, {unknown} ({share:.0%}) have no true preference: "
        f"{'more than half' if share > 0.5 else 'that share'} of what the hard-label run learns "
        f"from teaches nothing true. The confident filter keeps {conf['labelled']} pairs, "
        f"{conf['known']} of them with a true preference, and {conf_right}."
    )
    # the grader checks refusal or help and the verb; does a passing answer name the same thing?
    n_off, n_passing = off_object(train_prompts, train_pairs, tr)
    if n_passing:
        txt += (
            " That truth is coarse: the world's grader checks refusing against helping, not the "
            f"object, and {n_of(n_off, n_passing)} answers it passes in these pairs fail the strict "
            "grader."
        )
    if strict:
        sh, sc = strict["hard"], strict["confident"]
        txt += (
            f" Under the strict grader only {n_of(sh['known'], hard['labelled'])} hard-label pairs "
            f"carry a true preference (the judge right on {sh['right']:.0%} of them), and "
            f"{n_of(sc['known'], conf['labelled'])} confident ones (right on {sc['right']:.0%})."
        )
    row_q, row_a = example_row["prompt"][0]["content"], example_row["chosen"][0]["content"]
    row_task = next((t for t in train_prompts if t.prompt == row_q), None)
    off_row = row_task and grade(row_task, row_a) and not strict_grade(row_task, row_a)
    if off_row and row_task.meta.get("thing"):
        txt += (
            f" The row printed above is such a case: the request is about "
            f"{row_task.meta['thing']}, the chosen answer is not, and grader, judge and DPO all "
            "treat it as the better answer."
        )
    return f"**Reading the labels.** {txt}"


# ---------------------------------------------------------------- section 7: the DPO dashboard
def dashboard(dash: dict[str, dict], beta: float) -> str:
    """The DPO curves at their last logged step, and whether the chosen answers' log-probs fell."""
    logged = {k: d for k, d in dash.items() if d["step"]}
    if not logged:
        return (
            "No training step was logged here (too few steps): the dashboard has nothing to read."
        )
    margins = [d["rewards/margins"][-1] for d in logged.values()]
    accs = [d["rewards/accuracies"][-1] for d in logged.values()]
    chance = "above" if min(accs) > 0.5 else "not above" if max(accs) <= 0.5 else "not all above"
    txt = (
        f"At the last logged step (step {max(d['step'][-1] for d in logged.values())}) the "
        f"reward margins are {span(margins)}: with beta = {beta}, the policy's log-ratio of chosen "
        f"over rejected answers has moved {span([m / beta for m in margins], '.1f')} nats from "
        f"the reference's. Reward accuracy ends at {span(accs)}, {chance} chance (0.5). The "
        "curves zigzag (one batch per point): read their direction. The soft-label run draws "
        "pairs in both orders, so its 'chosen' column mixes the judge's chosen and rejected "
        "answers and its margin should stay smaller."
    )
    trend = {k: d for k, d in logged.items() if len(d["step"]) > 1}
    moved = {k: d["logps/chosen"][-1] - d["logps/chosen"][0] for k, d in trend.items()}
    fell = [k for k, c in moved.items() if c < 0]
    if not trend:
        txt += " With one logged step there is no trend to read."
    elif fell:
        txt += (
            f" From the first to the last logged step the chosen answers' log-probs fell in "
            f"{len(fell)} of {len(moved)} runs ({listed(fell)}): DPO optimizes the margin, and it "
            "can lower the answers it prefers along with the rejected ones; the NLL term of the RPO "
            "run is there to stop that."
        )
    else:
        txt += " The chosen answers' log-probs did not fall in any run: no answer was traded away."
    c0, c1 = moved.get(RPO[1]), moved.get(RPO[0])
    if c0 is not None and c1 is not None:
        if abs(c1 - c0) < 0.05:
            word = "a difference under 0.05 nats, too small to matter, so the NLL term changed nothing here."
        elif c1 > c0:
            word = "the term kept the chosen answers likelier."
        else:
            word = "the term did not keep the chosen answers likelier."
        txt += f" Chosen log-prob change: {c0:+.2f} without the NLL term, {c1:+.2f} with it: {word}"
    return f"**Reading the dashboard.** {txt}"


# ---------------------------------------------------------------- section 8: before and after
def bar(n: int) -> float:
    """Two standard errors of a rate of 0.5 over n answers, sqrt(1/n): below it a difference could be chance."""
    return (1 / n) ** 0.5 if n else 0.0


def apart(x: float, y: float, n: int) -> bool:
    """Whether two rates over n answers differ by more than the noise bar."""
    return abs(x - y) > bar(n) if n else False


def _sizes(held: list) -> tuple[int, int]:
    """(harmful requests, kind requests) among the held-out tasks."""
    return sum(t.family == "unsafe" for t in held), sum(t.family == "benign" for t in held)


def _trained(results: dict) -> dict:
    """The DPO runs' results, by label scheme."""
    return {k.removeprefix("DPO, "): r for k, r in results.items() if k != BEFORE}


def _graded(results: dict) -> bool:
    """Whether a grader measured the rates (tiny profile)."""
    return "harmless" in results[BEFORE]


def _help_lost(results: dict, held: list) -> dict[str, list[str]]:
    """Runs that kept helpfulness, lost it beyond noise (greedy, sampled) or lost a little within noise."""
    b0, trained, n_kind = results[BEFORE], _trained(results), _sizes(held)[1]

    def lost(r: dict, key: str, n: int) -> bool:
        """Whether run r lost helpfulness on key beyond noise."""
        return r[key] < b0[key] and apart(r[key], b0[key], n)

    kept = [k for k, r in trained.items() if r["helpful"] >= b0["helpful"]]
    paid = [k for k, r in trained.items() if lost(r, "helpful", n_kind)]
    return {
        "kept": kept,
        "paid": paid,
        "noisy": [k for k in trained if k not in kept + paid],
        "paid_sampled": [k for k, r in trained.items() if lost(r, "helpful_sampled", 4 * n_kind)],
    }


def table(results: dict, strict: dict) -> str:
    """The rates before and after DPO, each as 'world's grader/strict grader', the answer length and
    the second judge's win rate, as printed text."""
    cols = [c for c in METRICS if c in results[BEFORE]]
    heads = [c.replace("_sampled", " T=1") for c in cols]
    lines = [f"{'rates: world/strict grader':34}" + "".join(f"{h:>14}" for h in heads)]
    lines[0] += ("  tokens" if cols else "") + "  win rate vs before (2nd judge)"
    for name, r in results.items():
        s = strict.get(name, {})
        figs = "".join(
            f"{r[c]:.3f}/{s[c]:.3f}".rjust(14) if c in s else f"{r[c]:14.3f}" for c in cols
        )
        figs += f"{r['answer_tokens']:8.1f}" if cols else ""
        wr = r.get("win_rate_vs_before")
        wtxt = (
            f"{wr['win_rate']:.2f} [{wr['ci'][0]:.2f}, {wr['ci'][1]:.2f}] "
            f"W{wr['wins']}/T{wr['ties']}/L{wr['losses']}"
            if wr
            else "-"
        )
        lines.append(f"{name:34}{figs}  {wtxt}")
    return "\n".join(lines)


def chart(results: dict, held: list, strict: dict | None = None) -> str:
    """The bar chart: how far DPO moved harmlessness, and which runs paid for it in helpfulness, by the
    world's grader (`strict`: the same policies' rates by the strict grader, drawn beside them)."""
    if not _graded(results):
        return (
            "**Reading the chart.** No grader knows these prompts, so no graded rate is measured "
            "here: the second judge's win rates below are the only outcome, and a win rate alone "
            "cannot show over-refusal."
        )
    b0, trained, found = results[BEFORE], _trained(results), _help_lost(results, held)
    n_kind = _sizes(held)[1]
    hs = {k: r["harmless"] for k, r in trained.items()}
    lo_k, hi_k = min(hs, key=hs.get), max(hs, key=hs.get)
    paid = listed(f"{k} ({trained[k]['helpful']:.2f})" for k in found["paid"])
    reach = (
        f"{hs[lo_k]:.2f} in every run"
        if hs[lo_k] == hs[hi_k]
        else f"between {hs[lo_k]:.2f} ({lo_k}) and {hs[hi_k]:.2f} ({hi_k})"
    )
    txt = (
        f"DPO took the greedy harmless rate from {b0['harmless']:.2f} to {reach}. Greedy, "
        + (f"the {listed(found['kept'])} runs kept" if found["kept"] else "no run kept")
        + f" helpfulness at {b0['helpful']:.2f}"
        + (f"; {paid} lost it beyond noise" if paid else "")
        + (f"; {listed(found['noisy'])} lost a little, within noise" if found["noisy"] else "")
        + f". Sampled at T=1 ({b0['helpful_sampled']:.2f} before), "
        f"{len(found['paid_sampled'])} of {len(trained)} runs lost helpfulness beyond noise. "
        f"(The noise bar: {bar(n_kind):.2f} greedy, {bar(4 * n_kind):.2f} sampled.)"
    )
    if found["paid"] or found["paid_sampled"]:
        txt += (
            " That is over-refusal, the cost Bai et al. report for harmlessness training. A "
            "practitioner would add pairs on kind requests (or up-weight them) and retrain."
        )
    if hs[lo_k] <= b0["harmless"]:
        txt += f" The {lo_k} run did not raise the harmless rate: it did not pay."
    elif hs[lo_k] < 0.9:
        txt += (
            f" The {lo_k} run still serves {1 - hs[lo_k]:.0%} of harmful requests greedily: better "
            f"than the {b0['harmless']:.2f} it started from, but far from safe enough to ship."
        )
    if strict and _graded(strict):
        txt += (
            " The solid part of each bar is what the strict grader passes too; the reading after "
            "the comparisons compares the two graders."
        )
    return f"**Reading the chart.** {txt}"


def _vs(results: dict, held: list, a: str, b: str, metric: str) -> str:
    """Run a's rate against run b's on one metric: both figures, and whether they differ."""
    n_bad, n_kind = _sizes(held)
    n = (n_bad if metric.startswith("harmless") else n_kind) * (
        4 if metric.endswith("sampled") else 1
    )
    x, y = _trained(results)[a][metric], _trained(results)[b][metric]
    word = "within noise of" if not apart(x, y, n) else "above" if x > y else "below"
    return f"{x:.3f} {word} {y:.3f}"


def _rates(results: dict, held: list, a: str, b: str) -> str:
    """All four rates of run a against run b."""
    return "; ".join(
        f"{m.replace('_sampled', ' at T=1')} {_vs(results, held, a, b, m)}" for m in METRICS
    )


def _same(results: dict, held: list, a: str, b: str) -> bool:
    """Whether two runs agree within noise on all four rates."""
    return all("within noise" in _vs(results, held, a, b, m) for m in METRICS)


def _label_verdicts(results: dict, held: list) -> dict[str, object]:
    """The three one-change comparisons' verdicts: the confident filter, soft labels, the NLL term."""
    hc, hh = "confident labels", "hard labels"
    further = any(
        "above" in _vs(results, held, hc, hh, m) for m in ("harmless", "harmless_sampled")
    )
    costlier = any("below" in _vs(results, held, hc, hh, m) for m in ("helpful", "helpful_sampled"))
    soft_same, nll_same = _same(results, held, "soft labels", hh), _same(results, held, *RPO)
    return {
        "further": further,
        "costlier": costlier,
        "soft_same": soft_same,
        "nll_same": nll_same,
        "filter": (
            "the confident filter " + ("moved harmlessness further" if further else "did not pay")
        )
        + (" and cost more helpfulness" if costlier else ""),
        "soft": "soft labels landed on hard ones"
        if soft_same
        else "soft labels parted from hard ones",
        "nll": "the NLL term changed nothing beyond noise"
        if nll_same
        else "the NLL term moved the rates",
    }


def _pair_rates(results: dict, held: list, a: str, b: str) -> str:
    """Run a's rates against run b's: all four figures, or one phrase when all four are within noise."""
    if _same(results, held, a, b):
        gap = max(abs(_trained(results)[a][m] - _trained(results)[b][m]) for m in METRICS)
        return f"all four rates within noise of each other (largest gap {gap:.3f})"
    return _rates(results, held, a, b)


def _unsure(rows: list[dict]) -> int:
    """Pairs whose judge's p for the chosen answer is below 0.75: where soft and hard targets differ."""
    return sum(r["p_chosen"] < 0.75 for r in rows)


def _chosen_change(dash: dict | None, run: str) -> float | None:
    """How far a run's chosen answers' log-prob moved from the first to the last logged step."""
    d = (dash or {}).get(run)
    return d["logps/chosen"][-1] - d["logps/chosen"][0] if d and len(d["step"]) > 1 else None


def comparisons(
    results: dict,
    held: list,
    confident_rows: list,
    train_prompts: list,
    steps: int,
    hard_rows: list | None = None,
    dash: dict | None = None,
) -> str:
    """Each label scheme against another, one change at a time, within the noise bar; for a null, what
    to conclude and what a run where the two differ would need."""
    if not _graded(results):
        return ""
    v = _label_verdicts(results, held)
    family_of = {t.prompt: t.family for t in train_prompts}
    fams = [family_of.get(r["prompt"][0]["content"]) for r in confident_rows]
    unsafe_share = fams.count("unsafe") / len(fams) if fams else 0.0
    why = (
        "the filter paid on harmlessness: the pairs with no true preference dilute what the "
        f"hard-label run learns in {steps} steps, and {unsafe_share:.0%} of the confident "
        "pairs are harmful requests, so that run learns to refuse more than to help"
        if v["further"]
        else "the filter did not pay: fewer, surer pairs moved harmlessness no further (lower "
        "the margin, the first exercise, or train longer)"
    )
    confident = (
        "**Hard against confident labels** (the same loss, fewer and surer pairs): "
        f"{_pair_rates(results, held, 'confident labels', 'hard labels')}. Here {why}."
        + (" It cost helpfulness beyond noise: over-refusal, named above." if v["costlier"] else "")
    )
    rows = hard_rows or []
    unsure = (
        f" Here {n_of(_unsure(rows), len(rows))} pairs have a judge's p below 0.75." if rows else ""
    )
    soft = (
        "**Hard against soft labels** (the same pairs, the judge's p as the target): "
        f"{_pair_rates(results, held, 'soft labels', 'hard labels')}. "
        + (
            "Conclude: soft labels trained the same policy as hard ones here, so this page is no "
            "evidence for or against them. At p near 0.5 both orders are drawn about equally and "
            f"cancel; only sure pairs teach.{unsure} To separate the two, a run needs a judge unsure "
            "on many pairs (the presets' judges on human labels) and enough steps (an exercise)."
            if v["soft_same"]
            else "The two runs part: read which rates moved, and at what cost."
        )
    )
    c0 = _chosen_change(dash, RPO[1])
    guard = (
        f" Without it the chosen answers' log-prob moved {c0:+.2f} (section 7)"
        + (": it did not fall, so there was nothing to guard against." if c0 >= 0 else ".")
        if c0 is not None
        else ""
    )
    nll = (
        "**Confident labels with and without the NLL term** (supervised learning on the judge's "
        f"chosen answers): {_pair_rates(results, held, *RPO)}. "
        + (
            "Conclude: the term changed nothing here, so this page is no evidence for or against "
            f"RPO.{guard} It matters in a run where DPO pushes the chosen answers down with the "
            "rejected ones (a longer run, say): watch the chosen log-prob there."
            if v["nll_same"]
            else "The term changed the outcome: weigh what it bought against what it cost."
        )
    )
    return "\n\n".join((confident, soft, nll))


def strict_rates(results: dict, strict: dict, held: list) -> str:
    """The rates by the strict grader against the world's: how much of DPO's gain survives, how many
    passing answers name the request's object, and whether the label comparisons keep their verdicts."""
    if not _graded(results) or not strict or not _graded(strict):
        return ""
    b0, s0 = results[BEFORE], strict[BEFORE]
    tw, ts_ = _trained(results), _trained(strict)
    n_bad, n_kind = _sizes(held)

    def share(r: dict, s: dict) -> float | None:
        """Of the answers the world's grader passes (greedy), the share the strict grader passes."""
        passed = r["harmless"] * n_bad + r["helpful"] * n_kind
        return (s["harmless"] * n_bad + s["helpful"] * n_kind) / passed if passed else None

    before = share(b0, s0)
    after = [x for k in tw if (x := share(tw[k], ts_[k])) is not None]
    raised = [
        k
        for k in ts_
        if ts_[k]["harmless"] > s0["harmless"] and apart(ts_[k]["harmless"], s0["harmless"], n_bad)
    ]
    lost = [
        k
        for k in ts_
        if ts_[k]["helpful"] < s0["helpful"] and apart(ts_[k]["helpful"], s0["helpful"], n_kind)
    ]
    txt = (
        f"**Under the strict grader.** Before DPO the policy helps with {b0['helpful']:.2f} of kind "
        f"requests by the world's grader and {s0['helpful']:.2f} by the strict one. Greedy, DPO "
        f"moved the strict harmless rate from {s0['harmless']:.2f} to "
        f"{span([r['harmless'] for r in ts_.values()])} (the world's: "
        f"{span([r['harmless'] for r in tw.values()])}); "
        + (
            f"{listed(raised)} raised it beyond noise"
            if raised
            else "no run raised it beyond noise"
        )
        + "; "
        + (
            f"{listed(lost)} lost helpfulness beyond noise"
            if lost
            else "no run lost helpfulness beyond noise"
        )
        + "."
    )
    if before is not None and after:
        txt += (
            f" Of the greedy answers the world's grader passes, the strict one passes {before:.0%} "
            f"before DPO and {span(after, '.0%')} after"
        )
        if max(abs(x - before) for x in after) < 0.1:
            txt += (
                ": DPO taught the choice between refusing and helping and left the object as it "
                "was; the judge was trained on that choice only."
            )
        else:
            way = "rose" if sum(after) / len(after) > before else "fell"
            txt += f": the share of passing answers that name the right object {way} with DPO."
    vw, vs = _label_verdicts(results, held), _label_verdicts(strict, held)
    moved = [k for k in ("filter", "soft", "nll") if vw[k] != vs[k]]
    txt += (
        " The three label comparisons keep their verdicts under the strict grader."
        if not moved
        else " Under the strict grader: " + "; ".join(vs[k] for k in moved) + "."
    )
    return (
        txt
        + " For safety the world's harmless rate counts (refusing the wrong thing helps no harm); "
        "for helpfulness the strict one does (help with another person's box is no help). A "
        "practitioner would add pairs that differ only in the object, and a judge that sees it."
    )


def wins(results: dict, n_eval: int, held: list) -> str:
    """The second judge's win rates against the policy before DPO, with wins, ties and losses."""
    trained = _trained(results)
    ws = {k: r["win_rate_vs_before"] for k, r in trained.items() if "win_rate_vs_before" in r}
    above = [k for k, w in ws.items() if w["ci"][0] > 0.5]
    lost = [k for k, w in ws.items() if w["win_rate"] < 0.5]
    best = max(ws, key=lambda k: ws[k]["win_rate"]) if ws else None
    below_best = [k for k in ws if ws[k]["ci"][1] < ws[best]["ci"][0]] if best else []
    tail = ""
    if lost:
        they = "that run" if len(lost) == 1 else "those runs"
        tail += f"Below 0.5, worse than where DPO started: {listed(lost)}; {they} did not pay. "
    if not above:
        tail += "By the second judge, no run is shown to beat the policy it started from. "
    if below_best:
        tail += f"The {best} run's interval lies above those of the {listed(below_best)} runs. "
    if _graded(results) and ws:
        b0, (n_bad, n_kind) = results[BEFORE], _sizes(held)
        fits = all(
            w["wins"] == round((trained[k]["harmless"] - b0["harmless"]) * n_bad)
            and w["losses"] == round((b0["helpful"] - trained[k]["helpful"]) * n_kind)
            for k, w in ws.items()
        )
        if fits:
            tail += (
                "Each run's wins match the number of harmful requests it newly refuses greedily, and "
                "its losses the number of kind requests it newly refuses: on this world the second "
                "judge's verdict is the world's grader's. "
            )
        elif any(w["losses"] for w in ws.values()):
            tail += "The losses are plausibly refusals of kind requests. "
    return (
        f"**The second judge** prefers {len(above)} of {len(ws)} runs to the policy before DPO "
        f"with an interval above 0.5 (the table's last column; {n_eval} comparisons a run). "
        f"{tail}On the tiny profile the second judge learned the same rule as the first, "
        "so its win rate is a second opinion, not an independent one."
    )


def identical(
    same: dict[tuple[str, str], int], answers: dict[str, list[str]], results: dict
) -> str:
    """Why two runs can show the same wins, ties and losses: how many greedy answers they share."""
    n, before = len(answers[BEFORE]), answers[BEFORE]
    ws = {
        k: r["win_rate_vs_before"]
        for k, r in _trained(results).items()
        if "win_rate_vs_before" in r
    }

    def counts(k: str) -> tuple | None:
        """A run's (wins, ties, losses)."""
        return (ws[k]["wins"], ws[k]["ties"], ws[k]["losses"]) if k in ws else None

    parts = []
    for (a, b), k in same.items():
        if k == n:
            what = "the second judge scores identical pairs"
        elif counts(a) is not None and counts(a) == counts(b):
            what = f"{n - k} answers differ, and the counts match all the same"
        else:
            what = f"{n - k} answers differ"
        parts.append(
            f"the {a} and {b} runs give the same greedy answer on {k} of {n} prompts: {what}"
        )
    joined = "; ".join(parts)
    txt = "**Same answers, same counts?** " + joined[:1].upper() + joined[1:] + "."
    kinds = max(len(set(col)) for col in zip(*answers.values()))
    if kinds <= 2 and _graded(results):
        txt += (
            f" No prompt gets more than {kinds} different greedy answers from the {len(answers)} "
            "policies: the tiny policy was trained on two templates by design, help ('Sure. To …') "
            "or refuse ('I will not help you …'), and its first token picks one. Two runs that "
            "refuse the same requests write the same answers."
        )
    ties = {k: sum(x == y for x, y in zip(answers[k], before)) for k in ws}
    if any(ties.values()):
        n_same, n_ties = sum(ties.values()), sum(ws[k]["ties"] for k in ties)
        most = "Most" if 2 * n_same > n_ties else "Some"
        txt += (
            f" {most} ties ({n_same} of {n_ties} over the runs) are an answer identical to the "
            "policy's before DPO, which the judge calls even (p = 0.5)."
        )
    differ = [
        (a, b)
        for a, b in same
        if any(results[f"DPO, {a}"].get(m) != results[f"DPO, {b}"].get(m) for m in METRICS[2:])
    ]
    if same and len(differ) == len(same) and _graded(results):
        txt += (
            " The runs are still different models: sampled at T=1 their rates differ (the table "
            "above), because sampling reaches past the first token's top choice."
        )
    return txt.rstrip()


# ---------------------------------------------------------------- summary
def summary(
    quality: dict,
    results: dict,
    held: list,
    strict_q: dict | None = None,
    strict: dict | None = None,
) -> str:
    """The notebook's lessons as this run measured them: the judge, the truth it is measured against,
    the trade-off, the label schemes."""
    jq, bq = quality["judge"], quality["untrained policy as judge"]
    graded = _graded(results)
    if graded:
        found, v = _help_lost(results, held), _label_verdicts(results, held)
        trade = (
            f"Greedy, the runs that lost helpfulness beyond noise: {listed(found['paid']) or 'none'}; "
            f"sampled, {len(found['paid_sampled'])} of {len(_trained(results))} runs lost it. "
            "Quote the helpful figures beside the harmless ones."
        )
        labels_txt = (
            f"Here {v['filter']}; {v['soft']}; {v['nll']}. Where two schemes land on the same "
            "policy, this page is no evidence for or against either (section 8 says what would "
            "separate them)."
        )
    else:
        trade = "No grader here: only the win rates above, which cannot show over-refusal."
        labels_txt = "Without a grader the label schemes are compared only by the win rates above."
    truth = ""
    if strict_q and strict and graded and _graded(strict):
        tw, ts_ = _trained(results), _trained(strict)
        truth = (
            "- **The truth.** The world's grader checks refusing against helping, not the request's "
            f"object. Against a strict grader that checks it too, the judge agrees "
            f"{strict_q['agreement']:.2f} ({strict_q['ci'][0]:.2f}-{strict_q['ci'][1]:.2f}, "
            f"{strict_q['n']} pairs) instead of {jq['agreement']:.2f}, and DPO's greedy harmless rate "
            f"reaches {span([r['harmless'] for r in ts_.values()])} instead of "
            f"{span([r['harmless'] for r in tw.values()])} (helpful: "
            f"{span([r['helpful'] for r in ts_.values()])} instead of "
            f"{span([r['helpful'] for r in tw.values()])}). A figure under the world's grader "
            "measures whether the policy refuses, not whether it answers the request asked.\n"
        )
    return (
        "- **The judge.** Letter log-probabilities in both orders, averaged, give a soft label you can "
        f"measure: agreement {jq['agreement']:.2f} ({jq['ci'][0]:.2f}-{jq['ci'][1]:.2f}) against "
        f"{bq['agreement']:.2f} for the untrained model. On the tiny profile the judge is measured "
        "in distribution: it was trained on this rule.\n"
        + truth
        + "- **The trade-off.** "
        + trade
        + f"\n- **Labels.** {labels_txt}"
    )
