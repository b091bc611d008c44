"""Stage 13: a LLaVA-style vision-language model (Liu et al. 2023; LLaVA-1.5).

CLIP patch features from the penultimate layer, CLS dropped, go through a 2-layer GELU MLP (the
*projector*) into the language model's embedding space, where they replace the `<image>` placeholder
tokens. Stage 1 trains the projector alone on captions; stage 2 trains projector + LoRA on instructions;
the loss covers answer tokens only. Tiny profile: PIL-drawn shapes, a tiny CLIP tower and the tiny world's
language model. GPU presets: a pretrained CLIP encoder and a small instruct LM in the same classes.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

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
    # each prompt's length after proc(...) expands <image>: where its answer starts
    p_len = [len(x) for x in proc(images=images, text=prompts)["input_ids"]]
    enc = proc(images=images, text=fulls, return_tensors="np")
    width = max(len(x) for x in enc["input_ids"])
    ids = torch.full((len(examples), width), tok.pad_token_id)
    labels = torch.full((len(examples), width), -100)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, row in enumerate(enc["input_ids"]):
        row = torch.as_tensor(row)
        ids[i, : len(row)], mask[i, : len(row)] = row, 1  # right padding, masked
        # the answer runs to the first <|im_end|> after the prompt, kept; the "\n" after it is not
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


# ---------------------------------------------------------------- the same model by hand
class HandBuiltLlava(nn.Module):
    """LLaVA's forward pass in seven lines: vision tower -> penultimate layer without CLS -> MLP ->
    replace the <image> embeddings -> causal LM through `inputs_embeds`."""

    def __init__(self, vision: CLIPVisionModel, projector: nn.Module, lm, image_token_id: int):
        super().__init__()
        self.vision, self.projector, self.lm = vision, projector, lm
        self.image_token_id = image_token_id

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
