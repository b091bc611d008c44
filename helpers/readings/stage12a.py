"""Readings of notebook 12a (Self-Instruct): each function turns one section's measured values into the
Markdown the learner reads under it, with every verdict chosen by the values."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers import claims
from helpers import self_instruct as si
from helpers.readings import coin_noise, within

INVALID = ("not a valid task", "no grader")  # family_of labels that are not a task family


# ---------------------------------------------------------------- inputs of the readings
def score_bars(heldout: dict[str, int]) -> dict[str, float]:
    """One score's noise bar: sqrt(1/n) for a family of n prompts (two standard errors of a rate at 0.5,
    the worst case), and for the mean of F families sqrt(sum 1/n) / F."""
    if not heldout:
        return {}
    out = {f: coin_noise(n) for f, n in heldout.items()}
    out["mean"] = sum(1 / max(n, 1) for n in heldout.values()) ** 0.5 / len(heldout)
    return out


def _main(scores: dict) -> str:
    """The column a verdict reads: the mean over families (tiny), else the only metric (presets)."""
    return "mean" if "mean" in scores else next(iter(scores))


def _names(fams: list[str]) -> str:
    """'`a`', '`a` and `b`', '`a`, `b` and `c`'."""
    names = [f"`{f}`" for f in fams]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _base(f: str, baseline: dict, common: dict) -> str:
    """'0.57, always 'no'' or '0.50, a coin' for a two-way family; '0, open answer' otherwise."""
    if f not in baseline:
        return "0, open answer"
    label, share = common.get(f, ("", 0.0))
    how = f"always '{label}'" if share > 0.5 and share >= baseline[f] else "a coin"
    return f"{baseline[f]:.2f}, {how}"


def _short(text: str, k: int = 48) -> str:
    """One table cell: newlines shown as ' / ', cut to `k` characters."""
    text = text.replace("\n\n", " / ").replace("\n", " ")
    return text if len(text) <= k else text[: k - 1] + "…"


# ---------------------------------------------------------------- sections 4 to 7
def families(
    seeds: list[dict], fams: list[str], heldout: dict, baseline: dict, common: dict
) -> str:
    """The task families, defined once: an example from the seeds with its right answer, the held-out
    prompts each is scored on, and the baseline a student reaches without the skill."""
    if not heldout:
        return (
            "The hub's tasks have no families: the student is scored by ROUGE-L against the held-out "
            "seed tasks' outputs."
        )
    first: dict[str, dict] = {}  # the shortest seed of each family
    for s, f in sorted(zip(seeds, fams), key=lambda p: len(p[0]["instruction"] + p[0]["input"])):
        first.setdefault(f, s)
    table = "| family | example (a seed) | right answer | held-out prompts | baseline |\n"
    table += "|---|---|---|---|---|\n"
    for f, n in heldout.items():
        s = first.get(f)
        ask = _short(f"{s['instruction']}\n\n{s['input']}".strip(), 60) if s else "-"
        answer = _short(s["output"], 40) if s else "-"
        table += f"| `{f}` | {ask} | {answer} | {n} | {_base(f, baseline, common)} |\n"
    return table + (
        "\nBaseline: 0 for an open answer; for a **two-way answer** (one of two numbers or colours "
        "in the prompt, odd/even, yes/no) a coin's 0.5, or always the commonest held-out answer "
        "if that scores more. A `story` is right only if it is the world's own story for the "
        "prompt's animal, name and food, word for word."
    )


def writer(reference: dict[str, float], baseline: dict, heldout: dict) -> str:
    """The writer's held-out accuracy per family, read against the baselines: which families' instances
    to expect wrong."""
    if not reference:
        return (
            "No grader scores the hub's writer: read its instances in section 7 for wrong answers "
            "yourself; no filter checks them."
        )
    fams = {f: v for f, v in reference.items() if f != "mean"}
    scores = ", ".join(f"`{f}` {v:.2f}" for f, v in fams.items())
    weak = [f for f, v in fams.items() if f not in baseline and v < 0.3]
    noise = score_bars(heldout)
    guess = [
        f for f in baseline if f in fams and fams[f] - baseline[f] <= noise.get(f, coin_noise(40))
    ]
    out = (
        "**The writer's held-out accuracy per family** (the world's grader, measured when the "
        f"writer was built, not in this run): {scores}. "
    )
    if weak:
        out += f"It gets most of {_names(weak)} wrong. "
    if guess:
        out += (
            f"On {_names(guess)} it scores no more than the baseline (within one score's noise "
            "bar): it guesses. "
        )
    if not weak + guess:
        return out + "It beats every baseline: most of its instances should be right."
    return out + ("Section 7 checks its instances family by family against these figures.")


def instance_counts(instances: list[dict], rejected: list[dict]) -> str:
    """Instances per task type, kept and dropped: why N instructions give more than N instances."""
    rows = []
    for name, flag in (("classification", True), ("other", False)):
        kept = [x for x in instances if x["is_classification"] == flag]
        drop = [x for x in rejected if x["is_classification"] == flag]
        tasks = {x["instruction"] for x in kept + drop}
        rows.append((name, len(tasks), len(kept) + len(drop), len(kept), len(drop)))
    table = "| task type | tasks | instances | kept | dropped |\n|---|---|---|---|---|\n"
    table += "\n".join(f"| {n} | {t} | {w} | {k} | {d} |" for n, t, w, k, d in rows)
    (_, n_clf, w_clf, _, _), (_, n_other, w_other, _, _) = rows
    if not w_clf + w_other:
        return table + "\n\nNo instance was written: nothing to train on."
    reasons = Counter(x["reason"] for x in rejected)
    why = ", ".join(f"{k} *{r}*" for r, k in reasons.most_common())
    out = (
        f"{table}\n\n**Why {n_clf + n_other} instructions give {w_clf + w_other} instances.** "
        "A classification task gets one instance per label the writer lists"
    )
    out += f" ({w_clf} from {n_clf} tasks here)" if n_clf else ""
    out += f"; any other task gets one. Dropped: {why or 'none'}."
    conflict = {
        x["instruction"] for x in rejected if x["reason"] == "same input, different outputs"
    }
    conflict_clf = {
        x["instruction"]
        for x in rejected
        if x["instruction"] in conflict and x["is_classification"]
    }
    if conflict_clf:
        out += (
            f" The paper's task filter hits classification hardest: {len(conflict_clf)} of its "
            f"{n_clf} tasks wrote one input under two labels, so every instance of those tasks goes."
        )
    return out


def by_hand(parsed: list[str], fams: list[str]) -> str:
    """One request by hand: how many parsed instructions the world cannot answer."""
    bad = [t for t, f in zip(parsed, fams) if f == "not a valid task"]
    if not parsed:
        return "The parser found no instruction in this reply (it was cut, or not a list)."
    if bad:
        return (
            f"**{len(bad)} of the {len(parsed)} parsed instructions cannot be answered in the "
            f'world**, e.g. "{bad[0]}". The parser checks the form of the list and the filters of '
            "section 5 check words, not meaning, so such a task can be kept (section 6 counts them)."
        )
    if "no grader" in fams:
        return (
            "No grader knows these instructions (the hub's): read them for tasks that cannot be "
            "answered, which neither the parser nor the filters would notice."
        )
    return f"All {len(parsed)} parsed instructions are tasks the world can answer."


def rouge_bench(bench: dict) -> str:
    """The ROUGE-L pool's check: the equality is the result, the speed-up one timing."""
    speed = bench["speedup"]
    clock = (
        f"{speed:.3g}x here; read its order of magnitude, not its digits."
        if speed >= 3
        else f"{speed:.3g}x here, too close to 1 to read on a shared CPU: rerun the cell."
    )
    return (
        f"**Read the equality, not the clock.** Identical scores on all {bench['candidates']} "
        f"candidates against a {bench['pool_size']:,}-item pool is the result, on any machine. "
        f"The speed-up is one timing of three changes together (tokenize once, skip by length, "
        f"bit-parallel LCS): {clock}"
    )


