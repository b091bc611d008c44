import copy

import pytest
import torch

from helpers import (
    capstone,
    capstone_audit,
    capstone_card,
    capstone_serve,
    capstone_speed,
    generation,
    profiles,
    training,
)
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
    # rebuilt from the saved adapter: the same model, exactly
    again = capstone.reload_merged(draft, tmp_path / "adapter")
    assert capstone.max_logit_difference(merged, again, tok, prompts) == 0.0
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
    s = capstone_speed.speed(lambda p: (next(texts), 0.01 if p == "a" else 0.03), ["a", "b"], tok)
    assert (
        s["tokens"] == len(tok("one two")["input_ids"]) + len(tok("three")["input_ids"])
        and s["first_token_s"] == 0.03
    )
    card = capstone_card.model_card("demo", {"Results": {"accuracy": "0.71"}})
    assert card.splitlines()[0] == "# Model card: demo" and "- **accuracy**: 0.71" in card
    assert capstone_speed.weight_megabytes(torch.nn.Linear(1024, 256, bias=False)) == 1.0


def test_the_judges_wins_are_audited_against_the_grader():
    """A win the grader agrees with, a win whose final answer fails, and the grader's own better/worse."""
    items = [_task("home", s) for s in (1, 2, 3)]
    right = [t.answer for t in items]
    final = [right[0], "The answer is moon.", right[2]]
    base = ["The answer is moon.", right[1], "The answer is moon."]
    wins = [checks_judge.Verdict(0.9, 0.1, 1.0)] * 2 + [checks_judge.Verdict(0.5, 0.5, 1.0)]
    audit = capstone_audit.audit_wins(items, wins, final, base, [0, 1, 2])
    assert (audit["wins"], audit["agree"], audit["final_fails"], audit["both_pass"]) == (2, 1, 1, 0)
    assert (audit["better"], audit["worse"]) == (2, 1)  # the tie (item 2) counts for the grader
    assert [w["prompt"] for w in audit["examples"]] == [items[1].prompt, items[0].prompt]


def test_enrolment_fills_every_arm_by_the_sessions_hash():
    from helpers import abtest

    questions = [_task("home", s) for s in range(5)]
    enrolled = capstone_serve.enrol(("sft", "dpo"), 7, questions, seed=1)
    assert {arm: len(rows) for arm, rows in enrolled.items()} == {"sft": 7, "dpo": 7}
    for arm, rows in enrolled.items():
        assert all(abtest.arm_for(s, ("sft", "dpo")) == arm for s, _ in rows)
    assert enrolled == capstone_serve.enrol(("sft", "dpo"), 7, questions, seed=1)


def test_a_step_that_does_not_raise_the_mean_is_named():
    steps = {
        "base": {"mean": 0.2},
        "sft": {"mean": 0.5},
        "exp": {"mean": 0.5},
        "dpo": {"mean": 0.4},
    }
    failed, best = capstone.step_verdicts(steps, ["base", "sft", "exp", "dpo"])
    assert failed == ["exp", "dpo"] and best == "sft"


def test_the_expansion_filter_keeps_agreeing_finished_clean_answers():
    items = [_task("diet", i) for i in range(4)]
    greedy = [
        {"output": items[0].answer, "finished": True},  # kept
        {"output": items[1].answer, "finished": False},  # hit the token limit
        {"output": "The answer is honey.", "finished": True},  # the sample disagrees
        {"output": "", "finished": True},  # empty: agrees with nothing
    ]
    sampled = [
        {"output": items[0].answer},
        {"output": items[1].answer},
        {"output": "x"},
        {"output": ""},
    ]
    assert capstone.expansion_filter(items, greedy, sampled) == [0]


def test_the_fix_pairs_the_written_answer_over_a_failing_sample_only():
    items = [_task("home", s) for s in (1, 2, 3)]
    samples = [
        ("The answer is moon.", items[0].answer),  # one fails: a pair
        (items[1].answer, items[1].answer),  # both pass: nothing to correct
        ("The answer is sun.", "The answer is moon."),  # both fail: the first failing one
    ]
    rows = capstone.written_pairs(items, samples)
    assert [r["prompt"][0]["content"] for r in rows] == [items[0].prompt, items[2].prompt]
    assert [r["rejected"][0]["content"] for r in rows] == [
        "The answer is moon.",
        "The answer is sun.",
    ]
    assert all(r["chosen"][0]["content"] == t.answer for r, t in zip(rows, [items[0], items[2]]))


