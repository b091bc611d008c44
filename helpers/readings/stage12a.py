"""Readings of notebook 12a (Self-Instruct): each function turns one section's measured values into the
Markdown the learner reads under it, with every verdict chosen by the values."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers import claims
from helpers.readings import coin_noise, plural, within

INVALID = ("not a valid task", "no grader")  # family_of labels that are not a task family


# ---------------------------------------------------------------- inputs of the readings
def bars(heldout: dict[str, int]) -> dict[str, float]:
    """Noise bars: sqrt(1/n) for a family of n prompts (two standard errors of a rate at 0.5), and for the
    mean of F families sqrt(sum 1/n) / F."""
    if not heldout:
        return {}
    out = {f: coin_noise(n) for f, n in heldout.items()}
    out["mean"] = sum(1 / max(n, 1) for n in heldout.values()) ** 0.5 / len(heldout)
    return out


def _main(scores: dict) -> str:
    """The column a verdict reads: the mean over families (tiny), else the only metric (presets)."""
    return "mean" if "mean" in scores else next(iter(scores))


def _gain(before: dict, after: dict) -> dict[str, float]:
    """Change per family (the mean left out)."""
    return {f: after[f] - before[f] for f in before if f != "mean"}


def _noise(delta: float, bar: float | None) -> str:
    """', inside its noise bar (±0.07)' or ', beyond ...'; '' without a bar."""
    if bar is None:
        return ""
    return f", {'inside' if within(delta, bar) else 'beyond'} its noise bar (±{bar:.2f})"


# ---------------------------------------------------------------- sections 4 to 7
def writer(reference: dict[str, float]) -> str:
    """The writer's held-out accuracy per family, read: which families' instances to expect wrong."""
    if not reference:
        return (
            "No grader scores the hub's writer: read its instances in section 7 for wrong answers "
            "yourself; no filter checks them."
        )
    fams = {f: v for f, v in reference.items() if f != "mean"}
    scores = ", ".join(f"`{f}` {v:.2f}" for f, v in fams.items())
    weak = [f"`{f}`" for f, v in fams.items() if v < 0.3]
    out = f"**The writer's held-out accuracy per family** (the world's grader): {scores}. "
    if not weak:
        return out + "It answers every family fairly well: most of its instances should be right."
    names = ", ".join(weak[:-1]) + f" and {weak[-1]}" if len(weak) > 1 else weak[0]
    return out + (
        f"It gets most of {names} wrong: expect those families' instances to be wrong too, and "
        "every filter to keep them, since the filters check form."
    )


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
        f"The speed-up is one timing: {clock}"
    )


def funnel(fates: Counter, offered: Counter, kept_by: Counter, kept_share: list[float]) -> str:
    """The funnel and its three panels: the rule that removes most, kept share per family, per round."""
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
        closed = [f"`{f}`" for f in sorted(real) if not real[f]]
        out += f" Middle: `{best}` kept the largest share ({real[best]:.0%} of {offered[best]})"
        out += (
            f"; {', '.join(closed)} kept none (their template is most of their words)."
            if closed
            else "; every family kept some."
        )
    elif "no grader" in share:
        out += " Middle: no grader sorts the hub's instructions into families, so it has one bar."
    if "not a valid task" in share:
        out += f" Tasks the world cannot answer passed at {share['not a valid task']:.0%}."
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


def shown(verdicts: list[str]) -> str:
    """The instances shown: how many the grader marks wrong, though every filter passed them."""
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
    return out + (
        ". They passed every filter: the filters check an instance's form, never its answer."
        if n_wrong + n_none
        else ". All shown are right; the audit below counts every instance."
    )


def audit(pairs: list[tuple[bool, bool]], verdicts: Counter) -> str:
    """The grader's audit: classification identification, and the share of wrong outputs."""
    gradable = verdicts[True] + verdicts[False]
    if not gradable:
        return (
            "**No grader, no audit.** No program can check these instances (the hub's tasks), so "
            "nothing here says how many outputs are right; the paper's hand audit found 58% "
            "correct. Read a sample yourself before training on it."
        )
    wrong = verdicts[False] / gradable
    right_id = sum(a == b for a, b in pairs)
    out = (
        f"**The audit.** Classification identification is right on {right_id} of {len(pairs)} "
        f"checkable instructions. Of the {gradable} instances the grader can check, it marks "
        f"{verdicts[True]} right and {verdicts[False]} wrong ({wrong:.0%}; the paper's GPT-3 data: "
        f"42% not correct); {verdicts[None]} more cannot be graded. "
    )
    return out + (
        f"**As training data this is poor:** {wrong:.0%} of the checkable rows teach a wrong "
        "answer, and no step of the pipeline removes them. The fix is a verifier (here the "
        "world's grader; with real data a stronger judge or a majority vote over sampled "
        "outputs), or a better writer: section 10 tries the verifier."
        if wrong >= 0.25
        else "Most checkable outputs are right: this data can teach answers, not only formats."
    )


# ---------------------------------------------------------------- sections 9 and 10
def chart(label: str, writer: bool, chance: list[str], mean: bool, losses: list) -> str:
    """The before/after bars and the training loss."""
    out = f"**Reading the chart.** Left: the student's {label} before and after SFT"
    out += ", with the writer for reference" if writer else ""
    if chance:
        out += (
            f"; dashed lines mark chance on {' and '.join(chance)} (0.5): a bar that reaches "
            "that line, not past it, shows the answer format, not the skill"
        )
    out += "; `mean` (right of the thin line) averages the families" if mean else ""
    if len(losses) < 2:
        return out + ". Right: one logged loss only, too few steps to read a trend."
    (_, first), (last_step, last) = losses[0], losses[-1]
    out += (
        f". Right: the loss on the completions went from {first:.2f} to {last:.2f} over "
        f"{last_step} steps: "
    )
    return out + (
        "the student fits its data, wrong answers too."
        if last < first
        else "it did not fall, so the student did not fit its data (learning rate or steps off)."
    )


def _headline(before: dict, after: dict, chance: dict, heldout: dict) -> tuple[str, bool]:
    """The student's change in one clause, and whether it is only a two-way family's format."""
    main, bar = _main(before), bars(heldout)
    change, gain = after[main] - before[main], _gain(before, after)
    if len(gain) <= 1:
        return f"{main} went {before[main]:.3f} -> {after[main]:.3f} ({change:+.3f})", False
    if change <= 0:
        return f"{main} did not rise ({change:+.3f}): fine-tuning on this data did not pay", False
    top = max(gain, key=gain.get)
    lift = gain[top] / len(gain)  # what `top` adds to the mean
    at_coin = top in chance and within(after[top] - chance[top], bar.get(top, 0.1))
    head = f"{main} rose {change:+.3f}{_noise(change, bar.get(main))}"
    if at_coin and lift >= change / 2:
        share = "all of it" if lift >= change else f"{lift / change:.0%} of it"
        return (
            f"{head}, and {share} is `{top}` ({gain[top]:+.2f}), which ends at coin level "
            f"({after[top]:.2f} against {chance[top]}): it learned the answer format, not which "
            "answer is right",
            True,
        )
    return f"{head}, most in `{top}` ({before[top]:.2f} -> {after[top]:.2f})", False


def _others(before: dict, after: dict, heldout: dict) -> str:
    """How far the families other than the top mover moved, in held-out prompts."""
    gain, bar = _gain(before, after), bars(heldout)
    others = [f for f in gain if f != max(gain, key=gain.get) and f in heldout]
    if not others:
        return ""
    moved = {f: round(abs(gain[f]) * heldout[f]) for f in others}
    big = [f"`{f}` ({gain[f]:+.2f})" for f in others if not within(gain[f], bar[f])]
    if not max(moved.values()):
        return " No other family moved."
    if big:
        return f" Beyond its noise bar also: {', '.join(big)}; one run, so rerun before reading it."
    k = max(moved.values())
    by = "a prompt or two" if k <= 2 else f"at most {plural(k, 'held-out prompt')}"
    return f" The other families moved by {by} each, within their noise bars."


def result(
    before: dict, after: dict, chance: dict, heldout: dict, verdicts: Counter, writer: dict
) -> str:
    """Where the student's gain comes from, and what to do next."""
    text, format_only = _headline(before, after, chance, heldout)
    main = _main(before)
    out = f"**Reading the result.** The student's {text}.{_others(before, after, heldout)}"
    gradable = verdicts[True] + verdicts[False]
    if gradable:
        wrong = verdicts[False] / gradable
        out += f" The data had {wrong:.0%} wrong outputs among those the grader checks."
    if writer.get(main) is not None:
        out += f" The writer scores {writer[main]:.2f}: a student on better data could approach it."
    return out + (
        " **Next:** this fine-tune does not ship; section 10 trains on verified instances only."
        if after[main] <= before[main] or format_only
        else " One run: read how stable it is at the end of the notebook before building on it."
    )


def family_table(runs: dict[str, dict], heldout: dict[str, int], chance: dict) -> str:
    """Each run's score per family with the family's noise bar; an arrow marks a change from the first
    run beyond that bar."""
    bar, names = bars(heldout), list(runs)
    first = runs[names[0]]
    head = "| family | held-out prompts | noise bar | " + " | ".join(names) + " |\n"
    head += "|---" * (3 + len(names)) + "|\n"
    lines = []
    for f in first:
        n = sum(heldout.values()) if f == "mean" else heldout.get(f)
        cells = []
        for name in names:
            v, moved = runs[name][f], runs[name][f] - first[f]
            arrow = "" if f not in bar or within(moved, bar[f]) else (" ↑" if moved > 0 else " ↓")
            cells.append(f"{v:.2f}{arrow}")
        label = f"`{f}` (chance {chance[f]})" if f in chance else f"`{f}`"
        noise = f"±{bar[f]:.2f}" if f in bar else "-"
        lines.append(f"| {label} | {n or '-'} | {noise} | " + " | ".join(cells) + " |")
    note = f"\n\n↑ / ↓: beyond the noise bar from *{names[0]}*." if bar else ""
    return head + "\n".join(lines) + note


