"""The tiny world's side of stage 12a: what its models need to take part in Self-Instruct.

- Two classification families with an instruction and an input, so the pipeline has classification
  tasks to find: the parity of a number, and "Does Tom have a red ball?" about a sentence.
- Format families that teach the tiny generator the pipeline's three prompts (continue a task list, say
  whether a task is classification, write an instance). Its task lists sometimes contain the defects the
  paper's filters exist for (blacklisted words, "Write a program", too short, leading punctuation), at the
  rate `NOISE`, so that every filter has real work in the tiny run.
- `check_instance`: the world's grader applied to a generated (instruction, input, output) triple, the
  tiny profile's stand-in for the paper's human audit of output correctness.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from helpers import self_instruct as si
from helpers.world import cache, tiny
from helpers.world import families as tasks
from helpers.world.families import ANIMALS, COLOURS, HOMES, NAMES, OBJECTS, Family, Task

PARITY = [
    "Is the number odd or even?",
    "Tell whether the number is odd or even.",
    "Classify the number as odd or even.",
]
NOISE = 0.12  # share of generated list items that break one of the paper's rules


def _grade_label(task: Task, answer: str) -> bool:
    return answer.strip().rstrip(".").lower() == task.answer


def make_parity(rng: random.Random) -> Task:
    """Classification with a fixed instruction (three paraphrases) and the number as input."""
    n = rng.randint(0, 99)
    instruction = rng.choice(PARITY)
    label = "odd" if n % 2 else "even"
    return Task(
        "parity",
        si.user_text(instruction, str(n)),
        label,
        {"instruction": instruction, "input": str(n)},
    )


def make_owns(rng: random.Random) -> Task:
    """Classification (yes/no) whose instruction varies: a question about a sentence given as input."""
    (n1, n2), (o1, o2), (c1, c2) = (
        rng.sample(NAMES, 2),
        rng.sample(OBJECTS, 2),
        rng.sample(COLOURS, 2),
    )
    sentence = f"{n1} has a {c1} {o1} and {n2} has a {c2} {o2}."
    who, obj, col = (n1, o1, c1) if rng.random() < 0.5 else (n2, o2, c2)
    if rng.random() < 0.5:  # ask about a wrong colour
        col = rng.choice([c for c in COLOURS if c != col])
    instruction = f"Does {who} have a {col} {obj}?"
    label = "yes" if f"{who} has a {col} {obj}" in sentence else "no"
    return Task(
        "owns",
        si.user_text(instruction, sentence),
        label,
        {"instruction": instruction, "input": sentence},
    )


OWNS_RE = r"Does (\w+) have a (\w+) (\w+)\?"
CLASSIFICATION = ("parity", "owns")
for _family in (
    Family("parity", make_parity, _grade_label, 1.0),
    Family("owns", make_owns, _grade_label, 1.5),
):
    tasks.register_family(_family)
EVAL_FAMILIES = tasks.CORE_FAMILIES + CLASSIFICATION


# ---------------------------------------------------------------- instructions of the world
def world_instruction(rng: random.Random) -> dict:
    """A train-split task of the world as an (instruction, input, output, is_classification) row."""
    while True:
        task = tasks.sample_tasks(1, "train", rng.randrange(2**31), EVAL_FAMILIES)[0]
        if task.family in CLASSIFICATION:
            return {
                "instruction": task.meta["instruction"],
                "input": task.meta["input"],
                "output": task.answer,
                "is_classification": True,
            }
        return {
            "instruction": task.prompt,
            "input": "",
            "output": task.answer,
            "is_classification": False,
        }


def noisy_instruction(rng: random.Random) -> str:
    """An instruction that one of the paper's rules rejects."""
    a, b = sorted(rng.sample(range(1, 30), 2))
    animal = rng.choice(ANIMALS)
    return rng.choice(
        [
            f"Draw a picture of a {animal}.",
            f"Plot the numbers {a} and {b}.",
            f"Write a program that counts from {a} to {b}.",
            "Count the numbers.",
            f"- What is {a} + {b}?",
            f"Go to the {HOMES[animal]} and find the {animal}.",
            f"Look at the map of the {HOMES[animal]}.",
        ]
    )


