"""Training a draft for your model (helpers.distill): its data, and the alpha gain it must deliver."""

import torch
from transformers import AutoModelForCausalLM

from helpers import distill, profiles, settings


def test_the_targets_answers_are_a_resumable_checkpoint(tmp_path, tok, target, capsys):
    """A rerun reads the answers back; another token budget generates them again, saying why."""
    prompts = settings.stage("11", profiles.choose_profile()).distill_prompts[:16]
    first = distill.target_answers(target, tok, prompts, tmp_path / "a.jsonl", max_new_tokens=24)
    assert (
        distill.target_answers(target, tok, prompts, tmp_path / "a.jsonl", max_new_tokens=24)
        == first
    )
    assert "regenerating" not in capsys.readouterr().out
    distill.target_answers(target, tok, prompts, tmp_path / "a.jsonl", max_new_tokens=8)
    assert "other sampling settings" in capsys.readouterr().out


def test_a_draft_distilled_for_the_policy_accepts_more(tmp_path, tok, draft, bar):
    """Notebook 11, section 12: the stock draft against the world's policy (the target fine-tuned further),
    then distilled on the policy's answers to training prompts; alpha on held-out prompts rises by > 0.1."""
    profile = profiles.choose_profile()
    cfg = settings.stage("11", profile)
    policy = AutoModelForCausalLM.from_pretrained(profiles.resolve_model(cfg.your_target)).eval()
    V = policy.config.vocab_size
    same0, before = distill.acceptance(policy, draft, tok, cfg.distill_held, 48, V)
    matched = distill.distill_draft(
        draft,
        policy,
        tok,
        cfg.distill_prompts,
        profile,
        steps=cfg.distill_steps,
        lr=cfg.distill_lr,
        batch_size=cfg.distill_batch,
        max_new_tokens=48,
        output_dir=tmp_path,
    )
    same1, after = distill.acceptance(policy, matched, tok, cfg.distill_held, 48, V)
    assert same0 == same1 == len(cfg.distill_held)  # exact with either draft
    bar(
        after - before, above=0.1, what="distillation: alpha gain of the stock draft for the policy"
    )


def test_an_early_exit_draft_keeps_a_quarter_of_the_layers_and_leaves_its_model_alone(tok, target):
    """Stage 14's self-draft: the first quarter of the layers under the model's own head, exact as a draft."""
    import torch

    prompts = settings.stage("11", profiles.choose_profile()).distill_held[:6]
    ids = torch.tensor([[1, 5, 9, 14]])
    before = target(input_ids=ids).logits
    d = distill.early_exit_draft(target, 0.25)
    assert (d.config.num_hidden_layers, len(d.model.layers)) == (1, 1)
    assert (target.config.num_hidden_layers, len(target.model.layers)) == (4, 4)
    assert torch.equal(target(input_ids=ids).logits, before)  # the target is untouched
    assert torch.equal(
        d.model.layers[0].self_attn.q_proj.weight, target.model.layers[0].self_attn.q_proj.weight
    )
    assert (
        d.model.layers[0].self_attn.q_proj.weight
        is not target.model.layers[0].self_attn.q_proj.weight
    )
    same, alpha = distill.acceptance(target, d, tok, prompts, 24, target.config.vocab_size)
    assert same == len(prompts) and 0 <= alpha <= 1  # speculative decoding with it equals greedy
    assert distill.exit_layer(32, 0.25) == 8 and distill.exit_layer(3, 0.25) == 1


def test_total_variation_is_one_minus_the_acceptance_probability():
    """DistillSpec's reason for TVD: a drafted token is accepted with probability sum min(p, q) = 1 - TVD."""
    import torch

    g = torch.Generator().manual_seed(0)
    p = torch.rand(64, 50, generator=g).softmax(-1)
    log_q = torch.rand(64, 50, generator=g).mul(3).log_softmax(-1)
    accept = torch.minimum(p, log_q.exp()).sum(-1)
    assert torch.allclose(distill.divergence(p, log_q, "tvd"), 1 - accept, atol=1e-6)
    kl = torch.nn.functional.kl_div(log_q, p, reduction="none").sum(-1)
    assert torch.allclose(distill.divergence(p, log_q, "fkl"), kl, atol=1e-5)


def test_on_policy_distillation_resumes_and_refuses_another_runs_checkpoint(
    tmp_path, tok, target, draft
):
    prompts = settings.stage("11", profiles.choose_profile()).distill_prompts[:8]
    V = target.config.vocab_size
    kw = dict(steps=2, batch_size=4, max_new_tokens=8, vocab_size=V, output_dir=tmp_path)
    first, losses = distill.distill_on_policy(draft, target, tok, prompts, lr=1e-3, **kw)
    again, losses_again = distill.distill_on_policy(draft, target, tok, prompts, lr=1e-3, **kw)
    assert losses_again == losses and len(losses) == 2  # read back, not retrained
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    other, _ = distill.distill_on_policy(draft, target, tok, prompts, lr=1e-2, **kw)
    assert not all(torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters()))


def test_sampled_alpha_is_one_for_the_target_itself_and_repeats_under_its_seed(tok, target, draft):
    """Sampled α per prompt is the mean of sum_x min(p, q): exactly 1 when the draft is the target, below
    1 for the stock draft, and the same on a rerun (each prompt has its own seed)."""
    prompts = settings.stage("11", profiles.choose_profile()).distill_held[:4]
    V = target.config.vocab_size
    same = distill.sampled_acceptance_per_prompt(target, target, tok, prompts, 16, V)
    assert all(abs(a - 1) < 1e-5 for a in same)
    first = distill.sampled_acceptance_per_prompt(target, draft, tok, prompts, 16, V)
    assert first == distill.sampled_acceptance_per_prompt(target, draft, tok, prompts, 16, V)
    assert all(0 < a < 1 for a in first)
    assert first != distill.sampled_acceptance_per_prompt(
        target, draft, tok, prompts, 16, V, seed=1
    )
