import copy

from helpers import judge, profiles, rlaif


def _rows(n=48):
    questions = [f"Is {i} odd or even?" for i in range(n)]
    pairs = [("odd" if i % 2 else "even", "even" if i % 2 else "odd") for i in range(n)]
    verdicts = [judge.Verdict(0.95, 0.05, 1.0)] * n  # the judge prefers the first (right) answer
    return rlaif.preference_rows(questions, pairs, verdicts)


def test_preference_rows_follow_the_judge_and_drop_near_ties():
    q, pairs = ["q1", "q2", "q3"], [("a", "b"), ("c", "d"), ("e", "e")]
    verdicts = [judge.Verdict(0.9, 0.1, 1.0), judge.Verdict(0.52, 0.5, 1.0), judge.Verdict(0.9, 0.1, 1.0)]
    rows = rlaif.preference_rows(q, pairs, verdicts, margin=0.1)
    assert len(rows) == 1  # q2 is inside the margin, q3 compares an answer with itself
    assert rows[0]["chosen"][0]["content"] == "a" and rows[0]["rejected"][0]["content"] == "b"
    flipped = rlaif.preference_rows(["q1"], [("a", "b")], [judge.Verdict(0.1, 0.9, 1.0)])
    assert flipped[0]["chosen"][0]["content"] == "b"


def test_dpo_trainer_accepts_the_rows_and_learns_a_planted_preference(tmp_path, tok, draft):
    model = copy.deepcopy(draft).train()
    trainer = rlaif.dpo_lora(
        model, tok, _rows(), profiles.choose_profile(), steps=30, lr=5e-3, batch_size=8, output_dir=str(tmp_path),
        logging_steps=10,
    )  # fmt: skip
    assert trainer.ref_model is None  # the reference is the base with the adapter disabled: no second copy
    curves = rlaif.dashboard(trainer)
    assert curves["rewards/margins"][-1] > 0
    assert curves["rewards/accuracies"][-1] > 0.5


def test_win_rate_counts_ties_half():
    v = [judge.Verdict(0.9, 0.1, 1.0)] * 6 + [judge.Verdict(0.5, 0.5, 1.0)] * 2 + [judge.Verdict(0.1, 0.9, 1.0)] * 2
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
        labeler, tok, [k[0].prompt for k in keep], [k[1] for k in keep], [k[2] for k in keep], rlaif.CRITERION
    )
    result = judge.agreement(verdicts, [k[3] for k in keep])
    bar(result["ci"][0], above=0.7, what="labeler agreement, lower end of its 95% interval")  # chance 0.5
    bar(judge.position_consistency(verdicts), above=0.8, what="labeler position consistency")
