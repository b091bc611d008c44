"""Stage 13's data: images with a question, the answer to train on, and the references to score against.

Two sources, one shape (`Example`), so the notebook's cells are the same on every profile:
- **shapes** (tiny profile): PIL-drawn scenes whose attributes a program knows (colour, shape, side);
- **the hub** (GPU presets): real photographs, streamed with `datasets` so only the rows used are fetched:
  captions from `jxie/flickr8k` (train / test splits; `image`, `caption_0` ... `caption_4`, five references per
  photo) and short answers from `lmms-lab/VQAv2` (its `validation` split, the one with answers: `question`,
  `image`, `answers` (ten human answers), `multiple_choice_answer`, `answer_type`, `image_id`). VQAv2 on the hub
  has no train split, so we split its validation images by `image_id`: every tenth image is held out, and no
  image is on both sides. Both sets keep their images inside the parquet files.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from PIL import Image, ImageDraw

from helpers import hub

CAPTION_PROMPT = "Describe the image."
# the presets' tower (openai/clip-vit-base-patch16) resizes the shorter side to 224, then crops
IMAGE_SIDE = 224
# LLaVA-1.5's prompt for VQA answers
SHORT_ANSWER = "Answer the question using a single word or phrase."


@dataclass(frozen=True)
class Example:
    """One image and one question. `target` is what training teaches; `references` what scoring accepts
    (a caption's five human captions, a VQA question's ten human answers). `kind` is "caption" or "answer";
    `group` a subgroup to report (VQA's answer type; the attribute a shape question asks); `facts` what
    a caption must name (shapes only)."""

    image: Image.Image
    question: str
    target: str
    references: tuple[str, ...]
    kind: str
    group: str | None = None
    facts: dict[str, str] = field(default_factory=dict)


@dataclass
class VlmData:
    """Training examples per task (stage 1 trains on "caption"; stage 2 mixes the tasks) and the held-out
    examples every model is scored on. `chance` is known only where the answer space is (shapes)."""

    train: dict[str, list[Example]]
    held: list[Example]
    chance: dict[str, float]
    source: str


def with_image(examples: list[Example], image: Image.Image | None = None) -> list[Example]:
    """The same examples with one image for all (a blank one by default, for the blind control)."""
    blank = image or Image.new("RGB", examples[0].image.size, "white")
    return [replace(e, image=blank) for e in examples]


# ---------------------------------------------------------------- shapes (the tiny profile)
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 220),
    "yellow": (230, 200, 0),
    "black": (0, 0, 0),
    "pink": (250, 120, 200),
}
SHAPES = ("circle", "square", "triangle")
POSITIONS = ("left", "right")
ATTRIBUTES = ("colour", "shape", "position")
CHANCE = {"colour": 1 / len(COLOURS), "shape": 1 / len(SHAPES), "position": 1 / len(POSITIONS)}
CHANCE["exact"] = CHANCE["colour"] * CHANCE["shape"] * CHANCE["position"]
# the questions cycle the attributes
CHANCE["answers"] = sum(CHANCE[a] for a in ATTRIBUTES) / len(ATTRIBUTES)
# the short answers per attribute asked (`vlm_eval.score` names them "answers: <attribute>")
CHANCE |= {f"answers: {a}": CHANCE[a] for a in ATTRIBUTES}
QUESTIONS = {
    "colour": "What colour is the shape?",
    "shape": "What shape is it?",
    "position": "Is the shape on the left or the right?",
}


@dataclass
class Scene:
    colour: str
    shape: str
    position: str
    image: Image.Image

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} on the {self.position}"

    def facts(self) -> dict[str, str]:
        return {a: getattr(self, a) for a in ATTRIBUTES}


def draw_scene(
    colour: str, shape: str, position: str, rng: random.Random, size: int = 32
) -> Image.Image:
    """One shape on a white canvas, in the left or right half, with random size and jitter."""
    img = Image.new("RGB", (size, size), "white")
    r = rng.uniform(0.2, 0.28) * size
    cx = (
        rng.uniform(r + 1, size / 2 - r / 2)
        if position == "left"
        else rng.uniform(size / 2 + r / 2, size - r - 1)
    )
    cy = rng.uniform(r + 1, size - r - 1)
    box = (cx - r, cy - r, cx + r, cy + r)
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=COLOURS[colour])
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
    return img


def make_scenes(n: int, split: str, seed: int = 0) -> list[Scene]:
    """Random scenes; train and held-out use disjoint random streams (same attribute space)."""
    rng = random.Random(f"{split}-{seed}")
    out = []
    for _ in range(n):
        c, s, p = rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.choice(POSITIONS)
        out.append(Scene(c, s, p, draw_scene(c, s, p, rng)))
    return out


def scene_caption(s: Scene) -> Example:
    return Example(s.image, CAPTION_PROMPT, s.caption, (s.caption,), "caption", facts=s.facts())


def scene_question(s: Scene, attribute: str) -> Example:
    answer = getattr(s, attribute)
    return Example(s.image, QUESTIONS[attribute], answer, (answer,), "answer", group=attribute)


def shapes(n_train: int, n_held: int) -> VlmData:
    """Per task one example for each training scene; held out, each scene's caption and one question
    (the attributes in turn)."""
    train, held = make_scenes(n_train, "train"), make_scenes(n_held, "heldout")
    tasks = {"caption": [scene_caption(s) for s in train]}
    tasks.update({a: [scene_question(s, a) for s in train] for a in ATTRIBUTES})
    held_examples = [scene_caption(s) for s in held]
    held_examples += [scene_question(s, ATTRIBUTES[i % 3]) for i, s in enumerate(held)]
    return VlmData(tasks, held_examples, CHANCE, "shapes")


# ---------------------------------------------------------------- real photographs (the GPU presets)
def clean_caption(text: str) -> str:
    """Flickr8k writes 'A dog runs on the grass .': drop the space before the full stop."""
    return " ".join(text.replace(" .", ".").split())


def shrink(image: Image.Image, side: int = IMAGE_SIDE) -> Image.Image:
    """An RGB copy whose shorter side is `side` (never enlarged), resized as CLIP's image processor resizes
    (bicubic), so the tower sees the same pixels and 6,600 photographs take ~1.3 GB of memory, not ~5 GB."""
    image = image.convert("RGB")
    w, h = image.size
    if min(w, h) <= side:
        return image
    scale = side / min(w, h)
    return image.resize(
        (max(side, round(w * scale)), max(side, round(h * scale))), Image.Resampling.BICUBIC
    )


def flickr_example(row: dict, side: int = IMAGE_SIDE) -> Example:
    refs = tuple(clean_caption(row[f"caption_{i}"]) for i in range(5) if row.get(f"caption_{i}"))
    return Example(shrink(row["image"], side), CAPTION_PROMPT, refs[0], refs, "caption")


def vqa_example(row: dict, side: int = IMAGE_SIDE) -> Example:
    answers = tuple(a["answer"] for a in row["answers"])
    question = f"{row['question']}\n{SHORT_ANSWER}"
    image = shrink(row["image"], side)
    return Example(
        image, question, row["multiple_choice_answer"], answers, "answer", row["answer_type"]
    )


def stream(repo: str, split: str, n: int, config: str | None = None):
    """The first `n` rows of a hub split, streamed (only those rows' parquet pages are fetched)."""
    return hub.load_dataset(repo, config, split=split, streaming=True).take(n)


def vqa_split(
    repo: str,
    n_train: int,
    n_held: int,
    held_every: int = 10,
    held_per_image: int = 2,
    side: int = IMAGE_SIDE,
) -> tuple[list[Example], list[Example]]:
    """Train and held-out questions from one split, by image: `image_id % held_every == 0` is held out, at
    most `held_per_image` questions per held-out image (VQAv2 asks ~5 about each), so the score spans many
    photographs rather than a few."""
    train, held, asked = [], [], Counter()
    for row in hub.load_dataset(repo, split="validation", streaming=True):
        is_held = row["image_id"] % held_every == 0
        if is_held and len(held) < n_held and asked[row["image_id"]] < held_per_image:
            held.append(vqa_example(row, side))
            asked[row["image_id"]] += 1
        elif not is_held and len(train) < n_train:
            train.append(vqa_example(row, side))
        if len(train) >= n_train and len(held) >= n_held:
            break
    return train, held


def photographs(
    n_train: int, n_held: int, caption_set: str, vqa_set: str, side: int = IMAGE_SIDE
) -> VlmData:
    """Captions and short-answer questions about real photographs, train and held out, shrunk to the
    vision tower's input `side` as they stream in."""
    captions = [flickr_example(r, side) for r in stream(caption_set, "train", n_train)]
    held_captions = [flickr_example(r, side) for r in stream(caption_set, "test", n_held)]
    questions, held_questions = vqa_split(vqa_set, n_train, n_held, side=side)
    for name, got, want in [
        ("captions", captions, n_train),
        ("questions", questions, n_train),
        ("held-out questions", held_questions, n_held),
    ]:
        if len(got) < want:
            print(f"note: {len(got)} {name} streamed, {want} asked for (the split ran out)")
    return VlmData(
        {"caption": captions, "answer": questions},
        held_captions + held_questions,
        {},
        "photographs",
    )


def load(cfg) -> VlmData:
    """The data a stage-13 settings object (`settings.Vlm`) names: photographs from the hub, or shapes."""
    if cfg.photographs:
        return photographs(cfg.n_train, cfg.n_held, *cfg.photographs, side=cfg.image_side)
    return shapes(cfg.n_train, cfg.n_held)


def describe(data: VlmData) -> str:
    """One line: how many examples of each kind are trained on and held out."""
    train = ", ".join(f"{len(v)} {k.replace('position', 'side')}" for k, v in data.train.items())
    kinds = Counter(e.kind for e in data.held)
    return (
        f"{data.source}: train {train}; held out {kinds['caption']} captions and {kinds['answer']} "
        "questions"
    )
