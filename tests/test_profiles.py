from pathlib import Path

import pytest
import torch

from helpers import profiles


def test_no_gpu_gives_tiny():
    p = profiles.choose_profile(env={}, cuda_available=False)
    assert p.name == "tiny" and p.device == "cpu" and p.dtype == torch.float32
    assert p.model("target") == "tiny:target"


def test_env_override_forces_tiny_even_with_a_gpu():
    p = profiles.choose_profile(
        env={"COURSE_PROFILE": "tiny"}, cuda_available=True, capability=(8, 0), mem_gb=80
    )
    assert p.name == "tiny"


def test_t4_capability_gives_fp16_not_bf16():
    p = profiles.choose_profile(
        env={}, cuda_available=True, capability=(7, 5), mem_gb=15.0, gpu_name="Tesla T4"
    )
    assert (p.name, p.dtype, p.load_in_4bit) == ("t4", torch.float16, True)
    assert profiles.trainer_precision_kwargs(p) == dict(
        use_cpu=False,
        bf16=False,
        fp16=True,
        gradient_checkpointing=True,
        logging_nan_inf_filter=False,
    )


def test_ampere_and_memory_choose_l4_or_a100_in_bf16():
    l4 = profiles.choose_profile(env={}, cuda_available=True, capability=(8, 9), mem_gb=22.5)
    a100 = profiles.choose_profile(env={}, cuda_available=True, capability=(8, 0), mem_gb=79.2)
    assert (l4.name, l4.dtype) == ("l4", torch.bfloat16)
    assert (a100.name, a100.dtype) == ("a100", torch.bfloat16)


def test_forcing_a_bf16_preset_on_a_t4_still_uses_fp16():
    p = profiles.choose_profile(
        env={"COURSE_PROFILE": "a100"}, cuda_available=True, capability=(7, 5), mem_gb=15
    )
    assert p.name == "a100" and p.dtype == torch.float16


def test_bad_profile_name_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="COURSE_PROFILE='h100'"):
        profiles.choose_profile(env={"COURSE_PROFILE": "h100"}, cuda_available=True)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        profiles.choose_profile(env={"COURSE_PROFILE": "t4"}, cuda_available=False)


def test_cpu_trainer_arguments_avoid_trl_bf16_defaults():
    p = profiles.choose_profile(env={}, cuda_available=False)
    assert profiles.trainer_precision_kwargs(p) == dict(
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        logging_nan_inf_filter=False,
    )


def test_own_checkpoint_overrides_a_role(monkeypatch):
    p = profiles.choose_profile(env={}, cuda_available=True, capability=(7, 5), mem_gb=15)
    monkeypatch.setenv("COURSE_TARGET", "./dpo_final")
    assert p.model("target") == "./dpo_final"


def test_every_preset_names_every_role():
    for name, preset in profiles.GPU_PRESETS.items():
        assert set(preset["models"]) == set(profiles.ROLES), name


@pytest.mark.world  # the tiny profile's summary names its tokenizer
def test_setup_prints_summary_and_uses_one_thread(capsys):
    p = profiles.setup(seed=3)
    out = capsys.readouterr().out
    assert p.is_tiny and "profile : tiny" in out and "transformers" in out
    assert torch.get_num_threads() == 1
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


# Counts a quick run keeps at their full values, per stage: prompts and rounds too few to be worth cutting.
KEPT_IN_QUICK = {
    "11": {"prompts", "distill_held", "max_new_tokens", "distill_batch"},
    "12a": {
        "max_list_tokens",
        "list_batch",
        "instance_batch",
        "instance_tokens",
        "shots",
        "sft_batch",
        "max_length",
        "writer_reference",
        "sampling",
    },
    "12b": {
        "example_question",
        "shots",
        "max_new_tokens",
        "rounds",
        "batch_size",
        "train_batch",
        "max_length",
        "planted",
    },
    "12c": {"batch_size", "max_new_tokens", "max_length", "hh_test"},
    "13": {"max_new_tokens", "batch", "image_side", "stage2_mix"},
    "14": {
        "max_new_tokens",
        "batch_size",
        "max_length",
        "serve_every",
        "groups",
        "title",
        "limits",
        "policy",
        "draft",
        "load_concurrency",  # the concurrency levels the load test compares
        "ab_sessions_cap",  # a cap, not a count (the dry run's)
        "ab_concurrency",
        "load_time_limit_s",  # a limit, not a count
    },
}


