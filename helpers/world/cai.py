"""The tiny world's Constitutional AI formats (stage 12b): a helpful-only assistant that can critique
and revise, and a feedback model that compares two answers under a principle.

`helpful_path()` is the world's target trained on the starting policy's habits (`helpers.world.safety`:
it answers most harmful requests) plus the critique and revision formats of `helpers.constitutional`.
Its critic is deliberately imperfect, like a real one: it calls a harmful answer harmful CATCH of the
time and a kind answer harmful FALSE_ALARM of the time, and a revision refuses only after a critique
that found harm. So one round fixes some answers, more rounds fix more, and false alarms turn some kind
answers into refusals: the trade-off CAI has to manage. Requests in its training data are phrased at
random from word lists, never taken from `data/constitution.json`, so the course's constitution is
unseen text to it (edit it freely: nothing is rebuilt).
"""

from __future__ import annotations

import random
from pathlib import Path

from helpers import constitutional, judge
from helpers.world import cache, judges, safety, tiny
from helpers.world import families as tasks
from helpers.world.families import Family, Task

CATCH = 0.6  # P(critique says "harmful" | a harmful request was answered)
FALSE_ALARM = 0.1  # P(critique says "harmful" | a kind request was answered)
NOT_HARMFUL = "The answer is not harmful."
REFUSES = "The answer refuses. That is safe."

ADJECTIVES = "harmful unethical dangerous illegal cruel unkind unsafe toxic wrong reckless hurtful mean".split()
GOOD = "safe ethical kind caring wise responsible lawful gentle careful harmless".split()
VICTIMS = ["a person", "an animal", "someone", "a child", "others", "a friend", "a pet"]
# Optional second sentences, so that training requests are as long as real constitutions' ones.
EXTRAS = [
    "",
    "",
    "Be specific.",
    "Explain your reasoning in detail.",
    "Think about what could go wrong.",
    "Consider the people and animals involved.",
    "Say exactly which part is the problem.",
]


def harmful_critique(verb: str, thing: str) -> str:
    return f"The answer tells how to {verb} {thing}. That is harmful."


def critique_request(rng: random.Random) -> str:
    a, b, c = rng.sample(ADJECTIVES, 3)
    return " ".join(
        [
            rng.choice(
                [
                    f"{rng.choice(['Identify', 'Explain', 'Point out', 'Discuss'])} ways in which the assistant's last response is {a}, {b} or {c}.",
                    f"Does the assistant's {rng.choice(['last', 'preceding'])} response help someone hurt {rng.choice(VICTIMS)}? Say where.",
                    f"Would a {rng.choice(GOOD)} person find the assistant's last response {a}? Explain why.",
                    f"Point out anything {a} or {b} in the assistant's last response.",
                ]
            ),
            rng.choice(EXTRAS),
        ]
    ).strip()


def revision_request(rng: random.Random) -> str:
    a, b = rng.sample(ADJECTIVES, 2)
    return " ".join(
        [
            rng.choice(
                [
                    f"{rng.choice(['Please rewrite', 'Rewrite', 'Revise', 'Please revise'])} the assistant response to remove any {a} or {b} content.",
                    f"Rewrite the assistant response so that it is {rng.choice(GOOD)} and could not hurt {rng.choice(VICTIMS)}.",
                    f"Please revise the assistant response so that a {rng.choice(GOOD)} person would say it.",
                ]
            ),
            rng.choice(EXTRAS),
        ]
    ).strip()


def choice_question(rng: random.Random) -> str:
    return rng.choice(
        [
            f"Which answer is less {rng.choice(ADJECTIVES)}?",
            f"Which answer is more {rng.choice(GOOD)}?",
            f"Which answer would a {rng.choice(GOOD)} {rng.choice(['friend', 'person', 'teacher'])} give?",
            f"Which answer gives less help with hurting {rng.choice(VICTIMS)}?",
        ]
    )


def train_request(rng: random.Random) -> Task:
    """A train-split request (the stage evaluates on held-out ones), unsafe 70% of the time."""
    while True:
        task = safety.make_request(rng, unsafe=rng.random() < 0.7)
        if not tasks.is_heldout(task.prompt):
            return task


def answer_and_critique(rng: random.Random, task: Task) -> tuple[str, str, bool]:
    """An answer the starting policy could give, the imperfect critic's critique, and whether it found harm."""
    verb, thing, unsafe = task.meta["verb"], task.meta["thing"], task.meta["unsafe"]
    if rng.random() < 0.25:
        return safety.refuse(verb, thing), REFUSES, False
    found = rng.random() < (CATCH if unsafe else FALSE_ALARM)
    return (
        safety.comply(verb, thing),
        harmful_critique(verb, thing) if found else NOT_HARMFUL,
        found,
    )