def test_ab_questions_are_fresh_distinct_and_cover_the_held_out_families():
    from helpers import settings

    profile = profiles.choose_profile()
    cfg = settings.stage("14", profile)
    qs = capstone.ab_questions(cfg, profile, 40)
    used = {t.prompt for t in cfg.held + cfg.seed_tasks + cfg.unlabeled + cfg.pref_tasks}
    prompts = [t.prompt for t in qs]
    assert len(prompts) == len(set(prompts)) == 40
    assert not (set(prompts) & (used | set(cfg.general)))
    assert {t.family for t in qs} == {t.family for t in cfg.held}
    assert prompts == [t.prompt for t in capstone.ab_questions(cfg, profile, 40)]  # reproducible


def test_users_arrive_mixed_and_the_log_reads_as_queues():
    enrolled = {"a": [("user-00002", "q2"), ("user-00000", "q0")], "b": [("user-00001", "q1")]}
    assert [s for s, _ in capstone_serve.arrivals(enrolled)] == [
        "user-00000",
        "user-00001",
        "user-00002",
    ]
    rows = [  # arm a: requests at 0 s (done at 3 s) and 1 s (done at 5 s); b: one at 2 s
        {"arm": "a", "created": 0.0, "latency_s": 3.0},
        {"arm": "a", "created": 1.0, "latency_s": 4.0},
        {"arm": "b", "created": 2.0, "latency_s": 1.0},
        {"arm": "a", "created": 2.0, "latency_s": 4.0},
    ]
    q = capstone_serve.queues(rows)
    assert [x["ahead"] for x in q] == [0, 1, 0, 2]
    assert [x["waited"] for x in q] == [0.0, 2.0, 0.0, 3.0]


def test_the_floor_decides_what_serves_whatever_the_mean():
    floor = {"unsafe": 0.8, "benign": 0.8}
    steps = {
        "SFT": {"mean": 0.5, "unsafe": 0.0, "benign": 1.0},
        "merged": {"mean": 0.4, "unsafe": 0.9, "benign": 0.9},
        "feedback DPO": {"mean": 0.6, "unsafe": 1.0, "benign": 0.0},
    }
    assert capstone.below_floor(steps["SFT"], floor) == ["unsafe"]
    assert capstone.below_floor({"mean": 0.3}, floor) == []  # GSM8K: no safety families
    assert capstone.serve_choice(steps, ["SFT", "merged", "feedback DPO"], floor) == "merged"
    assert capstone.serve_choice(steps, ["SFT", "feedback DPO"], floor) is None
    rec = capstone_card.recommendation(steps, "merged", floor)
    assert rec["verdict"] == "serve merged (0.400 held-out mean; unsafe 0.900, benign 0.900)"
    assert rec["feedback DPO"] == "mean 0.600; below the floor on benign: not served"
    rec = capstone_card.recommendation(steps, None, floor)
    assert rec["verdict"].startswith("do not ship any model: no candidate meets the safety floor")
    met = dict(steps, merged={"mean": 0.4, "unsafe": 0.9, "benign": 0.5})
    met["feedback DPO"] = {"mean": 0.6, "unsafe": 1.0, "benign": 1.0}
    verdict = capstone_card.recommendation(met, None, floor)["verdict"]
    assert verdict.endswith(
        "(below it: SFT unsafe; merged benign)"
    )  # one that meets it is not listed


def test_gain_interval_is_the_bar_gain_with_family_weights():
    held = [
        checks.Task("home", "Where does the dog sleep?", "yard", {"value": "yard"}),
        checks.Task("home", "Where does the cat sleep?", "yard", {"value": "yard"}),
        checks.Task("diet", "What does the bear eat?", "honey", {"value": "honey"}),
    ]
    no, yes = "The answer is no.", "The answer is {}."
    before, after = [no, no, no], [yes.format("yard"), no, yes.format("honey")]
    gain, ci = capstone.gain_interval(held, before, after, [0, 1, 2])
    assert abs(gain - (0.5 + 1.0) / 2) < 1e-12  # home +1 of 2, diet +1 of 1, each family half
    assert ci[0] <= gain <= ci[1]


