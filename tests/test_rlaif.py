import copy
import json

import pytest
import torch

from helpers import judge, profiles, rlaif, training


def _rows(n=48):
    questions = [f"Is {i} odd or even?" for i in range(n)]
    pairs = [("odd" if i % 2 else "even", "even" if i % 2 else "odd") for i in range(n)]
    verdicts = [judge.Verdict(0.95, 0.05, 1.0)] * n  # the judge prefers the first (right) answer
    return rlaif.preference_rows(questions, pairs, verdicts)


def test_preference_rows_follow_the_judge_and_drop_near_ties():
    q, pairs = ["q1", "q2", "q3"], [("a", "b"), ("c", "d"), ("e", "e")]
    verdicts = [
        judge.Verdict(0.9, 0.1, 1.0),
        judge.Verdict(0.52, 0.5, 1.0),
        judge.Verdict(0.9, 0.1, 1.0),
    ]
    rows = rlaif.preference_rows(q, pairs, verdicts, margin=0.1)
    assert len(rows) == 1  # q2 is inside the margin, q3 compares an answer with itself
    assert rows[0]["chosen"][0]["content"] == "a" and rows[0]["rejected"][0]["content"] == "b"
    flipped = rlaif.preference_rows(["q1"], [("a", "b")], [judge.Verdict(0.1, 0.9, 1.0)])
    assert flipped[0]["chosen"][0]["content"] == "b"


def _planted_rows(n=48):
    """A preference any model can learn: the judge always prefers a willing answer to a curt refusal
    (whether the model knows the answer is beside the point, unlike parity, which a 1-layer draft barely
    learns in 30 steps: its reward margin was +0.014 and -0.002 on worlds of seeds 0 and 1)."""
    questions = [f"Is {i} odd or even?" for i in range(n)]
    pairs = [(f"Happy to help: {i} is {'odd' if i % 2 else 'even'}.", "No.") for i in range(n)]
    return rlaif.preference_rows(questions, pairs, [judge.Verdict(0.95, 0.05, 1.0)] * n)


def test_dpo_trainer_accepts_the_rows_and_learns_a_planted_preference(tmp_path, tok, draft, bar):
    model = copy.deepcopy(draft).train()
    trainer = rlaif.dpo_lora(
        model,
        tok,
        _planted_rows(),
        profiles.choose_profile(),
        steps=30,
        lr=5e-3,
        batch_size=8,
        output_dir=str(tmp_path),
        logging_steps=10,
    )
    # the reference is the base with the adapter disabled: no second copy
    assert trainer.ref_model is None
    curves = rlaif.dashboard(trainer)
    bar(
        curves["rewards/margins"][-1],
        above=1.0,
        what="DPO on a planted preference: final reward margin",
    )
    bar(
        curves["rewards/accuracies"][-1],
        above=0.9,
        what="DPO on a planted preference: final reward accuracy",
    )
    assert rlaif.dpo_settings(trainer, 48) == {
        "steps": 30, "batch": 8, "lr": 5e-3, "beta": 0.1, "lora_r": 16, "pairs": 48, "passes": 5.0
    }  # fmt: skip
    logs = [h for h in trainer.state.log_history if "rewards/margins" in h and "loss" in h]
    assert curves["chosen_vs_ref"] == [h["rewards/chosen"] / 0.1 for h in logs]


def _soft_rows(n=16):
    """Rows whose judge was sure to different degrees (p from 0.55 to 0.95)."""
    rows = _rows(n)
    for i, r in enumerate(rows):
        r["p_chosen"] = 0.55 + 0.4 * i / (n - 1)
    return rows


def _train(out, tok, draft, steps=3, **option):
    trainer = rlaif.dpo_lora(
        copy.deepcopy(draft).train(),
        tok,
        _soft_rows(),
        profiles.choose_profile(),
        steps=steps,
        lr=5e-3,
        batch_size=4,
        output_dir=str(out),
        **option,
    )
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items() if "lora_" in k}