def random_principle(rng: random.Random) -> constitutional.Principle:
    return constitutional.Principle(
        "random", critique_request(rng), revision_request(rng), choice_question(rng)
    )


def worked_example(rng: random.Random) -> dict:
    task = train_request(rng)
    answer, critique, found = answer_and_critique(rng, task)
    revision = safety.refuse(task.meta["verb"], task.meta["thing"]) if found else answer
    return {"human": task.prompt, "assistant": answer, "critique": critique, "revision": revision}


def make_critique(rng: random.Random) -> Task:
    task, principle, shot = train_request(rng), random_principle(rng), worked_example(rng)
    answer, critique, _ = answer_and_critique(rng, task)
    prompt = constitutional.critique_prompt(task.prompt, answer, principle, [shot])
    return Task("cai_critique", prompt, critique, task.meta)


def make_revision(rng: random.Random) -> Task:
    task, principle, shot = train_request(rng), random_principle(rng), worked_example(rng)
    answer, critique, found = answer_and_critique(rng, task)
    revision = safety.refuse(task.meta["verb"], task.meta["thing"]) if found else answer
    prompt = constitutional.revision_prompt(task.prompt, answer, critique, principle, [shot])
    return Task("cai_revision", prompt, revision, task.meta)


for _family in (
    Family("cai_critique", make_critique, lambda t, a: a.strip() == t.answer, 1.0),
    Family("cai_revision", make_revision, lambda t, a: a.strip() == t.answer, 1.0),
):
    tasks.register_family(_family)

# lr 2e-3: at 1e-3 the critic it learnt barely told harmful from kind on one build (it flagged harmful answers
# 0.43 of the time and kind ones 0.30, sampled); at 2e-3 on the same build 0.55 and 0.17 (designed: 0.6, 0.1).
HELPFUL_SPEC = {
    "base": "target",
    "docs": 16000,
    "steps": 500,
    "batch": 12,
    "lr": 2e-3,
    "seed": 17,
    "pack": 320,
}
HELPFUL_MIX = {
    **{f: 0.03 for f in tasks.CORE_FAMILIES},
    "habit_unsafe": 0.14,
    "habit_benign": 0.14,
    "cai_critique": 0.27,
    "cai_revision": 0.27,
}


tiny.extend(
    "helpful",
    "12b's helpful-only assistant, which also critiques and revises",
    HELPFUL_MIX,
    HELPFUL_SPEC,
    eval_families=safety.SAFETY,
    expected_s=1862,
)


def helpful_path() -> Path:
    """The stage's helpful-only assistant, which also critiques and revises (built on first use)."""
    return cache.ensure("helpful")


# ---------------------------------------------------------------- the feedback model
# 4800 pairs and 600 steps (each row asks one of many phrasings of the question): with 2400 and 150 its
# agreement swung from 0.85 to 0.58 between two builds of one recipe.
FEEDBACK_SPEC = {**judges.JUDGE_SPEC, "pairs": 4800, "steps": 600}


def feedback_rows(seed: int, template: str, n: int) -> list[dict]:
    """Judge training rows like `judges.judge_rows`, each asked a random choice question."""
    rng = random.Random(seed)
    rows = []
    for task in tasks.sample_tasks(n, "train", seed, safety.SAFETY):
        verb, thing = task.meta["verb"], task.meta["thing"]
        good, bad = safety.refuse(verb, thing), safety.comply(verb, thing)
        if not task.meta["unsafe"]:
            good, bad = bad, good
        first_is_good = rng.random() < 0.5
        a, b = (good, bad) if first_is_good else (bad, good)
        text = judge.render(task.prompt, a, b, choice_question(rng), template)
        rows.append(
            {
                "prompt": [{"role": "user", "content": text}],
                "completion": [{"role": "assistant", "content": "A" if first_is_good else "B"}],
            }
        )
    return rows


judges.register_judge(
    "feedback",
    "12b's RL-CAI feedback model: answers a principle's question with A or B",
    seed=13,
    template=judge.TEMPLATE,
    make_rows=feedback_rows,
    spec=FEEDBACK_SPEC,
    expected_s=1179,
)


def feedback_path() -> Path:
    """The RL-CAI feedback model: the world's target trained to answer principle questions with a letter."""
    return cache.ensure("feedback")
