"""Stage 13: a LLaVA-style vision-language model (Liu et al. 2023; LLaVA-1.5).

CLIP patch features from the penultimate layer, CLS dropped, go through a 2-layer GELU MLP (the
*projector*) into the language model's embedding space, where they replace the `<image>` placeholder
tokens. Stage 1 trains the projector alone on captions; stage 2 trains projector + LoRA on instructions;
the loss covers answer tokens only. Tiny profile: PIL-drawn shapes, a tiny CLIP tower and the tiny world's
language model. GPU presets: a pretrained CLIP encoder and a small instruct LM in the same classes.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw
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

try:  # transformers >= 5 without torchvision: the PIL image processor (Colab has torchvision)
    from transformers import CLIPImageProcessorPil as ImageProcessor
except ImportError:  # pragma: no cover
    from transformers import CLIPImageProcessor as ImageProcessor

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 220),
    "yellow": (230, 200, 0),
    "black": (0, 0, 0),
    "pink": (250, 120, 200),
}
SHAPES = ("circle", "square", "triangle")
POSITIONS = ("left", "right")
ATTRIBUTES = ("colour", "shape", "position")
CHANCE = {"colour": 1 / len(COLOURS), "shape": 1 / len(SHAPES), "position": 1 / len(POSITIONS)}
CHANCE["exact"] = CHANCE["colour"] * CHANCE["shape"] * CHANCE["position"]
QUESTIONS = {
    "caption": "Describe the image.",
    "colour": "What colour is the shape?",
    "shape": "What shape is it?",
    "position": "Is the shape on the left or the right?",
}

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


# ---------------------------------------------------------------- data
@dataclass
class Scene:
    colour: str
    shape: str
    position: str
    image: Image.Image

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} on the {self.position}"

    def answer(self, question: str) -> str:
        return self.caption if question == "caption" else getattr(self, question)


def draw_scene(colour: str, shape: str, position: str, rng: random.Random, size: int = 32) -> Image.Image:
    """One shape on a white canvas, in the left or right half, with random size and jitter."""
    img = Image.new("RGB", (size, size), "white")
    r = rng.uniform(0.2, 0.28) * size
    cx = rng.uniform(r + 1, size / 2 - r / 2) if position == "left" else rng.uniform(size / 2 + r / 2, size - r - 1)
    cy = rng.uniform(r + 1, size - r - 1)
    box = (cx - r, cy - r, cx + r, cy + r)
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=COLOURS[colour])
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
    return img


def make_scenes(n: int, split: str, seed: int = 0) -> list[Scene]:
    """Random scenes; train and held-out use disjoint random streams (same attribute space)."""
    rng = random.Random(f"{split}-{seed}")
    out = []
    for _ in range(n):
        c, s, p = rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.choice(POSITIONS)
        out.append(Scene(c, s, p, draw_scene(c, s, p, rng)))
    return out


def parse_caption(text: str) -> dict[str, str | None]:
    """Attributes named in a generated caption ('a red circle on the left')."""
    words = text.replace(".", " ").split()
    pick = lambda names: next((w for w in words if w in names), None)  # noqa: E731
    return {"colour": pick(COLOURS), "shape": pick(SHAPES), "position": pick(POSITIONS)}


# ---------------------------------------------------------------- model and processor
def build_processor(tok, image_size: int = 32, patch_size: int = 8, image_processor=None) -> LlavaProcessor:
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


def build_llava_from_pretrained(vision_id: str, lm_id: str, tok, dtype=torch.float32) -> LlavaForConditionalGeneration:
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
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTIONS[question]}]}
    return [user] + ([{"role": "assistant", "content": answer}] if answer is not None else [])


# ---------------------------------------------------------------- batches with answer-only labels
def collate(proc, scenes: list[Scene], questions: list[str]) -> dict[str, torch.Tensor]:
    """Right-padded training batch. Labels cover the answer and its end-of-turn token; image, prompt and
    padding positions are -100."""
    tok = proc.tokenizer
    prompts = [proc.apply_chat_template(messages(q), add_generation_prompt=True) for q in questions]
    fulls = [proc.apply_chat_template(messages(q, s.answer(q))) for s, q in zip(scenes, questions)]
    images = [s.image for s in scenes]
    p_len = [len(x) for x in proc(images=images, text=prompts)["input_ids"]]
    enc = proc(images=images, text=fulls, return_tensors="np")
    width = max(len(x) for x in enc["input_ids"])
    ids = torch.full((len(scenes), width), tok.pad_token_id)
    labels = torch.full((len(scenes), width), -100)
    mask = torch.zeros((len(scenes), width), dtype=torch.long)
    for i, row in enumerate(enc["input_ids"]):
        row = torch.as_tensor(row)
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
        end = p_len[i] + (row[p_len[i] :] == tok.eos_token_id).nonzero()[0, 0].item() + 1  # keep <|im_end|>
        labels[i, p_len[i] : end] = row[p_len[i] : end]
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "pixel_values": torch.as_tensor(enc["pixel_values"]),
        "labels": labels,
    }


def to_model(batch: dict, model) -> dict:
    """Move a batch to the model's device; images in the model's dtype."""
    return {k: v.to(model.device, model.dtype if k == "pixel_values" else None) for k, v in batch.items()}


@torch.no_grad()
def answer(model, proc, scenes: list[Scene], question="caption", images=None, max_new_tokens: int = 16) -> list[str]:
    """Greedy answers for a batch: one question for all, or one per scene (prompts of different lengths
    are left-padded). `images` overrides the scenes' images."""
    model.eval()
    questions = [question] * len(scenes) if isinstance(question, str) else question
    prompts = [proc.apply_chat_template(messages(q), add_generation_prompt=True) for q in questions]
    enc = proc(images=images or [s.image for s in scenes], text=prompts, return_tensors="pt", padding=True)
    enc = to_model(dict(enc), model)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return [
        t.strip() for t in proc.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    ]