def test_readings_follow_the_values():
    from helpers.readings import stage14

    fams = {"diet": 0.0, "home": 1.0}
    steps = {
        "SFT": {**fams, "mean": 0.5},
        "SFT + expansion": {**fams, "mean": 0.5},
        "DPO": {"diet": 0.0, "home": 0.6, "mean": 0.3},
    }
    for f in ("unsafe", "benign"):
        steps["SFT"][f] = 0.0 if f == "unsafe" else 1.0
    steps["SFT + refusals"] = {"diet": 0.0, "home": 1.0, "unsafe": 0.9, "benign": 1.0, "mean": 0.72}
    sizes = {"diet": 10, "home": 10, "unsafe": 20, "benign": 20}
    gains = {"base": (0.3, (0.2, 0.4)), "SFT": (0.22, (0.1, 0.3))}
    floor = {"unsafe": 0.8, "benign": 0.8}
    args = ("SFT + refusals", (160, 32, 22), gains)
    text = stage14.refusal_fix(steps, *args, [], floor, sizes, 0.1)
    assert "32 of the 160 SFT rows ask for harm" in text and "complied on 22" in text
    assert "harmful refused 0.900 (18 of 20)" in text and "meets the floor" in text
    assert "the whole bar" in text
    text = stage14.refusal_fix(steps, *args, [], floor, sizes, 0.5)
    assert "misses the bar's gain" in text
    text = stage14.refusal_fix(steps, *args, ["unsafe"], floor, sizes, 0.1)
    assert "still below the floor" in text and "refuses 18 of 20 harmful requests (SFT 0)" in text
    no = {"met": False}
    bar = {
        "base": {"gain": 0.1, "ci": (0.0, 0.2)} | no,
        "SFT": {"gain": -0.1, "ci": (-0.2, 0.0)} | no,
    }
    text = stage14.bar(bar, 0.1, floor, None, {"SFT": ["unsafe"], "merged": ["unsafe"]})
    assert "Nothing ships" in text and "Every model refuses too few harmful requests" in text
    text = stage14.bar(bar, 0.1, floor, None, {"SFT": ["benign"], "merged": ["unsafe"]})
    assert "targets the families that fail" in text
    text = stage14.refusal_fix(steps, "SFT + refusals", (160, 0, 0), gains, [], floor, sizes, 0.1)
    assert "nothing to refuse" in text and "SFT rebuilt (mean 0.720)" in text
    row = {"latency": {"p50": 1.0}, "concurrency": 1, "tokens_per_s": 100.0}
    queued = {"latency": {"p50": 3.0}, "concurrency": 4, "tokens_per_s": 130.0}
    batched = {**queued, "tokens_per_s": 300.0}
    assert "one request at a time" in stage14.load([row, queued], "transformers", "cpu", 2)
    assert "(batching)" in stage14.load([row, batched], "vllm", "cuda", 8)
    speeds = {"base": {"tokens_per_s": 121.0, "spread": 0.05}, "merged": {"tokens_per_s": 139.0}}
    spec = {"d": {"alpha": 0.9, "predicted": 1.5}}
    text = stage14.inference(spec, {"d": 1.4}, 0.7, 0.3, 1.4, 39, speeds)
    assert "a gap beyond it" in text and "clock 1.40x: faster" in text
    assert "falls short of the formula** for every draft, by 1.1x to 1.1x" in text
    same = {"d": {"alpha": 0.9, "predicted": 1.42}}
    text = stage14.inference(same, {"d": 1.4}, 0.7, 0.3, 1.4, 39, speeds)
    assert "agrees with the formula within noise" in text
    steady = {"base": {"tokens_per_s": 130.0, "spread": 0.05}, "merged": {"tokens_per_s": 131.0}}
    text = stage14.inference(spec, {"d": 1.03}, 0.7, 0.3, 1.4, 39, steady)
    assert "within it: clock noise" in text and "clock 1.03x: within noise" in text
    assert "falls short of the formula** for every draft, by 1.5x to 1.5x" in text
    assert capstone_speed.spread([10, 10], [1.0, 0.5]) == abs(10 - 20) / (20 / 1.5)


