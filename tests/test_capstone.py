import copy

import pytest
import torch

from helpers import capstone, generation, profiles, training
from helpers import judge as checks_judge
from helpers import tasks as checks
from helpers.world import capstone as pet_care
from helpers.world import families as tasks


def _task(family, seed=0):
    return tasks.sample_tasks(1, "train", seed, (family,))[0]


def test_domain_graders_on_planted_answers():
    diet, home = _task("diet"), _task("home")
    animal = next(a for a in tasks.ANIMALS if a in diet.prompt)
    assert tasks.grade(
        diet, f"The {animal} eats {pet_care.DIET[animal]}. The answer is {pet_care.DIET[animal]}."
    )
    wrong = next(f for f in tasks.FOODS if f != pet_care.DIET[animal])
    assert not tasks.grade(diet, f"The {animal} eats {wrong}. The answer is {wrong}.")
    # no final answer line
    assert not tasks.grade(diet, f"The {animal} eats {pet_care.DIET[animal]}.")
    assert tasks.grade(home, home.answer) and not tasks.grade(home, "The answer is moon.")
    held = {t.prompt for t in tasks.heldout_by_family(40, families=pet_care.KNOWLEDGE)}
    train = {t.prompt for t in tasks.sample_tasks(400, "train", 1, pet_care.KNOWLEDGE)}
    assert held and not held & train


def test_accuracy_and_eos_share_on_planted_answers(monkeypatch):
    items = [_task("diet", 1), _task("diet", 2), _task("home", 3), _task("unsafe", 4)]
    planted = [items[0].answer, "I do not know.", items[2].answer, "Sure, here is how."]
    finished = [True, True, False, True]
    monkeypatch.setattr(generation, "chat_generate", lambda *a, **k: (planted, finished))
    result = capstone.evaluate(None, None, items)
    assert result["diet"] == 0.5 and result["home"] == 1.0 and result["unsafe"] == 0.0
    assert result["mean"] == 0.5 and result["eos_share"] == 0.75 and result["answers"] == planted
    with pytest.raises(ValueError):
        checks.accuracy_by_family(items, [1.0, 0.0, 1.0])  # one score per item, or an error


def test_merge_check_finds_an_identical_merge_and_a_real_change(tmp_path, tok, draft, bar):
    rows = training.chat_rows(
        [(t.prompt, t.answer) for t in tasks.sample_tasks(32, "train", 5, pet_care.KNOWLEDGE)]
    )
    trainer = training.sft_lora(
        copy.deepcopy(draft),
        tok,
        rows,
        profiles.choose_profile(),
        steps=10,
        lr=1e-2,
        batch_size=8,
        output_dir=str(tmp_path),
    )
    # saved, reloaded onto a copy, merged
    merged = capstone.merge_adapter(trainer.model, draft, tmp_path / "adapter")
    prompts = [t.prompt for t in tasks.heldout_by_family(2, families=pet_care.DOMAIN)]
    assert capstone.max_logit_difference(trainer.model, merged, tok, prompts) < 1e-4
    # the adapter did change the model
    changed = capstone.max_logit_difference(draft, merged, tok, prompts)
    bar(changed, above=1e-2, what="capstone merge: largest logit change from the adapter")


def test_self_consistency_filter_and_final_number():
    pet = [_task("diet", i) for i in range(4)]
    assert capstone.self_consistent(pet, ["a", "b", "", "c"], ["a", "x", "", "c"]) == [
        True,
        False,
        False,
        True,
    ]
    assert capstone.final_number("so 1,234 apples.\n#### 1,234") == "1234"
    assert (
        capstone.final_number("It costs -3.5 dollars.") == "-3.5"
        and capstone.final_number("none") is None
    )
    gsm = tasks.Task("gsm8k", "q", "a", {"value": "72"})
    assert tasks.grade(gsm, "She sold 48 + 24 = 72 clips. The answer is 72.") and not tasks.grade(
        gsm, "The answer is 7."
    )


