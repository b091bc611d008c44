"""Stage 13: a LLaVA-style vision-language model (Liu et al. 2023; LLaVA-1.5).

CLIP patch features from the penultimate layer, CLS dropped, go through a 2-layer GELU MLP (the
*projector*) into the language model's embedding space, where they replace the `<image>` placeholder
tokens. Stage 1 trains the projector alone on captions; stage 2 trains projector + LoRA on instructions;
the loss covers answer tokens only. Tiny profile: PIL-drawn shapes, a tiny CLIP tower and the tiny world's
language model. GPU presets: a pretrained CLIP encoder and a small instruct LM in the same classes.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

from helpers.profiles import show_progress
from helpers.vlm_data import Example

try:  # transformers >= 5 without torchvision: the PIL image processor (Colab has torchvision)
    from transformers import CLIPImageProcessorPil as ImageProcessor
except ImportError:  # pragma: no cover
    from transformers import CLIPImageProcessor as ImageProcessor

# ChatML like the tiny world's template; content may be a string or a list of image/text parts.
VLM_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{% set parts = [{'type': 'text', 'text': message['content']}] %}"
    "{% else %}{% set parts = message['content'] %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% for p in parts %}{{ p['text'] }}{% endfor %}{{ '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{% for p in parts %}{% if p['type'] == 'image' %}{{ '<image>' }}{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{{ '<|im_end|>\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# ---------------------------------------------------------------- model and processor
def build_processor(
    tok, image_size: int = 32, patch_size: int = 8, image_processor=None
) -> LlavaProcessor:
    """CLIP has a CLS token: with the 'default' strategy (CLS dropped) the processor must count it.
    GPU presets pass the encoder's own image processor (its resolution, mean and std)."""
    ip = image_processor or ImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )
    tok.padding_side = "left"
    return LlavaProcessor(
        image_processor=ip,
        tokenizer=tok,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
        chat_template=VLM_TEMPLATE,
    )


def tiny_vision_config(image_size: int = 32, patch_size: int = 8) -> CLIPVisionConfig:
    return CLIPVisionConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
    )


def build_llava(
    vision: CLIPVisionModel, lm, tok, seed: int = 0, feature_layer: int = -2
) -> LlavaForConditionalGeneration:
    """Assemble LlavaForConditionalGeneration from a vision tower and a causal LM (weights copied in)."""
    torch.manual_seed(seed)
    vcfg = vision.config
    cfg = LlavaConfig(
        vision_config=vcfg,
        text_config=lm.config,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(vcfg.image_size // vcfg.patch_size) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=feature_layer,  # LLaVA: -2, the penultimate layer
        projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(cfg)
    model.model.vision_tower.load_state_dict(vision.state_dict())
    model.model.language_model.load_state_dict(lm.model.state_dict())
    model.lm_head.load_state_dict(lm.lm_head.state_dict())
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model.eval()


def build_tiny_llava(tok, lm_path: str, seed: int = 0) -> LlavaForConditionalGeneration:
    """Tiny profile: a random tiny CLIP tower + the tiny world's language model (it already reads text)."""
    torch.manual_seed(seed)
    vision = CLIPVisionModel(tiny_vision_config())
    return build_llava(vision, AutoModelForCausalLM.from_pretrained(lm_path), tok, seed)


def build_llava_from_pretrained(
    vision_id: str, lm_id: str, tok, dtype=torch.float32
) -> LlavaForConditionalGeneration:
    """GPU presets: a pretrained CLIP encoder (e.g. openai/clip-vit-base-patch16) and a small instruct LM.
    The tokenizer must already contain '<image>' (see `add_image_token`). It loads in fp32 whatever `dtype`
    says: `train` runs plain AdamW with no fp32 master weights, so in fp16 (a T4) eps 1e-8 rounds to 0 and
    the weights go inf/NaN within steps, and in bf16 an update below half a bf16 step (a projector step at
    lr 2e-5) rounds away. CLIP-B/16 and a small LM fit any preset's GPU in fp32."""
    dtype = torch.float32
    vision = CLIPVisionModel.from_pretrained(vision_id, dtype=dtype)
    lm = AutoModelForCausalLM.from_pretrained(lm_id, dtype=dtype)
    if lm.get_input_embeddings().num_embeddings < len(tok):
        lm.resize_token_embeddings(len(tok))
    return build_llava(vision, lm, tok).to(dtype)


def add_image_token(tok) -> None:
    """Hub tokenizers lack the placeholder: add '<image>' as a special token and our template."""
    if "<image>" not in tok.get_vocab():
        tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tok.chat_template = VLM_TEMPLATE


def messages(question: str, answer: str | None = None) -> list[dict]:
    """One user turn with the image and the question's text, and the assistant's answer when given."""
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
    return [user] + ([{"role": "assistant", "content": answer}] if answer is not None else [])


# ---------------------------------------------------------------- batches with answer-only labels
def collate(proc, examples: list[Example]) -> dict[str, torch.Tensor]:
    """Right-padded training batch of examples (`vlm_data.Example`). Labels cover the target and its
    end-of-turn token; image, prompt and padding positions are -100."""
    tok = proc.tokenizer
    prompts = [
        proc.apply_chat_template(messages(e.question), add_generation_prompt=True) for e in examples
    ]
    fulls = [proc.apply_chat_template(messages(e.question, e.target)) for e in examples]
    images = [e.image for e in examples]
    p_len = [len(x) for x in proc(images=images, text=prompts)["input_ids"]]
    enc = proc(images=images, text=fulls, return_tensors="np")
    width = max(len(x) for x in enc["input_ids"])
    ids = torch.full((len(examples), width), tok.pad_token_id)
    labels = torch.full((len(examples), width), -100)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, row in enumerate(enc["input_ids"]):
        row = torch.as_tensor(row)
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
        # keep <|im_end|>
        end = p_len[i] + (row[p_len[i] :] == tok.eos_token_id).nonzero()[0, 0].item() + 1
        labels[i, p_len[i] : end] = row[p_len[i] : end]
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "pixel_values": torch.as_tensor(enc["pixel_values"]),
        "labels": labels,
    }


def to_model(batch: dict, model) -> dict:
    """Move a batch to the model's device; images in the model's dtype."""
    return {
        k: v.to(model.device, model.dtype if k == "pixel_values" else None)
        for k, v in batch.items()
    }


@torch.no_grad()
def answer(
    model,
    proc,
    examples: list[Example],
    max_new_tokens: int = 16,
    autocast: torch.dtype | None = None,
) -> list[str]:
    """Greedy answers to a batch of examples (prompts of different lengths are left-padded)."""
    model.eval()
    prompts = [
        proc.apply_chat_template(messages(e.question), add_generation_prompt=True) for e in examples
    ]
    enc = proc(images=[e.image for e in examples], text=prompts, return_tensors="pt", padding=True)
    enc = to_model(dict(enc), model)
    with autocast_to(model, autocast):
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return [
        t.strip()
        for t in proc.tokenizer.batch_decode(
            out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
    ]


def autocast_to(model, dtype: torch.dtype | None):
    """Mixed precision on a GPU: the weights stay fp32, matrix products run in `dtype` (fp16 on a T4, bf16 on
    an L4/A100); a no-op for None or fp32."""
    import contextlib

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(model.device.type, dtype=dtype)


# ---------------------------------------------------------------- training stages
def set_stage(model, stage: str, lora_r: int = 16):
    """'projector': only the MLP trains (LLaVA stage 1). 'lora': projector + LoRA adapters on the LM
    (stage 2; LoRA matches full fine-tuning in LLaVA-1.5). 'full': projector + the whole LM.
    Returns the model to train (a PeftModel for 'lora') and prints the trainable parameter count."""
    if stage == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(
            r=lora_r,
            lora_alpha=2 * lora_r,
            lora_dropout=0.0,
            target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
            modules_to_save=["multi_modal_projector"],
        )
        model = get_peft_model(model, cfg)
    else:
        for name, p in model.named_parameters():
            p.requires_grad = "multi_modal_projector" in name or (
                stage == "full" and "vision_tower" not in name
            )
        if stage not in ("projector", "full"):
            raise ValueError(f"stage must be 'projector', 'lora' or 'full', not {stage!r}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(
        f"stage {stage}: {trainable:,} trainable of {total:,} parameters ({100 * trainable / total:.1f}%)"
    )
    return model


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
    proj = [
        p for n, p in model.named_parameters() if p.requires_grad and "multi_modal_projector" in n
    ]
    rest = [
        p
        for n, p in model.named_parameters()
        if p.requires_grad and "multi_modal_projector" not in n
    ]
    groups = [{"params": proj, "lr": projector_lr or lr}] + (
        [{"params": rest, "lr": lr}] if rest else []
    )
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    scaler = torch.amp.GradScaler(model.device.type, enabled=autocast == torch.float16)
    used = [e for k in dict.fromkeys(mix) for e in tasks[k]]
    settings = [mix, steps, lr, projector_lr, batch, seed, str(autocast), schedule]
    key = _run_key(model, used, settings) if checkpoint else None
    losses = _resume(checkpoint, key, model, opt, rng, scaler) if checkpoint else []
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
            save_checkpoint(checkpoint, key, model, opt, rng, losses, scaler)
            last_save = time.monotonic()
    model.eval()
    return losses


def lr_factor(schedule: str, step: int, steps: int, warmup: float = 0.03) -> float:
    """The share of the peak learning rate at `step` (0-based): 1, or warmup-then-cosine (decays to 0)."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"llava.train: schedule {schedule!r}: choose 'constant' or 'cosine'")
    ramp = max(1, math.ceil(warmup * steps))
    if step < ramp:
        return (step + 1) / ramp
    return 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, steps - ramp)))


def _run_key(model, examples: list[Example], settings) -> dict:
    """What a run's weights depend on: the frozen weights it starts from, which parameters train (the stage),
    every example it may draw (image bytes, question, target) and the settings. The trainable weights' random
    start is left out: a rerun draws it anew, and a resumed run takes them from the checkpoint."""
    from helpers.training import _digest

    frozen = hashlib.sha256()
    for name, t in model.named_parameters():
        flat = t.detach().reshape(-1)
        frozen.update(name.encode() + str(tuple(t.shape)).encode())
        if not t.requires_grad:
            frozen.update(
                flat[:: max(1, flat.numel() // 256)][:256]
                .to("cpu", torch.float32)
                .numpy()
                .tobytes()
            )
    data = hashlib.sha256()
    for e in examples:
        data.update(f"{e.question}\0{e.target}\0".encode() + e.image.tobytes())
    trainable = [n for n, t in model.named_parameters() if t.requires_grad]
    return {
        "model": frozen.hexdigest()[:16],
        "data": data.hexdigest()[:16],
        "settings": _digest([repr(settings), trainable]),
    }


def save_checkpoint(
    path, key: dict, model, opt, rng: random.Random, losses: list[float], scaler=None
) -> None:
    """Trainable weights, optimizer, loss scale (fp16), random states and losses, written atomically (a reset
    mid-write leaves the previous checkpoint)."""
    state = {
        "key": key,
        "losses": losses,
        "optimizer": opt.state_dict(),
        "rng": rng.getstate(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "torch_rng": torch.get_rng_state(),
        "trainable": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def _resume(path, key: dict, model, opt, rng: random.Random, scaler=None) -> list[float]:
    """Load this run's checkpoint into model, optimizer and random states; returns the losses so far
    (none, with a word on why, when the file is missing or belongs to another run)."""
    if not Path(path).exists():
        return []
    state = torch.load(path, weights_only=False)
    if state["key"] != key:
        why = ", ".join(f"another {k}" for k in key if state["key"].get(k) != key[k])
        print(f"{path}: a checkpoint of another run ({why}): training from step 0")
        return []
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, t in state["trainable"].items():
            params[n].copy_(t)
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    print(f"{path}: step {len(state['losses'])}, resuming")
    return state["losses"]


def copy_pretrain(
    model,
    proc,
    captions: list[Example],
    steps: int,
    lr: float = 1e-3,
    batch: int = 16,
    seed: int = 0,
) -> list[float]:
    """Stage 0 (tiny profile only): teach the tiny LM to read its image slots. The caption's tokens are
    written *as text* into the image positions (at a random offset) and the LM learns to answer from them;
    stage 1 then only has to teach the projector to write such 'words'."""
    tok = proc.tokenizer
    image_id, filler = (
        tok.convert_tokens_to_ids("<image>"),
        tok.convert_tokens_to_ids("<|endoftext|>"),
    )
    rng = random.Random(seed)
    lm_params = [p for n, p in model.named_parameters() if "language_model" in n or "lm_head" in n]
    opt = torch.optim.AdamW(lm_params, lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="stage 0", mininterval=5, disable=not show_progress()):
        b = to_model(
            collate(proc, [captions[rng.randrange(len(captions))] for _ in range(batch)]), model
        )
        ids = b["input_ids"].clone()
        for i in range(batch):
            slots = (ids[i] == image_id).nonzero().flatten()
            words = tok(
                " " + tok.decode(b["labels"][i][b["labels"][i] >= 0][:-1]), add_special_tokens=False
            )["input_ids"]
            words = words[: len(slots)]
            start = rng.randrange(len(slots) - len(words) + 1)
            fill = [filler] * start + words + [filler] * (len(slots) - start - len(words))
            ids[i, slots] = torch.tensor(fill, device=ids.device)
        loss = model(input_ids=ids, attention_mask=b["attention_mask"], labels=b["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm_params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


# ---------------------------------------------------------------- the same model by hand
class HandBuiltLlava(nn.Module):
    """LLaVA's forward pass in ten lines: vision tower -> penultimate layer without CLS -> MLP ->
    replace the <image> embeddings -> causal LM through `inputs_embeds`."""

    def __init__(self, vision: CLIPVisionModel, projector: nn.Module, lm, image_token_id: int):
        super().__init__()
        self.vision, self.projector, self.lm, self.image_token_id = (
            vision,
            projector,
            lm,
            image_token_id,
        )

    def forward(self, input_ids, pixel_values, attention_mask=None):
        hidden = self.vision(pixel_values=pixel_values, output_hidden_states=True).hidden_states
        patches = hidden[-2][:, 1:]  # penultimate layer, CLS dropped
        image_embeds = self.projector(patches)  # (batch, 16, d_lm)
        embeds = self.lm.get_input_embeddings()(input_ids)
        slots = (input_ids == self.image_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(slots, image_embeds.to(embeds.dtype))
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask)


def hand_built_from(model: LlavaForConditionalGeneration) -> HandBuiltLlava:
    """A HandBuiltLlava sharing every weight with a library LLaVA model."""
    from transformers import AutoModelForCausalLM as Causal

    lm = Causal.from_config(model.config.text_config)
    lm.model = model.model.language_model
    lm.lm_head = model.lm_head
    vision = model.model.vision_tower
    return HandBuiltLlava(
        vision, model.model.multi_modal_projector, lm, model.config.image_token_index
    ).eval()