def test_the_log_reading_separates_the_queue_from_a_slow_engine():
    from helpers.readings import stage14

    def arm(first, waited):
        return {"first_mean": first, "waited": waited, "ahead": 1.0}

    alone = {
        a: {"first_mean": 0.1, "reply_mean": 0.3, "tokens_per_s": 90.0} for a in ("sft", "dpo")
    }
    queue = stage14.request_log(
        {"sft": arm(0.6, 0.5), "dpo": arm(0.55, 0.45)}, alone, "transformers", 4, (5, 5), 130.0
    )
    assert "a queue, not a slow model" in queue and "differ 1.09x: alike" in queue
    assert "90 (0.69x) and 90 (0.69x) reply tokens/s against 130" in queue
    assert "more than 20% apart" in queue
    near = stage14.request_log(
        {"sft": arm(0.6, 0.5), "dpo": arm(0.55, 0.45)}, alone, "transformers", 4, (5, 5), 95.0
    )
    assert "within 20%, so the serving path costs little" in near
    assert "skips expansion, DPO and the merge" in stage14.candidate(
        "SFT + refusals", "SFT + refusals"
    )
    assert "skips" not in stage14.candidate("merged", "SFT + refusals")
    slow = stage14.request_log(
        {"sft": arm(3.0, 0.5), "dpo": arm(0.55, 0.45)}, alone, "transformers", 4, (5, 5), 130.0
    )
    assert "ran slower together than alone" in slow and "differ 5.5x" in slow
    alone["sft"]["reply_mean"] = 0.5
    slow = stage14.request_log(
        {"sft": arm(3.0, 0.5), "dpo": arm(0.55, 0.45)}, alone, "transformers", 4, (5, 5), 130.0
    )
    assert "`sft` also takes longer alone (0.50 s a reply" in slow
    counted = stage14.request_log(
        {"sft": arm(0.6, 0.5), "dpo": arm(0.55, 0.45)} | {"dpo": arm(0.55, 0.45) | {"requests": 9}},
        alone,
        "transformers",
        4,
        (5, 5),
        300.0,
        {"dpo": 13},
        4,
    )
    assert "The counter's 13 requests for `dpo` are its 9 A/B users plus section 8's 4" in counted
    assert "reply tokens/s against 300 for `merged` in this process" in counted


def test_refusals_replace_the_answers_to_harmful_requests_only():
    harmful = [_task("unsafe", s) for s in range(30)]
    kind = _task("benign", 1)
    h = harmful[0]
    rows = [
        (h.prompt, f"Sure. To {h.meta['verb']} {h.meta['thing']}, first find it."),
        (kind.prompt, "ok"),
    ]
    out, asked, complied = capstone.with_refusals(rows, harmful)
    assert out == [(h.prompt, h.answer), (kind.prompt, "ok")] and (asked, complied) == (1, 1)
    assert capstone.with_refusals(out, harmful)[1:] == (1, 0)  # already a refusal
    assert capstone.with_refusals(rows, []) == (rows, 0, 0)  # GSM8K: nothing to swap


def test_candidate_prefers_the_floor_then_the_mean():
    floor = {"unsafe": 0.8}
    steps = {"merged": {"mean": 0.4, "unsafe": 0.0}, "fix": {"mean": 0.3, "unsafe": 0.9}}
    assert capstone.candidate(steps, ["merged", "fix"], floor) == "fix"
    steps["fix"]["unsafe"] = 0.1
    assert capstone.candidate(steps, ["merged", "fix"], floor) == "merged"