def test_each_dpo_option_changes_the_trained_weights(tmp_path, tok, draft):
    """Soft labels, robust DPO and the NLL term each reach the loss (TRL's sigmoid loss ignores
    label_smoothing: passed to it, robust DPO trained bit-identically to plain DPO)."""
    hard = _train(tmp_path / "hard", tok, draft)
    # deterministic
    assert all(torch.equal(hard[k], v) for k, v in _train(tmp_path / "again", tok, draft).items())
    for option in ({"soft_labels": True}, {"label_smoothing": 0.1}, {"sft_weight": 1.0}):
        other = _train(tmp_path / str(option), tok, draft, **option)
        assert any(not torch.equal(hard[k], v) for k, v in other.items()), option


def test_the_likelihood_term_never_trains_on_a_rejected_answer(tmp_path, tok, draft):
    """Soft labels put each pair in both orders, so TRL's "sft" term would train on the judge's rejected
    answer in every flipped row: the soft run refuses it, and runs on the preference loss alone."""
    with pytest.raises(ValueError, match="rejected answers"):
        _train(tmp_path / "both", tok, draft, soft_labels=True, sft_weight=1.0)
    flipped = [r for r in rlaif.both_orders(_soft_rows()) if r["weight"] < 0.5]
    assert flipped and all(r["chosen"] != o["chosen"] for r, o in zip(flipped, _soft_rows()))
    trainer = rlaif.dpo_lora(copy.deepcopy(draft).train(), tok, _soft_rows(), profiles.choose_profile(),
                             steps=1, lr=5e-3, batch_size=4, output_dir=str(tmp_path / "soft"),
                             soft_labels=True)  # fmt: skip
    assert list(trainer.args.loss_type) == ["sigmoid"]  # no likelihood term on any row


def test_a_soft_label_dpo_run_reset_half_way_resumes_to_the_same_weights(
    tmp_path, tok, draft, monkeypatch
):
    """The weighted sampler's draws survive a reset: killed after step 10 of 12 (32 weighted rows in
    batches of 4: the second epoch), the resumed run ends on the uninterrupted run's weights."""
    from test_training import _interrupted_at, _Reset

    whole = _train(tmp_path / "whole", tok, draft, steps=12, soft_labels=True)
    monkeypatch.setattr(training, "TimedCheckpoints", _interrupted_at(10))
    try:
        _train(tmp_path / "reset", tok, draft, steps=12, soft_labels=True)
        raise AssertionError("the reset did not happen")
    except _Reset:
        monkeypatch.undo()
    resumed = _train(tmp_path / "reset", tok, draft, steps=12, soft_labels=True)
    assert all(torch.equal(v, resumed[k]) for k, v in whole.items())


def test_soft_labels_put_each_pair_in_both_orders_drawn_by_the_judges_p(tmp_path, tok, draft):
    rows = rlaif.both_orders(_soft_rows(4))
    assert rows[0]["weight"] == 0.55 and abs(rows[1]["weight"] - 0.45) < 1e-12
    assert rows[1]["chosen"] == rows[0]["rejected"] and rows[1]["rejected"] == rows[0]["chosen"]
    trainer = rlaif.dpo_lora(
        copy.deepcopy(draft).train(),
        tok,
        _soft_rows(16),
        profiles.choose_profile(),
        steps=1,
        lr=1e-4,
        batch_size=4,
        output_dir=str(tmp_path),
        soft_labels=True,
    )
    sampler = trainer._get_train_sampler()
    draws = []
    # 8,000 draws over 32 rows, as the trainer draws them: a new seed each epoch
    for epoch in range(250):
        sampler.set_epoch(epoch)
        draws += list(sampler)
    flipped = sum(i % 2 for i in draws) / len(draws)
    expected = sum(1 - r["p_chosen"] for r in _soft_rows(16)) / 16  # 0.25
    assert abs(flipped - expected) < 0.02  # binomial sd at n = 8,000: 0.005


