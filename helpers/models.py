"""The model registry: the one place the GPU presets' models' facts are typed (issue 37).

Each entry copies a hub model's `config.json` (layers, sizes, heads, vocabulary, tied embeddings) and its
parameter count; `data/model_sources.md` says where each fact was read, and `unconfirmed` names the facts no
source in reach could confirm. Which model plays which role is a choice, not a fact: that stays in
`helpers.profiles` and `helpers.settings`. The run-time model (`helpers.runtime`), the GPU checks
(`helpers.tools.gpu_check`), the stand-in hub (`helpers.tools.standin_hub`) and the memory plan
(`helpers.tools.memory`) read from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# bitsandbytes NF4: 4 bits a weight plus one fp32 absmax per block of 64 (no double quant)
NF4_BYTES = 0.5 + 4 / 64


@dataclass(frozen=True)
class Model:
    """One hub model's facts, from its config.json (`data/model_sources.md`)."""

    id: str
    family: str  # the stand-in hub's tokenizer family: llama, qwen, phi3, smollm2, gpt2, clip
    arch: str  # the config's `architectures[0]`
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int  # the config's vocab_size: the embedding's rows (Qwen2.5-7B's are padded to 152,064)
    params: int  # parameters as loaded (CLIP: the vision tower the presets use)
    # the size the run-time model charges, in billions: `params` to 3 significant figures
    params_b: float
    tied: bool  # tie_word_embeddings: the LM head shares the input embedding
    # chat template: a key of data/standin_chat_templates.json (from tokenizer_config.json)
    template: str | None
    qkv_bias: bool = False  # Qwen2 has biases on q, k, v
    unconfirmed: tuple[str, ...] = ()  # fields no source in reach confirmed (data/model_sources.md)


def _lm(
    id: str,
    family: str,
    arch: str,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    intermediate: int,
    vocab: int,
    params: int,
    params_b: float,
    tied: bool,
    template: str | None,
    **kw,
) -> Model:
    """A decoder LM whose head dim is hidden / heads (true of every model here)."""
    return Model(
        id,
        family,
        arch,
        layers,
        hidden,
        heads,
        kv_heads,
        hidden // heads,
        intermediate,
        vocab,
        params,
        params_b,
        tied,
        template,
        **kw,
    )


_QWEN = dict(family="qwen", arch="Qwen2ForCausalLM", qkv_bias=True)
_SMOL = dict(family="smollm2", arch="LlamaForCausalLM", vocab=49152, tied=True, template="smollm2")
REGISTRY: dict[str, Model] = {m.id: m for m in (
    _lm("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "llama", "LlamaForCausalLM", 22, 2048, 32, 4, 5632, 32000,
        1_100_048_384, 1.10, False, "zephyr"),
    _lm("Felladrin/Llama-68M-Chat-v1", "llama", "LlamaForCausalLM", 2, 768, 12, 12, 3072, 32000, 68_030_208, 0.068,
        False, "chatml", unconfirmed=("layers", "hidden", "heads", "kv_heads", "intermediate", "params", "tied")),
    _lm("HuggingFaceTB/SmolLM2-135M-Instruct", layers=30, hidden=576, heads=9, kv_heads=3, intermediate=1536,
        params=134_515_008, params_b=0.135, **_SMOL),
    _lm("HuggingFaceTB/SmolLM2-360M-Instruct", layers=32, hidden=960, heads=15, kv_heads=5, intermediate=2560,
        params=361_821_120, params_b=0.362, **_SMOL),
    _lm("HuggingFaceTB/SmolLM2-1.7B-Instruct", layers=24, hidden=2048, heads=32, kv_heads=32, intermediate=8192,
        params=1_711_376_384, params_b=1.71, **_SMOL),
    *(_lm(f"Qwen/Qwen2.5-{size}{kind}", layers=24, hidden=896, heads=14, kv_heads=2, intermediate=4864, vocab=151936,
          params=494_032_768, params_b=0.494, tied=True, template=tpl, **_QWEN)
      for kind, tpl in (("", "qwen_base"), ("-Instruct", "qwen_instruct")) for size in ("0.5B",)),
    *(_lm(f"Qwen/Qwen2.5-1.5B{kind}", layers=28, hidden=1536, heads=12, kv_heads=2, intermediate=8960, vocab=151936,
          params=1_543_714_304, params_b=1.54, tied=True, template=tpl, **_QWEN)
      for kind, tpl in (("", "qwen_base"), ("-Instruct", "qwen_instruct"))),
    _lm("Qwen/Qwen2.5-3B-Instruct", layers=36, hidden=2048, heads=16, kv_heads=2, intermediate=11008, vocab=151936,
        params=3_085_938_688, params_b=3.09, tied=True, template="qwen_instruct", **_QWEN),
    _lm("Qwen/Qwen2.5-7B-Instruct", layers=28, hidden=3584, heads=28, kv_heads=4, intermediate=18944, vocab=152064,
        params=7_615_616_512, params_b=7.62, tied=False, template="qwen_instruct", **_QWEN),
    _lm("microsoft/Phi-3.5-mini-instruct", "phi3", "Phi3ForCausalLM", 32, 3072, 32, 32, 8192, 32064,
        3_821_079_552, 3.82, False, "phi3"),
    _lm("openai-community/gpt2", "gpt2", "GPT2LMHeadModel", 12, 768, 12, 12, 3072, 50257, 124_439_808, 0.124,
        True, None),
    Model("openai/clip-vit-base-patch16", "clip", "CLIPModel", 12, 768, 12, 12, 64, 3072, 49408, 85_799_424, 0.086,
          False, None, unconfirmed=("params",)),
)}  # fmt: skip


