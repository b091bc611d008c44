import random

import pytest

from helpers.world import families as tasks


@pytest.mark.parametrize("family", tasks.CORE_FAMILIES)
def test_reference_answer_passes_its_grader(family):
    rng = random.Random(0)
    for _ in range(50):
        t = tasks.FAMILIES[family].make(rng)
        assert tasks.grade(t, t.answer), t


PLANTED_WRONG = {
    "add": lambda t: t.answer.replace(f"is {t.meta['value']}.", f"is {int(t.meta['value']) + 1}."),
    "compare": lambda t: t.answer.replace(f"is {t.meta['value']}.", "is 101."),
    "count": lambda t: t.answer.replace(". Done.", ", 99. Done."),
    "spell": lambda t: t.answer[:-1] + ("x" if t.answer[-1] != "x" else "y"),
    "facts": lambda t: t.answer.replace(f"is {t.meta['value']}.", "is purple."),
    "story": lambda t: t.answer.replace(t.meta["food"], "pizza"),
}


@pytest.mark.parametrize("family", tasks.CORE_FAMILIES)
def test_planted_wrong_answers_fail(family):
    rng = random.Random(1)
    for _ in range(50):
        t = tasks.FAMILIES[family].make(rng)
        wrong = PLANTED_WRONG[family](t)
        assert wrong != t.answer
        assert not tasks.grade(t, wrong), (t, wrong)


def test_story_grader_checks_the_animals_home():
    t = tasks.make_story(random.Random(3))
    wrong_home = t.answer.replace(tasks.HOMES[t.meta["animal"]], "moon")
    assert not tasks.grade(t, wrong_home)


def test_final_answer_extraction():
    assert tasks.final_answer("3 + 4 = 7. The answer is 7.") == "7"
    assert tasks.final_answer("no answer here") is None


def test_splits_are_disjoint_and_fixed():
    train = {t.prompt for t in tasks.sample_tasks(3000, "train", seed=0)}
    held = {t.prompt for t in tasks.sample_tasks(300, "heldout", seed=0)}
    assert not train & held
    assert [t.prompt for t in tasks.sample_tasks(20, "heldout", seed=5)] == [
        t.prompt for t in tasks.sample_tasks(20, "heldout", seed=5)
    ]


def test_heldout_by_family_is_balanced_and_distinct():
    held = tasks.heldout_by_family(10)
    for f in tasks.CORE_FAMILIES:
        prompts = [t.prompt for t in held if t.family == f]
        assert len(prompts) == len(set(prompts)) == 10


def test_later_stages_can_register_a_family():
    fam = tasks.Family(
        "echo", lambda rng: tasks.Task("echo", "Say hi.", "hi"), lambda t, a: a == "hi"
    )
    tasks.register_family(fam)
    try:
        assert tasks.grade(tasks.Task("echo", "Say hi.", "hi"), "hi")
        assert "echo" not in tasks.CORE_FAMILIES  # the core splits are unchanged
    finally:
        del tasks.FAMILIES["echo"]


def test_bad_split_name():
    with pytest.raises(ValueError, match="split"):
        tasks.sample_tasks(1, "test", seed=0)
