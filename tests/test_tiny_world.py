import copy
import json
import socket
import time

import pytest
import torch

from helpers import generation, tasks, tiny

SMALL = copy.deepcopy(tiny.RECIPE)
SMALL.update(
    tokenizer={"vocab_size": 600, "corpus_docs": 2000},
    train_docs=2000,
    eval_per_family=4,
    models={"draft": {"hidden": 32, "layers": 1, "heads": 2, "mlp": 64, "steps": 15, "batch": 8, "lr": 3e-3}},
)


def test_tokenizer_round_trip(tok):
    text = "Spell the word tiger. t-i-g-e-r, 17 + 25 = 42! Wörld"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_chat_template_renders_chatml_and_marks_the_answer(tok):
    msgs = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "2 + 3 = 5."}]
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert text == "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n2 + 3 = 5.<|im_end|>\n"
    enc = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    marked = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(marked) == "2 + 3 = 5.<|im_end|>"  # the EOS is trained, so the model learns to stop
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_world_table_shape_and_target_beats_draft(world):
    info = json.loads((world / "world.json").read_text())
    t, d = info["models"]["target"], info["models"]["draft"]
    assert t["params"] >= 5 * d["params"]
    assert t["heldout"]["mean"] > d["heldout"]["mean"] + 0.1  # clearly better
    assert 0 < t["heldout"]["mean"] < 0.95  # and not perfect: later stages have room to improve
    assert set(t["heldout"]) == set(tasks.CORE_FAMILIES) | {"mean"}


def test_second_build_is_a_fast_cache_hit(world, capsys):
    t0 = time.time()
    assert tiny.build() == world
    assert time.time() - t0 < 5
    assert "cache hit" in capsys.readouterr().out


def test_load_is_fast_and_uses_from_pretrained(world):
    t0 = time.time()
    model, tok = tiny.load_model("target"), tiny.load_tokenizer()
    assert time.time() - t0 < 5
    assert model.config.vocab_size == len(tok)
    assert tiny.resolve("tiny:draft").endswith("/draft") and tiny.resolve("gpt2") == "gpt2"


def test_rebuild_from_empty_cache_is_identical(tmp_path, monkeypatch):
    infos, weights = [], []
    for run in ("a", "b"):
        monkeypatch.setenv("COURSE_CACHE", str(tmp_path / run))
        d = tiny.build(SMALL, verbose=False)
        info = json.loads((d / "world.json").read_text())
        infos.append((info["models"]["draft"]["heldout"], info["models"]["draft"]["final_loss"], info["vocab"]))
        weights.append((d / "draft" / "model.safetensors").read_bytes())
    assert infos[0] == infos[1]
    assert weights[0] == weights[1]


def test_tiny_profile_works_with_sockets_blocked(world, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in the tiny profile")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from helpers import profiles

    profile = profiles.setup(seed=0, verbose=False)
    tok = tiny.load_tokenizer()
    model = tiny.load_model("draft")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoTokenizer.from_pretrained(tiny.resolve(profile.model("target")))
    AutoModelForCausalLM.from_pretrained(tiny.resolve(profile.model("target")))
    (answer,) = generation.chat_generate(model, tok, ["Count from 3 to 6."], max_new_tokens=20)
    assert answer  # it generated text without any socket


def test_batched_generation_equals_one_by_one(tok, target):
    prompts = [t.prompt for t in tasks.heldout_by_family(2)]
    batched = generation.chat_generate(target, tok, prompts, max_new_tokens=30)
    single = [generation.chat_generate(target, tok, [p], max_new_tokens=30)[0] for p in prompts]
    assert batched == single


def test_empty_prompt_is_a_clear_error(tok):
    with pytest.raises(ValueError, match="empty prompt"):
        generation.chat_prompt_ids(tok, "   ")


def test_unknown_model_role(world):
    with pytest.raises(KeyError, match="no model"):
        tiny.load_model("judge")


def test_four_bit_loading_path_on_cpu(world):
    """The GPU presets load 4-bit with bitsandbytes; this bitsandbytes also loads 4-bit on a CPU."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    qcfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    q = AutoModelForCausalLM.from_pretrained(world / "target", quantization_config=qcfg)
    assert "Linear4bit" in type(q.model.layers[0].self_attn.q_proj).__name__
    full = tiny.load_model("target")
    ids = torch.tensor([[3, 100, 200, 300]])
    with torch.no_grad():
        a, b = full(ids).logits, q(ids).logits.float()
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() >= 0.75  # quantized, yet close