def funnel(
    fates: Counter,
    offered: Counter,
    kept_by: Counter,
    kept_share: list[float],
    fixed: dict[str, str] | None = None,
    invalid: list[str] | None = None,
    reference: dict[str, float] | None = None,
) -> str:
    """The funnel and its three panels: the rule that removes most, kept share per family, per round.
    `fixed`: family -> its one instruction, for families whose seeds all share it; `invalid`: the
    unanswerable candidates that reached the ROUGE-L check (how many are colour questions)."""
    fixed = fixed or {}
    n, kept = sum(fates.values()), fates["kept"]
    if not n:
        return "**Reading the funnel.** The writer gave no candidate: nothing to filter."
    worst = next((r for r, _ in fates.most_common() if r != "kept"), None)
    rouge = next((r for r in fates if r.startswith("ROUGE-L")), None)
    out = f"**Reading the funnel.** {kept} of {n} candidates were kept ({kept / n:.0%})"
    out += f"; *{worst}* removed the most ({fates[worst] / n:.0%} of all)." if worst else "."
    near = fates[rouge] / (fates[rouge] + kept) if rouge else 0.0
    if near > 0.5:
        out += (
            f" {near:.0%} of those that reached the ROUGE-L check were near-copies: in template "
            "tasks two different problems share most words."
        )
    share = {f: kept_by[f] / offered[f] for f in offered if offered[f]}
    real = {f: s for f, s in share.items() if f not in INVALID}
    if len(real) > 1:
        best = max(real, key=real.get)
        closed = [f for f in sorted(real) if not real[f]]
        out += f" Middle: `{best}` kept the largest share ({real[best]:.0%} of {offered[best]})"
        out += (
            f"; {_names(closed)} kept none (their template is most of their words)."
            if closed
            else "; every family kept some."
        )
        out += "".join(
            f' `{f}` never can: every one of its tasks asks "{fixed[f]}" (the number is the '
            "input), so a new instruction of it is a copy."
            for f in closed
            if f in fixed
        )
        top = [f for f in closed if (reference or {}).get(f, 0) >= 0.75]
        if top:
            vals = ", ".join(f"`{f}` {reference[f]:.2f}" for f in top)
            out += (
                f" These include the writer's best families ({vals}): the filter threw away what "
                "it knows and kept mostly families where it guesses."
            )
    elif "no grader" in share:
        out += " Middle: no grader sorts the hub's instructions into families, so it has one bar."
    if "not a valid task" in share:
        out += f" Tasks the world cannot answer passed at {share['not a valid task']:.0%}."
        colour = sum("What colour is" in t for t in invalid or [])
        if colour and "facts" in offered:
            out += (
                f" {colour} of those {offered['not a valid task']} are `facts` questions gone wrong "
                f"(they ask about someone the sentence never names), against "
                f"{offered['facts']} well-formed `facts` candidates."
            )
    rules = [r for r in fates if r != "kept" and r != rouge and fates[r]]
    if rules:
        out += (
            f" The rule filters' hits ({', '.join(f'*{x}*' for x in rules)}) come from lines the tiny writer was trained "
            "on: they measure this course's training mix, not a model's habits."
        )
    if len(kept_share) > 1:
        trend = "fell" if kept_share[-1] < kept_share[0] else "did not fall"
        out += (
            f" Right: the kept share {trend} as the pool grew, from {kept_share[0]:.0%} in round 0 "
            f"to {kept_share[-1]:.0%} in round {len(kept_share) - 1}."
        )
    return out