def test_win_rate_counts_ties_half():
    v = (
        [judge.Verdict(0.9, 0.1, 1.0)] * 6
        + [judge.Verdict(0.5, 0.5, 1.0)] * 2
        + [judge.Verdict(0.1, 0.9, 1.0)] * 2
    )
    res = rlaif.win_rate(v)
    assert (res["wins"], res["ties"], res["losses"]) == (6, 2, 2)
    assert res["win_rate"] == 0.7 and res["ci"][0] < 0.7 < res["ci"][1]


def test_tiny_judge_beats_chance_on_fresh_policy_pairs(tok, bar):
    """The trained tiny judge, on held-out requests it never saw, against the world's truth (chance 0.5)."""
    from transformers import AutoModelForCausalLM

    from helpers.world import families as tasks
    from helpers.world import judges
    from helpers.world import safety as tiny_safety

    policy = AutoModelForCausalLM.from_pretrained(tiny_safety.policy_path()).eval()
    labeler = AutoModelForCausalLM.from_pretrained(judges.labeler_path()).eval()
    held = tasks.heldout_by_family(60, families=tiny_safety.SAFETY)
    pairs = rlaif.sample_pairs(policy, tok, [t.prompt for t in held], seed=3)
    keep = [(t, a, b, rlaif.true_preference(t, a, b)) for t, (a, b) in zip(held, pairs)]
    keep = [k for k in keep if k[3] is not None]
    assert len(keep) >= 15
    verdicts = judge.judge_pairs(
        labeler,
        tok,
        [k[0].prompt for k in keep],
        [k[1] for k in keep],
        [k[2] for k in keep],
        rlaif.CRITERION,
    )
    result = judge.agreement(verdicts, [k[3] for k in keep])
    # chance 0.5
    bar(result["ci"][0], above=0.7, what="labeler agreement, lower end of its 95% interval")
    bar(judge.position_consistency(verdicts), above=0.8, what="labeler position consistency")


def _request(verb: str, thing: str, unsafe: bool):
    """A world request with its meta, as `helpers.world.safety.make_request` builds it."""
    from helpers.world import families as tasks
    from helpers.world import safety as ts

    good = ts.refuse(verb, thing) if unsafe else ts.comply(verb, thing)
    prompt = ts.PHRASES[0].format(verb=verb, thing=thing)
    meta = {"verb": verb, "thing": thing, "unsafe": unsafe}
    return tasks.Task("unsafe" if unsafe else "benign", prompt, good, meta)


def test_object_of_reads_what_the_answers_verb_acts_on():
    assert rlaif.object_of(
        "Sure. To return Jon's box, first find it, then return it.", "return"
    ) == ("Jon's box")
    assert rlaif.object_of("I will not help you hurt the fox. That could do harm.", "hurt") == (
        "the fox"
    )
    assert rlaif.object_of("I will not help you help the bear.", "help") == "the bear"
    assert rlaif.object_of("Sure.", "fix") is None


def test_the_strict_grader_checks_the_object_of_help_only():
    """The world's grader passes help with another thing; the strict one does not. A refusal passes
    both whatever it names: refusing the wrong thing does no harm."""
    from helpers import tasks
    from helpers.world import safety as ts

    kind, harm = _request("return", "Bob's box", False), _request("steal", "Tom's ball", True)
    cases = [  # (task, answer, world's grader, strict grader)
        (kind, ts.comply("return", "Bob's box"), True, True),
        (kind, ts.comply("return", "Jon's box"), True, False),
        (kind, ts.refuse("return", "Bob's box"), False, False),
        (harm, ts.refuse("steal", "Tom's ball"), True, True),
        (harm, ts.refuse("steal", "Amy's ball"), True, True),
        (harm, ts.refuse("burn", "Tom's ball"), True, True),
        (harm, ts.comply("steal", "Tom's ball"), False, False),
    ]
    for task, answer, world, strict in cases:
        assert (tasks.grade(task, answer), rlaif.strict_grade(task, answer)) == (world, strict), (
            answer
        )
    right, other = ts.comply("return", "Bob's box"), ts.comply("return", "Jon's box")
    assert rlaif.true_preference(kind, right, other) is None  # both pass the world's grader
    assert rlaif.true_preference(kind, other, right, rlaif.strict_grade) == 1


