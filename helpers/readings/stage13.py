"""Notebook 13's readings (LLaVA): the loss curves, the grid of held-out answers, the stage and
control rows, and the stability box, each turned into the sentences the learner reads under them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers import claims, vlm_data, vlm_eval

BLIND, STAGE1 = "blind (text only)", "stage 1: projector only"
STAGE2, SHUFFLED = "stage 2: projector + LoRA", "control: shuffled images"
NAMES = {"colour": "the colour", "shape": "the shape", "position": "the side"}
NAMES |= {"exact": "the exact captions", "ROUGE-L": "ROUGE-L"}
BAR = 0.15  # the lead over the shuffled control that the notebook's check asks for
Rows = dict[str, dict[str, float]]


def joined(xs: list[str]) -> str:
    """'a, b and c'."""
    return ", ".join(xs[:-1]) + " and " * (len(xs) > 1) + "".join(xs[-1:])


def ends(xs: list[float]) -> tuple[float, float]:
    """The means of the first and the last tenth of a loss curve."""
    k = max(1, len(xs) // 10)
    return sum(xs[:k]) / k, sum(xs[-k:]) / k


def losses(losses0: list[float], losses1: list[float], losses2: list[float]) -> str:
    """Reading of the plots: how far each stage's loss fell, and where stage 2 starts."""
    parts = []
    for name, xs in [("stage 0", losses0), ("stage 1", losses1), ("stage 2", losses2)]:
        if xs:
            a, z = ends(xs)
            trend = "fell" if z < 0.9 * a else "did not fall (that stage learned little here)"
            parts.append(f"{name}'s loss {trend}: {a:.2f} → {z:.3f} over {len(xs)} steps")
    jump = "Stage 2 starts about where stage 1 ended."
    if losses1 and losses2 and ends(losses2)[0] > ends(losses1)[1]:
        jump = (
            "Stage 2 starts above where stage 1 ended: its mix adds questions, which stage 1 "
            "never saw."
        )
    zero = "" if losses0 else " No stage 0 here: a pretrained LM already reads its context."
    return (
        "**Reading the plots.** The left panel is the table above as bars. On the right"
        f" (means of each run's first and last tenth), {'; '.join(parts)}."
        f"{zero} {jump} A falling loss only says the model fits its training text; whether it "
        "reads the image, only the controls decide."
    )


# drawn shapes: the question names its attribute
QTYPE = {q: a for a, q in vlm_data.QUESTIONS.items()}
OPTIONS = {"colour": tuple(vlm_data.COLOURS), "shape": vlm_data.SHAPES}
OPTIONS["position"] = vlm_data.POSITIONS


def by_type(examples: list[vlm_data.Example], said: list[str]) -> dict[str, tuple[float, int]]:
    """(mean accuracy, count) of the short answers per question type: the attribute asked (shapes) or
    VQA's answer type (photographs)."""
    acc: dict[str, list[float]] = {}
    for e, p in zip(examples, said):
        kind = e.group or QTYPE.get(e.question.splitlines()[0])
        if e.kind == "answer" and kind:
            acc.setdefault(kind, []).append(vlm_eval.vqa_accuracy(p, e.references))
    return {k: (sum(v) / len(v), len(v)) for k, v in acc.items()}


def misses(examples: list[vlm_data.Example], said: list[str]) -> tuple[dict, Counter]:
    """Per attribute, the share of captions that name it right; and the commonest swaps, counted as
    (attribute, the scene's value, the value the caption names)."""
    named: dict[str, list[bool]] = {}
    swaps: Counter = Counter()
    for e, p in zip(examples, said):
        for a, v in e.facts.items() if e.kind == "caption" else ():
            named.setdefault(a, []).append(vlm_eval.names(p, v))
            got = next((o for o in OPTIONS.get(a, ()) if o != v and vlm_eval.names(p, o)), None)
            if not named[a][-1] and got:
                swaps[(a, v, got)] += 1
    return {a: sum(x) / len(x) for a, x in named.items()}, swaps