def sense(kept: list[str], fams: list[str]) -> str:
    """The filters check form, not sense: kept instructions the world cannot answer."""
    bad = [t for t, f in zip(kept, fams) if f == "not a valid task"]
    if not kept:
        return "No instruction was kept: nothing reaches the instance step."
    if bad:
        be = "is not a task" if len(bad) == 1 else "are not tasks"
        return (
            f"**The filters check form, not sense.** {len(bad)} of the {len(kept)} kept "
            f"instructions ({len(bad) / len(kept):.0%}) {be} the world can answer, e.g. "
            f'"{bad[0]}". No rule of the paper reads meaning. A practitioner checks validity '
            "before writing instances: a grader where one exists, or a judge model."
        )
    if "no grader" in fams:
        return (
            "No grader knows the hub's instructions: read the kept ones above for tasks that "
            "cannot be answered; no filter checks meaning."
        )
    return "Every kept instruction is a task the world can answer: none ill-posed in this run."


def shown(verdicts: list[str], right_sensible: list[bool] | None = None) -> str:
    """The instances shown: how many the grader marks wrong, though every filter passed them; and
    how many rows the grader marks right make no sense of their question (`right_sensible`)."""
    odd = right_sensible.count(False) if right_sensible else 0
    sense = (
        f" The grader checks the answer, not the input's sense: {odd} of the "
        f"{len(right_sensible)} rows it marks right have an input that never names whom the "
        "question asks about, or repeats itself. *Right* means "
        "*not contradicted*, not *a good example*."
        if odd
        else ""
    )
    n_wrong, n_none = verdicts.count("wrong"), verdicts.count("no grader")
    if not verdicts:
        return "No instance survived the filters: there is nothing to show or to train on."
    if n_none == len(verdicts):
        return (
            "No grader can check these instances (the hub's tasks have none): read each one "
            "yourself. The paper's hand audit found only 58% of GPT-3's outputs correct."
        )
    verb = "is" if n_wrong == 1 else "are"
    out = f"**{n_wrong} of the {len(verdicts)} instances shown {verb} wrong**"
    out += f", and {n_none} cannot be graded" if n_none else ""
    return (
        out
        + (
            ". They passed every filter: the filters check an instance's form, never its answer."
            if n_wrong + n_none
            else ". All shown are right; the audit below counts every instance."
        )
        + sense
    )


