"""Batched chat generation with `model.generate`, shared by every stage.

Prompts are rendered with the tokenizer's chat template and left-padded (decoder-only models continue
from the last position, so padding must sit on the left).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm


def chat_prompt_ids(tok, user_text: str) -> list[int]:
    """Token ids of a one-turn chat prompt, ending where the assistant starts to answer."""
    if not user_text or not user_text.strip():
        raise ValueError("empty prompt: give the model something to answer")
    messages = [{"role": "user", "content": user_text}]
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(enc["input_ids"])


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad id lists into (input_ids, attention_mask)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids, mask


@torch.no_grad()
def chat_generate(
    model,
    tok,
    prompts: list[str],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 64,
    progress: bool = False,
    **sampling,
) -> list[str]:
    """Answer each user prompt; greedy unless sampling arguments (do_sample, temperature...) are given."""
    model.eval()
    sampling.setdefault("do_sample", False)
    answers: list[str] = []
    batches = range(0, len(prompts), batch_size)
    for start in tqdm(batches, desc="generate", disable=not progress):
        rows = [chat_prompt_ids(tok, p) for p in prompts[start : start + batch_size]]
        ids, mask = left_pad(rows, tok.pad_token_id)
        out = model.generate(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            **sampling,
        )
        answers += tok.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
    return [a.strip() for a in answers]