def _one_sided(labels: Counter) -> bool:
    """Whether nine in ten verified rows of a two-way family carry the same label."""
    n = sum(labels.values())
    return bool(n) and labels.most_common(1)[0][1] / n >= 0.9


def _label_sentence(f: str, labels: Counter, score: float, at_coin: bool) -> str:
    """One two-way family's verified labels: one-sided (the student can only learn one answer) or not."""
    n = sum(labels.values())
    if not n:
        return ""
    if not _one_sided(labels):
        mix = ", ".join(f"{c} '{lab}'" for lab, c in labels.most_common())
        return f" The verified `{f}` rows hold both labels ({mix})."
    top, k = labels.most_common(1)[0]
    share, few = (f"All {n}", "no") if k == n else (f"{k} of the {n}", "few")
    out = (
        f" {share} verified `{f}` rows say '{top}': the writer wrote {few} right inputs for the "
        "other label, so verification removed the label balance that output-first exists for."
    )
    return out + (
        " A student taught one answer scores only the share of that answer among the held-out "
        f"prompts, about coin level: `{f}` ended at {score:.2f}."
        if at_coin
        else f" Yet `{f}` ended at {score:.2f}, away from coin level: read its answers before trusting it."
    )


def grown(
    before: dict,
    after: dict,
    after_v: dict | None,
    after_g: dict | None,
    rows: tuple[Counter, Counter],
    labels: dict[str, Counter],
    kept_by: Counter,
    chance: dict,
    heldout: dict,
) -> str:
    """Verified rows, then the verified set grown by sampling: which family moved beyond its bar, and
    what would move the others."""
    if after_v is None or after_g is None:
        return (
            "**No grader, nothing verified.** No program checks the hub's instances, so this "
            "section trains nothing on the presets. With real data the verifier is a stronger "
            "judge model, or a majority vote over several sampled outputs."
        )
    (fam_v, fam_g), main, bar = rows, _main(before), bars(heldout)
    b = bar.get(main, 0.0)
    diff = after_v[main] - after[main]
    word = "about as well as" if within(diff, b) else ("better than" if diff > 0 else "worse than")
    out = (
        f"**Reading the table.** The {sum(fam_v.values())} verified rows did {word} all the rows "
        f"({main} {after_v[main]:.2f} against {after[main]:.2f}, noise bar ±{b:.2f}). Sampling "
        f"grew the verified set to {sum(fam_g.values())} rows ("
        + ", ".join(f"`{f}` {fam_v[f]} -> {k}" for f, k in fam_g.most_common() if f in before)
        + ")."
    )
    gain = _gain(before, after_g)
    moved = [f for f in gain if f in bar and not within(gain[f], bar[f])]
    coin = [f for f in moved if f in chance and within(after_g[f] - chance[f], bar[f])]
    up = [f for f in moved if f not in coin and gain[f] > 0]
    down = [f for f in moved if f not in coin and gain[f] < 0]
    for fams, verb in ((up, "Rose"), (down, "Fell")):
        if fams:
            out += f" {verb} beyond its noise bar from *before*: " + ", ".join(
                f"`{f}` {before[f]:.2f} -> {after_g[f]:.2f} (±{bar[f]:.2f})" for f in fams
            )
            out += "."
    if not up:
        out += " **No family rose beyond its noise bar on skill**" + (
            f": {', '.join(f'`{f}`' for f in coin)} rose only to coin level." if coin else "."
        )
    out += "".join(
        _label_sentence(
            f, labels.get(f, Counter()), after_g[f], within(after_g[f] - chance[f], bar[f])
        )
        for f in chance
        if f in bar
    )
    if up:
        return out + " One run: check it on another world before building on it."
    empty = [f for f in gain if not fam_g[f]]
    if empty:
        never = [f for f in empty if not kept_by[f]]
        names = ", ".join(f"`{f}`" for f in empty)
        out += f" {names} got no verified row" + (
            f": the funnel kept none of {'its' if len(empty) == 1 else 'their'} instructions."
            if never == empty
            else f"; the funnel kept no instruction of {', '.join(f'`{f}`' for f in never)}."
            if never
            else "."
        )
    rich = [f for f, _ in fam_g.most_common() if f in gain and f not in chance and f not in moved]
    if rich:
        f = rich[0]
        out += (
            f" `{f}`, with the most rows ({fam_g[f]}), went {before[f]:.2f} -> {after_g[f]:.2f}: "
            "more rows of one template did not teach this student."
        )
    fixes = [
        "rows of both labels for a two-way family (a writer that can write the missing label's "
        "inputs)"
        if any(_one_sided(labels.get(f, Counter())) for f in chance)
        else "",
        "instructions of the empty families that pass the funnel" if empty else "",
        "more steps or a larger student for the families that had rows" if rich else "",
    ]
    fixes = [x for x in fixes if x]
    return out + (" **What would:** " + "; ".join(fixes) + "." if fixes else "")


