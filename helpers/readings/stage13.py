"""Notebook 13's readings (LLaVA): the run's recipe and one stage-0 input, the loss curves, the stage
and control rows, the grid of held-out answers, where stage 2 fails (confusion tables and their
reading), and the stability box, each turned into what the learner reads under them."""

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


def recipe(cfg) -> str:
    """The tiny run's recipe in three lines: steps per stage, batch, schedule, learning rates, LoRA."""
    from helpers import llava_train

    st = cfg.steps
    zero = "none (a pretrained LM reads its context)"
    steps = f"stage 0 {st['stage0'] or zero}, blind {st['blind']}, stage 1 {st['stage1']}"
    s0 = f"stage 0 every LM weight {llava_train.STAGE0_LR:g}; " if st["stage0"] else ""
    r = llava_train.LORA_RANK
    return (
        f"steps: {steps}, stage 2 {st['stage2']}; batch {cfg.batch}; schedule {cfg.schedule}\n"
        f"learning rates: {s0}stage 1 and blind: projector {cfg.projector_lr:g}; stage 2: "
        f"projector {cfg.stage2_projector_lr:g}, LoRA {cfg.lora_lr:g}\n"
        f"LoRA: rank {r}, alpha {2 * r}, on {', '.join(llava_train.LORA_TARGETS)} of every LM layer"
    )


def stage0_row(proc, example: vlm_data.Example, seed: int = 0) -> str:
    """One of stage 0's inputs, decoded: the caption written as text into the image slots."""
    import random

    from helpers import llava, llava_train

    b = llava.collate(proc, [example])
    ids = llava_train.words_in_slots(proc, b, random.Random(seed))[0]
    text = proc.tokenizer.decode(ids[b["attention_mask"][0] == 1])
    return repr(text.replace("<|endoftext|>", "·"))


def commonest(
    examples: list[vlm_data.Example], said: list[str], who: str, kind: str = "caption"
) -> str:
    """The reply a model gives most often to one kind of example, and how often."""
    got = Counter(p for e, p in zip(examples, said) if e.kind == kind)
    reply, n = got.most_common(1)[0]
    return f"{who}'s commonest {kind}: {reply!r} ({n} of {sum(got.values())})"


def replies(examples: list[vlm_data.Example], said: list[str], who: str) -> str:
    """The first held-out question of each group, with the reply and the reference."""
    first = {e.group: i for i, e in reversed(list(enumerate(examples))) if e.kind == "answer"}
    lines = [f"{who}'s replies to the first held-out question of each kind:"]
    for i in sorted(first.values()):
        e = examples[i]
        lines.append(f"  {e.question.splitlines()[0]} → {said[i]!r} (reference: {e.target})")
    return "\n".join(lines)


def losses(
    losses0: list[float],
    losses1: list[float],
    losses2: list[float],
    rows: Rows | None = None,
    chance: dict[str, float] | None = None,
) -> str:
    """Reading of the plots: where the bars stand against chance, how far each stage's loss fell, why
    stage 1 starts low after stage 0, and where stage 2 starts."""
    text = "**Reading the plots.** "
    known = [k for k in (rows or {}).get(STAGE2, {}) if k in (chance or {})]
    if known:
        up = [k for k in known if rows[STAGE2][k] > chance[k] + 0.1]
        flat = [k for k in known if abs(rows[SHUFFLED][k] - chance[k]) <= 0.1]
        n = len(known)
        text += (
            f"Left: stage 2's bars clear the dashed chance line by more than 0.1 on {len(up)} of "
            f"the {n} scores with a known chance, and the shuffled bars stay within 0.1 of it on "
            f"{len(flat)} of {n}"
        )
        text += (
            ": real images lift the bars, shuffled ones do not. "
            if len(up) == len(flat) == n
            else ". "
        )
    else:
        text += (
            "Left: no chance line on photographs; read the stage bars against the shuffled ones. "
        )
    parts = []
    for name, xs in [("stage 0", losses0), ("stage 1", losses1), ("stage 2", losses2)]:
        if xs:
            a, z = ends(xs)
            trend = "fell" if z < 0.9 * a else "did not fall (that stage learned little here)"
            parts.append(f"{name} {trend}, {a:.2f} → {z:.3f} over {len(xs)} steps")
    text += (
        "Right: each curve is its own objective (stage 0 copies the caption from the slots, stage 1 "
        "writes captions, stage 2 captions and answers), so read each against itself. Means of the "
        f"first and last tenth: {'; '.join(parts)}."
    )
    if losses0 and losses1 and ends(losses1)[0] < 0.5 * ends(losses0)[0]:
        text += (
            f" Stage 1 starts at {ends(losses1)[0]:.2f}, far below stage 0's start: stage 0 already "
            "taught the LM the caption's template (\"a … … on the …\"), so only the image's three "
            "words are left to learn."
        )
    elif not losses0:
        text += " No stage 0 here: a pretrained LM already reads its context."
    if losses1 and losses2 and ends(losses2)[0] > ends(losses1)[1]:
        text += (
            " Stage 2 starts above where stage 1 ended: its mix adds questions, new to the model."
        )
    return text + " A falling loss only says the model fits its training text; the controls decide."