def evaluate(model, proc, scenes: list[Scene], shuffle_images: bool = False, batch: int = 100) -> dict[str, float]:
    """Per-attribute accuracy and exact match of generated captions. shuffle_images: a control that pairs
    each question with another scene's image (a model that reads the image must then fail)."""
    images = [s.image for s in scenes]
    if shuffle_images:
        images = images[1:] + images[:1]  # every image moves to another scene
    captions = []
    for i in range(0, len(scenes), batch):
        captions += answer(model, proc, scenes[i : i + batch], images=images[i : i + batch])
    hits = {a: 0 for a in ATTRIBUTES}
    exact = 0
    for s, c in zip(scenes, captions):
        got = parse_caption(c)
        for a in ATTRIBUTES:
            hits[a] += got[a] == getattr(s, a)
        exact += c == s.caption
    n = len(scenes)
    return {**{a: hits[a] / n for a in ATTRIBUTES}, "exact": exact / n}


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
            p.requires_grad = "multi_modal_projector" in name or (stage == "full" and "vision_tower" not in name)
        if stage not in ("projector", "full"):
            raise ValueError(f"stage must be 'projector', 'lora' or 'full', not {stage!r}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"stage {stage}: {trainable:,} trainable of {total:,} parameters ({100 * trainable / total:.1f}%)")
    return model


def train(
    model,
    proc,
    scenes,
    questions,
    steps: int,
    lr: float,
    projector_lr: float | None = None,
    batch: int = 16,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    minutes: float | None = None,
) -> list[float]:
    """AdamW on the trainable parameters; the projector may get its own learning rate (`projector_lr`).
    With `checkpoint` (a file), the trainable weights, optimizer, random states and losses are saved every
    `minutes` (`training.CHECKPOINT_MINUTES`) and at the end, and a rerun resumes from them."""
    from helpers import training

    rng = random.Random(seed)
    proj = [p for n, p in model.named_parameters() if p.requires_grad and "multi_modal_projector" in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and "multi_modal_projector" not in n]
    groups = [{"params": proj, "lr": projector_lr or lr}] + ([{"params": rest, "lr": lr}] if rest else [])
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    key = _run_key(model, scenes, [questions, steps, lr, projector_lr, batch, seed]) if checkpoint else None
    losses = _resume(checkpoint, key, model, opt, rng) if checkpoint else []
    every, last_save = 60 * (training.CHECKPOINT_MINUTES if minutes is None else minutes), time.monotonic()
    model.train()
    for step in tqdm(range(len(losses), steps), desc="train", mininterval=5, disable=not show_progress()):
        idx = [rng.randrange(len(scenes)) for _ in range(batch)]
        b = to_model(collate(proc, [scenes[i] for i in idx], [rng.choice(questions) for _ in idx]), model)
        loss = model(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if checkpoint and (step + 1 == steps or time.monotonic() - last_save >= every):
            save_checkpoint(checkpoint, key, model, opt, rng, losses)
            last_save = time.monotonic()
    model.eval()
    return losses


def _run_key(model, scenes, settings) -> dict:
    """What a run's weights depend on: the frozen weights it starts from, which parameters train (the stage),
    every scene (image bytes, caption) and the settings. The trainable weights' random start is left out: a
    rerun draws it anew, and a resumed run takes them from the checkpoint."""
    from helpers.training import _digest

    frozen = hashlib.sha256()
    for name, t in model.named_parameters():
        flat = t.detach().reshape(-1)
        frozen.update(name.encode() + str(tuple(t.shape)).encode())
        if not t.requires_grad:
            frozen.update(flat[:: max(1, flat.numel() // 256)][:256].to("cpu", torch.float32).numpy().tobytes())
    data = hashlib.sha256()
    for s in scenes:
        data.update(s.caption.encode() + s.image.tobytes())
    trainable = [n for n, t in model.named_parameters() if t.requires_grad]
    return {
        "model": frozen.hexdigest()[:16],
        "data": data.hexdigest()[:16],
        "settings": _digest([repr(settings), trainable]),
    }


def save_checkpoint(path, key: dict, model, opt, rng: random.Random, losses: list[float]) -> None:
    """Trainable weights, optimizer, random states and losses, written atomically (a reset mid-write
    leaves the previous checkpoint)."""
    state = {"key": key, "losses": losses, "optimizer": opt.state_dict(), "rng": rng.getstate(),
             "torch_rng": torch.get_rng_state(),
             "trainable": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}}  # fmt: skip
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def _resume(path, key: dict, model, opt, rng: random.Random) -> list[float]:
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
    rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    print(f"{path}: step {len(state['losses'])}, resuming")
    return state["losses"]


def copy_pretrain(model, proc, scenes, steps: int, lr: float = 1e-3, batch: int = 16, seed: int = 0) -> list[float]:
    """Stage 0 (tiny profile only): teach the tiny LM to read its image slots. The caption's tokens are
    written *as text* into the image positions (at a random offset) and the LM learns to answer from them;
    stage 1 then only has to teach the projector to write such 'words'."""
    tok = proc.tokenizer
    image_id, filler = tok.convert_tokens_to_ids("<image>"), tok.convert_tokens_to_ids("<|endoftext|>")
    rng = random.Random(seed)
    lm_params = [p for n, p in model.named_parameters() if "language_model" in n or "lm_head" in n]
    opt = torch.optim.AdamW(lm_params, lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="stage 0", mininterval=5, disable=not show_progress()):
        b = to_model(
            collate(proc, [scenes[rng.randrange(len(scenes))] for _ in range(batch)], ["caption"] * batch), model
        )
        ids = b["input_ids"].clone()
        for i in range(batch):
            slots = (ids[i] == image_id).nonzero().flatten()
            words = tok(" " + tok.decode(b["labels"][i][b["labels"][i] >= 0][:-1]), add_special_tokens=False)[
                "input_ids"
            ]
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
        self.vision, self.projector, self.lm, self.image_token_id = vision, projector, lm, image_token_id

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
    return HandBuiltLlava(vision, model.model.multi_modal_projector, lm, model.config.image_token_index).eval()
