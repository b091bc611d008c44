"""Your own checkpoint in either form a phase 1-3 run leaves it: a merged model folder, used as it is, or a
LoRA adapter folder as `trainer.save_model()` writes it (`adapter_config.json` and the adapter's weights,
no base weights), merged once into its base so that every stage loads it like any model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def is_adapter_folder(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def adapter_digest(path: str | Path) -> str:
    """A digest of the adapter's config and weights: a retrained adapter gets a new merged copy."""
    digest = hashlib.sha256()
    for file in sorted(Path(path).glob("adapter_*")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def merged_root() -> Path:
    cache = os.environ.get("COURSE_CACHE", str(Path.home() / ".cache" / "llm-course"))
    return Path(cache) / "merged-adapters"


def base_of(path: str | Path) -> str:
    """The base model an adapter folder was trained on, from its adapter_config.json."""
    config = Path(path) / "adapter_config.json"
    base = json.loads(config.read_text()).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{config}: names no base model (base_model_name_or_path is empty)")
    return base


def merged_folder(path: str | Path, resolve=lambda name: name) -> str:
    """A model folder for a LoRA adapter folder: its base (through `resolve`, for a tiny-world name) with
    the adapter merged in, in float32, written once under the cache and reused while the adapter is the same.
    The tokenizer comes from the adapter folder if it holds one (a chat template added in training), else
    from the base."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = merged_root() / f"{Path(path).resolve().name}-{adapter_digest(path)}"
    if (out / "config.json").is_file():
        return str(out)
    base = resolve(base_of(path))
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    has_tokenizer = (Path(path) / "tokenizer_config.json").is_file()
    tok = AutoTokenizer.from_pretrained(str(path) if has_tokenizer else base)
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    merged.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.replace(out)
    print(f"{path}: a LoRA adapter on {base}; merged once into {out}")
    return str(out)


def check_folder(path: str | Path, role: str) -> None:
    """Refuse, naming the role, a local folder that is neither a model nor a LoRA adapter."""
    folder = Path(path)
    if folder.is_dir() and not (folder / "config.json").is_file() and not is_adapter_folder(folder):
        raise ValueError(
            f"the {role} checkpoint {path} is neither a model folder (config.json) nor a LoRA adapter "
            "folder (adapter_config.json, as trainer.save_model() writes it)"
        )