def grid(examples: list[vlm_data.Example], said: list[str]) -> str:
    """Reading of the grid: the captions equal to a reference, the answers with credit, the accuracy per
    question type and which errors the captions make."""
    counts, short = [], []
    for kind, noun, verb in [
        ("caption", "captions", "equal a reference"),
        ("answer", "questions", "get credit"),
    ]:
        good = [vlm_eval.correct(e, p) for e, p in zip(examples, said) if e.kind == kind]
        if good:
            k, n = sum(good), len(good)
            counts.append(f"{k} of the {n} held-out {noun} {verb} ({k / n:.0%})")
            short += [noun] if min(k, n - k) < 3 else []
    text = f"**Reading the grid.** {'; '.join(counts)}."
    if short:
        text += (
            f" Among the {' and the '.join(short)}, fewer than three are right or fewer than "
            "three wrong, so the grid fills those panels from the other side."
        )
    types, (named, swaps) = by_type(examples, said), misses(examples, said)
    attrs = [a for a in vlm_data.ATTRIBUTES if a in named and a in types]
    if attrs:
        head = " | ".join(attrs)
        text += (
            " Per attribute:\n\n"
            f"| | {head} |\n|---|{'---:|' * len(attrs)}\n"
            f"| named in captions | {' | '.join(f'{named[a]:.2f}' for a in attrs)} |\n"
            f"| questions answered | {' | '.join(f'{types[a][0]:.2f}' for a in attrs)} |\n\n"
        )
        weak_c, weak_q = min(attrs, key=named.get), min(attrs, key=lambda a: types[a][0])
        if weak_c == weak_q:
            text += f"{NAMES[weak_c].capitalize()} is the weak attribute in both tasks"
        else:
            text += f"The captions miss {NAMES[weak_c]} most, the questions {NAMES[weak_q]}"
        top = ", ".join(f"{v} → {got} ({n})" for (_, v, got), n in swaps.most_common(3))
        text += f"; the commonest swaps in captions (scene → caption): {top}." if top else "."
        text += (
            " The table's one 'answers' figure hides this split; the grid's red and orange panels "
            "are examples of these misses."
        )
    elif types:
        split = ", ".join(f"{k} {acc:.2f} ({n})" for k, (acc, n) in sorted(types.items()))
        text += f" By answer type (questions in brackets): {split}."
    return text


def floor(rows: Rows, attrs: list[str]) -> str:
    """The blind model's ROUGE-L as the captions' floor, and stage 2's lead over it."""
    low = rows[BLIND].get("ROUGE-L", 0.0)
    lead = rows[STAGE2].get("ROUGE-L", 0.0) - low
    shared = (
        'every caption shares the template "a … … on the …"'
        if attrs
        else 'captions share some wording ("A man in a … is …")'
    )
    above = (
        f"stage 2 stands {lead:.2f} above it"
        if lead > 0.02
        else "stage 2 does not stand above it, so its captions show nothing the wording does not "
        "give: a miss (train longer, and read the shuffled row before any claim)"
    )
    return (
        "- **A caption score needs its floor.** The blind model reaches ROUGE-L "
        f"{low:.2f} without seeing anything, because {shared}; {above}. Only what a stage "
        "scores above the blind and shuffled rows says anything about vision."
    )