def get(model_id: str) -> Model:
    """A registered model's facts; a KeyError names the ids the registry knows. "id[:n]" is that model's
    first n decoder layers under its own head (stage 14's self-draft, `distill.early_exit_draft`)."""
    if model_id.endswith("]") and "[:" in model_id:
        base, n = model_id[:-1].rsplit("[:", 1)
        return first_layers(get(base), int(n))
    if model_id not in REGISTRY:
        raise KeyError(f"{model_id!r} is not in helpers/models.py; registered: {sorted(REGISTRY)}")
    return REGISTRY[model_id]


def first_layers(model: Model, n: int) -> Model:
    """The facts of `model` cut to its first `n` decoder layers (the embedding, final norm and head kept)."""
    if not 0 < n < model.layers:
        raise ValueError(f"{model.id} has {model.layers} layers: cannot keep {n}")
    params = (
        model.params
        - (model.layers - n)
        * (model.params - counted_params(replace(model, layers=0)))
        // model.layers
    )
    return replace(
        model, id=f"{model.id}[:{n}]", layers=n, params=params, params_b=round(params / 1e9, 3)
    )


def kv_bytes_per_token(model: Model, dtype_bytes: float) -> int:
    """Bytes of KV cache one token adds: layers x (K and V) x KV heads x head dim x bytes."""
    return int(model.layers * 2 * model.kv_heads * model.head_dim * dtype_bytes)


def linear_params(model: Model) -> int:
    """Parameters in the decoder layers' linear maps (what NF4 quantizes and LoRA's "all-linear" wraps)."""
    q_out, kv_out = model.heads * model.head_dim, model.kv_heads * model.head_dim
    per_layer = model.hidden * (2 * q_out + 2 * kv_out) + 3 * model.hidden * model.intermediate
    return model.layers * per_layer


def counted_params(model: Model) -> int:
    """Parameters from the config's shapes alone (Llama, Qwen2, Phi-3): embedding, layers, norms, head."""
    q_out, kv_out = model.heads * model.head_dim, model.kv_heads * model.head_dim
    bias = (q_out + 2 * kv_out) if model.qkv_bias else 0
    norms = model.layers * 2 * model.hidden + model.hidden
    embeddings = model.vocab * model.hidden * (1 if model.tied else 2)
    return linear_params(model) + model.layers * bias + norms + embeddings


def weight_bytes(model: Model, dtype_bytes: float, four_bit: bool = False) -> float:
    """Bytes of weights as loaded: every parameter at `dtype_bytes`, or with NF4 (bitsandbytes) the layers'
    linear maps at ~0.56 bytes and the embeddings, head and norms left at `dtype_bytes`."""
    if not four_bit:
        return model.params * dtype_bytes
    linear = linear_params(model)
    return linear * NF4_BYTES + (model.params - linear) * dtype_bytes


def lora_params(model: Model, r: int = 16) -> int:
    """LoRA's trainable parameters with `target_modules="all-linear"` (q, k, v, o, gate, up, down in every layer)."""
    q_out, kv_out, h, i = (
        model.heads * model.head_dim,
        model.kv_heads * model.head_dim,
        model.hidden,
        model.intermediate,
    )
    per_layer = (h + q_out) + 2 * (h + kv_out) + (q_out + h) + 2 * (h + i) + (i + h)
    return model.layers * r * per_layer
