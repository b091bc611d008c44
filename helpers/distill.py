"""Train a draft for your model, two ways, for speculative decoding.

A draft proposes what it learned to expect. A target fine-tuned after the draft was trained (your phases 1-3
checkpoint) writes other tokens, so its drafts are rejected more often and the acceptance rate alpha falls.
- `distill_draft`, **sequence-level distillation** (Kim and Rush 2016): LoRA on the draft, trained on the
  target's greedy answers to training prompts (a resumable JSONL checkpoint), merged afterwards.
- `distill_on_policy`, **DistillSpec** (Zhou et al. 2024): the draft writes its own continuations of training
  prompts, and at each of their positions it is pulled toward the target's next-token distribution under a
  chosen divergence. Total variation is the default: a drafted token is accepted with probability
  sum_x min(p, q) = 1 - TVD(p, q), so lowering TVD on the contexts the draft visits raises its acceptance
  there. (TRL's `DistillationTrainer` runs the same on-policy loop with a generalised JSD.)
`acceptance_per_prompt` measures greedy alpha on held-out prompts, one value per prompt, for intervals;
`sampled_acceptance_per_prompt` the same under sampling, where DistillSpec's TVD loss aims.
Stage 11 trains a draft for its pair with this module, and stage 14 one for the model it serves.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from helpers import generation, training


def target_answers(
    target, tok, prompts: list[str], path: str | Path, max_new_tokens: int, batch_size: int = 64
) -> list[tuple[str, str]]:
    """(prompt, the target's greedy answer) pairs, checkpointed in `path` (a rerun reuses finished batches).
    Answers cut at the token limit are kept: a real model's answers often run past it, and dropping them
    would leave little data. The chat template closes them with end-of-turn, so the draft learns a stop at
    the cut, which costs alpha only near the token limit."""
    items = [{"id": f"p{i:05d}", "prompt": p} for i, p in enumerate(prompts)]
    records = generation.generate_to_jsonl(
        path, items, target, tok, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    return [(r["prompt"], r["output"]) for r in records]


def distill_draft(
    draft,
    target,
    tok,
    prompts: list[str],
    profile,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    max_new_tokens: int,
    output_dir: str | Path,
    max_length: int = 256,
) -> torch.nn.Module:
    """A copy of `draft` fine-tuned (LoRA, merged) on `target`'s greedy answers to `prompts`, which must not
    be the prompts you measure it on. Both steps resume from `output_dir` after a reset."""
    out = Path(output_dir)
    pairs = target_answers(target, tok, prompts, out / "answers.jsonl", max_new_tokens)
    trainer = training.sft_lora(
        copy.deepcopy(draft).train(),
        tok,
        training.chat_rows(pairs),
        profile,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        max_length=max_length,
        output_dir=str(out / "lora"),
    )
    return trainer.model.merge_and_unload().eval()


def exit_layer(n_layers: int, depth: float) -> int:
    """How many of a model's `n_layers` a self-draft keeps: `depth` of them, at least one."""
    return max(1, int(n_layers * depth))


def early_exit_draft(model, depth: float = 0.25) -> torch.nn.Module:
    """A copy of `model`'s first `exit_layer(layers, depth)` decoder layers under its own final norm and LM head:
    a draft with the same tokenizer at a fraction of the depth (LayerSkip's self-speculation, Elhoushi et al.
    2024, without its early-exit training: distilling the draft stands in for it). `model` is left as it is."""
    inner = model.get_decoder()
    layers = inner.layers
    n = exit_layer(len(layers), depth)
    if n >= len(layers):
        raise ValueError(
            f"early_exit_draft: a {len(layers)}-layer model has no shallower draft at depth {depth}"
        )
    inner.layers = torch.nn.ModuleList(layers[:n])
    try:
        draft = copy.deepcopy(model)
    finally:
        inner.layers = layers
    draft.config.num_hidden_layers = n  # the KV cache is sized from the config
    if getattr(draft.config, "layer_types", None):
        draft.config.layer_types = draft.config.layer_types[:n]
    return draft.eval()


def acceptance(
    target, draft, tok, prompts: list[str], max_new_tokens: int, vocab_size: int, k: int = 4
):
    """(prompts where greedy speculative decoding equals `target.generate`, the mean over prompts of each
    prompt's acceptance rate alpha; a prompt with no draft checked, e.g. one answered by end-of-turn at once,
    has no alpha and is left out of the mean)."""
    same, alphas = acceptance_per_prompt(target, draft, tok, prompts, max_new_tokens, vocab_size, k)
    known = [a for a in alphas if a is not None]
    return same, sum(known) / len(known) if known else float("nan")


@torch.no_grad()
def acceptance_per_prompt(
    target, draft, tok, prompts: list[str], max_new_tokens: int, vocab_size: int, k: int = 4
) -> tuple[int, list[float | None]]:
    """(prompts equal to greedy `generate`, each prompt's alpha: None where no draft was checked)."""
    from helpers import speculative

    same, alphas = 0, []
    for p in prompts:
        ids = torch.tensor([generation.chat_prompt_ids(tok, p)], device=target.device)
        out, st = speculative.speculative_generate(
            target,
            draft,
            ids,
            k=k,
            max_new_tokens=max_new_tokens,
            vocab_size=vocab_size,
            eos_token_id=tok.eos_token_id,
        )
        # Qwen's config sets a penalty: off, as in ours
        plain = target.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            repetition_penalty=1.0,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        same += torch.equal(out.cpu(), plain.cpu())
        alphas.append(
            st.alpha_hat if st.alpha_hat == st.alpha_hat else None
        )  # NaN: nothing was checked
    return same, alphas


@torch.no_grad()
def sampled_acceptance_per_prompt(
    target,
    draft,
    tok,
    prompts: list[str],
    max_new_tokens: int,
    vocab_size: int,
    k: int = 4,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[float | None]:
    """Each prompt's alpha under sampled speculative decoding at `temperature` (no top-k), to end-of-turn:
    the mean of sum_x min(p, q) over the positions checked (`SpecStats.alpha_overlap`), on text that follows
    the target's law. None where no draft was checked. Prompt i samples with seed `seed + i`, so a draft
    compared with another sees the same random stream."""
    from helpers import speculative

    alphas = []
    for i, p in enumerate(prompts):
        ids = torch.tensor([generation.chat_prompt_ids(tok, p)], device=target.device)
        gen = torch.Generator(device=target.device).manual_seed(seed + i)
        _, st = speculative.speculative_generate(
            target,
            draft,
            ids,
            k=k,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            vocab_size=vocab_size,
            eos_token_id=tok.eos_token_id,
            generator=gen,
        )
        a = st.alpha_overlap
        alphas.append(a if a == a else None)  # NaN: nothing was checked
    return alphas


# ---------------------------------------------------------------- DistillSpec: on-policy, token-level
def _left_padded(tok, prompts: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    ids = [generation.chat_prompt_ids(tok, p) for p in prompts]
    width = max(map(len, ids))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
    return input_ids, mask


def divergence(p: torch.Tensor, log_q: torch.Tensor, kind: str) -> torch.Tensor:
    """Per position: total variation 0.5 sum|p - q| ("tvd") or forward KL(p || q) ("fkl")."""
    if kind == "tvd":
        return 0.5 * (p - log_q.exp()).abs().sum(-1)
    if kind == "fkl":
        return (p * (p.clamp_min(1e-12).log() - log_q)).sum(-1)
    raise ValueError(f"divergence must be 'tvd' or 'fkl', not {kind!r}")


def on_policy_loss(
    student,
    teacher,
    tok,
    prompts: list[str],
    max_new_tokens: int,
    vocab_size: int,
    kind: str = "tvd",
) -> torch.Tensor:
    """The student samples continuations (temperature 1, no top-k); the loss is the mean divergence between
    the teacher's and the student's next-token distributions over the sampled tokens, end-of-turn included."""
    prompt, prompt_mask = _left_padded(tok, prompts, student.device)
    width, eos = prompt.shape[1], tok.eos_token_id
    with torch.no_grad():
        seqs = student.generate(
            input_ids=prompt,
            attention_mask=prompt_mask,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos,
            eos_token_id=eos,
        )
    new = seqs[:, width:]
    is_eos = (new == eos).int()
    keep = (is_eos.cumsum(1) - is_eos) == 0  # up to and including the first end-of-turn
    mask = torch.cat([prompt_mask, keep.long()], 1)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    span = slice(width - 1, seqs.shape[1] - 1)  # the logits that predict each sampled token
    with torch.no_grad():
        logits = teacher(input_ids=seqs, attention_mask=mask, position_ids=positions).logits
        p = logits[:, span, :vocab_size].float().softmax(-1)
    logits = student(input_ids=seqs, attention_mask=mask, position_ids=positions).logits
    log_q = logits[:, span, :vocab_size].float().log_softmax(-1)
    m = keep.float()
    return (divergence(p, log_q, kind) * m).sum() / m.sum().clamp_min(1.0)


def distill_on_policy(
    draft,
    target,
    tok,
    prompts: list[str],
    *,
    steps: int,
    lr: float,
    batch_size: int,
    max_new_tokens: int,
    vocab_size: int,
    output_dir: str | Path,
    kind: str = "tvd",
    seed: int = 0,
) -> tuple[torch.nn.Module, list[float]]:
    """A copy of `draft`, all its weights trained in float32 by DistillSpec's on-policy loop on `prompts`
    (never the prompts you measure it on); returns it in the draft's dtype, and the loss of every step.
    A checkpoint every 50 steps in `output_dir` lets a reset run resume where it stopped."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # a merged model comes frozen: every weight of the copy trains
    student = copy.deepcopy(draft).float().train().requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=lr)
    ckpt, start, losses = out / "on_policy.pt", 0, []
    key = [steps, lr, batch_size, max_new_tokens, vocab_size, kind, seed, len(prompts), prompts[:3]]
    state = torch.load(ckpt, map_location=student.device) if ckpt.exists() else None
    if state is not None and state.get("key") == key:  # a checkpoint of another run is not resumed
        student.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, losses = state["step"], state["losses"]
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    for step in range(start, steps):
        batch = [prompts[order[(step * batch_size + i) % len(prompts)]] for i in range(batch_size)]
        torch.manual_seed(seed * 1_000_003 + step)  # this step's samples, the same after a resume
        loss = on_policy_loss(student, target, tok, batch, max_new_tokens, vocab_size, kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            state = {"model": student.state_dict(), "optimizer": opt.state_dict(), "step": step + 1}
            torch.save({**state, "losses": losses, "key": key}, ckpt)
    return student.to(next(draft.parameters()).dtype).eval(), losses
