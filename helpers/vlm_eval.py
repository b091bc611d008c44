"""Stage 13's scores on held-out images: short-answer accuracy, caption quality, and what captions name.

- **Short answers**: the VQA accuracy of Antol et al. 2015 (VQAv2's official metric): an answer counts in
  full when at least 3 of the 10 humans gave it, `min(1, matches / 3)`, averaged over the ten ways of leaving
  one human out; both sides normalized first, in part as the official evaluation does (lower case,
  punctuation, articles, number words and 'none' -> '0'; its table of contractions and its rule of when
  punctuation joins or splits words are left out, so a few answers compare differently). With fewer than 3
  references it is exact match.
- **Captions**: ROUGE-L F1 against the best of the references (`rouge_score`'s `score_multi`), and the share
  of captions equal to a reference. COCO's caption evaluation reports a ROUGE-L beside BLEU and CIDEr that
  weighs recall more (beta = 1.2) and takes precision and recall each at its best reference, so its figures
  run a little apart from these.
- **Facts** (shapes only): the share of captions that name the scene's colour, shape and side.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from rouge_score import rouge_scorer

from helpers.vlm_data import ATTRIBUTES, Example

NUMBERS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())
}
NUMBERS["none"] = "0"  # the official evaluation's manualMap: 'none' counts as the answer 0
ARTICLES = {"a", "an", "the"}
_ROUGE = rouge_scorer.RougeScorer(["rougeL"])


def normalize(answer: str) -> str:
    """'Two dogs.' -> '2 dogs'; 'The Frisbee!' -> 'frisbee'; '1,000' -> '1000'; 'None' -> '0'."""
    text = answer.lower().replace("\n", " ").replace("\t", " ").strip()
    text = re.sub(r"(?<=\d),(?=\d)", "", text)  # digit grouping
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", "", text)  # full stops, not decimal points
    text = re.sub(r"[;/\[\]\"{}()=+\\_\-><@`,?!*#%^&$~|:']", " ", text)
    words = [NUMBERS.get(w, w) for w in text.split() if w not in ARTICLES]
    return " ".join(words)


def vqa_accuracy(prediction: str, answers: tuple[str, ...] | list[str]) -> float:
    """VQA accuracy of one prediction against the human answers (exact match with fewer than 3)."""
    pred, refs = normalize(prediction), [normalize(a) for a in answers]
    if len(refs) < 3:
        return float(pred in refs)
    scores = []
    for left_out in range(len(refs)):
        matches = sum(r == pred for i, r in enumerate(refs) if i != left_out)
        scores.append(min(1.0, matches / 3))
    return sum(scores) / len(scores)


def rouge_l(prediction: str, references: tuple[str, ...] | list[str]) -> float:
    """ROUGE-L F of a caption against its best-matching reference."""
    return _ROUGE.score_multi(list(references), prediction)["rougeL"].fmeasure


def names(caption: str, value: str) -> bool:
    """Whether a caption names `value` as a word ('a red circle' names 'red', not 'circ')."""
    return value in re.sub(r"[^\w\s]", " ", caption.lower()).split()


def score(examples: list[Example], predictions: list[str]) -> dict[str, float]:
    """Every score of one model on one held-out set: caption facts and exact match, ROUGE-L, and short-answer
    accuracy overall and per group (VQA's answer types), each averaged over the examples it applies to."""
    if len(examples) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples")
    parts: dict[str, list[float]] = defaultdict(list)
    for e, p in zip(examples, predictions):
        if e.kind == "caption":
            for name, value in e.facts.items():
                parts[name].append(float(names(p, value)))
            parts["exact"].append(float(correct(e, p)))
            parts["ROUGE-L"].append(rouge_l(p, e.references))
        else:
            parts["answers"].append(vqa_accuracy(p, e.references))
            if e.group:
                parts[f"answers: {e.group}"].append(parts["answers"][-1])
    # the attributes of the shapes in their usual order, then VQA's answer types alphabetically
    groups = sorted(
        (n for n in parts if n.startswith("answers: ")),
        key=lambda n: (ATTRIBUTES.index(n[9:]) if n[9:] in ATTRIBUTES else len(ATTRIBUTES), n),
    )
    order = [n for n in parts if not n.startswith("answers: ")] + groups
    return {name: sum(parts[name]) / len(parts[name]) for name in order}


# the results table's short column names
SHORT = {
    "blind (text only)": "blind",
    "stage 1: projector only": "stage 1",
    "stage 2: projector + LoRA": "stage 2",
    "control: stage 1, shuffled images": "shuffled 1",
    "control: shuffled images": "shuffled 2",
    "stage 1 without stage 0": "no stage 0",
}


def label(key: str) -> str:
    """A score's name in the results table: 'caption: shape', 'answers: all', 'answers: side'."""
    if key == "answers":
        return "answers: all"
    key = key.replace("position", "side")  # one name for it on the page: the side
    return key if key.startswith("answers") else f"caption: {key}"


def table(
    rows: dict[str, dict[str, float]],
    chance: dict[str, float],
    majority: dict[str, float] | None = None,
) -> str:
    """The results as text: a line per score (what the captions name, then the short answers, overall
    and per group), a column per model after chance and, when given, the majority guess ('-' where a
    floor is unknown)."""
    keys = list(dict.fromkeys(k for r in rows.values() for k in r))
    floors = [("chance", chance)] + ([("majority", majority)] if majority is not None else [])
    heads = [h for h, _ in floors] + [SHORT.get(name, name) for name in rows]
    widths = [max(9, len(h) + 2) for h in heads]
    lines = [f"{'score':18}" + "".join(f"{h:>{w}}" for h, w in zip(heads, widths))]
    for k in keys:
        cells = [f.get(k) for _, f in floors] + [r.get(k) for r in rows.values()]
        text = ["-" if v is None else f"{v:.3f}" for v in cells]
        lines.append(f"{label(k):18}" + "".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    return "\n".join(lines)


def majority(examples: list[Example]) -> dict[str, float]:
    """What always giving the held-out set's commonest answer scores, per score: for each attribute a
    caption names, its commonest value; for the exact captions, the commonest caption; for the short
    answers, each group's commonest answer (a model that knows which attribute is asked, not the image)."""
    out: dict[str, float] = {}
    caps = [e for e in examples if e.kind == "caption"]
    for name in dict.fromkeys(k for e in caps for k in e.facts):
        top = Counter(e.facts[name] for e in caps).most_common(1)[0][1]
        out[name] = top / len(caps)
    if (
        caps and caps[0].facts
    ):  # drawn shapes: one reference each, so the commonest caption is exact
        out["exact"] = Counter(e.target for e in caps).most_common(1)[0][1] / len(caps)
        out["ROUGE-L"] = best_constant(caps)
    answers = [e for e in examples if e.kind == "answer"]
    common = {
        g: Counter(e.target for e in answers if e.group == g).most_common(1)[0][0]
        for g in {e.group for e in answers}
    }
    if answers:
        said = [common[e.group] for e in answers]
        out |= {k: v for k, v in score(answers, said).items()}
    return out


def best_constant(caps: list[Example]) -> float:
    """The best mean ROUGE-L one caption, written for every image, reaches: the wording's floor
    (drawn shapes: every template caption is tried)."""
    facts = [list(dict.fromkeys(e.facts[k] for e in caps)) for k in caps[0].facts]
    tried = {e.target for e in caps}
    if len(facts) == 3:
        tried |= {f"a {c} {s} on the {p}" for c in facts[0] for s in facts[1] for p in facts[2]}
    return max(sum(rouge_l(t, e.references) for e in caps) / len(caps) for t in sorted(tried))


def wrong_attributes(e: Example, prediction: str) -> int:
    """How many of a caption's attributes (colour, shape, side) the prediction fails to name."""
    return sum(not names(prediction, v) for v in e.facts.values())


def panel_colour(e: Example, prediction: str) -> str:
    """A grid panel's colour: green right; a caption: orange with at most one attribute wrong, red
    with more (photographs: orange at ROUGE-L >= 0.5); a wrong answer red."""
    if correct(e, prediction):
        return "green"
    if e.kind != "caption":
        return "red"
    if e.facts:
        return "darkorange" if wrong_attributes(e, prediction) <= 1 else "red"
    return "darkorange" if rouge_l(prediction, e.references) >= 0.5 else "red"


def correct(e: Example, prediction: str) -> bool:
    """A caption equal to a reference, or a short answer with any VQA credit."""
    if e.kind == "caption":
        return normalize(prediction) in {normalize(r) for r in e.references}
    return vqa_accuracy(prediction, e.references) > 0


def right_and_wrong(examples: list[Example], predictions: list[str], n: int = 3) -> list[int]:
    """Indices of the first `n` examples the model got right and the first `n` it got wrong, topped up from
    the other side when one runs short: a gallery that shows both, chosen by rule, not by eye."""
    good = [correct(e, p) for e, p in zip(examples, predictions)]
    right, wrong = [i for i, g in enumerate(good) if g], [i for i, g in enumerate(good) if not g]
    picked = right[:n] + wrong[:n]
    return picked + (right[n:] + wrong[n:])[: 2 * n - len(picked)]


def shuffled(examples: list[Example]) -> list[Example]:
    """The shuffled-image control: every example with the image of the next example of its task (`kind`:
    a caption or a question; any attribute, any shape) that shows
    another picture (VQAv2 lists an image's questions one after another, so the next row is often the same
    photograph). A model that reads the image must then fail; one that answers from the text does not move."""
    from dataclasses import replace

    out = list(examples)
    for kind in {e.kind for e in examples}:
        idx = [i for i, e in enumerate(examples) if e.kind == kind]
        pixels = [examples[i].image.tobytes() for i in idx]
        for p, i in enumerate(idx):
            q = next(
                (
                    q % len(idx)
                    for q in range(p + 1, p + len(idx))
                    if pixels[q % len(idx)] != pixels[p]
                ),
                p,
            )
            out[i] = replace(examples[i], image=examples[idx[q]].image)
    return out


def predict(
    model,
    proc,
    examples: list[Example],
    shuffle_images: bool = False,
    batch: int = 100,
    **generation,
) -> list[str]:
    """Greedy answers of `model` to every example, in batches; `shuffle_images`: the control.
    `generation`: `max_new_tokens` and `autocast`, as `llava.answer` takes them."""
    from helpers import llava

    shown = shuffled(examples) if shuffle_images else examples
    predictions = []
    for i in range(0, len(shown), batch):
        predictions += llava.answer(model, proc, shown[i : i + batch], **generation)
    return predictions


def evaluate(
    model,
    proc,
    examples: list[Example],
    shuffle_images: bool = False,
    batch: int = 100,
    **generation,
) -> dict[str, float]:
    """Every score (`score`) of `model`'s greedy answers (`predict`) to the held-out examples."""
    return score(examples, predict(model, proc, examples, shuffle_images, batch, **generation))


def bars(
    ax,
    rows: dict[str, dict[str, float]],
    chance: dict[str, float],
    majority: dict[str, float],
    order: str = "stage 2: projector + LoRA",
) -> None:
    """The results as horizontal bars on `ax`: a group per score (in `order`'s row order), a bar per
    model, and each floor as a line across its score's bars (dashed: chance; dotted: majority)."""
    cols = list(rows[order])
    h = 0.8 / len(rows)
    for i, (name, r) in enumerate(rows.items()):
        ax.barh([j + i * h for j in range(len(cols))], [r.get(c, 0.0) for c in cols], h, label=name)
    for floor, vals, ls in [("chance", chance, "--"), ("majority", majority, ":")]:
        known = [(j, c) for j, c in enumerate(cols) if c in vals]
        for k, (j, c) in enumerate(known):
            label_ = floor if k == 0 else "_nolegend_"
            ax.vlines(vals[c], j - h / 2, j + 0.8 - h / 2, colors="k", ls=ls, label=label_)
    ax.set_yticks([j + 0.4 - h / 2 for j in range(len(cols))], [label(c) for c in cols])
    ax.invert_yaxis()  # the table's order, top to bottom
    ax.set(xlabel="held-out score", xlim=(0, 1.05))
    ax.set_title("Held-out scores (dashed: chance; dotted: majority)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the bars