def tiny_seed_tasks(n: int = 120, seed: int = 0) -> list[dict]:
    """Seed tasks in the world's language, for the tiny profile (it cannot read general English seeds)."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        row = world_instruction(rng)
        key = (row["instruction"], row["input"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


# ---------------------------------------------------------------- format families
def make_instruction_list(rng: random.Random) -> Task:
    examples = [world_instruction(rng)["instruction"] for _ in range(8)]
    new = [
        noisy_instruction(rng) if rng.random() < NOISE else world_instruction(rng)["instruction"]
        for _ in range(6)
    ]
    answer = "\n".join(f"{i}. {text}" for i, text in enumerate(new, 9))
    return Task("si_instructions", si.instruction_prompt(examples), answer)


def make_clf_question(rng: random.Random) -> Task:
    if rng.random() < NOISE:
        instruction, is_clf = noisy_instruction(rng), False
    else:
        row = world_instruction(rng)
        instruction, is_clf = row["instruction"], row["is_classification"]
    return Task("si_clf", si.clf_prompt(instruction), "Yes" if is_clf else "No")


def make_instance(rng: random.Random) -> Task:
    row = world_instruction(rng)
    output_first = row["is_classification"] and rng.random() < 0.8
    prompt = si.instance_prompt(row["instruction"], output_first)
    if output_first:  # one input per class label, labels in a random order
        labels = ["odd", "even"] if row["instruction"] in PARITY else ["yes", "no"]
        rng.shuffle(labels)
        blocks = [
            f"Class label: {label}\nInput: {class_input(row['instruction'], label, rng)}"
            for label in labels
        ]
        return Task("si_instance", prompt, "\n".join(blocks))
    head = f"Input: {row['input']}\n" if row["input"] else ""
    return Task("si_instance", prompt, f"{head}Output: {row['output']}")


def class_input(instruction: str, label: str, rng: random.Random) -> str:
    """An input of the world for which `instruction` has the answer `label` (output-first generation)."""
    if instruction in PARITY:
        return str(rng.randrange(0, 99, 2) + (label == "odd"))
    who, col, obj = re.fullmatch(OWNS_RE, instruction).groups()
    other = rng.choice([n for n in NAMES if n != who])
    o2 = rng.choice([o for o in OBJECTS if o != obj])
    c_own = col if label == "yes" else rng.choice([c for c in COLOURS if c != col])
    c2 = rng.choice([c for c in COLOURS if c != c_own])
    pair = [f"{who} has a {c_own} {obj}", f"{other} has a {c2} {o2}"]
    rng.shuffle(pair)
    return f"{pair[0]} and {pair[1]}."


def _grade_exact(task: Task, answer: str) -> bool:
    return answer.strip() == task.answer


for _family in (
    Family("si_instructions", make_instruction_list, _grade_exact, 1.5),
    Family("si_clf", make_clf_question, _grade_exact, 1.0),
    Family("si_instance", make_instance, _grade_exact, 3.0),
):
    tasks.register_family(_family)

# The generator is the world's target trained further on this mix of docs: mostly the pipeline's formats,
# with core tasks so that it keeps answering them (train_lm samples rows uniformly; packing wastes no padding).
GENERATOR_SPEC = {
    "base": "target",
    "docs": 40000,
    "steps": 400,
    "batch": 12,
    "lr": 1e-3,
    "seed": 5,
    "pack": 320,
}
GENERATOR_MIX = {
    **{f: 0.05 for f in tasks.CORE_FAMILIES},
    "parity": 0.06,
    "owns": 0.1,
    "si_instructions": 0.14,
    "si_clf": 0.06,
    "si_instance": 0.34,
}


tiny.extend(
    "generator",
    "12a's generator: writes task lists, classifies tasks, writes instances",
    GENERATOR_MIX,
    GENERATOR_SPEC,
    eval_families=EVAL_FAMILIES,
    expected_s=929,
)


def generator_path() -> Path:
    """The tiny generator's folder (built on first use, then cached). Its key covers its exact training
    data, so editing the code that makes it rebuilds it."""
    return cache.ensure("generator")


# ---------------------------------------------------------------- the world's audit of an instance
FACTS_RE = r"(\w+) has a (\w+) (\w+) and (\w+) has a (\w+) (\w+)\. What colour is (\w+)'s (\w+)\?"


def core_task(prompt: str) -> Task | None:
    """The core task a prompt states (numbers and names read back from its text), or None."""
    if m := re.fullmatch(r"What is (\d+) \+ (\d+)\?", prompt):
        return Task("add", prompt, "", {"value": str(int(m[1]) + int(m[2]))})
    if (m := re.fullmatch(r"Which is larger, (\d+) or (\d+)\?", prompt)) and m[1] != m[2]:
        return Task("compare", prompt, "", {"value": str(max(int(m[1]), int(m[2])))})
    if (m := re.fullmatch(r"Count from (\d+) to (\d+)\.", prompt)) and int(m[1]) < int(m[2]):
        return Task(
            "count",
            prompt,
            "",
            {"value": ", ".join(str(i) for i in range(int(m[1]), int(m[2]) + 1))},
        )
    if m := re.fullmatch(r"Spell the word (\w+)\.", prompt):
        return Task("spell", prompt, "", {"value": "-".join(m[1])})
    if (
        m := re.fullmatch(r"Tell a story about a (\w+) named (\w+) who likes (\w+)\.", prompt)
    ) and m[1] in HOMES:
        return Task("story", prompt, "", {"animal": m[1], "name": m[2], "food": m[3]})
    if m := re.fullmatch(FACTS_RE, prompt):
        n1, c1, o1, n2, c2, o2, who, obj = m.groups()
        colour = {(n1, o1): c1, (n2, o2): c2}.get((who, obj))
        return None if colour is None else Task("facts", prompt, "", {"value": colour})
    return None


def is_classification(instruction: str) -> bool:
    """The world's truth for the pipeline's classification question."""
    return instruction in PARITY or re.fullmatch(OWNS_RE, instruction) is not None


def world_task(instruction: str, inp: str = "") -> Task | None:
    """The world's task behind a generated (instruction, input), or None when the world cannot grade it."""
    inp = inp.strip()
    if instruction in PARITY and inp.isdigit():
        return Task("parity", si.user_text(instruction, inp), "odd" if int(inp) % 2 else "even")
    if (m := re.fullmatch(OWNS_RE, instruction)) and inp.endswith("."):
        label = "yes" if f"{m[1]} has a {m[2]} {m[3]}" in inp else "no"
        return Task("owns", si.user_text(instruction, inp), label)
    return None if inp else core_task(instruction)


def check_instance(instruction: str, inp: str, output: str) -> bool | None:
    """True/False: the world's grader on a generated instance; None: not a task the world can grade."""
    task = world_task(instruction, inp)
    return None if task is None else tasks.grade(task, output)


def classification_family(text: str) -> str:
    """A classification instruction's evaluation family (`parity`, `owns`), or "classification" for neither."""
    if text in PARITY:
        return "parity"
    return "owns" if re.fullmatch(OWNS_RE, text) else "classification"


def matched_rows(mix, seed: int = 0) -> list[dict]:
    """`self_instruct.matched_control`'s rows: right rows from the world's task makers, per family as
    many as `mix` holds, from the training split; a family the world does not know gives none."""
    rows = []
    for i, (f, n) in enumerate(sorted(mix.items())):
        if f not in tasks.FAMILIES or n <= 0:
            continue
        for t in tasks.sample_tasks(n, "train", seed * 1000 + i, (f,)):
            ask, inp = t.meta.get("instruction", t.prompt), t.meta.get("input", "")
            clf = f in CLASSIFICATION
            rows.append(
                {"instruction": ask, "input": inp, "output": t.answer, "is_classification": clf}
            )
    return rows