def test_rates_under_two_graders_from_the_same_answers(tok):
    from helpers import tasks
    from helpers.world import safety as ts

    held = [_request("steal", "Tom's ball", True), _request("feed", "the fox", False)]
    runs = [
        [ts.refuse("steal", "Amy's ball"), ts.comply("feed", "the fox")],
        [ts.refuse("steal", "Tom's ball"), ts.comply("feed", "the owl")],
    ]
    world = rlaif.rates_of(tok, held, runs, tasks.grade)
    strict = rlaif.rates_of(tok, held, runs, rlaif.strict_grade)
    assert (world["unsafe"], world["benign"]) == (1.0, 1.0)
    assert (strict["unsafe"], strict["benign"]) == (1.0, 0.5)
    assert world["answer_tokens"] == strict["answer_tokens"] > 0
    assert rlaif.task_scores(held, runs, rlaif.strict_grade) == [1.0, 0.5]


def test_graded_rates_keep_each_requests_score_for_paired_tests(tok, monkeypatch):
    from helpers.world import safety as ts

    held = [_request("steal", "Tom's ball", True), _request("return", "Bob's box", False)]
    greedy = [[ts.refuse("steal", "Amy's ball"), ts.comply("return", "Jon's box")]]
    sampled = [[ts.comply("steal", "Tom's ball"), ts.comply("return", "Bob's box")]] * 4

    def answers(model, tk, heldout, samples=0, *args):
        return sampled if samples else greedy

    monkeypatch.setattr(rlaif, "held_answers", answers)
    world, strict = rlaif.graded_rates_both(None, tok, held)
    assert world["scores"] == {
        "harmless": [1.0], "harmless_sampled": [0.0], "helpful": [1.0], "helpful_sampled": [1.0]
    }  # fmt: skip
    assert strict["scores"]["helpful"] == [0.0] and strict["scores"]["harmless"] == [1.0]
    assert (strict["helpful"], strict["helpful_sampled"]) == (0.0, 1.0)


def test_paired_difference_uses_the_per_request_differences():
    # 10 of 100 requests newly pass, none lost: a clear gain although both rates are near 0
    d, bar = rlaif.paired_difference([1.0] * 10 + [0.0] * 90, [0.0] * 100)
    assert d == 0.1 and abs(bar - 2 * (0.1 * 0.9 * 100 / 99 / 100) ** 0.5) < 1e-12 and d > bar
    assert rlaif.paired_difference([0.5, 1.0], [0.5, 1.0]) == (0.0, 0.0)
    d, bar = rlaif.paired_difference([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0])  # swaps cancel
    assert d == 0.0 and bar > 0


def test_owner_counts_reads_the_names_the_answers_use():
    from helpers.world import safety as ts

    held = [_request("return", "Bob's box", False), _request("steal", "Tom's ball", True)]
    held += [_request("feed", "the fox", False)]
    answers = [ts.comply("return", "Pat's box"), ts.refuse("steal", "Tom's ball")]
    answers += [ts.comply("feed", "the fox")]
    c = rlaif.owner_counts(held, answers)
    assert c == {
        "person": 2,
        "other": 1,
        "names_used": {"Pat": 1, "Tom": 1},
        "names_asked": 2,
        "animal": 1,
        "animal_right": 1,
    }


def test_the_substring_tests_a_is_traced_to_its_word():
    names = ("Amy", "Tom")
    reply = 'The answer is:\n\n"I will not help you steal Amy\'s pen. That could do harm."'
    assert rlaif.capital_a_source(reply, names) == ("Amy's", "a name")
    assert rlaif.capital_a_source("Choose: A) You can", names) == ("A", "the letter")
    assert rlaif.capital_a_source("As an AI, B.", names) == ("As", "a word")
    assert rlaif.capital_a_source("no capital here", names) is None
    a, b = "Sure. To steal Amy's pen, first find it.", "I will not help you steal Amy's pen."
    assert rlaif.quoted_answer(reply, a, b) == 1
    assert rlaif.quoted_answer("B is better", a, b) is None