def audit(
    pairs: list[tuple[bool, bool]],
    verdict: list,
    fams: list[str],
    nonsense: int = 0,
    reference: dict[str, float] | None = None,
) -> str:
    """The grader's audit: classification identification, the share of wrong outputs, the rows no
    grader can check (how many belong to instructions the world cannot answer), and the `nonsense`
    rows the grader marks right whose input never names whom the question asks about; `reference`: the
    writer's accuracy per family, set against each family's share of right instances."""
    verdicts = Counter(verdict)
    gradable = verdicts[True] + verdicts[False]
    if not gradable:
        return (
            "**No grader, no audit.** No program can check these instances (the hub's tasks), so "
            "nothing here says how many outputs are right; the paper's hand audit found 58% "
            "correct. Read a sample yourself before training on it."
        )
    wrong, n = verdicts[False] / gradable, gradable + verdicts[None]
    invalid = sum(v is None and f == "not a valid task" for v, f in zip(verdict, fams))
    right_id = sum(a == b for a, b in pairs)
    out = (
        f"**The audit.** Classification identification is right on {right_id} of {len(pairs)} "
        "checkable instructions, a prompt the tiny writer was trained on: its training, not a "
        f"skill. Of the {gradable} instances the grader can check, it marks "
        f"{verdicts[True]} right and {verdicts[False]} wrong ({wrong:.0%})."
    )
    per = Counter(f for f, v in zip(fams, verdict) if v is not None)
    ok = Counter(f for f, v in zip(fams, verdict) if v)
    cmp = [f for f, k in per.most_common() if k >= 5 and f in (reference or {})]
    if cmp:
        out += " Right share against the writer's held-out accuracy: " + ", ".join(
            f"`{f}` {ok[f]}/{per[f]} = {ok[f] / per[f]:.2f} ({reference[f]:.2f})" for f in cmp
        )
        out += "."
    if not verdicts[None]:
        out += " The paper, over all 200 audited samples: 42% not correct."
    if verdicts[None]:
        out += (
            f" {verdicts[None]} more cannot be graded"
            + (
                ": all are instances of the kept instructions the world cannot answer (section 6)."
                if invalid == verdicts[None]
                else f"; {invalid} of them belong to instructions the world cannot answer."
            )
            + " Counting those, "
            f"{verdicts[False] + verdicts[None]} of the {n} training rows "
            f"({(verdicts[False] + verdicts[None]) / n:.0%}) teach no right answer (the paper, "
            "over all 200 audited samples: 42% not correct)"
            + (
                f"; with the {nonsense} *right* rows whose input makes no sense of the question, "
                f"{verdicts[False] + verdicts[None] + nonsense} ("
                f"{(verdicts[False] + verdicts[None] + nonsense) / n:.0%}) teach nothing useful."
                if nonsense
                else "."
            )
        )
    return out + (
        " No step of the pipeline removes them. The fix is a verifier (here the world's grader; "
        "with real data a stronger judge or a majority vote over sampled outputs), or a better "
        "writer: section 10 tries the verifier."
        if wrong >= 0.25
        else " Most checkable outputs are right: this data can teach answers, not only formats."
    )


# ---------------------------------------------------------------- sections 9 and 10
def _loss(losses: list) -> str:
    """The training loss, first logged point to last."""
    if len(losses) < 2:
        return "Right: one logged loss only, too few steps to read a trend."
    (s0, first), (s1, last) = losses[0], losses[-1]
    return (
        f"Right: the loss on the completions went from {first:.2f} at step {s0} (the first logged) "
        f"to {last:.2f} at step {s1}"
    ) + (
        ": it copies its rows' form; the scores say what it learned."
        if last < first
        else ": it did not fall, so the student did not fit its rows (learning rate or steps off)."
    )


def _moves(before: dict, after: dict, bar: dict, baseline: dict, heldout: dict) -> str:
    """The families that moved beyond their noise bar: on skill, to the answer format only, or down."""
    skill, form = si.rose(before, after, bar, baseline, heldout)
    fell = [f for f in bar if f != "mean" and before[f] - after[f] > bar[f]]

    def moved(f: str) -> str:
        return f"{before[f]:.2f} -> {after[f]:.2f}, ±{bar[f]:.2f}"

    parts = [f"`{f}` rose on skill ({moved(f)})" for f in skill]
    parts += [
        f"`{f}` rose to its answer format only ({moved(f)}; baseline {baseline[f]:.2f})"
        for f in form
    ]
    parts += [f"`{f}` fell ({moved(f)})" for f in fell]
    down = [f for f in bar if f != "mean" and f not in fell and after[f] < before[f]]
    parts += [f"`{f}` fell within its bar ({moved(f)})" for f in down]
    return "; ".join(parts) or "no family moved beyond its noise bar"


def mean_source(before: dict, after: dict) -> str:
    """Which family carries the mean's change: one family's change over F families against the rest's."""
    fams = [f for f in before if f != "mean"]
    change = after["mean"] - before["mean"]
    if not fams or abs(change) < 1e-9:
        return ""
    d = {f: after[f] - before[f] for f in fams}
    top = max(fams, key=lambda f: abs(d[f]))
    rest = sum(d[f] for f in fams if f != top) / len(fams)
    share = d[top] / len(fams)
    if abs(rest) <= abs(share) / 3:
        return (
            f" The mean's change is `{top}` alone: its {d[top]:+.2f} over {len(fams)} families is "
            f"{share:+.3f}; the other {len(fams) - 1} together moved the mean {rest:+.3f}."
        )
    return (
        f" No one family carries the mean: the largest, `{top}` ({d[top]:+.2f}), moved it "
        f"{share:+.3f}, the others together {rest:+.3f}."
    )


