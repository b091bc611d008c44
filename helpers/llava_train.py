"""Stage 13's training: which weights train in each stage, the loop (answer-only loss, mixed precision,
resumable), the learning-rate schedule, and stage 0 (the tiny LM learning to read its image slots).

The loop is written out because the stages are the lesson; TRL's `SFTTrainer` with a VLM processor does
the same (notebook 13 says how). Checkpoints and run keys come from `helpers.checkpoints`.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from helpers import checkpoints
from helpers.llava import autocast_to, collate, to_model
from helpers.profiles import show_progress
from helpers.vlm_data import Example

# ---------------------------------------------------------------- training stages
LORA_RANK = 16  # stage 2's adapters: rank 16, alpha 32, on every linear layer of the LM
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
STAGE0_LR = 1e-3  # stage 0 (tiny profile): every weight of the LM, AdamW at this rate


def set_stage(model, stage: str, lora_r: int = LORA_RANK):
    """'projector': only the MLP trains (LLaVA stage 1). 'lora': projector + LoRA adapters on the LM
    (stage 2; LoRA matches full fine-tuning in LLaVA-1.5). 'full': projector + the whole LM.
    Returns the model to train (a PeftModel for 'lora') and prints the trainable parameter count."""
    if stage not in ("projector", "lora", "full"):  # before any weight is frozen
        raise ValueError(f"stage must be 'projector', 'lora' or 'full', not {stage!r}")
    if stage == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(
            r=lora_r,
            lora_alpha=2 * lora_r,
            lora_dropout=0.0,
            target_modules=rf".*language_model.*\.({'|'.join(LORA_TARGETS)})",
            modules_to_save=["multi_modal_projector"],
        )
        model = get_peft_model(model, cfg)
    else:
        for name, p in model.named_parameters():
            p.requires_grad = "multi_modal_projector" in name or (
                stage == "full" and "vision_tower" not in name
            )
    print(f"stage {stage}: {count_line(model)}")
    return model


def count_line(model) -> str:
    """'N trainable of M parameters (x%)'; with LoRA, split into projector + adapters, and the frozen copy
    of the projector that PEFT keeps beside the trained one (`modules_to_save`) left out of M."""
    named = list(model.named_parameters())
    copy = sum(p.numel() for n, p in named if "original_module" in n)
    total = sum(p.numel() for _, p in named) - copy
    proj = sum(p.numel() for n, p in named if p.requires_grad and "multi_modal_projector" in n)
    trainable = sum(p.numel() for _, p in named if p.requires_grad)
    split = f" (projector {proj:,} + LoRA {trainable - proj:,})" if copy else ""
    line = (
        f"{trainable:,} trainable{split} of {total:,} parameters ({100 * trainable / total:.1f}%)"
    )
    if copy:
        line += f"; PEFT also keeps the projector's frozen original ({copy:,}), not counted"
    return line


def param_groups(model, lr: float, projector_lr: float | None = None) -> list[dict]:
    """AdamW's parameter groups: the projector at `projector_lr` (default `lr`), then every other
    trainable weight (LoRA's adapters, or the LM) at `lr`."""
    train = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    proj = [p for n, p in train if "multi_modal_projector" in n]
    rest = [p for n, p in train if "multi_modal_projector" not in n]
    groups = [{"params": proj, "lr": projector_lr or lr}]
    return groups + ([{"params": rest, "lr": lr}] if rest else [])


def train(
    model,
    proc,
    tasks: dict[str, list[Example]],
    mix: list[str],
    steps: int,
    lr: float,
    projector_lr: float | None = None,
    batch: int = 16,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    minutes: float | None = None,
    autocast: torch.dtype | None = None,
    schedule: str = "constant",
) -> list[float]:
    """AdamW on the trainable parameters; the projector may get its own learning rate (`projector_lr`).
    Each step draws `batch` row numbers, then a task per row from `mix` (repeat a task to weight it), and
    takes that row of that task (modulo its length: tasks may differ in size).
    `autocast` (fp16/bf16 on a GPU) runs the products in half precision over fp32 weights, with loss
    scaling in fp16. `schedule`: "constant", or "cosine" (LLaVA-1.5's: a linear warmup over the first 3 % of
    steps, then cosine decay to 0). With `checkpoint` (a file), the trainable weights, optimizer, loss scale,
    random states and losses are saved every `minutes` (`training.CHECKPOINT_MINUTES`) and at the end, and a
    rerun resumes from them."""
    from helpers import training

    rng = random.Random(seed)
    groups = param_groups(model, lr, projector_lr)
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    scaler = torch.amp.GradScaler(model.device.type, enabled=autocast == torch.float16)
    used = [e for k in dict.fromkeys(mix) for e in tasks[k]]
    settings = [mix, steps, lr, projector_lr, batch, seed, str(autocast), schedule]
    key = checkpoints.loop_run_key(model, used, settings) if checkpoint else None
    losses = checkpoints.resume_loop(checkpoint, key, model, opt, rng, scaler) if checkpoint else []
    peaks = [g["lr"] for g in groups]
    every, last_save = (
        60 * (training.CHECKPOINT_MINUTES if minutes is None else minutes),
        time.monotonic(),
    )
    n = max(len(tasks[k]) for k in mix)
    model.train()
    for step in tqdm(
        range(len(losses), steps), desc="train", mininterval=5, disable=not show_progress()
    ):
        idx = [rng.randrange(n) for _ in range(batch)]
        rows = [tasks[k][i % len(tasks[k])] for i, k in zip(idx, [rng.choice(mix) for _ in idx])]
        for g, peak in zip(opt.param_groups, peaks):
            g["lr"] = peak * lr_factor(schedule, step, steps)
        with autocast_to(model, autocast):
            loss = model(**to_model(collate(proc, rows), model)).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if checkpoint and (step + 1 == steps or time.monotonic() - last_save >= every):
            checkpoints.save_loop(checkpoint, key, model, opt, rng, losses, scaler)
            last_save = time.monotonic()
    model.eval()
    return losses


def lr_factor(schedule: str, step: int, steps: int, warmup: float = 0.03) -> float:
    """The share of the peak learning rate at `step` (0-based): 1, or transformers'
    `get_cosine_schedule_with_warmup` (linear warmup over 3 % of the steps, then cosine decay to 0)."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"llava.train: schedule {schedule!r}: choose 'constant' or 'cosine'")
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ramp = max(1, math.ceil(warmup * steps))
    return get_cosine_schedule_with_warmup(dummy, ramp, steps).lr_lambdas[0](step)


def stage0_params(model) -> list[torch.nn.Parameter]:
    """The weights stage 0 trains: every weight of the language model and its output head (the vision
    tower and the projector stay as they are)."""
    return [p for n, p in model.named_parameters() if "language_model" in n or "lm_head" in n]


def words_in_slots(proc, batch: dict, rng: random.Random) -> torch.Tensor:
    """Stage 0's inputs: each row's `<image>` slots hold its caption's tokens *as text*, at a random
    offset, padded with the filler token `<|endoftext|>`."""
    tok = proc.tokenizer
    image_id = tok.convert_tokens_to_ids("<image>")
    filler = tok.convert_tokens_to_ids("<|endoftext|>")
    ids = batch["input_ids"].clone()
    for i, labels in enumerate(batch["labels"]):
        slots = (ids[i] == image_id).nonzero().flatten()
        caption = tok.decode(labels[labels >= 0][:-1])
        words = tok(" " + caption, add_special_tokens=False)["input_ids"][: len(slots)]
        start = rng.randrange(len(slots) - len(words) + 1)
        fill = [filler] * start + words + [filler] * (len(slots) - start - len(words))
        ids[i, slots] = torch.tensor(fill, device=ids.device)
    return ids


def copy_pretrain(
    model,
    proc,
    captions: list[Example],
    steps: int,
    lr: float = STAGE0_LR,
    batch: int = 16,
    seed: int = 0,
) -> list[float]:
    """Stage 0 (tiny profile only): teach the tiny LM to read its image slots. The caption's tokens are
    written *as text* into the image positions (`words_in_slots`) and the LM learns to answer from them;
    stage 1 then only has to teach the projector to write such 'words'."""
    rng = random.Random(seed)
    lm_params = stage0_params(model)
    opt = torch.optim.AdamW(lm_params, lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="stage 0", mininterval=5, disable=not show_progress()):
        rows = [captions[rng.randrange(len(captions))] for _ in range(batch)]
        b = to_model(collate(proc, rows), model)
        ids = words_in_slots(proc, b, rng)
        loss = model(input_ids=ids, attention_mask=b["attention_mask"], labels=b["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm_params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses
