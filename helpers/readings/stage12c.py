"""Readings of notebook 12c (RLAIF): the judge's quality, the parsers, the labels, the DPO dashboard, the
rates before and after, the win rates and the summary. Every verdict is chosen by the measured values."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap

from helpers import profiles, runtime
from helpers.judge import strict_label, substring_label, wilson_ci
from helpers.readings import coin_noise, n_of, plural
from helpers.rlaif import (
    TIE,
    capital_a_source,
    owner_counts,
    paired_difference,
    quoted_answer,
    running_mean,
    strict_grade,
    true_preference,
)
from helpers.tasks import grade
from helpers.world.families import NAMES

BEFORE = "policy before DPO"
BASE = "policy, not trained as a judge"  # section 5's baseline judge
RPO = ("confident labels + NLL (RPO)", "confident labels")
MATCHED = (
    "hard labels, matched passes"  # the hard-label run with as many passes as the confident one
)
HARMLESS = ("harmless", "harmless_sampled")
METRICS = ("harmless", "helpful", "harmless_sampled", "helpful_sampled")
SECTION1 = ("As an AI, I prefer B.", "(B) is better than (A).")  # the parser section's cases


def span(xs: list[float], fmt: str = ".2f") -> str:
    """'a–b' for a list of figures, or one figure when they all print the same."""
    lo, hi = f"{min(xs):{fmt}}", f"{max(xs):{fmt}}"
    return lo if lo == hi else f"{lo}–{hi}"


def listed(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


# ---------------------------------------------------------------- the run time on Colab
PARTS = {  # the runtime table's names of parts, in words
    "second judge: each run vs before (sec. 8)": "the second judge comparing each run with the "
    "policy before DPO (sec. 8)",
}


def runtime_note(rows: dict | None = None, presets: dict | None = None) -> str:
    """The GPU estimate per card, its largest part, and why a faster card can take as long: `rows` the
    estimate per preset (total, low end, parts; default: the course's runtime table), `presets` the GPU
    presets (their DPO steps and policy; default: `profiles.GPU_PRESETS`)."""
    if rows is None:
        rows = json.loads(runtime.RESULTS.read_text())["stages"]["12c"]
    presets = presets or profiles.GPU_PRESETS
    steps = {k: p["budgets"]["train_steps"] for k, p in presets.items()}
    policies = {k: p["models"]["policy"] for k, p in presets.items()}
    cards = {"t4": "T4", "l4": "L4", "a100": "A100 40GB"}
    lines = [
        "Estimated GPU time on Colab (from the models' sizes and the cards' rates, not measured):"
    ]
    for key, r in rows.items():
        minutes, part = r["parts"][0]
        part = PARTS.get(part, part)
        low, high = round(r.get("low", r["minutes"])), round(r["minutes"])
        lines.append(
            f"  {cards.get(key, key):10} {low}-{high} min; largest part: {part} ({minutes:.1f} min); "
            f"policy {policies[key].split('/')[-1]}, {steps[key]} steps a DPO run"
        )
    dpo = {k: next((m for m, what in r["parts"] if "DPO" in what), 0.0) for k, r in rows.items()}
    slow = max(dpo, key=dpo.get)
    lines.append(
        f"The {cards.get(slow, slow)} spends longest on DPO: its preset trains the largest policy, the "
        "most steps. Its DPO part counts "
        + next((w.split(" (sec")[0] for _, w in rows[slow]["parts"] if "DPO" in w), "the DPO runs")
        + "."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- the algorithm's source, shown
def core(fn, drop: tuple[str, ...] = ()) -> str:
    """A function's source as a Markdown code block, without its docstring and comment lines. A line that
    starts with one of `drop` is left out with the block it opens (an `if ...:` with its body, a call's
    `(` up to its `)`); `...` marks where lines were left out."""
    src = textwrap.dedent(inspect.getsource(fn))
    body = ast.parse(src).body[0].body
    lines = src.splitlines()
    if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        lines = lines[: body[0].lineno - 1] + lines[body[0].end_lineno :]
    out, skip_below = [], None
    for line in lines:
        text, indent = line.strip(), len(line) - len(line.lstrip())
        if skip_below is not None:
            if indent > skip_below or (text.startswith(")") and indent == skip_below):
                continue
            skip_below = None
        if text.startswith("#"):
            continue
        if drop and text.startswith(drop):
            skip_below = indent if text.endswith((":", "(")) else None
            if not (out and out[-1].strip() == "..."):
                out.append(" " * indent + "...")
            continue
        out.append(line)
    for i in range(len(out) - 2, 0, -1):  # a call or signature whose arguments all left: f(...)
        if (
            out[i].strip() == "..."
            and out[i - 1].endswith("(")
            and out[i + 1].lstrip().startswith(")")
        ):
            out[i - 1 : i + 2] = [out[i - 1] + "..." + out[i + 1].lstrip()]
    return "```python\n" + "\n".join(out) + "\n```"


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
    reading the first order alone; a tie after averaging (p within `TIE` of 0.5) counts as not right."""
    one = [(v.p_ab > 0.5) == (t == 0) for v, t in zip(verdicts, truth)]
    both = [v.label(TIE) == t for v, t in zip(verdicts, truth)]
    return sum(b and not o for o, b in zip(one, both)), sum(o and not b for o, b in zip(one, both))


def _untrained(bq: dict, ps: list[float]) -> str:
    """What averaging both orders does to the verdicts of the policy, not trained as a judge."""
    (lo, hi), within_p = bq["ci"], f" (p within {min(ps):.3f}-{max(ps):.3f})" if ps else ""
    txt = f"The policy puts {bq['letter_mass']:.3f} of its probability on the two letters"
    txt += (
        f": it does not answer with a letter{within_p}."
        if bq["letter_mass"] < 0.5
        else " and answers with a letter."
    )
    if bq["consistency"] < 0.1:
        txt += (
            f" Read in one order it agrees {bq['first_order_agreement']:.2f}: it picks the same "
            f"letter after a swap on {1 - bq['consistency']:.0%} of pairs, so one order only says "
            "where the right answer happens to sit. Averaging both orders cancels that slot and "
            f"leaves {bq['agreement']:.2f} ({lo:.2f}-{hi:.2f})"
        )
    else:
        txt += f" Its agreement is {bq['agreement']:.2f} ({lo:.2f}-{hi:.2f})"
    tiny = ps and max(ps) - min(ps) < 0.01
    slot = " Averaging removes a slot bias, not ignorance." if bq["consistency"] < 0.1 else ""
    if tiny:
        slot = (
            f" That figure comes from differences in p under {max(ps) - min(ps):.3f}: noise, not a "
            "reading of the answers."
        )
    if round(lo, 2) <= 0.5:
        return f"{txt}, not shown to beat a coin.{slot}"
    return f"{txt}, above a coin.{slot}"


def judge_quality(quality: dict, judged: dict | None = None, truth: list | None = None) -> str:
    """The judge's agreement against the untrained model's and a coin's (a judge trained on the truth's
    own rule: a ceiling), how many verdicts averaging both orders changes, and what averaging does to
    the untrained model; one bullet each."""
    base = BASE
    jq, bq = quality["judge"], quality[base]
    (jlo, jhi), (blo, bhi) = jq["ci"], bq["ci"]
    if jlo > bhi and jlo > 0.5:
        beat = "above the baseline's interval and a coin's 0.5"
    else:
        beat = (
            f"not clear of both the baseline's ({blo:.2f}-{bhi:.2f}) and a coin's 0.5: this "
            "judge is not shown to judge. Choose a larger judge, or check its prompt and letters"
        )
    rule = (
        "It learned the grader's own rule (section 3), so this is the score of a judge that knows the "
        "rule, on requests like its training ones: a ceiling, not evidence that AI labels are good."
        if jq["agreement"] >= 0.95
        else "It learned the grader's own rule (section 3), yet misses some pairs: check them first."
    )
    out = [
        f"- **Agreement.** {jq['agreement']:.2f} of {jq['n']} pairs (95% CI {jlo:.2f}-{jhi:.2f}; "
        f"{plural(jq['ties'], 'tie')}, p within {TIE} of 0.5, counted half), {beat}. {rule}"
    ]
    if judged and truth:
        fixed, broken = _flips(judged["judge"], truth)
        slot = (
            f" It keeps its verdict after a swap on {jq['consistency']:.2f} of pairs: there is little "
            "slot bias to cancel, so the debiasing is not put to the test here."
            if jq["consistency"] >= 0.9
            else ""
        )
        out.append(
            f"- **Both orders.** Averaging turns {plural(fixed, 'verdict')} from wrong to right and "
            f"{broken} the other way.{slot}"
        )
    ps = [v.p_first for v in judged[base]] if judged and base in judged else []
    out.append(f"- **Baseline.** {_untrained(bq, ps)}")
    return "**Reading.**\n\n" + "\n".join(out)


def object_only(strict_v: list, tests: tuple, held: list) -> tuple[int, int, int]:
    """(pairs that differ only in the object, the judge's right labels on them, its ties)."""
    only = _object_only(tests, held) if strict_v else []
    hit = sum(strict_v[i].label(TIE) == tests[3][i] for i in only)
    return len(only), hit, sum(strict_v[i].label(TIE) is None for i in only)


def _object_only(tests: tuple, held: list) -> list[int]:
    """Indices of the strict test's pairs that the world's grader calls even: both answers help, and
    only one names the request's thing."""
    task_of = {t.prompt: t for t in held}
    return [
        i
        for i, (q, a, b) in enumerate(zip(*tests[:3]))
        if true_preference(task_of[q], a, b) is None
    ]


def strict_judge(
    strict_q: dict | None,
    strict_v: list,
    tests: tuple,
    world: tuple,
    held: list,
    demo_p: float | None = None,
) -> str:
    """The judge against the strict grader: its agreement (ties, p = 0.5, counted apart), its p on the
    pairs that differ only in the object, and on section 2's pair (`demo_p`); one bullet each.
    `tests`, `world`: (questions, first, second, truth) under the strict and the world's grader."""
    if not strict_q:
        return ""
    task_of = {t.prompt: t for t in held}
    n_world = len(world[0])
    both = sum(
        true_preference(task_of[q], a, b, strict_grade) is not None for q, a, b in zip(*world[:3])
    )
    (lo, hi), n = strict_q["ci"], strict_q["n"]
    labelled = [(v.label(TIE), y) for v, y in zip(strict_v, tests[3]) if v.label(TIE) is not None]
    right, ties = sum(a == y for a, y in labelled), n - len(labelled)
    only = _object_only(tests, held)
    out = [
        f"- **Which pairs.** Of the {n_world} pairs the world's grader decides, {n_world - both} are "
        "kind requests helped with another thing: the strict grader fails both answers and calls "
        f"them even. {both} remain, plus {len(only)} the world's grader calls even (both help, "
        f"one with the request's thing): {both} + {len(only)} = {n} pairs.",
        f"- **Agreement.** The judge labels {n - ties} of them and is right on {right}; "
        + (
            f"{plural(ties, 'pair')} {'is a tie' if ties == 1 else 'are ties'} (no label), "
            f"which the agreement counts as half right: ({right} + {ties}/2)/{n} = "
            f"{strict_q['agreement']:.2f} (95% CI {lo:.2f}-{hi:.2f})."
            if ties
            else f"no ties: agreement {strict_q['agreement']:.2f} (95% CI {lo:.2f}-{hi:.2f})."
        ),
    ]
    if only:
        ps = [strict_v[i].p_first for i in only]
        _, hit, tie_only = object_only(strict_v, tests, held)
        what = (
            f"the judge's p lies within {min(ps):.3f}-{max(ps):.3f}: all ties, it has no label"
            if tie_only == len(only)
            else f"it labels {len(only) - tie_only}, right on {hit}, and ties on {tie_only}"
        )
        coin = (hit + tie_only / 2 - len(only) / 2) <= coin_noise(len(only)) * len(only)
        out.append(
            f"- **The object.** Only these {len(only)} pairs test the object: {what}"
            + (": a coin's score." if coin else ".")
        )
    if demo_p is not None:
        if abs(demo_p - 0.5) < 0.05:
            seen = (
                "it cannot see the object (it was trained on refusing against helping only): its "
                "agreement measures refusing against helping, not answering the request asked."
            )
        else:
            seen = f"it prefers the help with {'the asked' if demo_p > 0.5 else 'the other'} thing."
        out.append(
            f"- **Section 2's pair** (the asked thing against another): p = {demo_p:.2f}; {seen}"
        )
    return "**Against the strict grader.**\n\n" + "\n".join(out)


def _cal_line(p: list[float], cal: list[tuple[float, float, int]]) -> str:
    """How spread the soft labels are, and whether each bin's mean p lies inside the 95% interval of
    its observed frequency."""
    sure, n_bin = sum(x < 0.1 or x > 0.9 for x in p), min(c[2] for c in cal)
    if n_bin < 10:
        fit = f"with {n_bin} pairs a bin, too few to test calibration"
    else:
        off = [c for c in cal if not wilson_ci(c[1], c[2])[0] <= c[0] <= wilson_ci(c[1], c[2])[1]]
        fit = (
            f"each bin's mean p lies inside the 95% interval of its observed frequency ({n_bin} "
            "pairs a bin): no miscalibration this test can see"
            if not off
            else f"{n_of(len(off), len(cal))} bins' mean p lie outside the 95% interval of their "
            "observed frequency: there p is not a frequency"
        )
    return (
        f"{n_of(sure, len(p))} soft labels lie below 0.1 or above 0.9; the {len(cal)} bins draw "
        f"{plural(points(cal), 'distinct point')}, and {fit}."
    )


def points(cal: list[tuple[float, float, int]]) -> int:
    """How many distinct points the calibration bins draw (bins at the same spot overlap)."""
    return len({(round(m, 2), round(f, 2)) for m, f, _ in cal})


def mixed_bins(p: list[float], bins: int = 5) -> list[tuple[int, float, float, int, int]]:
    """The equal-count bins of `judge.calibration` whose labels run from below 0.25 to above 0.75:
    (bin index, lowest p, highest p, labels below 0.1, labels above 0.9) each. Their point is an average of sure
    labels on both sides, not a p the judge gave."""
    order = sorted(p)
    out = []
    for b in range(bins):
        chunk = order[b * len(order) // bins : (b + 1) * len(order) // bins]
        if chunk and chunk[0] < 0.25 and chunk[-1] > 0.75:
            low, high = sum(x < 0.1 for x in chunk), sum(x > 0.9 for x in chunk)
            out.append((b, chunk[0], chunk[-1], low, high))
    return out


def _mixed_line(p: list[float], cal: list[tuple[float, float, int]]) -> str:
    """Which calibration points are mixtures of sure labels, read from the bins' labels."""
    mixed = mixed_bins(p, len(cal))
    if not mixed:
        return " No bin mixes sure labels of both sides: each point is a p the judge gave."
    i, lo, hi, n_lo, n_hi = mixed[0]
    return (
        f" The point at ({cal[i][0]:.2f}, {cal[i][1]:.2f}) is an artefact of equal-count "
        f"bins: its labels run from p = {lo:.2f} to {hi:.2f} ({n_lo} below 0.1, {n_hi} above 0.9), "
        "so it averages sure labels of both sides; the judge gave no p near it."
    )


def calibration(p: list[float], cal: list[tuple[float, float, int]]) -> str:
    """The calibration curve, which of its points are mixtures, and how much the soft labels' spread
    lets it show."""
    middle = sum(0.2 <= x <= 0.8 for x in p)
    if middle < 10:
        tail = (
            f" Only {plural(middle, 'label')} {'lies' if middle == 1 else 'lie'} between 0.2 and 0.8, "
            "so this plot cannot say whether a p of 0.7 means 70 %; a Colab run's spread p can."
        )
    else:
        tail = f" {plural(middle, 'label')} between 0.2 and 0.8 fill the middle bins."
    return "**Reading the plots.** " + _cal_line(p, cal) + tail


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
        return f"abstains on all {n} (no reply is a bare letter): it says so instead of guessing"
    if share <= 0:
        return "abstains on none: every reply is a bare letter"
    return f"abstains on {share:.0%} and reads the rest"


def _a_cases(sent: list[str], truth: list[int], first: list, second: list) -> list[tuple]:
    """(reply index, truth, the word the substring test's A comes from, its kind, the quoted answer)
    for each reply the substring test reads as A."""
    return [
        (i, truth[i], *capital_a_source(t, tuple(NAMES)), quoted_answer(t, first[i], second[i]))
        for i, t in enumerate(sent)
        if substring_label(t) == 0
    ]


def excerpt(text: str, before: int = 40, after: int = 25) -> str:
    """The part of a reply around its first capital A (the one the substring test reads), with '…'
    where text was cut; the reply's start when it has no capital A."""
    i = text.find("A")
    if i < 0:
        return text[: before + after]
    lo, hi = max(0, i - before), min(len(text), i + after)
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def parser_table(
    texts: dict[str, list[str]], table: dict[str, dict], truth: list[int], first: list, second: list
) -> str:
    """The parsers' scores per writer as printed text, section 1's cases, and the instruct model's
    replies the substring test reads as A, with the word that A comes from."""
    head = next(iter(table.values()))
    lines = [f"{'written by':32}{'n':>4}" + "".join(f"{k:>19}" for k in head)]
    for name, row in table.items():
        none = row.get("strict: abstains") == 1.0  # no label to score: n/a, not 0
        cells = ["n/a" if none and k == "strict: agrees" else f"{x:.2f}" for k, x in row.items()]
        lines.append(f"{name:32}{len(texts[name]):4}" + "".join(f"{c:>19}" for c in cells))
    cases = "; ".join(f"{c!r} -> {'AB'[substring_label(c)]}" for c in SECTION1)
    lines += ["", f"the cases above, as the substring test reads them: {cases}"]
    sent = list(texts.values())[1]
    lines.append("the instruct model's replies the substring test reads as A:")
    for i, y, word, kind, q in _a_cases(sent, truth, first, second)[:4]:
        quote = f", quotes answer {'AB'[q]}" if q is not None else ""
        lines.append(
            f"  reply {i + 1} (truth {'AB'[y]}): A from {word!r} ({kind}{quote}): "
            f"{excerpt(sent[i])!r}"
        )
    return "\n".join(lines)


def _bug(cases: list[tuple]) -> str:
    """Where the substring test's A labels come from, and the case that shows the bug."""
    if not cases:
        return "No reply has a capital A, so the substring test read every one as B."
    kinds = {k: sum(c[3] == k for c in cases) for k in ("the letter", "a name", "a word")}
    where = listed(f"{n} from {k}" for k, n in kinds.items() if n)
    wrong = [c[0] + 1 for c in cases if c[1] == 1]
    txt = f"It read A in {plural(len(cases), 'reply', 'replies')}: {where}" + (
        f"; wrong on {n_of(len(wrong), len(cases))} (truth B: {'reply' if len(wrong) == 1 else 'replies'} "
        f"{listed(map(str, wrong))})."
        if wrong
        else "."
    )
    named = [c for c in cases if c[3] == "a name"]
    if named:
        i, y, word, _, q = named[0]
        quote = (
            f" quotes answer {'AB'[q]}, the {'right' if q == y else 'wrong'} one,"
            if q is not None
            else ""
        )
        txt += (
            f" In reply {i + 1} it{quote} yet the test reads the A of {word!r}, a "
            'name, as a vote; an option label "A)" counts as a vote the same way.'
        )
    else:
        txt += " No A here comes from a name; the cases above show the same bug."
    return txt


def parsers(
    texts: dict[str, list[str]], table: dict[str, dict], truth: list[int], first: list, second: list
) -> str:
    """What the substring test and the strict parser make of a letter, a sentence and the untrained
    model's text, and the replies that give a verdict by quoting an answer."""
    letter_name, sent_name = list(texts)[:2]
    letter, sent = table[letter_name], table[sent_name]
    n_j, n_s = len(texts[letter_name]), len(texts[sent_name])
    n_bare = sum(strict_label(t) is not None for t in texts[letter_name])
    noise = coin_noise(n_s)  # a coin's agreement over n pairs: 0.5 give or take about this
    s_agree = sent["substring: agrees"]
    coin = (
        f"within a coin's noise, 0.5 ± {noise:.2f}"
        if abs(s_agree - 0.5) <= noise
        else f"{'above' if s_agree > 0.5 else 'below'} a coin's 0.5 by more than {noise:.2f}"
    )
    first_txt = (
        f"Asked for one letter, our judge wrote a bare letter in all {n_j} replies: both parsers "
        f"agree {letter['substring: agrees']:.2f}, and the bug cannot show."
        if n_bare == n_j
        else f"Asked for one letter, our judge wrote a bare letter in {n_bare} of {n_j} replies; "
        f"the substring test agrees {letter['substring: agrees']:.2f}, the strict parser "
        f"{letter['strict: agrees']:.2f} (it abstains on the rest)."
    )
    sent_texts = texts[sent_name]
    quotes = [quoted_answer(t, first[i], second[i]) for i, t in enumerate(sent_texts)]
    q_n, q_right = sum(q is not None for q in quotes), sum(q == y for q, y in zip(quotes, truth))
    quoted = (
        f" Replies that quote one answer give a verdict in words: {n_of(q_n, n_s)}, quoting the "
        f"right answer in {q_right}. Neither parser reads it (the strict parser throws it away)."
        if q_n
        else " No reply quotes an answer: these sentences carry no verdict a parser could read."
    )
    return (
        f"**Reading the parsers.** {first_txt} Asked for a sentence, the instruct model gets a "
        f"label for every reply from the substring test, agreeing {s_agree:.2f} with the truth "
        f"({coin}). "
        f"{_bug(_a_cases(sent_texts, truth, first, second))}{quoted} The strict parser "
        f"{_abstains(sent['strict: abstains'], n_s)}. A DPO set built with the substring test looks "
        "complete and teaches noise; this course's judge reads the letters' probabilities instead."
    )


# ---------------------------------------------------------------- section 6: the labels
def off_object(train_prompts: list, train_pairs: list, tr: list) -> tuple[int, int]:
    """(answers the world's grader passes that fail the strict one, answers it passes) among the pairs
    with a true preference: help with another thing."""
    passing = [
        (t, b if p else a) for t, (a, b), p in zip(train_prompts, train_pairs, tr) if p is not None
    ]
    return sum(not strict_grade(t, ans) for t, ans in passing), len(passing)


def audit_table(audit: dict, strict: dict) -> str:
    """The label audit as printed text: per label scheme, the pairs, and under each grader how many
    have a true preference and how often the judge's label is right on them."""
    lines = [
        f"{'labels':11}{'pairs':>5}   {'with a true preference, world grader':38}strict grader"
    ]
    for name, a in audit.items():
        s = strict[name]
        w = f"{a['known']} pairs, judge right on {a['right']:.1%}"
        lines.append(
            f"{name:11}{a['labelled']:5}   {w:38}{s['known']} pairs, judge right on {s['right']:.1%}"
        )
    return "\n".join(lines)


def _kept(audit: dict, train_pairs: list) -> str:
    """Why fewer hard-label pairs than sampled pairs remain."""
    n, kept = len(train_pairs), audit["hard"]["labelled"]
    same = sum(a == b for a, b in train_pairs)
    if kept >= n:
        return f"All {n} sampled pairs got a hard label."
    txt = (
        f"Of the {n} sampled pairs, {same} are one answer written twice: the judge gives them "
        "p = 0.5 exactly, and `preference_rows` drops them even at margin 0"
    )
    if (even := n - kept - same) > 0:
        txt += f"; {even} more pairs of different answers got p = 0.5 exactly and are dropped too"
    return txt + f"; {kept} remain, for the hard and the soft labels alike."


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
    out = [
        f"- **Kept.** {kept}",
        f"- **Hard labels.** {unknown} of them ({share:.0%}) have no true preference: "
        f"{'more than half' if share > 0.5 else 'that share'} of what the hard-label run learns "
        "from teaches nothing true.",
        f"- **Confident labels.** The filter keeps {conf['labelled']} pairs, {conf['known']} of them "
        f"with a true preference, and {conf_right}.",
    ]
    n_off, n_passing = off_object(train_prompts, train_pairs, tr)
    if n_passing and strict:
        sh, sc = strict["hard"], strict["confident"]
        out.append(
            f"- **A coarse truth.** {n_of(n_off, n_passing)} answers the world's grader prefers "
            f"in these pairs are help with another thing. Under the strict grader "
            f"{n_of(sh['known'], hard['labelled'])} hard-label pairs carry a true preference (the "
            f"judge right on {sh['right']:.0%}), and {n_of(sc['known'], conf['labelled'])} "
            f"confident ones (right on {sc['right']:.0%})."
        )
    row_q, row_a = example_row["prompt"][0]["content"], example_row["chosen"][0]["content"]
    row_task = next((t for t in train_prompts if t.prompt == row_q), None)
    off_row = row_task and grade(row_task, row_a) and not strict_grade(row_task, row_a)
    if off_row and row_task.meta.get("thing"):
        out.append(
            f"- **The row printed above** is such a case: the request is about "
            f"{row_task.meta['thing']}, the chosen answer is not, and grader, judge and DPO all "
            "treat it as the better answer."
        )
    return "**Reading the labels.**\n\n" + "\n".join(out)


# ---------------------------------------------------------------- section 7: the DPO runs
def dpo_table(settings: dict[str, dict]) -> str:
    """The DPO runs' settings as printed text, one row per run."""
    lines = [
        f"{'run':30}{'pairs':>6}{'steps':>6}{'batch':>6}{'lr':>8}{'beta':>6}{'LoRA r':>7}"
        f"{'passes over each pair':>23}"
    ]
    for name, s in settings.items():
        lines.append(
            f"{name:30}{s['pairs']:6}{s['steps']:6}{s['batch']:6}{s['lr']:8.0e}{s['beta']:6}"
            f"{s['lora_r']:7}{s['passes']:23.1f}"
        )
    return "\n".join(lines)


def wiring(runs: dict) -> str:
    """How each run reaches TRL, as printed text: its trainer class (the soft run's draws rows by
    weight), loss terms and weights, steps, and the settings all runs share, LoRA's included."""
    lines = [f"{'run':30}{'trainer':>20}{'loss_type':>14}{'loss_weights':>14}{'steps':>6}"]
    for name, tr in runs.items():
        a = tr.args
        kinds = a.loss_type if isinstance(a.loss_type, list | tuple) else [a.loss_type]
        weights = ", ".join(f"{w:g}" for w in a.loss_weights) if a.loss_weights else "-"
        lines.append(
            f"{name:30}{type(tr).__name__:>20}{' + '.join(kinds):>14}{weights:>14}{a.max_steps:6}"
        )
    first = next(iter(runs.values()))
    a, lora = first.args, next(iter(first.model.peft_config.values()))
    where = lora.target_modules
    where = ", ".join(sorted(where)) if isinstance(where, set | list | tuple) else where
    sched = getattr(a.lr_scheduler_type, "value", a.lr_scheduler_type)
    lines += [
        f"all runs: beta {a.beta}, lr {a.learning_rate:.0e} ({sched}), batch "
        f"{a.per_device_train_batch_size}, label_smoothing {a.label_smoothing}",
        f"LoRA: r {lora.r}, alpha {lora.lora_alpha}, dropout {lora.lora_dropout}, on {where}",
    ]
    return "\n".join(lines)


def _smoothed(dash: dict[str, dict], key: str) -> dict[str, list[float]]:
    """Each run's curve `key` as a running mean over 3 logged points."""
    return {k: running_mean(d[key]) for k, d in dash.items() if d["step"]}


def still_rising(steps: list[int], curve: list[float]) -> bool:
    """Whether a curve's slope over its last third is at least half its slope over its first third."""
    k = max(1, len(curve) // 3)
    if len(curve) < 2 * k + 1:
        return False
    first = (curve[k] - curve[0]) / (steps[k] - steps[0])
    last = (curve[-1] - curve[-1 - k]) / (steps[-1] - steps[-1 - k])
    return last > 0 and last >= first / 2


def dashboard(dash: dict[str, dict], beta: float, rows: list | None = None) -> str:
    """The DPO curves, read on their running means, one bullet each: margins, accuracy (the soft run's
    against its own ceiling, 1 - its flip rate), the chosen answers' log-prob against the reference,
    and the check of the soft run's predicted margin. `rows`: the hard-label pairs."""
    logged = {k: d for k, d in dash.items() if d["step"]}
    if not logged:
        return (
            "No training step was logged here (too few steps): the dashboard has nothing to read."
        )
    ends_at = {k: d["step"][-1] for k, d in logged.items()}
    margin, acc = _smoothed(logged, "rewards/margins"), _smoothed(logged, "rewards/accuracies")
    chosen = _smoothed(logged, "chosen_vs_ref")
    ends = [m[-1] for m in margin.values()]
    up = [k for k, m in margin.items() if still_rising(logged[k]["step"], m)]
    flat = [k for k in margin if k not in up]
    at = listed(f"{v}" for v in sorted(set(ends_at.values())))
    slope = (f"still rising in {listed(up)}" if up else "") + (
        f"{'; ' if up else ''}levelling off in {listed(flat)}" if flat else ""
    )
    out = [
        "Each dot is one logged figure, the mean over the 5 training batches since the last log; "
        "each line is a running mean of 3 dots. None is held out.",
        f"- **Margins.** At the last step ({at}) they are {span(ends, '.3f')}: Δ has moved "
        f"{span([m / beta for m in ends], '.1f')} nats from the reference's, {slope} (slope over "
        "the last third of a curve against its first third).",
    ]
    hard_acc = {k: a[-1] for k, a in acc.items() if k != "soft labels"}
    out.append(
        f"- **Accuracy.** The runs on hard labels end at {span(list(hard_acc.values()))}"
        + (
            " (chance: 0.5)."
            if min(hard_acc.values(), default=1) > 0.5
            else ", not all above chance."
        )
    )
    soft = margin.get("soft labels")
    flip = sum(1 - r["p_chosen"] for r in rows) / len(rows) if rows else None
    if flip is not None and "soft labels" in acc:
        out[-1] += (
            f" The soft run's rows are flipped on {flip:.0%} of draws: its "
            f"{acc['soft labels'][-1]:.2f} is read against a ceiling of about {1 - flip:.2f}."
        )
    end = {k: c[-1] for k, c in chosen.items()}
    fell = [k for k, c in end.items() if c < 0]
    out.append(
        f"- **Chosen answers** (log-prob against the reference, 0 at step 0) end at "
        f"{span(list(end.values()), '+.2f')} nats: "
        + (
            f"it fell in the {listed(fell)} {'run' if len(fell) == 1 else 'runs'}: DPO lowered "
            "answers it prefers along with the rejected ones."
            if fell
            else "it rose in every run, so no run traded its chosen answers away."
        )
    )
    if all(k in end for k in RPO):
        gap = end[RPO[0]] - end[RPO[1]]
        out[-1] += (
            " The two confident runs draw the same batches, so their curves overlap; the NLL "
            f"term moved the chosen answers' log-prob by {gap:+.2f} nats."
        )
    hard = margin.get("hard labels")
    if flip is not None and hard and soft:
        pred = (1 - 2 * flip) * hard[-1]
        unsure = [1 - r["p_chosen"] for r in rows if r["p_chosen"] < 0.75]
        share = sum(unsure) / (flip * len(rows)) if flip else 0.0
        out.append(
            f"- **Prediction.** Flipped draws pull the other way, so the soft run's margin should "
            f"be about (1 − 2 × {flip:.2f}) = {1 - 2 * flip:.2f} × the hard run's: {pred:.3f}. "
            f"Measured: {soft[-1]:.3f} against the hard run's {hard[-1]:.3f}: "
            + (
                "as predicted."
                if abs(soft[-1] - pred) < abs(soft[-1] - hard[-1])
                else "the prediction fails. It assumes flips spread evenly over the pairs; here "
                f"{share:.0%} of the flip weight sits on the {len(unsure)} pairs with p below 0.75."
            )
        )
    return "**Reading the dashboard.** " + out[0] + "\n\n" + "\n".join(out[1:])


# ---------------------------------------------------------------- section 8: before and after
def _sizes(held: list) -> tuple[int, int]:
    """(harmful requests, kind requests) among the held-out tasks."""
    return sum(t.family == "unsafe" for t in held), sum(t.family == "benign" for t in held)


def _trained(results: dict) -> dict:
    """The DPO runs' results, by label scheme."""
    return {k.removeprefix("DPO, "): r for k, r in results.items() if k != BEFORE}


def _graded(results: dict) -> bool:
    """Whether a grader measured the rates (tiny profile)."""
    return "harmless" in results[BEFORE]


def diff(a: dict, b: dict, metric: str) -> tuple[float, float, int]:
    """Run a's rate minus run b's over the same requests, its noise bar (two standard errors of the
    per-request differences) and its sign: +1 or -1 beyond the bar, 0 within it."""
    d, noise = paired_difference(a["scores"][metric], b["scores"][metric])
    return d, noise, (1 if d > 0 else -1) if abs(d) > noise and d else 0


def _help_lost(results: dict) -> dict[str, list[str]]:
    """Runs that kept helpfulness, lost it beyond noise (greedy, sampled) or lost a little within noise."""
    b0, trained = results[BEFORE], _trained(results)
    kept = [k for k, r in trained.items() if r["helpful"] >= b0["helpful"]]
    paid = [k for k, r in trained.items() if diff(r, b0, "helpful")[2] < 0]
    return {
        "kept": kept,
        "paid": paid,
        "noisy": [k for k in trained if k not in kept + paid],
        "paid_sampled": [k for k, r in trained.items() if diff(r, b0, "helpful_sampled")[2] < 0],
    }


def table(results: dict, strict: dict) -> str:
    """The rates before and after DPO (a rate on which the two graders differ as 'world/strict'), the
    answer length and the second judge's win rate, as printed text, with a legend."""
    cols = [c for c in METRICS if c in results[BEFORE]]
    two = {c for c in cols if any(strict.get(k, {}).get(c) != r[c] for k, r in results.items())}
    heads = [c.replace("_sampled", " T=1") + (" w/s" if c in two else "") for c in cols]
    lines = [f"{'':34}" + "".join(f"{h:>16}" for h in heads)]
    lines[0] += ("  tokens" if cols else "") + "  win rate vs before (2nd judge)"
    for name, r in results.items():
        s = strict.get(name, {})
        figs = "".join(
            (f"{r[c]:.2f}/{s[c]:.2f}" if c in two else f"{r[c]:.2f}").rjust(16) for c in cols
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
    legend = (
        "w/s: world's grader/strict grader (they differ on helpfulness only); T=1: 4 samples a "
        "request; tokens: mean length of the sampled answers; W/T/L: the second judge's wins, ties "
        "(p within 0.05 of 0.5) and losses of the run's greedy answer against the one before DPO"
    )
    return "\n".join(lines + ["", textwrap.fill(legend, 100)])


def _vs(a: dict, b: dict, metric: str, fmt: str = ".2f") -> str:
    """Run a's rate against run b's on one metric: both figures and the paired difference."""
    d, noise, sign = diff(a, b, metric)
    word = {0: "within noise of", 1: "above", -1: "below"}[sign]
    return f"{a[metric]:{fmt}} {word} {b[metric]:{fmt}} ({d:+.2f} ± {noise:.2f})"


def chart(
    results: dict,
    held: list,
    strict: dict | None = None,
    answers: dict | None = None,
    lb: dict | None = None,
) -> str:
    """The bar chart, one bullet each: how far DPO moved harmlessness greedy and sampled at T=1, which
    runs paid for it in helpfulness (paired tests against the policy before DPO), and the lengths of
    the sampled answers and of the greedy ones the second judge compares (`answers`, by run), read
    with section 5's length bias `lb`."""
    if not _graded(results):
        return (
            "**Reading the chart.** No grader knows these prompts, so no graded rate is measured "
            "here: the second judge's win rates below are the only outcome, and a win rate alone "
            "cannot show over-refusal."
        )
    b0, trained, found = results[BEFORE], _trained(results), _help_lost(results)
    hs = {k: r["harmless"] for k, r in trained.items()}
    lo_k, hi_k = min(hs, key=hs.get), max(hs, key=hs.get)
    paid = listed(
        f"{k} ({trained[k]['helpful']:.2f}, {diff(trained[k], b0, 'helpful')[0]:+.2f} ± "
        f"{diff(trained[k], b0, 'helpful')[1]:.2f})"
        for k in found["paid"]
    )
    reach = (
        f"{hs[lo_k]:.2f} in every run"
        if hs[lo_k] == hs[hi_k]
        else f"between {hs[lo_k]:.2f} ({lo_k}) and {hs[hi_k]:.2f} ({hi_k})"
    )
    hi_s, s0 = trained[hi_k]["harmless_sampled"], b0["harmless_sampled"]
    less = sum(r["harmless_sampled"] < r["harmless"] - 0.05 for r in trained.values())
    way = "more" if s0 > b0["harmless"] + 0.05 else "less" if s0 < b0["harmless"] - 0.05 else "as"
    sampled = (
        f"At T=1 the policy refuses {way} than greedily before DPO ({s0:.2f}), and less in "
        f"{less} of {len(trained)} runs after ({span([r['harmless_sampled'] for r in trained.values()])})."
    )
    if hs[hi_k] - hi_s > 0.05:
        sampled += (
            f" The {hi_k} run refuses {hs[hi_k]:.2f} greedily but {hi_s:.2f} sampled: a chat model "
            f"sampled at temperature 1 still serves {1 - hi_s:.0%} of harmful requests after it."
        )
    out = [
        f"- **Harmless.** DPO took the greedy harmless rate from {b0['harmless']:.2f} to {reach}. {sampled}"
    ]
    if hs[lo_k] <= b0["harmless"]:
        out[-1] += f" The {lo_k} run did not raise the harmless rate: it did not pay."
    elif hs[lo_k] < 0.9:
        out[-1] += (
            f" The {lo_k} run still serves {1 - hs[lo_k]:.0%} of harmful requests greedily: "
            "better than before, far from safe enough to ship."
        )
    out.append(
        "- **Helpful.** Greedy, "
        + (f"the {listed(found['kept'])} runs kept" if found["kept"] else "no run kept")
        + f" helpfulness at {b0['helpful']:.2f}"
        + (f"; {paid} lost it beyond noise" if paid else "")
        + (f"; {listed(found['noisy'])} lost a little, within noise" if found["noisy"] else "")
        + f". Sampled at T=1 ({b0['helpful_sampled']:.2f} before), "
        f"{len(found['paid_sampled'])} of {len(trained)} runs lost helpfulness beyond noise."
        + (
            " That is over-refusal; a practitioner would add pairs on kind requests (or up-weight "
            "them) and retrain."
            if found["paid"] or found["paid_sampled"]
            else ""
        )
    )
    tok0, toks = b0["answer_tokens"], [r["answer_tokens"] for r in trained.values()]
    moved = max(abs(t - tok0) for t in toks) < 2
    words = ""
    if answers and BEFORE in answers:
        mean = {k: sum(len(a.split()) for a in v) / len(v) for k, v in answers.items() if v}
        w0, ws = mean.pop(BEFORE), list(mean.values())
        moved = moved and max(abs(w - w0) for w in ws) < 2
        words = (
            f"; the greedy answers the second judge compares, in words: {w0:.1f} before, "
            f"{span(ws, '.1f')} after"
        )
    fair = (
        lb is not None
        and round(abs(lb["judge_prefers_longer"] - lb["truth_prefers_longer"]) * lb["n"]) <= 1
    )
    out.append(
        f"- **Length.** Sampled answers, in the policy's tokens: {tok0:.1f} before, "
        f"{span(toks, '.1f')} after{words}. "
        + (
            "Under 2 each: no run won by writing more."
            if moved
            else "Length moved, but section 5 found no length bias in the first judge, trained "
            "as the second: the win rates below do not reward it."
            if fair
            else "Length moved, and section 5 did not clear the judge of a length bias: read the "
            "win rates below with care."
        )
    )
    txt = "\n\n" + "\n".join(out)
    return f"**Reading the chart.**{txt}"


def _same(a: dict, b: dict) -> bool:
    """Whether two runs agree within noise on all four rates."""
    return all(diff(a, b, m)[2] == 0 for m in METRICS)


def _label_verdicts(results: dict) -> dict[str, object]:
    """The three one-change comparisons' verdicts: the confident filter, soft labels, the NLL term."""
    t = _trained(results)
    hc, hh = t["confident labels"], t["hard labels"]
    further = any(diff(hc, hh, m)[2] > 0 for m in ("harmless", "harmless_sampled"))
    costlier = any(diff(hc, hh, m)[2] < 0 for m in ("helpful", "helpful_sampled"))
    soft_same, nll_same = _same(t["soft labels"], hh), _same(t[RPO[0]], t[RPO[1]])
    return {
        "further": further,
        "costlier": costlier,
        "soft_same": soft_same,
        "nll_same": nll_same,
        "filter": (
            "the confident run " + ("moved harmlessness further" if further else "did not pay")
        )
        + (" and cost more helpfulness" if costlier else ""),
        "soft": "soft labels trained the same policy as hard ones"
        if soft_same
        else "soft labels parted from hard ones",
        "nll": "the NLL term changed nothing beyond noise"
        if nll_same
        else "the NLL term moved the rates",
    }


def exposure(results: dict) -> str:
    """Filter or passes, from the confident run against the hard-label run with as many passes over
    its pairs (`MATCHED`) and that run against the 60-step hard one, on the harmless rates: "filter",
    "both", "passes", "passes beat filter", "mixed" or "neither"; "" without the control."""
    t = _trained(results)
    if not {MATCHED, "confident labels", "hard labels"} <= set(t):
        return ""
    signs = {diff(t["confident labels"], t[MATCHED], m)[2] for m in HARMLESS}
    passes = any(diff(t[MATCHED], t["hard labels"], m)[2] > 0 for m in HARMLESS)
    if signs == {1} or signs == {0, 1}:
        return "both" if passes else "filter"
    if signs == {-1} or signs == {0, -1}:
        return "passes beat filter"
    if signs == {1, -1} or signs == {1, 0, -1}:
        return "mixed"
    return "passes" if passes else "neither"


EXPOSURE = {
    "filter": "the filter did it: at equal passes the confident run still refuses more, and more "
    "passes did not move the hard labels beyond noise",
    "both": "both count: more passes moved the hard labels, yet at equal passes the confident run "
    "still refuses more",
    "passes": "the passes did it: at equal passes hard labels refuse as often as confident ones "
    "(within noise); the filter reached that with fewer pairs and steps",
    "passes beat filter": "at equal passes the hard labels refuse more than the confident ones: "
    "the filter's gain came from the passes, and its dropped pairs still taught something",
    "mixed": "the control splits: greedy and sampled harmlessness point different ways",
    "neither": "the control sits within noise of both runs: this budget cannot separate filter "
    "from passes",
}


def _axis(a: dict, b: dict, metrics: tuple[str, ...]) -> int | None:
    """Run a against run b on the greedy and sampled rates of one axis: 1 better, -1 worse, 0 within
    noise, None when the two rates point different ways."""
    signs = {diff(a, b, m)[2] for m in metrics} - {0}
    return None if len(signs) > 1 else signs.pop() if signs else 0


WORD = {1: "more {}", 0: "as {} (within noise)", -1: "less {}", None: "mixed on {}"}


def control(results: dict) -> tuple[str, str]:
    """The control's verdict on both axes: (the sentence, a short form for the summary); ("", "")
    without the control. Confident against matched passes isolates the filter; matched passes against
    the 60-step hard run isolates the passes."""
    t = _trained(results)
    if not {MATCHED, "confident labels", "hard labels"} <= set(t):
        return "", ""
    helpful = ("helpful", "helpful_sampled")
    fh, fg = (_axis(t["confident labels"], t[MATCHED], m) for m in (HARMLESS, helpful))
    ph, pg = (_axis(t[MATCHED], t["hard labels"], m) for m in (HARMLESS, helpful))
    filt = f"{WORD[fh].format('harmless')} and {WORD[fg].format('helpful')}"
    passes = f"{WORD[ph].format('harmless')} and {WORD[pg].format('helpful')}"
    if fh is not None and fg is not None and fh >= 0 and fg >= 0 and fh + fg > 0:
        what = "the filter costs nothing here: it is better or equal on both axes"
    elif fh == 1 and fg == -1:
        what = "a trade-off: the filter buys harmlessness with helpfulness"
    elif fh == -1 and fg == 1:
        what = "a trade-off the other way: the filter buys helpfulness with harmlessness"
    else:
        what = "the filter is not shown to help"
    if pg == -1:
        what += "; the helpfulness lost came with the extra passes"
    sentence = (
        f"At equal passes the confident run is {filt} than the hard labels: {what}. More passes "
        f"made the hard labels {passes} than in the shorter run."
    )
    return sentence, f"at equal passes it is {filt}: {what}"


def _pair_rates(a: dict, b: dict) -> str:
    """Run a's rates against run b's: those beyond noise, or one phrase when all four are within it."""
    if _same(a, b):
        gap = max(abs(a[m] - b[m]) for m in METRICS)
        return f"all four rates within noise of each other (largest gap {gap:.3f})"
    apart_ = [m for m in METRICS if diff(a, b, m)[2]]
    rest = " (the rest within noise)" if len(apart_) < len(METRICS) else ""
    return "; ".join(f"{m.replace('_sampled', ' at T=1')} {_vs(a, b, m)}" for m in apart_) + rest


def overlap(verdicts: list, tr: list, pairs: list) -> tuple[int, int, int, int]:
    """Over the hard-label pairs (labelled, two different answers): (pairs, unsure ones with p within
    0.25 of 0.5, ones with no true preference, ones that are both)."""
    kept = [
        (abs(v.p_first - 0.5) < 0.25, t is None)
        for v, t, (a, b) in zip(verdicts, tr, pairs)
        if v.label() is not None and a != b
    ]
    return (
        len(kept),
        sum(u for u, _ in kept),
        sum(n for _, n in kept),
        sum(u and n for u, n in kept),
    )


def _unsure(rows: list[dict]) -> int:
    """Pairs whose judge's p for the chosen answer is below 0.75: where soft and hard targets differ."""
    return sum(r["p_chosen"] < 0.75 for r in rows)


def comparisons(
    results: dict,
    settings: dict[str, dict],
    confident_rows: list,
    train_prompts: list,
    hard_rows: list,
    dash: dict | None = None,
    split: tuple[int, int, int, int] | None = None,
) -> str:
    """Each label scheme against another, one change at a time, by paired tests; what differs besides
    the labels (passes over each pair), and for a null, why (`split`: `overlap`'s counts)."""
    if not _graded(results):
        return ""
    v, t = _label_verdicts(results), _trained(results)
    family_of = {x.prompt: x.family for x in train_prompts}
    fams = [family_of.get(r["prompt"][0]["content"]) for r in confident_rows]
    unsafe_share = fams.count("unsafe") / len(fams) if fams else 0.0
    sh, sc = settings["hard labels"], settings["confident labels"]
    exposure_txt = (
        f"and each pair seen {sc['passes']:.1f} times against {sh['passes']:.1f}: two changes at once"
        if abs(sc["passes"] / sh["passes"] - 1) > 0.1
        else "each pair seen as often"
    )
    why = (
        "The confident run moved harmlessness further"
        + ("" if "two changes" in exposure_txt else ": the filter did it")
        + (
            f". {unsafe_share:.0%} of the confident pairs are harmful requests, so that run learned "
            "to refuse more than to help"
            if unsafe_share > 0.5
            else ""
        )
        if v["further"]
        else "The filter did not pay: fewer, surer pairs moved harmlessness no further"
    )
    confident = (
        f"- **Hard against confident labels** (the same loss; fewer, surer pairs, {exposure_txt}): "
        f"{_pair_rates(t['confident labels'], t['hard labels'])}. {why}."
        + (" It cost helpfulness beyond noise: over-refusal." if v["costlier"] else "")
    )
    verdict = control(results)[0]
    if not verdict and "two changes" in exposure_txt:
        confident += " Whether the filter or the extra passes did it is not measured here."
    if verdict:
        sm = settings[MATCHED]
        confident += (
            f"\n- **The control: hard labels, {sm['steps']} steps** ({sm['passes']:.1f} passes over "
            f"each pair, as the confident run). Against the confident run: "
            f"{_pair_rates(t['confident labels'], t[MATCHED])}. Against the "
            f"{sh['steps']}-step hard run: {_pair_rates(t[MATCHED], t['hard labels'])}. "
            f"Verdict: {verdict}"
        )
    soft = (
        "- **Hard against soft labels** (the same pairs and passes, the judge's p as the target): "
        f"{_pair_rates(t['soft labels'], t['hard labels'])}. "
        + (
            "Soft labels trained the same policy as hard ones. "
            if v["soft_same"]
            else "The two runs part: read which rates moved, and at what cost. "
        )
    )
    if split:
        n, unsure, none, both = split
        same = both >= 0.8 * min(unsure, none)
        soft += (
            f"The targets differ only on unsure pairs: {n_of(unsure, n)} have p within 0.25 of "
            f"0.5, {none} have no true preference, and {both} are both: "
            + (
                "nearly the same pairs. There the soft target (near 0.5) teaches little and the hard "
                "one a coin's pick between equally right answers: both runs learn from the same sure "
                "pairs."
                if same
                else "partly different pairs, so the two targets teach different things."
            )
        )

    def end(k: str) -> float | None:
        """A run's last chosen log-prob against the reference (running mean), if logged."""
        return running_mean(dash[k]["chosen_vs_ref"])[-1] if dash and dash.get(k) else None

    c0, cm = end(RPO[1]), end(MATCHED)
    guard = (
        f" Without it the chosen answers' log-prob rose ({c0:+.2f} nats): nothing to guard."
        if c0 is not None and c0 >= 0
        else ""
    )
    if cm is not None and cm < 0 and MATCHED in t:
        guard += (
            f" It fell in the matched-passes run ({cm:+.2f} nats, helpful "
            f"{t[MATCHED]['helpful']:.2f}), which had no NLL term: the place to test RPO "
            "(an exercise)."
        )
    nll = (
        "- **Confident labels with and without the NLL term** (supervised learning on the judge's "
        f"chosen answers): {_pair_rates(t[RPO[0]], t[RPO[1]])}. "
        + (
            f"The term changed nothing in {sc['steps']} steps: no evidence for or against RPO."
            f"{guard}"
            if v["nll_same"]
            else "The term changed the outcome: weigh what it bought against what it cost."
        )
    )
    return "\n".join((confident, soft, nll))


def _owners_txt(c: dict) -> str:
    """Why the strict helpful rate sits near its floor: the names the policy writes."""
    names = ", ".join(f"{k} {n}" for k, n in list(c["names_used"].items())[:4])
    return (
        f" Why so low: before DPO, {n_of(c['other'], c['person'])} greedy answers to requests "
        f"about a person's thing name another person ({c['other'] / max(c['person'], 1):.0%}). "
        f"They use {plural(len(c['names_used']), 'name')} ({names}) for the {c['names_asked']} "
        f"the requests ask about, while it names the animal right in "
        f"{n_of(c['animal_right'], c['animal'])}. The tiny policy learned the template, not to "
        "copy a name from the request: a limit of this model, not built into the world."
    )


def strict_rates(results: dict, strict: dict, held: list, answers: dict | None = None) -> str:
    """The helpful rates by the strict grader against the world's, why they sit near a floor (the names
    the greedy answers use, from `answers`), and whether DPO changed that."""
    if not _graded(results) or not strict or not _graded(strict):
        return ""
    b0, s0, ts_ = results[BEFORE], strict[BEFORE], _trained(strict)
    moved = [k for k, r in ts_.items() if diff(r, s0, "helpful")[2] != 0]
    txt = (
        "**Under the strict grader.** Greedy, "
        f"the policy helps with {b0['helpful']:.2f} of kind requests by the world's grader and "
        f"{s0['helpful']:.2f} by the strict one; after DPO "
        f"{span([r['helpful'] for r in _trained(results).values()])} and "
        f"{span([r['helpful'] for r in ts_.values()])}. "
        + (
            f"The {listed(moved)} {'run' if len(moved) == 1 else 'runs'} moved it beyond noise."
            if moved
            else "No run moved the strict rate beyond noise (paired over the same requests)."
        )
    )
    if answers and BEFORE in answers:
        c = owner_counts(held, answers[BEFORE])
        txt += _owners_txt(c)
        after = [owner_counts(held, a) for k, a in answers.items() if k != BEFORE]
        shares = [x["other"] / max(x["person"], 1) for x in after]
        before = c["other"] / max(c["person"], 1)
        if shares and max(abs(x - before) for x in shares) < 0.05:
            txt += (
                f" After DPO the share is {span(shares, '.0%')}: DPO left the names as they were "
                "(the judge cannot see them, and no pair teaches them)"
                + (
                    ", so every run sits at this floor and the strict grader cannot rank the "
                    "label schemes."
                    if not moved
                    else "."
                )
            )
        elif shares:
            txt += (
                f" After DPO the share is {span(shares, '.0%')}: DPO changed which names it writes."
            )
        txt += " Fix the copying first (supervised examples with names)."
    return txt


def losses(held: list, before: list[str], answers: dict, verdicts: dict) -> dict[str, dict]:
    """Per run, its losses to the policy before DPO by the world's grader: "kind refused" (a kind
    request the run fails and the policy before helped), "harm served", "other"."""
    out = {}
    for k, vs in verdicts.items():
        c = {"kind refused": 0, "harm served": 0, "other": 0}
        for t, a, b, v in zip(held, answers[k], before, vs):
            if v.label(TIE) == 1:
                kind = t.family == "benign" and grade(t, b) and not grade(t, a)
                harm = t.family == "unsafe" and not grade(t, a)
                c["kind refused" if kind else "harm served" if harm else "other"] += 1
        out[k] = c
    return out


def wins(results: dict, n_eval: int, held: list, lost: dict | None = None) -> str:
    """The second judge's win rates against the policy before DPO, with wins, ties and losses;
    `lost`: `losses`' counts by run."""
    trained = _trained(results)
    ws = {k: r["win_rate_vs_before"] for k, r in trained.items() if "win_rate_vs_before" in r}
    above = [k for k, w in ws.items() if w["ci"][0] > 0.5]
    lost_runs = [k for k, w in ws.items() if w["win_rate"] < 0.5]
    best = max(ws, key=lambda k: ws[k]["win_rate"]) if ws else None
    below_best = [k for k in ws if ws[k]["ci"][1] < ws[best]["ci"][0]] if best else []
    tail = ""
    if lost_runs:
        they = "that run" if len(lost_runs) == 1 else "those runs"
        tail += (
            f"Below 0.5, worse than where DPO started: {listed(lost_runs)}; {they} did not pay. "
        )
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
                "Each run's wins equal the harmful requests it newly refuses greedily, and its "
                "losses the kind requests it newly refuses: here the second judge's verdict is the "
                "world's grader's. "
            )
        elif lost and any(w["losses"] for w in ws.values()):
            parts = [
                f"{k} {ws[k]['losses']} ("
                + ", ".join(f"{n} {what}" for what, n in lost[k].items() if n)
                + ")"
                for k in ws
                if ws[k]["losses"] and k in lost
            ]
            tail += (
                "Losses by what the world's grader says of the run's answer (kind refused: a kind "
                f"request the policy helped with before): {'; '.join(parts)}. "
            )
    return (
        f"**The second judge** prefers {len(above)} of {len(ws)} runs to the policy before DPO "
        f"with an interval above 0.5 ({n_eval} comparisons a run). "
        f"{tail}On the tiny profile the second judge learned the same rule as the first, "
        "so its win rate is a second opinion, not an independent one."
    )


def identical(pairs: list[tuple[str, str]], answers: dict[str, list[str]], results: dict) -> str:
    """Why two runs can show the same wins, ties and losses: how many greedy answers they share."""
    same = {(a, b): sum(x == y for x, y in zip(answers[a], answers[b])) for a, b in pairs}
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
            what = f"{n - k} differ, and the counts match all the same"
        else:
            what = f"{n - k} differ"
        parts.append(
            f"the {a} and {b} runs give the same greedy answer on {k} of {n} prompts: {what}"
        )
    joined = "; ".join(parts)
    txt = "**Same answers, same counts?** " + joined[:1].upper() + joined[1:] + "."
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
            " The runs are still different models: sampled at T=1 their rates differ, because "
            "sampling reaches past the first token's top choice."
        )
    return txt.rstrip()


# ---------------------------------------------------------------- summary
def summary(
    quality: dict,
    results: dict,
    strict_q: dict | None = None,
    strict: dict | None = None,
    settings: dict | None = None,
    owners: dict | None = None,
    obj: tuple[int, int, int] | None = None,
) -> str:
    """The notebook's lessons as this run measured them: the judge, the truth it is measured against
    (`obj`: `object_only`'s counts), the trade-off, the label schemes."""
    jq, bq = quality["judge"], quality[BASE]
    graded = _graded(results)
    steps = next(iter(settings.values()))["steps"] if settings else None
    budget = f" All of it is about short runs of {steps} steps." if steps else ""
    ratio = (
        settings["confident labels"]["passes"] / settings["hard labels"]["passes"]
        if settings and {"confident labels", "hard labels"} <= set(settings)
        else None
    )
    seen = f" (it also saw each pair {ratio:.1f} times as often)" if ratio else ""
    short = control(results)[1] if graded else ""
    if short:
        seen += f"; {short}"
    if graded:
        found, v = _help_lost(results), _label_verdicts(results)
        trade = (
            f"Runs that lost helpfulness beyond noise: {listed(found['paid']) or 'none'} greedy, "
            f"{len(found['paid_sampled'])} of {len(_trained(results))} sampled. Harmless after "
            f"DPO: {span([r['harmless'] for r in _trained(results).values()])} greedy, "
            f"{span([r['harmless_sampled'] for r in _trained(results).values()])} sampled at T=1. "
            "Quote helpful beside harmless, sampled beside greedy."
        )
        labels_txt = f"Here {v['filter']}{seen}; {v['soft']}; {v['nll']}.{budget}"
    else:
        trade = "No grader here: only the win rates above, which cannot show over-refusal."
        labels_txt = "Without a grader the label schemes are compared only by the win rates above."
    truth = ""
    if strict_q and strict and graded and _graded(strict):
        tw, ts_ = _trained(results), _trained(strict)
        floor = (
            f" before any DPO the tiny policy names another person's thing in "
            f"{owners['other'] / max(owners['person'], 1):.0%} of its answers about one, and DPO "
            "did not change that."
            if owners
            else ""
        )
        truth = (
            "- **The truth.** The world's grader ignores the request's object. A strict grader "
            "that checks it puts the helpful rates at "
            f"{span([r['helpful'] for r in ts_.values()])} instead of "
            f"{span([r['helpful'] for r in tw.values()])}:{floor} Against it the judge agrees "
            f"{strict_q['agreement']:.2f} ({strict_q['ci'][0]:.2f}-{strict_q['ci'][1]:.2f}, "
            f"{strict_q['n']} pairs)"
            + (
                f"; on the {obj[0]} pairs that differ only in the object it is right on {obj[1]}"
                + (f" and ties on {obj[2]}" if obj[2] else "")
                if obj and obj[0]
                else ""
            )
            + ".\n"
        )
    return (
        "- **The judge.** Letter log-probabilities in both orders, averaged, give a soft label you can "
        f"measure: agreement {jq['agreement']:.2f} ({jq['ci'][0]:.2f}-{jq['ci'][1]:.2f}) against "
        f"{bq['agreement']:.2f} for the policy, not trained as a judge: a ceiling, since it was trained on the "
        "grader's own rule.\n"
        + truth
        + "- **The trade-off.** "
        + trade
        + f"\n- **Labels.** {labels_txt}"
    )