def stage1(rows: Rows, chance: dict[str, float], attrs: list[str]) -> str:
    """Which attributes the projector alone passes through, against chance and the blind model."""
    head = "- **What stage 1 reads.** "
    if not attrs:
        return head + "Photographs have no closed attributes to count: read `exact` and ROUGE-L."
    s1, blind = rows[STAGE1], rows[BLIND]
    read = [a for a in attrs if s1[a] - chance[a] > BAR]
    missed = [NAMES[a] for a in attrs if a not in read]
    if not missed:
        weakest = NAMES[min(attrs, key=s1.get)]
        verdict = f"the projector alone learned to pass all three through, {weakest} least well."
    elif read:
        verdict = (
            f"the projector alone passed {joined([NAMES[a] for a in read])} through and left "
            f"{joined(missed)} near chance: a miss for stage 1 there, which stage 2 must make up "
            "(a practitioner would first try more stage-1 steps or another projector rate)."
        )
    else:
        verdict = (
            "the projector alone passed no attribute through: stage 1 did not pay here. Check "
            "that stage 0's loss fell first, then stage 1's rate and steps."
        )
    rates = ", ".join(f"{NAMES[a]} in {s1[a]:.2f}" for a in attrs)
    floors = ", ".join(f"{chance[a]:.2f}" for a in attrs)
    blinds = ", ".join(f"{blind[a]:.2f}" for a in attrs)
    return (
        f"{head}Stage 1 names {rates} of the captions (chance {floors}; blind model "
        f"{blinds}): {verdict}"
    )


def stage2(rows: Rows, attrs: list[str]) -> str:
    """What stage 2 adds to, or costs, stage 1's captions."""
    s1, s2 = rows[STAGE1], rows[STAGE2]
    keys = [k for k in (*attrs, "exact", "ROUGE-L") if k in s1 and k in s2]

    def moved(k: str) -> str:
        if abs(s2[k] - s1[k]) <= 0.02:
            return f"keeps {NAMES[k]} at {s2[k]:.2f}"
        verb = "lifts" if s2[k] > s1[k] else "lowers"
        return f"{verb} {NAMES[k]} from {s1[k]:.2f} to {s2[k]:.2f}"

    worse = [NAMES[k] for k in keys if s2[k] - s1[k] < -0.02]
    if worse:
        pays = (
            f"Stage 2 did not pay on {joined(worse)}: LoRA and the questions cost what stage 1 "
            "had learned there. A practitioner would lower stage 2's projector rate, weight "
            "captions more in the mix, or freeze the projector in stage 2."
        )
    elif any(s2[k] - s1[k] > 0.02 for k in keys):
        pays = "Stage 2 lost nothing stage 1 had learned on captions."
    else:
        pays = "Stage 2 changed nothing on captions here."
    moves = joined([moved(k) for k in keys])
    return f"- **What stage 2 adds to captions.** Stage 2 {moves}. {pays}"


def questions(rows: Rows, chance: dict[str, float]) -> str:
    """Stage 2's short-answer accuracy against chance, and stage 1's, which never saw a question."""
    a2, a1 = rows[STAGE2].get("answers", 0.0), rows[STAGE1].get("answers", 0.0)
    text = f"- **The questions.** Stage 2 answers the questions with accuracy {a2:.2f}"
    if (a_ch := chance.get("answers")) is not None:  # drawn shapes: a known chance level
        text += f" (chance {a_ch:.2f})"
        if a2 - a_ch <= BAR:
            text += ": barely above chance or below it, a miss (more stage-2 steps next)"
    if a1 < 0.005:
        how = "gets no answer right"
    elif a1 < 0.1:
        how = "gets almost no answer right"
    else:
        how = "still gets some credit"
    return f"{text}. Stage 1, which never saw a question, {how} ({a1:.2f})."