def _size(value) -> int | None:
    """An int as is, a collection by its length (a dict of ints, or a tuple of lists, by the sum); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict) and value and all(isinstance(v, int) for v in value.values()):
        return sum(value.values())
    if isinstance(value, tuple) and value and all(isinstance(v, list) for v in value):
        # columns, like a labelled test set (questions, answers, truth)
        return sum(len(v) for v in value)
    return len(value) if isinstance(value, list | tuple | dict) else None


def test_quick_tiny_cuts_every_count_and_keeps_its_files_apart(world):
    """`make test`'s notebooks (COURSE_QUICK=1) run the same stages with smaller counts, into their own output
    folders and results files, so a quick run's figures are never read as the full tiny run's. Every count is
    cut, but for the ones listed as kept."""
    import dataclasses

    from helpers import settings

    full = profiles.choose_profile(env={"COURSE_PROFILE": "tiny"}, cuda_available=False)
    quick = profiles.choose_profile(
        env={"COURSE_PROFILE": "tiny", "COURSE_QUICK": "1"}, cuda_available=False
    )
    assert quick.quick and not full.quick and quick.models == full.models
    dry = profiles.choose_profile(
        env={"COURSE_PROFILE": "t4", "COURSE_DRY_RUN": "1", "COURSE_QUICK": "1"},
        cuda_available=False,
    )
    assert not dry.quick  # the presets' dry run has its own cut budgets
    for name in settings.STAGES:
        a, b = settings.stage(name, full), settings.stage(name, quick)
        assert a.out != b.out and a.out.name == name and b.out.name == f"{name}-quick"
        if hasattr(a, "results"):
            assert b.results == a.results.replace(".json", "_quick.json")
        for f in dataclasses.fields(a):
            big, small = _size(getattr(a, f.name)), _size(getattr(b, f.name))
            if big is None or f.name in KEPT_IN_QUICK[name]:
                continue
            assert small < big or big == 0, (name, f.name, big, small)


def test_stage_modules_never_import_the_world():
    """What a learner reads stands alone: no module in helpers/ imports helpers.world, except the two doors
    (profiles.resolve for a tiny model and its summary's world line, settings' tiny builders), and those only
    inside a function."""
    import ast
    from pathlib import Path

    doors = {"profiles.py", "settings.py"}
    for path in sorted((Path(__file__).resolve().parents[1] / "helpers").glob("*.py")):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            if any(n == "helpers.world" or n.startswith("helpers.world.") for n in names):
                assert path.name in doors, f"{path.name}:{node.lineno} imports the offline world"
                assert id(node) not in top_level, (
                    f"{path.name}:{node.lineno} imports the world at module level"
                )


def test_a_dry_run_loads_in_4_bit_only_where_asked_and_its_preset_does():
    """`make presets` runs one notebook with its preset's 4-bit loading on the CPU (QLoRA in CI)."""
    from helpers.tools import presets

    def dry(name: str, four_bit: str) -> profiles.Profile:
        env = {"COURSE_PROFILE": name, "COURSE_DRY_RUN": "1", "COURSE_DRY_RUN_4BIT": four_bit}
        return profiles.choose_profile(env=env, cuda_available=False)

    assert [
        dry("t4", "1").load_in_4bit,
        dry("t4", "0").load_in_4bit,
        dry("a100", "1").load_in_4bit,
    ] == [True, False, False]
    assert dry("t4", "1").dtype == torch.float32  # a CPU computes in fp32
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    for spec in presets.FOUR_BIT_RUNS:
        assert profiles.GPU_PRESETS[spec.split(":")[0]]["load_in_4bit"], spec
        assert spec in makefile.split("PRESET_RUNS ?=")[1].split("\npresets:")[0], (
            f"make presets does not run {spec}"
        )