# drawn shapes: the values a reply can name
OPTIONS = {"colour": tuple(vlm_data.COLOURS), "shape": vlm_data.SHAPES}
OPTIONS["position"] = vlm_data.POSITIONS


def named(reply: str, attr: str) -> str:
    """The one value of `attr` a reply names as a word, or 'other' (none, or several)."""
    got = [o for o in OPTIONS[attr] if vlm_eval.names(reply, o)]
    return got[0] if len(got) == 1 else "other"


def confusion(examples: list[vlm_data.Example], said: list[str], attr: str, kind: str) -> Counter:
    """Counts of (the scene's value, the value the reply names) for one attribute, over the captions
    (kind "caption") or the questions that ask for it (kind "answer")."""
    out: Counter = Counter()
    for e, p in zip(examples, said):
        if kind == "caption" and e.kind == "caption" and attr in e.facts:
            out[(e.facts[attr], named(p, attr))] += 1
        elif kind == "answer" and e.kind == "answer" and e.group == attr:
            out[(e.target, named(p, attr))] += 1
    return out


def confusions(examples: list[vlm_data.Example], said: list[str]) -> str:
    """Stage 2's confusion tables for the shape and the side (captions, then answers), and a line for the
    colour: rows are the scene's value, columns what the reply names."""
    if not any(e.facts for e in examples):
        return "photographs: no closed attributes to count"
    lines = ["rows: the scene's value; columns: what the reply names ('other': none, or several)"]
    for attr in ("shape", "position"):
        cols = [*OPTIONS[attr], "other"]
        for kind in ("caption", "answer"):
            c = confusion(examples, said, attr, kind)
            head = f"{kind}s: {NAMES[attr][4:]}"
            lines.append(f"{head:18}" + "".join(f"{v:>9}" for v in cols) + f"{'correct':>9}")
            for v in OPTIONS[attr]:
                n = sum(c[(v, o)] for o in cols)
                share = f"{c[(v, v)] / n:.0%}" if n else "-"
                lines.append(f"  {v:16}" + "".join(f"{c[(v, o)]:>9}" for o in cols) + f"{share:>9}")
    for kind in ("caption", "answer"):
        c = confusion(examples, said, "colour", kind)
        right = sum(n for (v, o), n in c.items() if v == o)
        other = sum(n for (v, o), n in c.items() if o == "other")
        lines.append(
            f"{kind}s: colour  {right} of {sum(c.values())} right, "
            f"{sum(c.values()) - right - other} another colour, {other} no single colour word"
        )
    return "\n".join(lines)


def grid(examples: list[vlm_data.Example], said: list[str], shown: list[int]) -> str:
    """Reading of the grid: the captions equal to a reference, the answers with credit, and which
    attribute each wrong panel shown misses."""
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
    missed: Counter = Counter()
    wrong = [i for i in shown if not vlm_eval.correct(examples[i], said[i])]
    for i in wrong:
        e = examples[i]
        if e.kind == "answer" and e.group in OPTIONS:
            missed[e.group] += 1
        for a, v in e.facts.items() if e.kind == "caption" else ():
            missed[a] += not vlm_eval.names(said[i], v)
    if missed:
        parts = joined([f"{NAMES[a]} in {n}" for a, n in missed.most_common() if n])
        text += (
            f" The {len(wrong)} wrong panels (red or orange) miss {parts}: a few panels show that "
            "each kind of miss occurs, not which dominates; the counts below do."
        )
    return text