# ---------------------------------------------------------------- summary and stability
def summary(
    fates: Counter,
    verdicts: Counter,
    before: dict,
    after: dict,
    after_g: dict | None,
    n_grown: int,
    chance: dict,
    heldout: dict,
    bench: dict,
) -> str:
    """The summary's bullets, the measured ones rendered from this run."""
    n, gradable = sum(fates.values()), verdicts[True] + verdicts[False]
    rouge = next((r for r in fates if r.startswith("ROUGE-L")), None)
    removed = f"; *{rouge}* removed {fates[rouge] / n:.0%} of all" if rouge and n else ""
    data = (
        f"{verdicts[False]} of the {gradable} checkable outputs are wrong "
        f"({verdicts[False] / gradable:.0%}), and no filter sees it"
        if gradable
        else "no grader checks the hub's outputs (the paper's hand audit: 58% correct)"
    )
    main, bar = _main(before), bars(heldout)
    if after_g is None:
        ver = "cannot be tried without a grader (the presets)"
    else:
        gain = _gain(before, after_g)
        up = [
            f"`{f}`"
            for f in gain
            if f in bar
            and gain[f] > bar[f]
            and not (f in chance and within(after_g[f] - chance[f], bar[f]))
        ]
        ver = f"grown by sampling to {n_grown} rows, moved {main} {before[main]:.2f} -> " + (
            f"{after_g[main]:.2f}; {', '.join(up)} rose beyond the noise bar"
            if up
            else f"{after_g[main]:.2f}, and no family beyond its noise bar on skill: more "
            "verified rows alone did not teach this student (section 10 says what would)"
        )
    return "\n".join(
        [
            "- **The pipeline** is the paper's: 8-task prompts, classification identification, "
            "output-first instances for classification, its filters, every call checkpointed.",
            f"- **The funnel** is the measurement to trust most: {fates['kept']} of {n} candidates "
            f"kept{removed}. The filters check form, not meaning or correctness.",
            f"- **The data** is only as good as the writer: {data}.",
            f"- **The student's** {_headline(before, after, chance, heldout)[0]}.",
            f"- **Verified instances only**, {ver}.",
            "- **ROUGE-L at scale:** the bit-parallel pool decides as pairwise rouge-score does "
            f"(asserted), {bench['speedup']:.3g}x faster in one timing.",
        ]
    )


def stability(bar: float | None, path: Path = claims.SEEDS) -> str:
    """One sentence on the seeds table: did the student's mean move on the other worlds?"""
    record = json.loads(Path(path).read_text())
    figures, seeds = record["figures"], record["seeds"]
    b = figures.get("12a student mean accuracy before")
    a = figures.get("12a student mean accuracy after")
    owns = figures.get("12a student 'owns' after (chance 0.5)")
    if not (a and b and bar):
        return ""
    others = [(s, x, y) for s, x, y in zip(seeds[1:], b[1:], a[1:]) if None not in (x, y)]
    moved = [s for s, x, y in others if not within(y - x, bar)]
    vals = ", ".join(f"{x:.2f} -> {y:.2f}" for _, x, y in others)
    here = a[0] - b[0]
    owns = owns if owns and owns[0] is not None else None
    owns_txt = ", ".join(f"{v:.2f}" for v in owns[1:] if v is not None) if owns else ""
    if moved:
        return (
            f"**Reading the seeds.** On seed {', '.join(map(str, moved))} the student's mean "
            f"moved beyond its noise bar (±{bar:.2f}) as well ({vals}): the gain is not this world's "
            "alone; read `owns` on each world before calling it the recipe's effect."
        )
    fmt = f"`owns` answer format ({owns[0]:.2f} here" if owns else "answer format"
    fmt += (f"; {owns_txt} on the others)" if owns_txt else ")") if owns else ""
    inside = "inside the bar too" if within(here, bar) else "beyond the bar"
    return (
        f"**Reading the seeds.** On the other worlds the student's mean did not move ({vals}; "
        f"noise bar ±{bar:.2f}), and here its {here:+.3f} is {inside}: what moved is this "
        f"world's {fmt}, not the recipe's effect."
    )