def test_expansion_facts_and_the_diagnosis_it_picks():
    from helpers.readings import stage14

    diet, home = _task("diet", 3), _task("home", 4)
    kept = [(diet.prompt, "The answer is nothing."), (home.prompt, home.answer)]
    facts = capstone_audit.expansion_facts([diet, home], kept, (160, 240), 2560, [1, 1, 2])
    assert facts == {
        "kept": {"diet": 1, "home": 1},
        "wrong": {"diet": 1},
        "rows": (160, 240),
        "passes": (16.0, 2560 / 240),
        "clusters": 2,
    }
    steps = {
        "base": {"diet": 0.0, "benign": 1.0, "mean": 0.5},
        "SFT + expansion": {"diet": 0.0, "benign": 0.8, "mean": 0.4},
    }
    cis = {"SFT + expansion": (-0.1, (-0.2, -0.01))}
    sizes = {"diet": 10, "benign": 10}
    chain = ["base", "SFT + expansion"]
    text = stage14.steps(steps, chain, cis, "base", (3, 9), [], sizes, facts)
    assert "On benign, it kept no benign answer: the wrong kept answers (on diet)" in text
    assert (
        "seen about 11 times instead of 16" in text
        and "20 held-out questions in 2 clusters" in text
    )
    facts["kept"]["benign"], facts["wrong"]["benign"] = 5, 2
    text = stage14.steps(steps, chain, cis, "base", (3, 9), [], sizes, facts)
    assert "The likely cause: 2 of its 5 kept benign answers are wrong" in text
    assert "filter harder (3 of 9 kept answers are wrong)" in text


def test_pair_audit_counts_add_up_in_the_reading():
    from helpers.readings import stage14

    audit = {
        "pairs": 123,
        "prompts": 640,
        "graded": 0,
        "gradable": 123,
        "checked": 96,
        "right": 81,
        "chosen_fails": 23,
        "kinds": {"unsafe": {"refusal": 27, "answer": 7}},
        "offered": {"unsafe": [35, 160]},
        "n_wrong": 15,
        "wrong": [("p", "Sure. To poison the fox, first find it.", "I will not he fox")],
    }
    steps = {"SFT + expansion": {"home": 1.0}, "DPO": {"home": 0.6}}
    text = stage14.why_dpo(audit, steps, ["home"], "home", 13, 120, 16, (-0.1, (-0.2, 0.01)))
    assert "96 pairs (in 19 both pass, in 8 both fail)" in text
    assert "the 23 failing chosen answers are those 15 plus the 8 where both fail" in text
    assert "within noise" in text and "fluent compliance" in text


def test_ab_reading_counts_votes_and_the_decision():
    from helpers import abtest
    from helpers.readings import stage14

    ab = {"p_value": 0.2, "diff": -0.1}
    assert abtest.decision(ab, ("sft", "final")) == "neither (not significant)"
    assert abtest.decision({"p_value": 0.01, "diff": 0.2}, ("sft", "final")) == "final"
    assert abtest.decision({"p_value": 0.01, "diff": -0.2}, ("sft", "final")) == "sft"
    rates = {"unsafe": ((0, 23), (1, 22)), "home": ((23, 23), (17, 24))}
    text = stage14.ab(ab, rates, "neither (not significant)", 0.2, (0.5, 0.4))
    assert "gains most on `unsafe` (1 of 22 thumbs up against 0 of 23, a few votes)" in text
    assert "loses most on `home` (17 of 24" in text
    votes = {"sft": [("home", True), ("home", False)], "final": [("home", True)]}
    assert capstone_serve.rates_by_family(votes) == {"home": ((1, 2), (1, 1))}


def test_stability_reading_names_the_code_version_and_the_load_tail(tmp_path):
    import json

    from helpers.readings import stage14

    figs = {
        "14 final mean accuracy": [0.4, 0.7, 0.8],
        "14 final harmful requests refused": [0.05, 0.3, 0.97],
    }
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"seeds": [0, 1, 2], "before_pin": [1, 2], "figures": figs}))
    text = stage14.stability(path)
    assert "lowest mean of 3: 0.40 against 0.70 and 0.80" in text
    assert "below a 0.80 floor on 2 of 3 worlds" in text and "mixes the world with the code" in text
    row = {"latency": {"p50": 1.0}, "concurrency": 1, "tokens_per_s": 100.0, "requests": 24}
    assert "p99 is nearly the slowest" in stage14.load([row, row], "transformers", "cpu", 2)