def failures(
    examples: list[vlm_data.Example],
    said: list[str],
    blind: list[str],
    cfg,
) -> str:
    """Reading of the confusion tables: which class the shape misses sit on (with a hypothesis), which
    way the side misses go (against the blind model's default), and why answers trail captions."""
    if not any(e.facts for e in examples):
        return "**Where stage 2 fails.** Photographs have no closed attributes: read the grid."
    notes = [shape_note(examples, said), side_note(examples, said, blind)]
    notes.append(answers_note(examples, said, cfg))
    return "**Where stage 2 fails.**\n\n" + "\n".join(notes)


def per_class(c: Counter, values: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """{value: (named right, total)} of a confusion count."""
    return {v: (c[(v, v)], sum(n for (t, _), n in c.items() if t == v)) for v in values}


def shape_note(examples: list[vlm_data.Example], said: list[str]) -> str:
    """The shape misses per class, and the random frozen tower as the hypothesis for the worst one."""
    c = confusion(examples, said, "shape", "caption")
    rate = {v: k / n for v, (k, n) in per_class(c, vlm_data.SHAPES).items() if n}
    worst, best = min(rate, key=rate.get), max(rate, key=rate.get)
    k, n = per_class(c, vlm_data.SHAPES)[worst]
    rates = joined([f"{v}s {r:.0%}" for v, r in rate.items()])
    text = f"- **The shape.** Stage 2's captions name {rates} right"
    if rate[best] - rate[worst] < 0.25:
        return text + ": the misses spread over the three shapes, no class stands out."
    swap = max((o for o in vlm_data.SHAPES if o != worst), key=lambda o: c[(worst, o)])
    text += (
        f": the shape's average hides one failing class, {worst}s ({k} of {n}), most often named "
        f"{swap} ({c[(worst, swap)]})."
    )
    ka, na = per_class(confusion(examples, said, "shape", "answer"), vlm_data.SHAPES)[worst]
    if na and ka / na > k / n + 0.2:
        text += (
            f" Yet the shape questions name {worst}s right in {ka} of {na}: the image features hold "
            "the difference, and the captions lose it more often than the one-word answers."
        )
    elif na:
        text += f" The shape questions miss them too ({ka} of {na} right)."
    if {worst, swap} == {"circle", "square"}:
        faint = (
            "a circle and a square of one colour differ only in a few corner pixels of a 32×32 "
            "drawing cut into 8×8 patches"
        )
    else:
        faint = f"what tells {worst}s from {swap}s"
    return text + (
        " A likely reason (a hypothesis, not tested here): the vision tower is random and frozen, "
        f"and {faint}, so the difference reaches the projector as a faint signal. A trained tower "
        "(the GPU presets' CLIP, or unfreezing it, exercise 7) would test it."
    )


def side_note(examples: list[vlm_data.Example], said: list[str], blind: list[str]) -> str:
    """Which way the captions' side misses go, against what the blind model writes by default."""
    c = confusion(examples, said, "position", "caption")
    ways = {(v, o): n for (v, o), n in c.items() if v != o and o != "other" and n}
    total = sum(ways.values())
    if not total:
        return "- **The side.** Stage 2's captions never swap the side."
    (frm, to), n = max(ways.items(), key=lambda kv: kv[1])
    caps = [p for e, p in zip(examples, blind) if e.kind == "caption"]
    default = Counter(named(p, "position") for p in caps).most_common(1)[0]
    text = f"- **The side.** {n} of the {total} side swaps in the captions go {frm} → {to}"
    if n < 0.8 * total:
        return text + ": the misses go both ways, no bias shows."
    text += f": a bias, not noise. The blind model writes '{default[0]}' in {default[1]} of its "
    text += f"{len(caps)} captions"
    shape = Counter(named(p, "shape") for p in caps).most_common(1)[0]
    sc = confusion(examples, said, "shape", "caption")
    swaps = {o: n for (v, o), n in sc.items() if v != o and o != "other" and n}
    pull = max(swaps, key=swaps.get) if swaps else None
    text += f", and '{shape[0]}' in {shape[1]}"
    if default[0] != to:
        return text + f": the LM's default does not explain the pull toward '{to}'."
    if pull is None or pull == shape[0]:
        return text + (
            ". A likely reason (a hypothesis): where the image's evidence is weak, the LM falls "
            f"back on its default words: '{to}' for the side, '{shape[0]}' for the shape."
        )
    return text + (
        f". The side's misses go to its default word '{to}', but the shape's go mostly to "
        f"'{pull}' ({swaps[pull]} of {sum(swaps.values())}), not to its default '{shape[0]}': a "
        "default word explains at most the side, so read it as one hypothesis among others (the "
        "shape's pull follows what the tower confuses, above)."
    )


def answers_note(examples: list[vlm_data.Example], said: list[str], cfg) -> str:
    """Answers against captions per attribute; how many answer misses are broken words; how often
    stage 2's mix shows each question type, as the hypothesis for the gap."""
    scores = vlm_eval.score(examples, said)
    attrs = [a for a in vlm_data.ATTRIBUTES if f"answers: {a}" in scores and a in scores]
    lag = [a for a in attrs if scores[f"answers: {a}"] < scores[a] - 0.03]
    pairs = joined(
        [f"{NAMES[a]} ({scores[f'answers: {a}']:.2f} against {scores[a]:.2f})" for a in lag]
    )
    if not lag:
        return "- **Answers and captions.** The answers do not trail the captions on any attribute."
    broken = {a: confusion(examples, said, a, "answer") for a in lag}
    miss = {a: sum(n for (v, o), n in c.items() if v != o) for a, c in broken.items()}
    junk = {a: sum(n for (_, o), n in c.items() if o == "other") for a, c in broken.items()}
    mix, b = list(cfg.stage2_mix), cfg.batch
    per_q = cfg.steps["stage2"] * b * mix.count(lag[0]) / len(mix)
    per_cap = (cfg.steps["stage0"] + cfg.steps["stage1"]) * b
    per_cap += cfg.steps["stage2"] * b * mix.count("caption") / len(mix)
    bad = next(
        (p for e, p in zip(examples, said) if e.group in lag and named(p, e.group) == "other"), ""
    )
    side = ""
    if "position" in lag:
        on = Counter(
            v for (v, o), n in broken["position"].items() if o == "other" for _ in range(n)
        )
        two = [
            p
            for e, p in zip(examples, said)
            if e.group == "position" and named(p, "position") == "other"
        ][:2]
        if on:
            where, k = on.most_common(1)[0]
            side = (
                f" The side's invalid answers come on {where} scenes in {k} of {sum(on.values())}"
                f" (two of them: {', '.join(map(repr, two))}): "
                + (
                    "the broken word is the one of a scene's own side, so it is the writing of "
                    f"'{where}' that fails, not the sight."
                    if k == sum(on.values())
                    else "the breakage is spread over both sides."
                )
            )
    text = (
        f"- **Answers and captions.** The answers trail the captions on {pairs}, the share "
        "answered right against the share of captions that name it. Of those answers' misses, "
        + joined([f"{junk[a]} of {miss[a]} on {NAMES[a]}" for a in lag])
        + " are no valid word at all"
        + (f" (such as {bad!r})" if bad else "")
    )
    if sum(junk.values()) >= 0.5 * sum(miss.values()):
        text += ": most misses are a failure to write a word, not a wrong value."
    else:
        text += ": most misses name a wrong value."
    return (
        text
        + side
        + (
            f" A likely reason (a hypothesis): each question type fills {mix.count(lag[0])} of stage "
            f"2's {len(mix)} rows, about {per_q:,.0f} examples, while captions filled stages 0 and 1 "
            f"and {mix.count('caption')} of the {len(mix)} rows, about {per_cap:,.0f}: the one-word "
            "answer and its stop are less practised. More stage-2 steps, or a mix weighted toward "
            "questions, would test it."
        )
    )


def floor(
    rows: Rows, attrs: list[str], steps: dict | None = None, majority: dict | None = None
) -> str:
    """The blind model's ROUGE-L as the captions' floor, stage 2's lead over it, and whether the blind
    model sits below the majority floor on the attributes (and with how many steps)."""
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
    text = (
        "- **A caption score needs its floor.** The blind model reaches ROUGE-L "
        f"{low:.2f} without seeing anything, because {shared}; {above}. Only what a stage "
        "scores above the blind and shuffled rows says anything about vision."
    )
    maj, blind = majority or {}, rows[BLIND]
    below = [a for a in attrs if a in maj and blind.get(a, 0.0) < maj[a]]
    if not below:
        return text
    trained = (
        f"It trained {steps['blind']} steps against stage 1's {steps['stage1']} (a cheap control) "
        if steps and "blind" in steps
        else "It "
    )
    pairs = ", ".join(f"{NAMES[a]} {blind[a]:.2f} against {maj[a]:.2f}" for a in below)
    return text + (
        f" {trained}and writes one fixed caption, so on {len(below)} of the {len(attrs)} attributes "
        f"it sits below the majority floor ({pairs}): it is a floor for the wording, not for the "
        "attributes. Those are read against the highest of the blind, shuffled and majority rows."
    )


def stage1(rows: Rows, chance: dict[str, float], attrs: list[str], stage0: bool = False) -> str:
    """Which attributes the projector alone passes through, against chance and the blind model, and
    what stage 0 (tiny profile only) likely did to make that easy."""
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
            f" Measured here: stage 1 after stage 0. Not measured: stage 1 without it. Predicted "
            f"(a hypothesis; exercise 3 tests it): stage 0 made {NAMES[best]}'s {s1[best]:.2f} easy, "
            "since the LM already copied caption words from its image slots; without it, this tiny "
            "LM's stage 1 would stay near the blind row. On Colab the pretrained LM stands in for "
            "stage 0 (section 6); only a GPU run shows how well its stage 1 does."
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
        return f"{NAMES[k]} {s1[k]:.2f} → {s2[k]:.2f}"

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
    return f"- **What stage 2 adds to captions.** From stage 1 to stage 2: {moves}. {pays}"


def caption_form(held: list[vlm_data.Example], said: list[str]) -> tuple[int, int, dict]:
    """Of the replies to the questions: how many begin like a caption ('a ...'), how many there are,
    and per group (named right as a word, asked)."""
    qs = [(e, p) for e, p in zip(held, said) if e.kind == "answer"]
    start = sum(p.lower().startswith("a ") for _, p in qs)
    per = {}
    for g in dict.fromkeys(e.group for e, _ in qs):
        asked = [(e, p) for e, p in qs if e.group == g]
        per[g] = (sum(vlm_eval.names(p, e.target) for e, p in asked), len(asked))
    return start, len(qs), per


def stage1_answers(rows: Rows, held: list | None, said1: list[str] | None) -> str:
    """Stage 1's score on the questions, and whether its misses are of form (caption-like replies that
    name the answer) or of sight."""
    a1 = rows[STAGE1].get("answers", 0.0)
    text = f" Stage 1, which never saw a question, scores {a1:.2f}"
    if not held or not said1:
        return text + "."
    start, n, per = caption_form(held, said1)
    if start < 0.5 * n:
        return text + (
            f": only {start} of its {n} replies begin like a caption, so it neither answers nor "
            "describes; it has no use for a question yet."
        )
    g = max(per, key=lambda k: per[k][0] / max(1, per[k][1]))
    k, m = per[g]
    whole = sum(well_formed(p) for e, p in zip(held, said1) if e.kind == "answer")
    form = (
        f"only {whole} of them are a whole caption: most break into noise after the first words "
        "(see the replies under stage 1), so the shape and side are lost and the reply answers "
        "nothing. It tries to describe when asked, and fails past the colour"
        if whole < 0.5 * start
        else f"{whole} of them are a whole caption: it describes when asked"
    )
    return text + (
        f": {start} of its {n} replies begin like a caption ('a …'), and on {NAMES.get(g, g)} "
        f"questions the reply names the right value in {k} of {m}; {form}. LLaVA-1.5 adds "
        '"Answer the question using a single word or phrase." to ask for the form; here only '
        "stage 2's questions teach it."
    )


def well_formed(reply: str) -> bool:
    """Whether a reply is a whole caption of the drawn shapes: 'a <colour> <shape> on the <side>'."""
    w = reply.strip().split()
    return (
        len(w) == 6
        and w[0] == "a"
        and w[1] in vlm_data.COLOURS
        and w[2] in vlm_data.SHAPES
        and w[3:5] == ["on", "the"]
        and w[5] in vlm_data.POSITIONS
    )


def questions(
    rows: Rows,
    chance: dict[str, float],
    majority: dict[str, float] | None = None,
    held: list | None = None,
    said1: list[str] | None = None,
) -> str:
    """Stage 2's short-answer accuracy against chance and the commonest answer, overall and per
    attribute asked (per answer type on photographs), and stage 1's, which never saw a question."""
    s2, maj = rows[STAGE2], majority or {}
    a2 = s2.get("answers", 0.0)
    text = f"- **The questions.** Stage 2 answers the questions with accuracy {a2:.2f}"
    if (a_ch := chance.get("answers")) is not None:  # drawn shapes: a known chance level
        low = max(a_ch, maj.get("answers", 0.0))
        text += f" (chance {a_ch:.2f}; always the commonest answer {maj.get('answers', a_ch):.2f})"
        if a2 - low <= BAR:
            text += ": barely above those floors or below, a miss (more stage-2 steps next)"
    groups = [k for k in s2 if k.startswith("answers: ")]
    if groups and all(g in chance for g in groups):  # shapes: one chance per attribute asked
        lead = {g: s2[g] - max(chance[g], maj.get(g, 0.0)) for g in groups}
        hi, lo = max(groups, key=lead.get), min(groups, key=lead.get)
        text += (
            f". Per attribute asked, its lead over the higher of the two floors runs from "
            f"{lead[hi]:.2f} on {NAMES[hi[9:]]} to {lead[lo]:.2f} on {NAMES[lo[9:]]}: 'answers: all' "
            "averages questions of unequal difficulty"
        )
        if lead[lo] <= BAR:
            text += f", barely above its floor: a miss on {NAMES[lo[9:]]}"
    elif groups:  # photographs: no chance level; the shuffled control and the prior are the floors
        shuf = rows[SHUFFLED]
        split = ", ".join(
            f"{g[9:]} {s2[g]:.2f} (shuffled {shuf.get(g, 0.0):.2f}, commonest answer "
            f"{maj.get(g, 0.0):.2f})"
            for g in groups
        )
        text += f"; per answer type, {split}"
    return text + "." + stage1_answers(rows, held, said1)


def controls(
    rows: Rows,
    chance: dict[str, float],
    attrs: list[str],
    gap: dict[str, float],
    majority: dict[str, float] | None = None,
) -> str:
    """The shuffled-image control against chance and the commonest answer, and the verdict on both
    gaps: do the captions and the answers come from the image?"""
    real, shuf, low = rows[STAGE2], rows[SHUFFLED], rows[BLIND].get("ROUGE-L", 0.0)
    maj = majority or {}
    keys = [k for k in real if k in shuf]
    flat = [k for k in keys if real[k] - shuf[k] <= 0.02]
    if attrs:
        floor = {a: max(chance[a], maj.get(a, 0.0)) for a in (*attrs, "answers")}
        top = {a: max(maj.get(a, 0.0), rows[BLIND].get(a, 0.0), shuf[a]) for a in attrs}
        lead = ", ".join(f"{NAMES[a]} {real[a] - top[a]:.2f}" for a in attrs)
        stays = [NAMES[a] for a in attrs if shuf[a] - floor[a] > 0.1]
        verb = "stays" if len(stays) == 1 else "stay"
        fall = (
            f"{joined(stays)} {verb} above" if stays else "every attribute falls to about or below"
        )
        nums = lambda d: ", ".join(f"{d.get(a, 0.0):.2f}" for a in attrs)  # noqa: E731
        text = (
            f"With shuffled images, {fall} the higher of chance and the commonest value (shuffled "
            f"{nums(shuf)}; chance {nums(chance)}; commonest {nums(maj)}), the answers score "
            f"{shuf.get('answers', 0.0):.2f} (floor {floor['answers']:.2f}), and ROUGE-L is "
            f"{shuf['ROUGE-L']:.2f}, against the blind model's {low:.2f}."
        )
        text += (
            f" Against the highest of the blind, shuffled and majority rows, stage 2's captions "
            f"lead by {lead}."
        )
        if stays:
            text += " What stays above chance with another image is guessed without it: not vision."
    else:
        drops = [k for k in keys if k not in flat]
        text = (
            f"With shuffled photographs, stage 2 drops on {len(drops)} of {len(keys)} scores "
            f"({', '.join(drops) or 'none'})."
        )
    past = [k for k, v in gap.items() if v > BAR]
    said = joined([f"{v:.2f} on the {k}" for k, v in gap.items()])
    if attrs and len(past) == len(gap):
        verdict = (
            f"Real images beat shuffled ones by {said}, past the bar of {BAR} checked above on "
            "both: captions and answers come from the image."
        )
    elif attrs:
        short = joined([k for k in gap if k not in past])
        verdict = (
            f"Real images beat shuffled ones by {said}; on the {short} that is under the bar of "
            f"{BAR}: this run does not show that those come from the image. A miss: expected with "
            "the quick profile's few steps; otherwise check stage 0's loss, then train longer."
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


def results(
    rows: Rows,
    chance: dict[str, float],
    gap: dict[str, float],
    stage0: bool = False,
    majority: dict[str, float] | None = None,
    held: list | None = None,
    said1: list[str] | None = None,
    steps: dict | None = None,
) -> str:
    """The notes under the table: floor, stage 1 (and what stage 0 did for it), stage 2, questions
    (and stage 1's replies to them), controls."""
    attrs = [a for a in vlm_data.ATTRIBUTES if a in rows[SHUFFLED]]
    notes = [
        floor(rows, attrs, steps, majority),
        stage1(rows, chance, attrs, stage0),
        stage2(rows, attrs),
        questions(rows, chance, majority, held, said1),
        controls(rows, chance, attrs, gap, majority),
    ]
    if attrs:
        notes.append(
            "- **Built in by design.** Drawn shapes make colour, shape and side the only content. On "
            "photographs only the blind, shuffled and majority rows are floors."
        )
    return "What to look for, in this run:\n\n" + "\n".join(notes)


# the per-attribute rows of the seeds table: what each world's stage 2 names in its captions
PER_ATTRIBUTE = {a: f"13 stage 2 caption: {a}" for a in vlm_data.ATTRIBUTES}
MARGINS = claims.SEEDS.with_name("margins.json")  # a shorter run's figures on every world
SHORT_RUN = "LLaVA: mean attribute accuracy, real minus shuffled images"
SHORT_RUN_SETUP = "stages 0 and 1 only, 600 training captions, 90 held out"


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


def short_run_line(margins: Path = MARGINS) -> str:
    """One printed line: the shorter run's lead of the caption attributes over shuffled images, per world."""
    lead = short_run(margins)
    if not lead:
        return "no shorter run is recorded on the other worlds"
    per = ", ".join(f"seed {s} {v:.2f}" for s, v in sorted(lead.items()))
    return f"shorter run ({SHORT_RUN_SETUP}), caption attributes, real minus shuffled images: {per}"


def known(record: dict, seed: int, margins: Path, gap: float | None = None) -> str:
    """What the other worlds' records say: the blind floor, what differs between worlds, and the
    shorter run's lead over shuffled images (a run apart from this page's)."""
    text = "- **What is known.** "
    blind = list(by_seed(record, "13 blind exact").values())
    if blind and max(blind) - min(blind) <= 0.05:
        text += (
            f"The blind floor is the same everywhere (exact {min(blind):.2f} to {max(blind):.2f}). "
        )
    text += (
        "Only the language model differs between worlds (the drawings, the vision tower and the "
        "training order are fixed)."
    )
    if before := [s for s in record.get("before_pin", []) if s != seed]:
        names = f"seed{'s' * (len(before) > 1)} {' and '.join(map(str, before))}"
        text += (
            f" But {names} were built and run by an earlier version of the course, so their figures "
            "mix two changes, the world and the code: read the comparison as a hint, not a measurement."
        )
    lead = short_run(margins)
    others = {s: v for s, v in lead.items() if s != seed}
    if seed in lead and others:
        if all(BAR < v < lead[seed] for v in others.values()):
            verdict = "every world's model sees the image, the others less well here."
        elif any(v <= BAR for v in others.values()):
            verdict = f"some world stays under the bar of {BAR}: it barely sees."
        else:
            verdict = "every world sees as well there; the gap opens later."
        text += (
            f" The shorter run printed above leads shuffled images by {lead[seed]:.2f} here, "
            f"{joined([f'{v:.2f} on seed {s}' for s, v in others.items()])}: {verdict}"
        )
        if before:
            text += (
                " Since the other worlds ran an earlier version of the code, the differences cannot "
                "be attributed to the world alone."
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
    gap: float | None = None,
    seed: int = 0,
    path: Path = claims.SEEDS,
    margins: Path = MARGINS,
) -> str:
    """How this world's stage-2 exact-caption share ranks among the worlds of the seeds table, what
    is known of why, and what is not."""
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
    parts = [text, known(record, seed, margins, gap), unknown(record, seed, vlm_data.CHANCE)]
    return "\n\n".join(parts)
