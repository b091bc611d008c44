"""Train a draft for your model: DistillSpec's recipe (Zhou et al. 2024) for speculative decoding.

A draft proposes what it learned to expect. A target fine-tuned after the draft was trained (your phases 1-3
checkpoint) writes other tokens, so its drafts are rejected more often and the acceptance rate alpha falls.
Fine-tuning the draft on the target's own greedy answers to training prompts brings them back into agreement.
There are three steps:
1. the target's answers, written to a resumable JSONL checkpoint;
2. LoRA on the draft, merged afterwards so serving needs no PEFT;
3. alpha before and after, on held-out prompts.

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


@torch.no_grad()
def acceptance(
    target, draft, tok, prompts: list[str], max_new_tokens: int, vocab_size: int, k: int = 4
):
    """(prompts where greedy speculative decoding equals `target.generate`, the mean over prompts of each
    prompt's acceptance rate alpha; a prompt with no draft checked, e.g. one answered by end-of-turn at once,
    has no alpha and is left out of the mean)."""
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
        alphas += [st.alpha_hat] if st.alpha_hat == st.alpha_hat else []  # NaN: nothing was checked
    return same, sum(alphas) / len(alphas) if alphas else float("nan")
