"""Supervised fine-tuning with LoRA through TRL, with the settings every stage shares.

The library does the work (`trl.SFTTrainer` + `peft.LoraConfig`); this module only fixes what bites on
our machines: TRL 1.x defaults to bf16 and gradient checkpointing (a T4 has no bf16, a CPU needs
`use_cpu`), reports to no tracker, and saves nothing unless asked. Every run here is resumable: it saves a
checkpoint every few minutes and at its last step, and a rerun picks up where a reset stopped it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch
from datasets import Dataset
from transformers import TrainerCallback

from helpers import profiles
from helpers.checkpoints import last_checkpoint, run_key

# A Colab reset loses at most this much training (the checkpoint holds the adapter, optimizer, scheduler,
# random states and step; with COURSE_OUTPUTS on Google Drive it survives the VM).
CHECKPOINT_MINUTES = float(os.environ.get("COURSE_CHECKPOINT_MINUTES", "5"))


def lora_config(r: int = 16, alpha: int = 32, dropout: float = 0.0):
    """LoRA on every linear layer of a causal LM (QLoRA when the model was loaded in 4-bit)."""
    from peft import LoraConfig

    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def load_causal_lm(path: str, profile: profiles.Profile, four_bit: bool | None = None, dtype=None):
    """A causal LM in the profile's dtype (or `dtype`: `profile.judge_dtype` for judges) on its device; 4-bit
    (for QLoRA) where the preset asks, unless `four_bit` says otherwise (a model that only generates needs
    no quantization on these presets)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict = {"dtype": dtype or profile.dtype}
    if profile.load_in_4bit if four_bit is None else four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=profile.dtype
        )
    if profile.device == "cuda":
        kwargs["device_map"] = {"": 0}
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def chat_rows(pairs: list[tuple[str, str]]) -> list[dict]:
    """(question, answer) pairs as TRL prompt-completion rows (the loss falls on the answers)."""
    return [
        {
            "prompt": [{"role": "user", "content": q}],
            "completion": [{"role": "assistant", "content": a}],
        }
        for q, a in pairs
    ]


def sft_lora(
    model,
    tok,
    rows: list[dict],
    profile: profiles.Profile,
    *,
    steps: int,
    lr: float,
    batch_size: int = 16,
    lora_r: int = 16,
    max_length: int = 256,
    output_dir: str = "outputs/sft",
    logging_steps: int = 20,
):
    """Train a LoRA adapter on prompt-completion rows (loss on completions only); returns the trainer,
    whose `.model` is the adapted model and `.state.log_history` the logged losses."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise ValueError(
            "sft_lora: no training rows (did every generated instance fail its checks?)"
        )
    from helpers.generation import model_fingerprint

    base = model_fingerprint(model)

    # a short run (a dry run's 2 steps) still logs its loss
    # TimedCheckpoints decides when (every few minutes and at the last step)
    args = SFTConfig(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        logging_steps=min(logging_steps, steps),
        max_length=max_length,
        report_to="none",
        save_strategy="no",
        save_total_limit=1,
        disable_tqdm=not profiles.show_progress(),
        seed=0,
        **profiles.trainer_precision_kwargs(profile),
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=lora_config(r=lora_r, alpha=2 * lora_r),
    )
    quiet_logs(trainer)
    keep_adapters_fp32(trainer.model, profile)
    train_resumable(trainer, base, rows)
    restore_forward(trainer.model).eval()
    return trainer


# ---------------------------------------------------------------- checkpoints and resuming
class TimedCheckpoints(TrainerCallback):
    """Ask the trainer for a checkpoint every `minutes` of training and after the last step (TRL/transformers
    save by step count only; on a Colab GPU minutes are what a disconnect costs)."""

    def __init__(self, minutes: float = CHECKPOINT_MINUTES):
        self.seconds, self.last = 60 * minutes, time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps or time.monotonic() - self.last >= self.seconds:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self.last = time.monotonic()
        return control


class FiniteLoss(TrainerCallback):
    """Stop a run whose logged loss is inf or NaN, naming the cause: on a T4 (fp16, no bf16) some models
    overflow (Qwen2.5 is known to), and the fp16 loss scaler then skips step after step, learning nothing."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss} at step {state.global_step}: 16-bit overflow is the usual cause on a T4 "
                "(fp16). Use a bf16 GPU (L4, A100), or load this model in float32 (dtype=torch.float32 in "
                "training.load_causal_lm) and train it without fp16."
            )
        return control


def train_resumable(
    trainer, base: str, rows: list[dict], minutes: float = CHECKPOINT_MINUTES
) -> None:
    """`trainer.train()`, resumed from this run's last checkpoint when there is one (a finished run loads
    its final weights and trains no step)."""
    trainer.add_callback(TimedCheckpoints(minutes))
    trainer.add_callback(FiniteLoss())
    ckpt = last_checkpoint(Path(trainer.args.output_dir), run_key(trainer, base, rows))
    if ckpt:
        step = json.loads((Path(ckpt) / "trainer_state.json").read_text())["global_step"]
        done = "finished: loading its weights" if step >= trainer.args.max_steps else "resuming"
        print(f"{ckpt}: step {step} of {trainer.args.max_steps}, {done}")
    trainer.train(resume_from_checkpoint=ckpt)


def keep_adapters_fp32(model, profile: profiles.Profile) -> int:
    """fp16 training (the T4): trainable weights back to fp32. TRL 1.16 casts a QLoRA model's adapters to bf16
    ("When using QLoRA, the PEFT adapter weights are converted to bf16"), and the fp16 GradScaler cannot
    unscale bf16 gradients: the first optimizer step would raise. Returns how many tensors it cast."""
    if profile.dtype != torch.float16:
        return 0
    cast = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
            cast += 1
    return cast


def free_memory() -> None:
    """Give the memory of models you have `del`eted back (a Colab GPU holds only a few models at once)."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def restore_forward(model):
    """Undo TRL's training-time patch of `model.forward` (TRL 1.16 installs a fused LM head as an instance
    attribute whose closure holds the *original* bound forward). Left in place, a `copy.deepcopy` or a
    `merge_and_unload()` of the trained model silently runs the weights of the model it was copied from."""
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            module.__dict__.pop("forward", None)
    return model


def quiet_logs(trainer) -> None:
    """Tiny profile: no per-step log dicts in the rendered notebook (the curves are plotted instead)."""
    if not profiles.show_progress():
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)


def losses(trainer) -> list[tuple[int, float]]:
    """(step, training loss) pairs from the trainer's log."""
    return [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]


def trainable_share(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