def result(
    before: dict,
    after: dict,
    bar: dict,
    baseline: dict,
    heldout: dict,
    verdicts: Counter,
    label: str,
    losses: list,
) -> str:
    """The chart and the student's change after SFT on all rows, read against paired noise bars."""
    main = _main(before)
    out = f"**Reading the chart.** Left: {label} per family"
    out += ", dashed at each two-way family's baseline" if baseline else ""
    out += "; whiskers on the *after* bars: the paired noise bar of each change. " if bar else ". "
    out += _loss(losses)
    change, b = after[main] - before[main], bar.get(main)
    out += f"\n\n**Reading the result.** The student's {main} moved {change:+.3f}"
    if b is None:
        return out + (
            " (no noise bar: one metric over the presets' held-out seeds). One run: read it as a "
            "sign, not a verdict."
        )
    out += (
        f", {'inside' if within(change, b) else 'beyond'} its paired noise bar (±{b:.2f})."
        f"{mean_source(before, after) if main == 'mean' else ''} Per "
        f"family, {_moves(before, after, bar, baseline, heldout)}."
    )
    skill = si.rose(before, after, bar, baseline, heldout)[0]
    return out + (
        " **Next:** section 10 checks it against a control trained on right answers."
        if skill
        else " **Next:** this fine-tune is not worth keeping; section 10 trains on verified rows, "
        "and on right answers as a control."
    )


def family_table(
    runs: dict[str, dict | None],
    sizes: dict[str, int],
    bars: dict,
    baseline: dict,
    steps_x_batch: int = 0,
) -> str:
    """Each run's score per family against the baseline; after the first run, each cell adds the paired
    noise bar of its change from the first run and an arrow where the change exceeds it. With
    `steps_x_batch`, a first row gives each run's passes over its rows (steps x batch / rows)."""
    names = [k for k, v in runs.items() if v is not None]
    first = runs[names[0]]
    title = [f"{k} {sizes[k]}" if k in sizes else k for k in names]
    head = "| family | baseline | " + " | ".join(title) + " |\n" + "|---" * (2 + len(names)) + "|\n"
    lines = []
    if steps_x_batch:
        passes = [f"{steps_x_batch / sizes[k]:.0f}" if sizes.get(k) else "-" for k in names]
        lines.append("| *passes over the rows* | | " + " | ".join(passes) + " |")
    for f in first:
        cells = [f"{first[f]:.2f}"]
        for k in names[1:]:
            v, b = runs[k][f], bars.get(k, {}).get(f)
            if b is None:
                cells.append(f"{v:.2f}")
                continue
            d = v - first[f]
            cells.append(f"{v:.2f}{'' if within(d, b) else ' ↑' if d > 0 else ' ↓'} ±{b:.2f}")
        base = (
            f"{baseline[f]:.2f}" if f in baseline else "-" if f == "mean" or not baseline else "0"
        )
        lines.append(f"| `{f}` | {base} | " + " | ".join(cells) + " |")
    note = (
        f"\n\nAfter *{names[0]}*: each score, then the paired noise bar of its change from "
        f"*{names[0]}* (±0.00: no prompt's verdict changed); ↑ / ↓ where the change exceeds it."
        if any(bars.values())
        else ""
    )
    return head + "\n".join(lines) + note


def _one_sided(labels: Counter) -> bool:
    """Whether nine in ten verified rows of a two-way family carry the same label."""
    n = sum(labels.values())
    return bool(n) and labels.most_common(1)[0][1] / n >= 0.9


def _label_sentence(
    f: str, labels: Counter, score: float, base: float, at_base: bool, odd: int = 0
) -> str:
    """One two-way family's verified labels: one-sided (the student can only learn one answer) or not;
    `odd`: how many of those rows have an input that never names whom the question asks about."""
    n = sum(labels.values())
    if not n:
        return ""
    if not _one_sided(labels):
        mix = ", ".join(f"{c} '{lab}'" for lab, c in labels.most_common())
        return f" The grown `{f}` rows hold both labels ({mix})."
    top, k = labels.most_common(1)[0]
    share, few = (f"All {n}", "no") if k == n else (f"{k} of the {n}", "few")
    out = (
        f" {share} grown `{f}` rows say '{top}': the writer wrote {few} right inputs for the "
        "other label, so verification undid the balance output-first is for."
    )
    if odd:
        out += (
            f" {odd} of the {n} also never name whom the question asks about (section 7's audit): "
            f"'{top}' is then right but says nothing about the sentence."
        )
    return out + (
        f" Taught one answer, the student scores its baseline: `{f}` {score:.2f} against {base:.2f}."
        if at_base
        else f" Yet `{f}` ended at {score:.2f}, away from its baseline {base:.2f}: read its answers."
    )


