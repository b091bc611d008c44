"""Checkable tasks: a prompt, a reference answer, and a family whose rule grades any answer.

Stages measure models with these: the tiny world's synthetic families (`helpers.world.families`) and real
data with a checkable answer (GSM8K in stage 14) register here with `register_family`, and
`accuracy_by_family` scores answers the same way for all of them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from helpers import generation


@dataclass(frozen=True)
class Task:
    """One chat task: the user prompt, the reference answer, and what the grader needs."""

    family: str
    prompt: str
    answer: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Family:
    """A task format: how to make one, how to grade an answer, and (where answers end in a checkable value,
    as GSM8K's final number) `key`, the value two answers must share to count as the same answer."""

    name: str
    make: Callable[[random.Random], Task]
    grade: Callable[[Task, str], bool]
    weight: float = 1.0
    key: Callable[[str], str | None] | None = None


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a task family (later stages add their own formats this way)."""
    FAMILIES[family.name] = family
    return family


def gradable(task: Task) -> bool:
    """Whether a grader knows the task's family (hub prompts such as hh-rlhf's have none: no ground truth)."""
    return task.family in FAMILIES


def grade(task: Task, answer: str) -> bool:
    """True when `answer` solves `task`, by the family's rule."""
    return FAMILIES[task.family].grade(task, answer)


def same_answer(task: Task, a: str, b: str) -> bool:
    """Whether two answers to `task` say the same: equal final values where the family defines `key` (two
    worked solutions rarely match word for word), else equal text; an empty answer agrees with nothing."""
    key = FAMILIES[task.family].key if task.family in FAMILIES else None
    if key is None:
        return a.strip() == b.strip() and bool(a.strip())
    return key(a) is not None and key(a) == key(b)


def reference_graded(task: Task) -> bool:
    """Whether the task's family checks a reference value (a `key`): its grader, not a judge, says which of
    two answers is right."""
    return task.family in FAMILIES and FAMILIES[task.family].key is not None


def final_answer(text: str) -> str | None:
    """The value after the last 'The answer is', without the closing full stop."""
    found = re.findall(r"The answer is (.+?)\.?\s*$", text.strip(), flags=re.M)
    return found[-1].strip() if found else None


def grade_final(task: Task, answer: str) -> bool:
    """The family rule for answers that end 'The answer is X.': X must equal the task's value."""
    return final_answer(answer) == task.meta["value"]


def to_messages(task: Task, answer: str | None = None) -> list[dict[str, str]]:
    """The chat form of a task (with the reference answer unless another is given)."""
    return [
        {"role": "user", "content": task.prompt},
        {"role": "assistant", "content": task.answer if answer is None else answer},
    ]


def accuracy_by_family(items: list[Task], scores: list[float]) -> dict[str, float]:
    """Mean score per family (a score is 1/0 for one graded answer, or a mean over samples) and the
    unweighted mean of the families."""
    by_family: dict[str, list[float]] = {}
    for task, score in zip(items, scores, strict=True):
        by_family.setdefault(task.family, []).append(float(score))
    out = {f: sum(v) / len(v) for f, v in by_family.items()}
    out["mean"] = sum(out.values()) / len(out)
    return out


def graded_answers(
    model, tok, items: list[Task], max_new_tokens: int = 72, batch_size: int = 120, **sampling
) -> tuple[list[str], list[bool], list[bool]]:
    """Answers to `items` (greedy unless sampling arguments are given), each graded by its family's rule,
    and whether each ended with end-of-turn before the token limit: (answers, correct, finished)."""
    answers, finished = generation.chat_generate(
        model,
        tok,
        [t.prompt for t in items],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        return_finished=True,
        **sampling,
    )
    return answers, [grade(t, a) for t, a in zip(items, answers, strict=True)], finished


def accuracy(model, tok, items: list[Task], **kw) -> dict[str, float]:
    """Accuracy per family of the answers to `items` (`graded_answers`) and the families' mean."""
    return accuracy_by_family(items, graded_answers(model, tok, items, **kw)[1])


def cluster_of(task: Task) -> str:
    """Questions with the same reference answer are paraphrases of one fact ("What does the frog eat?",
    "What should I feed Leo's frog?"): one cluster for an interval that does not count them twice."""
    return f"{task.family}:{task.answer}"
