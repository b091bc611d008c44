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


# drawn shapes: the values a caption can swap for one another
OPTIONS = {"colour": tuple(vlm_data.COLOURS), "shape": vlm_data.SHAPES}
OPTIONS["position"] = vlm_data.POSITIONS


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
    """Reading of the grid: the captions equal to a reference, the answers with credit, and which
    swaps the captions make."""
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
    named, swaps = misses(examples, said)
    if swaps:
        top = ", ".join(f"{v} → {got} ({n})" for (_, v, got), n in swaps.most_common(3))
        weak = min(named, key=named.get)
        text += (
            f" The commonest swaps in the captions (scene → caption): {top}. They miss "
            f"{NAMES[weak]} most "
            f"(named in {named[weak]:.2f}); the red and orange panels are such misses."
        )
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


def stage1(rows: Rows, chance: dict[str, float], attrs: list[str], stage0: bool = False) -> str:
    """Which attributes the projector alone passes through, against chance and the blind model, and
    what stage 0 (tiny profile only) did to make that easy."""
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
    text = (
        f"{head}Stage 1 names {rates} of the captions (chance {floors}; blind model "
        f"{blinds}): {verdict}"
    )
    if stage0 and read:
        best = max(read, key=s1.get)
        text += (
            f" Stage 0 made {NAMES[best]}'s {s1[best]:.2f} easy: the LM had already learned to copy "
            "caption words from its image slots, so the projector only had to write those words. "
            "LLaVA's LM never saw image features as words, so its stage 1 is harder; on Colab, "
            "with no stage 0, expect stage 1 to stand closer to the blind row (an expectation)."
        )
    elif stage0:
        text += (
            " Even with stage 0's head start (the LM had learned to copy caption words from its "
            "image slots), stage 1 passed nothing through."
        )
    return text


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
    """Stage 2's short-answer accuracy against chance, overall and per attribute asked (per answer
    type on photographs), and stage 1's, which never saw a question."""
    s2, a1 = rows[STAGE2], rows[STAGE1].get("answers", 0.0)
    a2 = s2.get("answers", 0.0)
    text = f"- **The questions.** Stage 2 answers the questions with accuracy {a2:.2f}"
    if (a_ch := chance.get("answers")) is not None:  # drawn shapes: a known chance level
        text += f" (chance {a_ch:.2f})"
        if a2 - a_ch <= BAR:
            text += ": barely above chance or below it, a miss (more stage-2 steps next)"
    groups = [k for k in s2 if k.startswith("answers: ")]
    if groups and all(g in chance for g in groups):  # shapes: one chance per attribute asked
        lead = {g: s2[g] - chance[g] for g in groups}
        hi, lo = max(groups, key=lead.get), min(groups, key=lead.get)
        text += (
            f". Per attribute asked, the lead over chance runs from {lead[hi]:.2f} on "
            f"{NAMES[hi[9:]]} to {lead[lo]:.2f} on {NAMES[lo[9:]]}: 'answers: all' averages "
            "questions of unequal difficulty"
        )
        if lead[lo] <= BAR:
            text += f", barely above chance: a miss on {NAMES[lo[9:]]}"
    elif groups:  # photographs: no chance level; the shuffled control is the floor
        shuf = rows[SHUFFLED]
        split = ", ".join(f"{g[9:]} {s2[g]:.2f} (shuffled {shuf.get(g, 0.0):.2f})" for g in groups)
        text += f"; per answer type, {split}"
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


