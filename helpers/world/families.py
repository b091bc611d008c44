"""The tiny world's core chat families: synthetic prompts whose answers a program can check.

Each family makes a `Task` from a random generator and grades an answer with a rule, so every stage can
measure a real effect offline. Later stages' world modules add families with `register_family`
(instruction writing, critiques, A/B judging, unsafe requests) without touching this file. Prompts are
split for ever by a hash: a held-out prompt never occurs in training data.
"""

from __future__ import annotations

import hashlib
import random

from helpers.tasks import (
    FAMILIES,
    Family,
    Task,
    final_answer,
    grade,
    grade_final,
    register_family,
    to_messages,
)

__all__ = [
    "FAMILIES",
    "Family",
    "Task",
    "final_answer",
    "grade",
    "grade_final",
    "register_family",
    "to_messages",
]

NAMES = "Tom Ann Bob Eve Max Mia Sam Zoe Leo Ivy Ben Amy Dan Kim Jon Liz Ned Ola Pat Rex".split()
ANIMALS = "cat dog fox owl bear frog duck goat wolf lion mouse horse".split()
FOODS = "fish bread cheese apples honey carrots seeds berries nuts soup".split()
# A learnable fact of the world: where each animal lives.
HOMES = dict(
    zip(ANIMALS, "house yard forest tree cave pond lake farm hill plain barn field".split())
)
COLOURS = "red blue green yellow black white pink brown".split()
OBJECTS = "ball cup hat box book kite pen bag".split()
WORDS = sorted(
    set(ANIMALS + FOODS + COLOURS + OBJECTS)
    | set(
        "apple table river stone cloud light water paper music garden window planet tiger zebra "
        "orange lemon sugar candle pillow rocket rabbit turtle spider basket bottle camera doctor "
        "dragon forest friend gold happy island jungle ladder market number ocean pencil queen "
        "robot silver summer ticket violin wagon yellow winter".split()
    )
)


# ---------------------------------------------------------------- the core families
def make_add(rng: random.Random) -> Task:
    a, b = rng.randint(0, 49), rng.randint(0, 49)
    return Task(
        "add",
        f"What is {a} + {b}?",
        f"{a} + {b} = {a + b}. The answer is {a + b}.",
        {"value": str(a + b)},
    )


def make_compare(rng: random.Random) -> Task:
    a, b = rng.sample(range(100), 2)
    big, small = max(a, b), min(a, b)
    answer = f"{big} is larger than {small}. The answer is {big}."
    return Task("compare", f"Which is larger, {a} or {b}?", answer, {"value": str(big)})


def make_count(rng: random.Random) -> Task:
    a = rng.randint(1, 30)
    b = a + rng.randint(2, 8)
    seq = ", ".join(str(i) for i in range(a, b + 1))
    return Task("count", f"Count from {a} to {b}.", f"{seq}. Done.", {"value": seq})


def grade_count(task: Task, answer: str) -> bool:
    return answer.strip() == f"{task.meta['value']}. Done."


def make_spell(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return Task("spell", f"Spell the word {word}.", "-".join(word), {"value": "-".join(word)})


def grade_spell(task: Task, answer: str) -> bool:
    return answer.strip().rstrip(".") == task.meta["value"]


def make_facts(rng: random.Random) -> Task:
    (n1, n2), (o1, o2), (c1, c2) = (
        rng.sample(NAMES, 2),
        rng.sample(OBJECTS, 2),
        rng.sample(COLOURS, 2),
    )
    who, obj, col = (n1, o1, c1) if rng.random() < 0.5 else (n2, o2, c2)
    prompt = f"{n1} has a {c1} {o1} and {n2} has a {c2} {o2}. What colour is {who}'s {obj}?"
    return Task("facts", prompt, f"{who}'s {obj} is {col}. The answer is {col}.", {"value": col})


def story_text(animal: str, name: str, food: str) -> str:
    home = HOMES[animal]
    return (
        f"Once upon a time there was a {animal} named {name}. {name} lived in the {home}. "
        f"Every day {name} looked for {food}. One day {name} found some {food} and was happy. The end."
    )


def make_story(rng: random.Random) -> Task:
    animal, name, food = rng.choice(ANIMALS), rng.choice(NAMES), rng.choice(FOODS)
    prompt = f"Tell a story about a {animal} named {name} who likes {food}."
    return Task(
        "story",
        prompt,
        story_text(animal, name, food),
        {"animal": animal, "name": name, "food": food},
    )


def grade_story(task: Task, answer: str) -> bool:
    """The story must be the world's story for this prompt: right name, food and the animal's home."""
    return answer.strip() == story_text(**task.meta)


CORE = (
    Family("add", make_add, grade_final, 2.0),
    Family("compare", make_compare, grade_final, 1.0),
    Family("count", make_count, grade_count, 1.5),
    Family("spell", make_spell, grade_spell, 1.0),
    Family("facts", make_facts, grade_final, 2.0),
    Family("story", make_story, grade_story, 2.0),
)
for _family in CORE:
    register_family(_family)
CORE_FAMILIES = tuple(f.name for f in CORE)


# ---------------------------------------------------------------- splits
def is_heldout(prompt: str, share: int = 10) -> bool:
    """A fixed split by a hash of the prompt: about 1 prompt in `share` is held out, forever."""
    return int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % share == 0


def sample_tasks(
    n: int, split: str, seed: int, families: tuple[str, ...] | None = None, weighted: bool = True
) -> list[Task]:
    """`n` tasks from the train or held-out split. A held-out prompt never occurs in train."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    names = families or CORE_FAMILIES
    weights = [FAMILIES[f].weight if weighted else 1.0 for f in names]
    rng = random.Random(seed)
    tasks: list[Task] = []
    while len(tasks) < n:
        family = FAMILIES[rng.choices(names, weights)[0]]
        task = family.make(rng)
        if is_heldout(task.prompt) == (split == "heldout"):
            tasks.append(task)
    return tasks


def heldout_by_family(
    n_per_family: int, seed: int = 1234, families: tuple[str, ...] | None = None
) -> list[Task]:
    """A balanced held-out set: `n_per_family` distinct tasks of each family."""
    out: list[Task] = []
    for i, name in enumerate(families or CORE_FAMILIES):
        seen: set[str] = set()
        rng = random.Random(seed + i)
        for _ in range(100 * n_per_family):
            task = FAMILIES[name].make(rng)
            if is_heldout(task.prompt) and task.prompt not in seen:
                seen.add(task.prompt)
                out.append(task)
                if len(seen) == n_per_family:
                    break
    return out