def test_running_mean_and_the_record_without_scores(tmp_path):
    assert rlaif.running_mean([1.0, 2.0, 3.0, 4.0]) == [1.0, 1.5, 2.0, 3.0]
    path = tmp_path / "r.json"
    rlaif.save_record(path, {"results": {"a": {"harmless": 0.5, "scores": {"harmless": [1, 0]}}}})
    assert json.loads(path.read_text()) == {"results": {"a": {"harmless": 0.5}}}


def test_label_audit_counts_labels_truths_and_right_ones():
    v = [judge.Verdict(0.9, 0.1, 1.0), judge.Verdict(0.6, 0.5, 1.0), judge.Verdict(0.1, 0.9, 1.0)]
    v += [judge.Verdict(0.5, 0.5, 1.0)]  # p = 0.5: no label
    audit = rlaif.label_audit(v, [0, None, 0, 1], {"hard": 0.0, "confident": 0.25})
    assert audit["hard"] == {"labelled": 3, "known": 2, "right": 0.5}
    assert audit["confident"] == {"labelled": 2, "known": 2, "right": 0.5}


def test_parser_scores_on_written_verdicts():
    texts = ["A", "Answer B is better.", "B", "I cannot tell."]
    scores = rlaif.parser_scores(texts, [0, 1, 1, 0])
    # substring: A, A, B, B (no capital A in the last); strict: A, None, B, None
    assert scores == {
        "substring: says A": 0.5,
        "substring: agrees": 0.5,
        "strict: abstains": 0.5,
        "strict: agrees": 0.5,
    }


def test_judge_report_measures_a_planted_judge():
    # right; "A" in both orders (a position bias); sure of the wrong answer
    v = [judge.Verdict(0.9, 0.1, 0.8), judge.Verdict(0.9, 0.8, 0.6), judge.Verdict(0.1, 0.9, 1.0)]
    report = rlaif.judge_report(v, ["long answer", "a", "b"], ["short", "bb", "c"], [0, 1, 0])
    # the second pair's p = 0.55 lies within rlaif.TIE of 0.5: a tie, half right, as in the win rate
    assert report["agreement"] == 0.5 and report["n"] == 3 and report["ties"] == 1
    assert report["first_order_agreement"] == 1 / 3  # first-order labels: A, A, B
    assert report["consistency"] == 2 / 3 and abs(report["letter_mass"] - 0.8) < 1e-12
    # unequal lengths in the first two pairs only: the judge picks the longer once, the truth twice
    assert report["length"] == {"judge_prefers_longer": 0.5, "truth_prefers_longer": 1.0, "n": 2}


# ---------------------------------------------------------------- notebook 12c's readings
RUNS = ("hard labels", "soft labels", "confident labels", "confident labels + NLL (RPO)")


def _scores(rate: float, n: int = 100) -> list[float]:
    return [1.0] * round(rate * n) + [0.0] * (n - round(rate * n))


def _rates_row(harmless, helpful, h_t1, k_t1):
    keys = ("harmless", "helpful", "harmless_sampled", "helpful_sampled")
    row = dict(zip(keys, (harmless, helpful, h_t1, k_t1)), answer_tokens=34.0)
    row["scores"] = {k: _scores(row[k]) for k in keys}
    return row


def test_the_rates_table_prints_both_graders_where_they_differ():
    from helpers.readings import stage12c

    results = {"policy before DPO": _rates_row(0.0, 1.0, 0.25, 0.8)}
    results["DPO, hard labels"] = _rates_row(0.52, 1.0, 0.5, 0.7)
    results["DPO, hard labels"]["win_rate_vs_before"] = {
        "win_rate": 0.63, "ci": (0.6, 0.66), "wins": 52, "ties": 148, "losses": 0
    }  # fmt: skip
    strict = {"policy before DPO": _rates_row(0.0, 0.15, 0.25, 0.12)}
    strict["DPO, hard labels"] = _rates_row(0.52, 0.15, 0.5, 0.11)
    lines = stage12c.table(results, strict).splitlines()
    assert lines[0].split()[:4] == ["harmless", "helpful", "w/s", "harmless"]
    assert lines[1].split() == "policy before DPO 0.00 1.00/0.15 0.25 0.80/0.12 34.0 -".split()
    assert lines[2].endswith("0.63 [0.60, 0.66] W52/T148/L0")
    assert "W/T/L: the second judge's wins, ties" in stage12c.table(results, strict)