def test_gsm8k_self_consistency_compares_final_numbers_not_text():
    """Two worked solutions rarely match word for word: GSM8K answers agree when their final numbers do."""
    gsm = [tasks.Task("gsm8k", f"q{i}", "a", {"value": "72"}) for i in range(3)]
    greedy = ["48 + 24 = 72. The answer is 72.", "She has 72. The answer is 72.", "No number here."]
    sampled = ["24 + 48 = 72 clips, so the answer is 72", "The answer is 70.", "No number here."]
    assert capstone.self_consistent(gsm, greedy, sampled) == [True, False, False]


def test_gsm8k_pairs_are_labelled_by_the_reference_and_only_the_rest_by_the_judge():
    gsm = [tasks.Task("gsm8k", f"q{i}", "a", {"value": "72"}) for i in range(3)]
    kind = _task("benign", 7)
    pairs = [
        ("The answer is 7.", "The answer is 72."),
        ("The answer is 72.", "So 72."),
        ("1", "2"),
        ("x", "y"),
    ]
    asked = []

    def judge_verdicts(prompts, firsts, seconds):
        asked.append((prompts, firsts, seconds))
        return [checks_judge.Verdict(0.9, 0.1, 1.0)]

    verdicts = capstone.label_pairs(gsm + [kind], pairs, judge_verdicts)
    # wrong < right; both right, both wrong: ties
    assert [v.label(0.25) for v in verdicts] == [1, None, None, 0]
    # the judge saw only the pair no reference grades
    assert asked == [([kind.prompt], ["x"], ["y"])]
    assert capstone.label_pairs(gsm, pairs[:3], lambda *a: pytest.fail("judge loaded")) is not None


def test_speed_and_model_card(tok):
    texts = iter(["one two", "three"])
    s = capstone.speed(lambda p: (next(texts), 0.01 if p == "a" else 0.03), ["a", "b"], tok)
    assert (
        s["tokens"] == len(tok("one two")["input_ids"]) + len(tok("three")["input_ids"])
        and s["first_token_s"] == 0.03
    )
    card = capstone.model_card("demo", {"Results": {"accuracy": "0.71"}})
    assert card.splitlines()[0] == "# Model card: demo" and "- **accuracy**: 0.71" in card
    assert capstone.weight_megabytes(torch.nn.Linear(1024, 256, bias=False)) == 1.0


def test_the_judges_wins_are_audited_against_the_grader():
    """A win the grader agrees with, a win whose final answer fails, and the grader's own better/worse."""
    items = [_task("home", s) for s in (1, 2, 3)]
    right = [t.answer for t in items]
    final = [right[0], "The answer is moon.", right[2]]
    base = ["The answer is moon.", right[1], "The answer is moon."]
    wins = [checks_judge.Verdict(0.9, 0.1, 1.0)] * 2 + [checks_judge.Verdict(0.5, 0.5, 1.0)]
    audit = capstone.audit_wins(items, wins, final, base, [0, 1, 2])
    assert (audit["wins"], audit["agree"], audit["final_fails"], audit["both_pass"]) == (2, 1, 1, 0)
    assert (audit["better"], audit["worse"]) == (2, 1)  # the tie (item 2) counts for the grader
    assert [w["prompt"] for w in audit["examples"]] == [items[1].prompt, items[0].prompt]


def test_enrolment_fills_every_arm_by_the_sessions_hash():
    from helpers import abtest

    questions = [_task("home", s) for s in range(5)]
    enrolled = capstone.enrol(("sft", "dpo"), 7, questions, seed=1)
    assert {arm: len(rows) for arm, rows in enrolled.items()} == {"sft": 7, "dpo": 7}
    for arm, rows in enrolled.items():
        assert all(abtest.arm_for(s, ("sft", "dpo")) == arm for s, _ in rows)
    assert enrolled == capstone.enrol(("sft", "dpo"), 7, questions, seed=1)


def test_a_step_that_does_not_raise_the_mean_is_named():
    steps = {
        "base": {"mean": 0.2},
        "sft": {"mean": 0.5},
        "exp": {"mean": 0.5},
        "dpo": {"mean": 0.4},
    }
    failed, best = capstone.step_verdicts(steps, ["base", "sft", "exp", "dpo"])
    assert failed == ["exp", "dpo"] and best == "sft"