def _control(
    before: dict, ctrl: dict, bar: dict, baseline: dict, heldout: dict, n: int, mix: str
) -> str:
    """The positive control's verdict: can this student learn a family from right rows at all?"""
    skill, form = si.rose(before, ctrl, bar, baseline, heldout)
    head = (
        f"**The control** ({n} right rows, {mix}; same student, steps and passes as the grown run)"
    )
    if skill:
        return f"{head} taught {_names(skill)} beyond the baseline: this student can learn there."
    if not form:
        return (
            f"{head} moved no family beyond its noise bar: the student does not learn even from "
            "right answers."
        )
    return (
        f"{head} taught no family beyond its baseline: {_names(form)} rose to the answer format "
        "only."
    )


def _arrows(
    scores: dict, bars: dict, before: dict, baseline: dict, heldout: dict, items: list
) -> str:
    """What an arrow on a run's mean rests on: families that rose to their format only, with how often
    that run's student gave one and the same answer there."""
    up = [
        k
        for k in scores
        if k != "before"
        and scores[k]
        and k in bars
        and scores[k]["mean"] > before["mean"]
        and not within_bar(scores, bars, before, k)
    ]
    if not up or not items:
        return ""
    parts = []
    for k in up:
        a = getattr(scores[k], "answers", None)
        form = si.rose(before, scores[k], bars[k], baseline, heldout)[1]
        for f in form:
            said = Counter(
                x.strip().lower().rstrip(".")[:20] for x, t in zip(a or [], items) if t.family == f
            )
            if said:
                top, c = said.most_common(1)[0]
                parts.append(f"{k}: '{top}' on {c} of {sum(said.values())} `{f}` prompts")
    if not parts:
        return ""
    return (
        f" The ↑ on the mean of {_names(up)} rests on this ({'; '.join(parts)}): one constant "
        "answer scores a two-way family's baseline. Format, not skill"
        + (
            "; the control's balanced labels score lower for the same reason."
            if "control" in scores and "control" not in up
            else "."
        )
    )


def within_bar(scores: dict, bars: dict, before: dict, k: str) -> bool:
    """Whether run `k`'s mean moved within its paired noise bar."""
    return within(scores[k]["mean"] - before["mean"], bars[k]["mean"])


