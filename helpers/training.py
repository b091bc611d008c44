"""Supervised fine-tuning with LoRA through TRL, with the settings every stage shares.

The library does the work (`trl.SFTTrainer` + `peft.LoraConfig`); this module only fixes what bites on
our machines: TRL 1.x defaults to bf16 and gradient checkpointing (a T4 has no bf16, a CPU needs
`use_cpu`), reports to no tracker, and saves nothing unless asked.
"""

from __future__ import annotations

import logging

import torch
from datasets import Dataset

from helpers import profiles


def lora_config(r: int = 16, alpha: int = 32, dropout: float = 0.0):
    """LoRA on every linear layer of a causal LM (QLoRA when the model was loaded in 4-bit)."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM")


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
        raise ValueError("sft_lora: no training rows (did every generated instance fail its checks?)")

    args = SFTConfig(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        logging_steps=min(logging_steps, steps),  # a short run (a dry run's 2 steps) still logs its loss
        max_length=max_length,
        report_to="none",
        save_strategy="no",
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
    trainer.train()
    restore_forward(trainer.model).eval()
    return trainer


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