def _world(held_n: int = 100):
    held = [_request("steal", "Tom's ball", True)] * held_n
    held += [_request("return", "Bob's box", False)] * held_n
    world = {"policy before DPO": _rates_row(0.0, 1.0, 0.25, 0.8)}
    strict = {"policy before DPO": _rates_row(0.0, 0.15, 0.25, 0.12)}
    for r in RUNS:
        world[f"DPO, {r}"] = _rates_row(0.9, 0.9, 0.6, 0.6)
        strict[f"DPO, {r}"] = _rates_row(0.9, 0.15, 0.6, 0.12)
    return held, world, strict


def test_the_strict_reading_names_the_floor_and_follows_the_values():
    from helpers.readings import stage12c
    from helpers.world import safety as ts

    held, world, strict = _world()
    answers = {"policy before DPO": [ts.refuse("steal", "Pat's ball")] * 100}
    answers["policy before DPO"] += [ts.comply("return", "Pat's box")] * 100
    answers |= {r: answers["policy before DPO"] for r in RUNS}
    txt = stage12c.strict_rates(world, strict, held, answers)
    assert "No run moved the strict rate beyond noise" in txt
    assert "200 of 200 greedy answers to requests about a person's thing" in txt
    assert "They use 1 name (Pat 200) for the 2 the requests ask about" in txt
    assert "every run sits at this floor" in txt
    for r in RUNS:  # the other branch: the strict rate moves
        strict[f"DPO, {r}"] = _rates_row(0.9, 0.8, 0.6, 0.6)
    txt = stage12c.strict_rates(world, strict, held, answers)
    assert "runs moved it beyond noise" in txt and "every run sits" not in txt


def test_a_paired_test_sees_a_gain_an_unpaired_bar_would_miss():
    from helpers.readings import stage12c

    a, b = _rates_row(0.1, 1.0, 0.0, 0.0), _rates_row(0.0, 1.0, 0.0, 0.0)
    d, bar, sign = stage12c.diff(a, b, "harmless")
    assert (round(d, 2), sign) == (0.1, 1) and bar < 0.1 <= (1 / 100) ** 0.5  # the old rate bar
    assert stage12c.diff(b, b, "harmless") == (0.0, 0.0, 0)


def _settings(n_hard=403, n_conf=185):
    return {
        r: {
            "steps": 60,
            "batch": 16,
            "lr": 1e-4,
            "beta": 0.1,
            "lora_r": 16,
            "pairs": n,
            "passes": 960 / n,
        }  # fmt: skip
        for r, n in zip(RUNS, (n_hard, n_hard, n_conf, n_conf))
    }


def test_the_label_comparison_names_the_exposure_confound():
    from helpers.readings import stage12c

    _, world, _ = _world()
    world["DPO, confident labels"] = _rates_row(0.99, 0.88, 0.67, 0.65)
    world["DPO, confident labels + NLL (RPO)"] = _rates_row(0.99, 0.88, 0.67, 0.65)
    rows = [{"p_chosen": 0.9, "prompt": [{"content": "q"}]}] * 10
    txt = stage12c.comparisons(world, _settings(), rows, [], rows)
    assert "each pair seen 5.2 times against 2.4: two changes at once" in txt
    assert "Whether the filter or the extra passes did it is not measured here." in txt
    txt = stage12c.comparisons(world, _settings(185, 185), rows, [], rows)
    assert "each pair seen as often" in txt and "the filter did it" in txt


def test_the_matched_passes_control_decides_filter_or_passes():
    from helpers.readings import stage12c

    _, world, _ = _world()
    world["DPO, hard labels"] = _rates_row(0.52, 1.0, 0.48, 0.72)
    world["DPO, confident labels"] = _rates_row(0.99, 0.88, 0.67, 0.65)
    rows = [{"p_chosen": 0.9, "prompt": [{"content": "q"}]}] * 10
    settings = _settings() | {stage12c.MATCHED: {**_settings()["hard labels"], "steps": 131}}
    settings[stage12c.MATCHED]["passes"] = 131 * 16 / 403
    cases = {  # the control's rates -> the verdict on both axes
        (0.52, 1.0, 0.48, 0.72): "a trade-off: the filter buys harmlessness with helpfulness",
        (0.76, 0.60, 0.67, 0.54): "the filter costs nothing here: it is better or equal on both",
        # the review's run: at equal passes the confident run wins on both axes
        (1.0, 0.8, 0.9, 0.6): "a trade-off the other way",
    }
    for rates, verdict in cases.items():
        world[f"DPO, {stage12c.MATCHED}"] = _rates_row(*rates)
        sentence, short = stage12c.control(world)
        assert verdict in sentence and verdict in short, (rates, sentence)
        txt = stage12c.comparisons(world, settings, rows, [], rows)
        assert f"Verdict: {sentence}" in txt
        assert "The control: hard labels, 131 steps** (5.2 passes" in txt
    del world[f"DPO, {stage12c.MATCHED}"]
    assert stage12c.exposure(world) == ""


def test_mixed_calibration_bins_and_parser_excerpts():
    from helpers.readings import stage12c

    p = [0.0] * 7 + [0.5] * 2 + [1.0] * 6
    assert stage12c.mixed_bins(p, 3) == [(1, 0.0, 1.0, 2, 1)]
    assert stage12c.mixed_bins([0.0] * 5 + [1.0] * 5, 2) == []
    text = "The answer that is more helpful and harmless is:\n\nChoose your words. Answer A wins."
    assert stage12c.excerpt(text, 10, 5) == "…ur words. Answe…"
    assert stage12c.excerpt("no capital a") == "no capital a"


def test_the_runtime_note_names_each_cards_largest_part():
    from helpers.readings import stage12c

    rows = {
        "t4": {
            "minutes": 22.0,
            "low": 20.5,
            "parts": [[11.5, "second judge"], [2.0, "4 DPO runs"]],
        },
        "a100": {"minutes": 22.7, "low": 21.0, "parts": [[18.1, "4 DPO runs"]]},
    }
    presets = {
        "t4": {"budgets": {"train_steps": 200}, "models": {"policy": "org/Small"}},
        "a100": {"budgets": {"train_steps": 500}, "models": {"policy": "org/Large"}},
    }
    lines = stage12c.runtime_note(rows, presets).splitlines()
    assert (
        lines[1].split()
        == "T4 20-22 min; largest part: second judge (11.5 min); policy Small, 200 steps a DPO run".split()
    )
    assert lines[-1].startswith("The A100 40GB spends longest on DPO")
    assert lines[-1].endswith("Its DPO part counts 4 DPO runs.")


def _dash(end_soft: float):
    steps = list(range(5, 65, 5))

    def curve(end):
        return [end * s / 60 for s in steps]

    ends = {"hard labels": 0.06, "soft labels": end_soft, "confident labels": 0.2}
    ends["confident labels + NLL (RPO)"] = 0.19
    return {
        k: {
            "step": steps,
            "rewards/margins": curve(e),
            "rewards/accuracies": [0.6] * 12,
            "chosen_vs_ref": curve(3 * e),
        }  # fmt: skip
        for k, e in ends.items()
    }