def runs(
    scores: dict[str, dict | None],
    sizes: dict[str, int],
    bars: dict,
    baseline: dict,
    heldout: dict,
    fam_v: Counter,
    grown_rows: list[tuple[str, str, bool, bool]],
    kept_by: Counter,
    control_rows: list[tuple[str, str, bool]] = (),
    gap: dict | None = None,
    items: list = (),
) -> str:
    """Section 10: the matched control's verdict first (can the student learn these families?), then the
    grown rows against it (`gap`: paired bars of control minus grown), the other runs, what the grown
    rows hold (each row's family, output, whether classification, whether its input makes sense) and
    what would help next. `items`: the held-out tasks, to read a run's answers on a family."""
    fam_g = Counter(r[0] for r in grown_rows)
    labels: dict[str, Counter] = {}
    odd: Counter = Counter()
    for f, out, clf, ok in grown_rows:
        if clf:
            labels.setdefault(f, Counter())[out.strip().lower()] += 1
            odd[f] += not ok
    before, ctrl, grown = scores["before"], scores.get("control"), scores.get("grown")
    if ctrl is None:
        return (
            "**No grader, nothing verified.** No program checks the hub's instances or confirms a "
            "seed, so this section trains nothing on the presets. To run it, write a verifier: a "
            "majority vote over several sampled outputs, or a judge model (12c)."
        )
    c_lab: dict[str, Counter] = {}
    for f, out, clf in control_rows:
        if clf:
            c_lab.setdefault(f, Counter())[out.strip().lower()] += 1
    mix = "; ".join(
        f"`{f}` " + ", ".join(f"{k} '{lab}'" for lab, k in sorted(c.items()))
        for f, c in c_lab.items()
    )
    mix = f"the grown rows' families and counts ({mix})" if mix else "the grown rows' families"
    learns, form = si.rose(before, ctrl, bars["control"], baseline, heldout)
    out = _control(before, ctrl, bars["control"], baseline, heldout, sizes["control"], mix)
    if not learns:
        out = "**No run here judges the data.** " + out
    if learns and grown is not None and gap:
        for f in learns:
            d = ctrl[f] - grown[f]
            out += (
                f" The grown rows fell short on `{f}` ({grown[f]:.2f} against {ctrl[f]:.2f}, "
                f"±{gap[f]:.2f}): there the data fails."
                if d > gap[f]
                else f" The grown rows matched it on `{f}` ({grown[f]:.2f} against {ctrl[f]:.2f}, "
                f"±{gap[f]:.2f}): verified rows teach what right rows teach."
            )
    elif not learns:
        out += (
            " Right rows of the same families teach this student no skill in this budget, so the "
            "runs on generated rows can differ in format only."
        )
    taught_f = {r[0] for r in control_rows} or set(ctrl)  # the families the control trains on
    low = [
        f for f in baseline if f in taught_f & set(ctrl) and f not in form and ctrl[f] < baseline[f]
    ]
    if low:
        vals = ", ".join(f"`{f}` {ctrl[f]:.2f} against {baseline[f]:.2f}" for f in low)
        out += (
            f" Below the baseline even after right rows ({vals}), it learned not even the format: "
            "naming either of the prompt's two values would score about 0.50."
        )
    gen = [k for k in ("all", "verified", "grown") if scores.get(k) is not None]
    taught = {k: si.rose(before, scores[k], bars[k], baseline, heldout)[0] for k in gen}
    out += (
        " On generated rows: "
        + "; ".join(f"{k} {sizes[k]} taught {_names(v)}" for k, v in taught.items() if v)
        + "."
        if any(taught.values())
        else f" No run on generated rows taught a family beyond its baseline{' either' * (not learns)}."
    )
    out += _arrows(scores, bars, before, baseline, heldout, items)
    if grown is not None and gap and "mean" in gap:
        d = grown["mean"] - ctrl["mean"]
        out += f" Grown against control, prompt by prompt: mean {d:+.3f}, ±{gap['mean']:.2f}, " + (
            "inside the bar: no difference." if within(d, gap["mean"]) else "beyond the bar."
        )
    ver = scores.get("verified")
    if ver is not None and "verified" in bars:
        d, b = ver["mean"] - before["mean"], bars["verified"]["mean"]
        out += (
            f" Verified rows alone ({sizes['verified']}): mean {d:+.3f}, "
            f"{'inside' if within(d, b) else 'beyond'} its bar (±{b:.2f}), "
            f"{'below' if ver['mean'] < scores['all']['mean'] else 'not below'} all rows' "
            f"{scores['all']['mean']:.2f}: fewer rows, the same format."
        )
    empty, noise = [], score_bars(heldout)
    if grown is not None:
        out += f" Sampling grew the verified rows {sum(fam_v.values())} -> {sum(fam_g.values())}."
        out += "".join(
            _label_sentence(
                f, c, grown[f], baseline[f], within(grown[f] - baseline[f], noise[f]), odd[f]
            )
            for f, c in labels.items()
            if f in baseline and f in noise
        )
        empty = [f for f in before if f != "mean" and not fam_g[f]]
    if empty:
        never = [f for f in empty if not kept_by[f]]
        out += f" {_names(empty)} got no verified row" + (
            f": the funnel kept none of {'its' if len(empty) == 1 else 'their'} instructions, so "
            "neither run trains on them."
            if never == empty
            else "."
        )
    fixes = [
        "rows of both labels for a two-way family" if any(map(_one_sided, labels.values())) else "",
        "inputs that name whom the question asks about" if sum(odd.values()) else "",
        "instructions of the empty families that pass the funnel" if empty else "",
    ]
    fixes = "; ".join(x for x in fixes if x)
    if learns:
        return out + (f" **Next:** {fixes}." if fixes else "")
    return out + (
        " **Next:** a student that can learn (exercise 3)" + (f"; then {fixes}." if fixes else ".")
    )


def answers(
    items: list, before: si.Scores, after: si.Scores, fams: tuple = ("facts", "compare")
) -> str:
    """The student's raw answers to the first held-out prompt of each family in `fams`, before and
    after training, with the right answer and the grader's verdicts."""
    if before.answers is None or after.answers is None:
        return ""
    mark = {True: "right", False: "wrong"}
    rows = []
    for f in fams:
        k = next((i for i, t in enumerate(items) if t.family == f), None)
        if k is None:
            continue
        b, a = (_short(x.answers[k], 60).replace("|", "/") for x in (before, after))
        rows.append(
            f"| {_short(items[k].prompt, 60)} | {items[k].answer} | {b} ({mark[before.each[k]]}) "
            f"| {a} ({mark[after.each[k]]}) |"
        )
    if not rows:
        return ""
    return (
        "**The student's raw answers** to a held-out prompt of "
        + _names([f for f in fams if any(t.family == f for t in items)])
        + ", before training and after the control's right rows:\n\n"
        "| held-out prompt | right | before | after the control |\n|---|---|---|---|\n"
        + "\n".join(rows)
    )