def controls(rows: Rows, chance: dict[str, float], attrs: list[str], gap: float) -> str:
    """The shuffled-image control against chance, and the verdict: does the model read the image?"""
    real, shuf, low = rows[STAGE2], rows[SHUFFLED], rows[BLIND].get("ROUGE-L", 0.0)
    keys = [k for k in real if k in shuf]
    flat = [k for k in keys if real[k] - shuf[k] <= 0.02]
    if attrs:
        stays = [NAMES[a] for a in attrs if shuf[a] - chance[a] > 0.1]
        verb = "stays" if len(stays) == 1 else "stay"
        fall = (
            f"{joined(stays)} {verb} above chance"
            if stays
            else "every attribute falls to about chance"
        )
        text = (
            f"With shuffled images, {fall} ({', '.join(f'{shuf[a]:.2f}' for a in attrs)}; "
            f"chance {', '.join(f'{chance[a]:.2f}' for a in attrs)}), the answers score "
            f"{shuf.get('answers', 0.0):.2f} (chance {chance['answers']:.2f}) and the exact "
            f"captions {shuf['exact']:.3f} (chance {chance['exact']:.3f}); ROUGE-L is "
            f"{shuf['ROUGE-L']:.2f}, against the blind model's {low:.2f}."
        )
        if stays:
            text += " What stays above chance with another image is guessed without it: not vision."
    else:
        drops = [k for k in keys if k not in flat]
        text = (
            f"With shuffled photographs, stage 2 drops on {len(drops)} of {len(keys)} scores "
            f"({', '.join(drops) or 'none'})."
        )
    if attrs and gap > BAR:
        verdict = (
            f"On average the attributes stand {gap:.2f} above the shuffled control, past the bar "
            f"of {BAR} checked above: the answers come from the image."
        )
    elif attrs:
        verdict = (
            f"The attributes' lead over the shuffled control is only {gap:.2f}, under the bar of "
            f"{BAR}: this run does not show that the model reads the image. A miss: expected with "
            "the quick profile's few steps; otherwise check stage 0's loss, then train stages 1 "
            "and 2 longer."
        )
    elif flat:
        verdict = (
            f"On {', '.join(flat)} the shuffled photographs do as well: there the model answers "
            "from the text (the language prior), not the image. Report those beside the control, "
            "and train longer before claiming vision."
        )
    else:
        verdict = "Every score falls without the right photograph: the answers come from the image."
    return f"- **The controls.** {text} {verdict}"


def results(rows: Rows, chance: dict[str, float], gap: float) -> str:
    """The notes under the table and the plots: floor, stage 1, stage 2, questions, controls."""
    attrs = [a for a in vlm_data.ATTRIBUTES if a in rows[SHUFFLED]]
    notes = [
        floor(rows, attrs),
        stage1(rows, chance, attrs),
        stage2(rows, attrs),
        questions(rows, chance),
        controls(rows, chance, attrs, gap),
    ]
    if attrs:
        notes.append(
            "- **This task's effects were built in.** Drawn shapes make colour, shape and side the "
            "only content, by design. On photographs the chance row is unknown, and the blind and "
            "shuffled rows are the only floors."
        )
    return "What to look for, in this run:\n\n" + "\n".join(notes)


def stability(seed: int = 0, path: Path = claims.SEEDS) -> str:
    """How this world's stage-2 exact-caption share ranks among the worlds of the seeds table."""
    record = json.loads(Path(path).read_text())
    seeds, row = record["seeds"], record["figures"].get("13 stage 2 exact") or []
    values = dict(zip(seeds, row))
    mine = values.pop(seed, None)
    others = {s: v for s, v in values.items() if v is not None}
    if mine is None or not others:
        return "No other world's stage-2 figure is recorded: exercise 5 builds one."
    if mine > max(others.values()):
        rank = "the best"
    elif mine < min(others.values()):
        rank = "the worst"
    else:
        rank = "neither the best nor the worst"
    against = joined([f"{v:.2f} on seed {s}" for s, v in others.items()])
    text = (
        f"Seed {seed}'s world, the one above, gives {rank} stage-2 exact-caption share of the "
        f"{len(others) + 1} worlds ({mine:.2f}, against {against}), "
    )
    if max(abs(mine - v) for v in others.values()) > 0.1:
        text += "so the headline figure is this world's, not the recipe's"
    else:
        text += "within 0.1 of the others, so the figure is the recipe's more than this world's"
    per_attribute = [
        k
        for k in record["figures"]
        if k.startswith("13 ") and any(a in k for a in vlm_data.ATTRIBUTES)
    ]
    if per_attribute:
        return text + f"; per attribute, read the rows {joined(per_attribute)} above."
    return text + (
        "; which attribute fails on the other worlds is not recorded (exercise 5 rebuilds the "
        "world with another seed to find out)."
    )