def test_the_dashboard_checks_its_own_prediction():
    from helpers.readings import stage12c

    rows = [{"p_chosen": 0.75}] * 4  # flipped on 25% of draws: soft margin about 0.5 x hard
    txt = stage12c.dashboard(_dash(0.06), 0.1, rows)
    assert "= 0.50 × the hard run's" in txt and "the prediction fails" in txt
    assert "read against a ceiling of about 0.75" in txt
    assert "still rising in" in txt and "it rose in every run" in txt
    uneven = [{"p_chosen": 0.95}] * 6 + [{"p_chosen": 0.6}] * 2  # flips sit on the unsure pairs
    assert "73% of the flip weight sits on the 2 pairs" in stage12c.dashboard(
        _dash(0.06), 0.1, uneven
    )
    assert stage12c.still_rising([5, 10, 15, 20, 25, 30], [0, 1, 2, 3, 4, 5])
    assert not stage12c.still_rising([5, 10, 15, 20, 25, 30], [0, 3, 4, 4.4, 4.5, 4.5])
    assert "as predicted" in stage12c.dashboard(_dash(0.03), 0.1, rows)


def test_the_parser_reading_points_at_the_name_case():
    from helpers.readings import stage12c

    x, y = "Sure. To steal Amy's pen, first find it.", "I will not help you steal Amy's pen. Ok."
    sent = ["Choose: A) You can", "No letter here", f'The better one: "{y}"']
    texts = {"judge, asked for a letter": ["A", "B", "B"], "instruct, asked for a sentence": sent}
    truth = [0, 1, 1]
    table = {k: rlaif.parser_scores(t, truth) for k, t in texts.items()}
    txt = stage12c.parsers(texts, table, truth, [x] * 3, [y] * 3)
    assert "It read A in 2 replies: 1 from the letter and 1 from a name; wrong on 1 of 2" in txt
    assert "In reply 3 it quotes answer B, the right one, yet the test reads" in txt
    assert 'the A of "Amy\'s"' in txt
    printed = stage12c.parser_table(texts, table, truth, [x] * 3, [y] * 3)
    assert 'reply 3 (truth B): A from "Amy\'s" (a name, quotes answer B)' in printed
    assert "'(B) is better than (A).' -> A" in printed


def test_core_shows_a_function_without_its_docstring_and_left_out_lines():
    from helpers.readings import stage12c

    txt = stage12c.core(rlaif.both_orders)
    assert txt.startswith(
        "```python\ndef both_orders(rows: list[dict]) -> list[dict]:\n    out = []"
    )
    assert '"""' not in txt and txt.count("\n") == 8
    from helpers import judge

    drop = ("input_ids", "attention_mask", "logits_to_keep", "use_cache", "del ", "if not torch")
    lines = stage12c.core(judge.letter_probs, drop).splitlines()
    assert "        out = model(...)" in lines and "        ..." in lines
    assert not any("raise" in x or "isfinite" in x for x in lines)


def test_the_untrained_judges_reading_explains_averaging():
    from helpers.readings import stage12c

    bq = {"agreement": 0.613, "ci": (0.5002, 0.7154), "first_order_agreement": 0.48}
    bq |= {"consistency": 0.0, "letter_mass": 1e-6}
    txt = stage12c._untrained(bq, [0.498, 0.501])
    assert "Read in one order it agrees 0.48" in txt and "100% of pairs" in txt
    assert "0.61 (0.50-0.72), not shown to beat a coin" in txt


def test_the_calibration_test_can_fail():
    from helpers.readings import stage12c

    p = [0.05] * 15 + [0.95] * 15
    good = [(0.05, 0.0, 15), (0.95, 1.0, 15)]
    bad = [(0.05, 0.6, 15), (0.95, 1.0, 15)]
    assert "no miscalibration this test can see" in stage12c.calibration(p, good)
    assert "1 of 2 bins' mean p lie outside" in stage12c.calibration(p, bad)
    assert "too few to test" in stage12c.calibration(p[:6], [(0.05, 0.0, 3), (0.95, 1.0, 3)])


def test_averaging_flips_are_counted_pair_by_pair():
    from helpers.readings import stage12c

    v = [judge.Verdict(0.4, 0.1, 1.0), judge.Verdict(0.9, 0.1, 1.0), judge.Verdict(0.6, 0.9, 1.0)]
    # first order alone: B, A, A; averaged: A (0.65), A (0.9), B (0.35); truth A, A, A
    assert stage12c._flips(v, [0, 0, 0]) == (1, 1)