# ---------------------------------------------------------------- summary and stability
def summary(
    fates: Counter,
    verdicts: Counter,
    scores: dict[str, dict | None],
    sizes: dict[str, int],
    bars: dict,
    baseline: dict,
    heldout: dict,
    bench: dict,
    seeds_path: Path = claims.SEEDS,
) -> str:
    """The summary's bullets, the measured ones rendered from this run (`seeds_path`: the seeds table)."""
    n, gradable = sum(fates.values()), verdicts[True] + verdicts[False]
    rouge = next((r for r in fates if r.startswith("ROUGE-L")), None)
    removed = f"; *{rouge}* removed {fates[rouge] / n:.0%} of all" if rouge and n else ""
    data = (
        f"{verdicts[False]} of the {gradable} checkable outputs are wrong "
        f"({verdicts[False] / gradable:.0%}), and no filter sees it"
        if gradable
        else "no grader checks the hub's outputs (the paper's hand audit: 58% correct)"
    )
    before, after = scores["before"], scores["all"]
    main, b = _main(before), bars.get("all", {}).get(_main(before))
    change = after[main] - before[main]
    lines = [
        f"- **The funnel** is the measurement to trust most: {fates['kept']} of {n} candidates "
        f"kept{removed}. The filters check form, not meaning or correctness.",
        f"- **The data** is only as good as the writer: {data}.",
    ]
    ctrl = scores.get("control")
    if ctrl is None or b is None:
        lines.append(
            f"- **The student**, on all {sizes['all']} rows: {main} {change:+.3f}, one run; "
            "verified rows and the control need a grader."
        )
    else:
        learns = si.rose(before, ctrl, bars["control"], baseline, heldout)[0]
        lines.append(
            f"- **The student** learns {_names(learns)} from the control's {sizes['control']} right "
            "rows, so section 10 compares data there."
            if learns
            else "- **The student cannot learn these families in this budget:** the matched control "
            f"({sizes['control']} right rows) taught no family beyond its baseline, so sections "
            f"8-10 say nothing about data quality here. On all rows the mean moved {change:+.3f} "
            f"(±{b:.2f})."
        )
    lines.append(
        "- **ROUGE-L at scale:** the pool decides as pairwise rouge-score does (asserted), "
        f"{bench['speedup']:.3g}x faster in one timing."
    )
    return "\n".join(lines)


def stability(
    bar: float | None,
    owns_bar: float | None,
    path: Path = claims.SEEDS,
    owns_base: float | None = None,
) -> str:
    """One sentence on the seeds table: did the student's mean move on the other worlds, measured against
    this page's paired noise bar of the mean, and how were those worlds built? `owns_base`: this
    page's `owns` baseline, set against the table's 'chance 0.5'."""
    record = json.loads(Path(path).read_text())
    figures, seeds = record["figures"], record["seeds"]
    b = figures.get("12a student mean accuracy before")
    a = figures.get("12a student mean accuracy after")
    owns = figures.get("12a student 'owns' after (coin 0.5)")
    if not (a and b and bar):
        return ""
    others = [(s, x, y) for s, x, y in zip(seeds[1:], b[1:], a[1:]) if None not in (x, y)]
    moved = [s for s, x, y in others if not within(y - x, bar)]
    vals = ", ".join(f"{x:.2f} -> {y:.2f}" for _, x, y in others)
    here = a[0] - b[0]
    old = [s for s, _, _ in others if s in record.get("before_pin", [])]
    built = (
        f" Seed {' and '.join(map(str, old))} {'comes' if len(old) == 1 else 'come'} from an "
        "earlier build of the world: the recipe on other worlds, not reruns of this page."
        if old
        else ""
    )
    if moved:
        return (
            f"**Reading the seeds.** On seed {', '.join(map(str, moved))} the student's mean "
            f"moved by more than this page's paired noise bar (±{bar:.2f}) as well ({vals}): read "
            f"`owns` on each world before calling it the recipe's effect.{built}"
        )
    owns_txt = ""
    if owns_base is not None and abs(owns_base - 0.5) >= 0.005:
        built += (
            f" The table's *coin 0.5* for `owns` is a coin's; this page's baseline is "
            f"{owns_base:.2f} (always the commonest answer)."
        )
    if owns and owns[0] is not None and owns_bar and any(v is not None for v in owns[1:]):
        pairs = [(s, v) for s, v in zip(seeds[1:], owns[1:]) if v is not None]
        near = [f"seed {s} {v:.2f}" for s, v in pairs if within(v - owns[0], owns_bar)]
        far = [f"seed {s} {v:.2f}" for s, v in pairs if not within(v - owns[0], owns_bar)]
        owns_txt = (
            f" `owns` after SFT, {owns[0]:.2f} here (one score's noise bar ±{owns_bar:.2f}): "
        )
        owns_txt += "; ".join(
            x
            for x in (
                f"{', '.join(near)} within it, the format gain recurred" if near else "",
                f"{', '.join(far)} beyond it, it did not" if far else "",
            )
            if x
        )
        owns_txt += "."
    return (
        f"**Reading the seeds.** On the other worlds the student's mean moved less than this page's "
        f"paired noise bar (±{bar:.2f}; {vals}), and here by {here:+.3f}, "
        f"{'inside' if within(here, bar) else 'beyond'} it.{owns_txt}{built}"
    )