def results(rows: Rows, chance: dict[str, float], gap: float, stage0: bool = False) -> str:
    """The notes under the table and the plots: floor, stage 1 (and what stage 0 did for it), stage
    2, questions, controls."""
    attrs = [a for a in vlm_data.ATTRIBUTES if a in rows[SHUFFLED]]
    notes = [
        floor(rows, attrs),
        stage1(rows, chance, attrs, stage0),
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


# the per-attribute rows of the seeds table: what each world's stage 2 names in its captions
PER_ATTRIBUTE = {a: f"13 stage 2 caption: {a}" for a in vlm_data.ATTRIBUTES}
MARGINS = claims.SEEDS.with_name("margins.json")  # a shorter run's figures on every world
SHORT_RUN = "LLaVA: mean attribute accuracy, real minus shuffled images"


def by_seed(record: dict, name: str) -> dict[int, float]:
    """{world seed: value} of one row of the seeds table, without the worlds that lack it."""
    row = record["figures"].get(name) or []
    return {s: v for s, v in zip(record["seeds"], row) if v is not None}


def short_run(path: Path = MARGINS) -> dict[int, float]:
    """{world seed: lead of the attributes over shuffled images} of a shorter run (stages 0, 1)."""
    if not Path(path).exists():
        return {}
    rows = json.loads(Path(path).read_text())["rows"]
    return {r["world_seed"]: r["value"] for r in rows if r["what"] == SHORT_RUN}


def known(record: dict, seed: int, margins: Path) -> str:
    """What the other worlds' records say: the blind floor, what differs between worlds, and the
    shorter run's lead over shuffled images."""
    text = "- **What is known.** "
    blind = list(by_seed(record, "13 blind exact").values())
    if blind and max(blind) - min(blind) <= 0.05:
        text += (
            f"The blind floor is the same everywhere (exact {min(blind):.2f} to {max(blind):.2f}). "
        )
    text += (
        "Only the language model differs between worlds (the drawings, the vision tower and the "
        "training order are fixed)"
    )
    if before := [s for s in record.get("before_pin", []) if s != seed]:
        names = f"seed{'s' * (len(before) > 1)} {' and '.join(map(str, before))}"
        text += f"; {names} also ran an earlier version of the course"
    text += "."
    lead = short_run(margins)
    others = {s: v for s, v in lead.items() if s != seed}
    if seed in lead and others:
        if all(BAR < v < lead[seed] for v in others.values()):
            verdict = "the other models see the image, less well."
        elif any(v <= BAR for v in others.values()):
            verdict = f"some world stays under the bar of {BAR}: it barely sees."
        else:
            verdict = "every world sees as well there; the gap opens later."
        text += (
            f" A shorter run (stages 0 and 1) read the attributes {lead[seed]:.2f} above shuffled "
            f"images here, {joined([f'{v:.2f} on seed {s}' for s, v in others.items()])}: {verdict}"
        )
    return text


def unknown(record: dict, seed: int, chance: dict[str, float]) -> str:
    """Which attribute each other world misses: rendered where recorded, else what would tell."""
    per = {
        s: {a: by_seed(record, n).get(s) for a, n in PER_ATTRIBUTE.items()} for s in record["seeds"]
    }
    rec = {s: d for s, d in per.items() if s != seed and None not in d.values()}
    if rec:
        said = "; ".join(
            f"seed {s}: " + ", ".join(f"{NAMES[a]} {v:.2f}" for a, v in d.items())
            for s, d in rec.items()
        )
        weak = joined([f"{NAMES[min(d, key=d.get)]} on seed {s}" for s, d in rec.items()])
        return f"- **Per attribute.** Stage 2's captions name {said}; the weakest is {weak}."
    text = "- **What is not.** Which attribute they miss: those runs kept only the exact share"
    exact = by_seed(record, "13 stage 2 exact")
    guess, both = chance["colour"], chance["shape"] * chance["position"]
    near = [s for s, v in exact.items() if s != seed and abs(v - guess) < 0.03]
    if near:
        text += (
            f", and it cannot tell: seed {near[0]}'s {exact[near[0]]:.2f} is what guessing the "
            f"colour and naming the rest right gives ({guess:.2f}), and also guessing both shape "
            f"and side ({both:.2f})"
        )
    text += ". This page now records each attribute, so a rerun there fills it in."
    return text


def stability(
    rows: Rows,
    losses0: list[float],
    seed: int = 0,
    path: Path = claims.SEEDS,
    margins: Path = MARGINS,
) -> str:
    """How this world's stage-2 exact-caption share ranks among the worlds of the seeds table, what
    is known of why, what is not, and the check that finds out."""
    record = json.loads(Path(path).read_text())
    values = by_seed(record, "13 stage 2 exact")
    mine = values.pop(seed, None)
    if mine is None or not values:
        return "No other world's stage-2 figure is recorded: exercise 5 builds one."
    if mine > max(values.values()):
        rank = "the best"
    elif mine < min(values.values()):
        rank = "the worst"
    else:
        rank = "neither the best nor the worst"
    against = joined([f"{v:.2f} on seed {s}" for s, v in values.items()])
    text = (
        f"Seed {seed}'s world, the one above, gives {rank} stage-2 exact-caption share of the "
        f"{len(values) + 1} worlds ({mine:.2f}, against {against}): "
    )
    if max(abs(mine - v) for v in values.values()) > 0.1:
        text += "the headline figure is this world's, not the recipe's."
    else:
        text += "within 0.1 of the others, so the figure is the recipe's more than this world's."
    attrs = [a for a in vlm_data.ATTRIBUTES if a in rows[STAGE2]]
    if not attrs:
        return text + (
            " Those worlds are the tiny profile's drawn shapes; this run's photographs are not "
            "among them."
        )
    s1, s2 = rows[STAGE1], rows[STAGE2]
    weak = min(attrs, key=s2.get)
    lift = max(s2[a] - s1[a] for a in attrs)
    later = (
        f"stage 2 moved no attribute more than {lift:.2f} past stage 1, so"
        if lift <= 0.1
        else f"stage 2 lifted an attribute by up to {lift:.2f} here, but"
    )
    loss = f" (here {ends(losses0)[1]:.3f})" if losses0 else ""
    cause = (
        "- **The likely cause, to check.** An exact caption needs all three attributes right, so "
        f"the weakest caps it (here {NAMES[weak]}, named in {s2[weak]:.2f}; exact "
        f"{s2['exact']:.2f}). Here {later} look at stages 0 and 1 on another world: stage 0's "
        f"last loss{loss}, and which attribute stage 1 leaves at the shuffled row (chance). "
        "Exercise 5 does this."
    )
    parts = [text, known(record, seed, margins), unknown(record, seed, vlm_data.CHANCE), cause]
    return "\n\n".join(parts)
