import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import helpers
import helpers.world
from helpers import generation
from helpers.world import __main__ as world_cli
from helpers.world import cache, load_all, tiny
from helpers.world import families as tasks

# Two small models for the cache's own tests (registered here and, through EXTRA_MODULES, in build processes).
SMALL = {
    "hidden": 32,
    "layers": 1,
    "heads": 2,
    "mlp": 64,
    "steps": 15,
    "batch": 8,
    "lr": 3e-3,
    "seed": 0,
}


def small_docs() -> list[list[int]]:
    """200 train docs: each build process makes its model's data, and the target's full set is 40,000 docs."""
    return tiny.encode_docs(tiny.load_tokenizer(), tasks.sample_tasks(200, "train", 0))


tiny.lm_recipe(
    "test_small_a", "a toy model for the cache tests", SMALL, small_docs, eval_per_family=2
)
tiny.lm_recipe(
    "test_small_b", "another toy model", {**SMALL, "seed": 1}, small_docs, eval_per_family=2
)
cache.EXTRA_MODULES.append(__name__)
DESCENDANTS_OF_TARGET = {
    "target",
    "policy",
    "generator",
    "judge",
    "evaluator",
    "helpful",
    "feedback",
}


def test_tokenizer_round_trip(tok):
    text = "Spell the word tiger. t-i-g-e-r, 17 + 25 = 42! Wörld"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_chat_template_renders_chatml_and_marks_the_answer(tok):
    msgs = [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "2 + 3 = 5."},
    ]
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert (
        text
        == "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n2 + 3 = 5.<|im_end|>\n"
    )
    enc = tok.apply_chat_template(
        msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    marked = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    # the EOS is trained, so the model learns to stop
    assert tok.decode(marked) == "2 + 3 = 5.<|im_end|>"
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_world_table_shape_and_target_beats_draft(world, bar):
    t, d = world["models"]["target"], world["models"]["draft"]
    assert t["params"] >= 5 * d["params"]
    bar(
        t["heldout"]["mean"] - d["heldout"]["mean"],
        above=0.1,
        what="target minus draft, mean held-out accuracy",
    )
    bar(t["heldout"]["mean"], below=0.95, what="target mean held-out accuracy (room to improve)")
    assert t["heldout"]["mean"] > 0
    assert set(t["heldout"]) == set(tasks.CORE_FAMILIES) | {"mean"}


def no_training(name: str) -> dict:
    raise AssertionError(f"{name} was trained again: a cached model must be read, not rebuilt")


def test_second_build_is_a_cache_hit(world, capsys, monkeypatch):
    monkeypatch.setattr(cache, "build_one", no_training)
    world_cli.main(["build", "target", "draft"])
    assert "2 of 2 models cached" in capsys.readouterr().out


def test_check_exits_zero_only_when_nothing_must_be_built(world, tmp_path, monkeypatch, capsys):
    """`make test` asks `helpers.world check` whether to run the presets beside a build."""
    with pytest.raises(SystemExit) as cached:
        world_cli.main(["check", "target", "draft"])
    # an empty cache: the keys stay, the folders are missing
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    with pytest.raises(SystemExit) as empty:
        world_cli.main(["check", "draft"])
    assert (cached.value.code, empty.value.code) == (0, 1)
    assert "2 of the models asked for must be built (tokenizer, draft)" in capsys.readouterr().out


def test_load_reads_the_cache_and_uses_from_pretrained(world, monkeypatch):
    monkeypatch.setattr(cache, "build_one", no_training)
    model, tok = tiny.load_model("target"), tiny.load_tokenizer()
    assert model.config.vocab_size == len(tok)
    assert helpers.world.resolve("tiny:draft") == str(cache.path("draft"))
    assert helpers.world.resolve("gpt2") == "gpt2"


def _keys() -> dict[str, str]:
    # every world module's recipes, whichever tests ran before in this process
    helpers.world.load_all()
    cache._keys.clear()
    return {name: cache.key(name) for name in cache.RECIPES if not name.startswith("test_")}


def test_a_recipe_change_moves_exactly_the_keys_it_should(world, monkeypatch):
    helpers.world.load_all()
    before = _keys()
    r = cache.RECIPES
    monkeypatch.setitem(r, "policy", replace(r["policy"], spec={**r["policy"].spec, "steps": 301}))
    # its own recipe: that model only
    assert {n for n, k in _keys().items() if k != before[n]} == {"policy"}
    monkeypatch.setitem(r, "policy", replace(r["policy"], version=2))
    assert {n for n, k in _keys().items() if k != before[n]} == {"policy"}  # its code version
    monkeypatch.setitem(r, "target", replace(r["target"], spec={**r["target"].spec, "lr": 1e-3}))
    # a parent: and its descendants
    assert {n for n, k in _keys().items() if k != before[n]} == DESCENDANTS_OF_TARGET
    monkeypatch.setattr(cache, "_data_hashes", {**cache._data_hashes, "draft": "other data"})
    changed = {n for n, k in _keys().items() if k != before[n]}
    # its training data: the draft, which has no descendants
    assert changed == DESCENDANTS_OF_TARGET | {"draft"}
    monkeypatch.undo()
    assert _keys() == before


def test_the_data_memo_is_read_back_and_a_source_edit_recomputes_it(world, monkeypatch, tmp_path):
    """A fresh process reads a model's data hash from the memo (no 30 s of data making); the memo belongs to
    one source tree, so an edited tree makes the data again and finds the true hash."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_data_hashes", {})
    true = cache.data_hash("draft")
    memo = json.loads(cache._data_memo_file().read_text())
    assert memo[cache._data_memo_key("draft")] == true
    cache._write_data_memo({**memo, cache._data_memo_key("draft"): "from the memo"})
    monkeypatch.setattr(cache, "_data_hashes", {})
    assert cache.data_hash("draft") == "from the memo"  # read back, not recomputed
    monkeypatch.setattr(cache, "_data_hashes", {})
    monkeypatch.setattr(cache, "_source_hash", "an edited tree")
    assert cache.data_hash("draft") == true
    key = cache._data_memo_key("draft")
    monkeypatch.setattr(tiny, "WORLD_SEED", 1)  # another world's data: another memo entry
    assert cache._data_memo_key("draft") != key


def test_build_estimates_scale_by_this_machines_measured_pace(world, monkeypatch, tmp_path):
    """Machines of one kind differ several-fold (the target: 3.2 min on one, 15.4 on another): estimates start
    at the recipes' recorded times and scale by the build times this machine's cache holds, leaving out builds
    too short to time (the tokenizer's, which once made a fresh machine's first estimate 0.1x)."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    # no calibration in this process: the recorded times
    monkeypatch.setattr(cache, "_calibrated", {})
    target, draft = cache.recipe("target").expected_s, cache.recipe("draft").expected_s
    # the demo's two
    assert cache.pace() == 1.0 and cache.estimate(["target", "draft"], workers=2) == target
    assert "this machine's pace" not in cache._start_line("target", 1, 2, 60)
    # 0 s of an expected 2 s
    too_short_to_time = ("tokenizer", 0.01 * cache.recipe("tokenizer").expected_s)
    for name, build_s in (
        ("target", 5 * target),
        ("draft", 3 * draft),
        ("not a recipe", 1e6),
        too_short_to_time,
    ):
        (tmp_path / "models" / f"{name}-key").mkdir(parents=True)
        (tmp_path / "models" / f"{name}-key" / "info.json").write_text(
            json.dumps({"name": name, "build_s": build_s})
        )
    assert cache.pace() == pytest.approx((5 * target + 3 * draft) / (target + draft))
    assert cache.estimate(["draft"]) == pytest.approx(cache.pace() * draft)
    assert f"{cache.pace():.1f}x the recorded times" in cache._start_line("target", 1, 2, 60)


def test_a_fresh_machine_estimates_at_its_calibrated_pace_until_it_has_built(
    world, monkeypatch, tmp_path
):
    """An empty cache takes the calibration's pace (a few timed steps), so a fresh machine's first estimate is
    its own; the first timed build then replaces it."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_calibrated", {})
    monkeypatch.setattr(tiny, "calibration_step_s", lambda: 3 * tiny.CALIBRATION_STEP_S)
    cache.know_pace(["tokenizer"])  # too short a build to calibrate for
    assert cache.pace() == 1.0
    cache.know_pace(["tokenizer", "target"])
    target = cache.recipe("target").expected_s
    assert cache.pace() == 3.0 and cache.estimate(["target"]) == 3 * target
    (tmp_path / "models" / "target-key").mkdir(parents=True)
    (tmp_path / "models" / "target-key" / "info.json").write_text(
        json.dumps({"name": "target", "build_s": target})
    )
    assert cache.pace() == 1.0


def test_a_build_estimate_follows_the_schedule(world, monkeypatch, tmp_path):
    """The estimate schedules as the build does: a model after its parents, the longest ready first, so two
    workers halve the extensions but not the target they all start from (it once said 1.7 min for 3.2)."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    # an earlier test's calibration in this process: not this one's
    monkeypatch.setattr(cache, "_calibrated", {})
    load_all()  # the extensions' recipes
    t, p, j, e = (cache.recipe(n).expected_s for n in ("target", "policy", "judge", "evaluator"))
    assert cache.estimate(["target", "policy", "judge"], workers=1) == t + p + j
    assert cache.estimate(["target", "policy", "judge"], workers=2) == t + max(p, j)
    assert cache.estimate(["target", "policy", "judge", "evaluator"], workers=2) == t + max(
        p, min(p, j) + e
    )


def test_a_cosmetic_edit_keeps_every_key(world, tmp_path):
    """A copy of the package whose world modules gain a comment and a docstring line computes the same keys."""
    copy_root = tmp_path / "repo"
    shutil.copytree(
        Path(helpers.__file__).parent,
        copy_root / "helpers",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for module in (copy_root / "helpers" / "world").glob("*.py"):
        text = module.read_text()
        module.write_text(text.replace('"""', '"""Edited.\n', 1) + "\n# a cosmetic edit\n")
    (copy_root / "helpers" / "tasks.py").write_text(
        (copy_root / "helpers" / "tasks.py").read_text() + "\n# edited\n"
    )
    script = "import json; from helpers.world import cache, load_all; load_all(); "
    script += "print(json.dumps({n: cache.key(n) for n in cache.RECIPES}))"
    env = {**os.environ, "PYTHONPATH": str(copy_root)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    edited = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Edited." in (copy_root / "helpers" / "world" / "tiny.py").read_text()
    assert edited == _keys()


@pytest.mark.world
def test_a_model_built_alone_equals_one_built_beside_another(tmp_path, monkeypatch):
    """Bit-identical weights from an empty cache: built alone in this process, and in a 2-process pool
    beside another model (and, at the pinned AVX2 level, on any x86-64 CPU: tests/test_world_digest.py)."""
    weights = []
    for run, names, workers in (
        ("alone", ["test_small_a"], 1),
        ("pool", ["test_small_a", "test_small_b"], 2),
    ):
        monkeypatch.setenv("COURSE_CACHE", str(tmp_path / run))
        cache._keys.clear()
        assert cache.build(names, workers=workers, log=lambda line: None)[-len(names) :] == names
        info = cache.info("test_small_a")
        weights.append(
            ((cache.path("test_small_a") / "model.safetensors").read_bytes(), info["final_loss"])
        )
    cache._keys.clear()
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

    AutoTokenizer.from_pretrained(profile.resolve("target"))
    AutoModelForCausalLM.from_pretrained(profile.resolve("target"))
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


def test_unknown_model_name(world):
    with pytest.raises(KeyError, match="no model 'juge'"):
        tiny.load_model("juge")


def test_four_bit_loading_path_on_cpu(world, bar):
    """The GPU presets load 4-bit with bitsandbytes; this bitsandbytes also loads 4-bit on a CPU. The draft,
    because on some CPUs bitsandbytes packs 4-bit weights in blocks of 32 output features (the target's MLP
    has 688; the draft's layers are multiples of 32)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    qcfg = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
    )
    q = AutoModelForCausalLM.from_pretrained(cache.path("draft"), quantization_config=qcfg)
    assert "Linear4bit" in type(q.model.layers[0].self_attn.q_proj).__name__
    full, tok = tiny.load_model("draft"), tiny.load_tokenizer()
    ids = torch.tensor(
        [sum((tiny.encode_docs(tok, [t])[0] for t in tasks.heldout_by_family(1)), [])]
    )
    with torch.no_grad():
        a, b = full(ids).logits, q(ids).logits.float()
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    bar(agree, above=0.7, what="4-bit vs full next-token argmax agreement")  # quantized, yet close


def test_answer_masks_mark_the_answer_and_its_end_of_turn(tok):
    task = tasks.sample_tasks(1, "train", 3)[0]
    (ids,), (mask,) = tiny.encode_docs(tok, [task]), tiny.answer_masks(tok, [task])
    assert (
        len(ids) == len(mask)
        and tok.decode([i for i, m in zip(ids, mask) if m]) == task.answer + "<|im_end|>"
    )
