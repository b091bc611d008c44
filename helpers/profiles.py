"""Profile selection: which models, dtype and budgets a notebook uses on this machine.

One place decides between the offline **tiny** profile (CPU, models built from the tiny world) and the
GPU presets (hub models sized per card). Every notebook calls `setup()` in its first cells.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

# Roles the stages ask for. Tiny profile: "tiny:<name>" names a model of the offline world (helpers.world).
ROLES = (
    "target",
    "draft",
    "policy",
    "judge",
    "evaluator",
    "generator",
    "student",
    "helpful",
    "feedback",
    "vision_encoder",
    "vlm_lm",
)


@dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about the machine it runs on."""

    name: str
    device: str
    dtype: torch.dtype
    load_in_4bit: bool
    models: dict[str, str]
    budgets: dict[str, int]
    gpu_name: str = ""
    gpu_mem_gb: float = 0.0
    notes: str = ""
    # a GPU preset's code path on a CPU against the stand-in hub (make presets)
    dry_run: bool = False
    # tiny, counts cut (COURSE_QUICK=1, make test): proves the cells run, not the figures
    quick: bool = False

    @property
    def is_tiny(self) -> bool:
        return self.name == "tiny"

    @property
    def judge_dtype(self) -> torch.dtype:
        """The dtype of models that judge or write but are not trained (judge, evaluator, feedback, generator):
        fp32 where the preset runs fp16 (a T4), because Qwen2.5 is known to overflow to inf/NaN in fp16."""
        return torch.float32 if self.dtype == torch.float16 else self.dtype

    def model(self, role: str) -> str:
        """Model path or hub id for a role; `COURSE_<ROLE>` overrides it (e.g. your own ./dpo_final)."""
        if role not in ROLES:
            raise KeyError(f"unknown role {role!r}; roles are {ROLES}")
        return os.environ.get(f"COURSE_{role.upper()}", self.models[role])

    def resolve(self, role: str) -> str:
        """What `from_pretrained` loads for a role: a hub id or local path as is; a tiny-world name
        ("tiny:target") as its folder, built on first use (a door into the world; `settings`' tiny builders
        are the other); a LoRA adapter folder (your phase-3 run) merged into its base."""
        return resolve_model(self.model(role), role)


def resolve_model(name: str, role: str = "model") -> str:
    """A hub id or model folder as is; a tiny-world name ("tiny:target") as its folder, built on first use;
    a LoRA adapter folder as its base with the adapter merged in (`helpers.adapters`)."""
    from helpers import adapters

    if name.startswith("tiny:"):
        from helpers import world

        return world.resolve(name)
    adapters.check_folder(name, role)
    if adapters.is_adapter_folder(name):
        return adapters.merged_folder(name, resolve=resolve_model)
    return name


# the target trained further on stage 12a's prompts (helpers.world.self_instruct)
# answers, critiques its answers and revises them (helpers.world.cai, 12b)
TINY_MODELS = {
    "target": "tiny:target",
    "draft": "tiny:draft",
    "policy": "tiny:policy",  # helpful but inconsistent on harmful requests (helpers.world.safety)
    "judge": "tiny:judge",  # the target trained to compare two answers (helpers.world.judges)
    "evaluator": "tiny:evaluator",  # a second judge, for win rates
    "generator": "tiny:generator",
    "student": "tiny:draft",
    "helpful": "tiny:helpful",
    "feedback": "tiny:feedback",  # compares two answers under a principle's question (12b)
    "vision_encoder": "tiny:clip",  # built from a config in stage 13 (no pretrained tiny CLIP)
    "vlm_lm": "tiny:target",
}
TINY_BUDGETS = {"train_steps": 60, "samples": 64, "max_new_tokens": 48, "batch_size": 16}

# GPU presets. Same-tokenizer target/draft pairs (stage 11); learners swap in their own checkpoint
# with COURSE_TARGET=./dpo_final (a TinyLlama fine-tune pairs with the TinyLlama-tokenizer draft below).
# a different family from the judge, for win rates
_T4_MODELS = {
    "target": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "draft": "Felladrin/Llama-68M-Chat-v1",
    "policy": "HuggingFaceTB/SmolLM2-360M-Instruct",
    "judge": "Qwen/Qwen2.5-1.5B-Instruct",
    "evaluator": "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "generator": "Qwen/Qwen2.5-1.5B-Instruct",  # writes Self-Instruct data (12a)
    "student": "Qwen/Qwen2.5-0.5B",  # a base model (not -Instruct) that 12a instruction-tunes
    "helpful": "HuggingFaceTB/SmolLM2-360M-Instruct",  # 12b: critiques and revises its own answers
    "feedback": "Qwen/Qwen2.5-1.5B-Instruct",  # 12b: the RL-CAI feedback model
    "vision_encoder": "openai/clip-vit-base-patch16",
    "vlm_lm": "HuggingFaceTB/SmolLM2-135M-Instruct",
}
# Stage 11's pair is TinyLlama-1.1B (22 layers) with a 2-layer Llama draft on every preset: at batch 1 a GPU step
# is bound by kernel launches, so a draft pays only if it is shallow (a 24-layer Qwen2.5-0.5B costs ~0.8 of a
# 7B step, gpu_check.json). The l4 and a100 notebooks add a Qwen2.5 pair as a second example (settings).
_L4_MODELS = {
    **_T4_MODELS,
    "policy": "Qwen/Qwen2.5-0.5B-Instruct",
    "judge": "Qwen/Qwen2.5-3B-Instruct",
    "evaluator": "microsoft/Phi-3.5-mini-instruct",
    "generator": "Qwen/Qwen2.5-3B-Instruct",
    "helpful": "Qwen/Qwen2.5-0.5B-Instruct",
    "feedback": "Qwen/Qwen2.5-3B-Instruct",
}
_A100_MODELS = {
    **_L4_MODELS,
    "policy": "Qwen/Qwen2.5-1.5B-Instruct",
    "judge": "Qwen/Qwen2.5-7B-Instruct",
    "generator": "Qwen/Qwen2.5-7B-Instruct",
    "student": "Qwen/Qwen2.5-1.5B",
    "helpful": "Qwen/Qwen2.5-1.5B-Instruct",
    "feedback": "Qwen/Qwen2.5-7B-Instruct",
    "vlm_lm": "HuggingFaceTB/SmolLM2-360M-Instruct",
}
GPU_PRESETS: dict[str, dict] = {
    "t4": dict(
        dtype=torch.float16,
        load_in_4bit=True,
        models=_T4_MODELS,
        budgets={"train_steps": 200, "samples": 256, "max_new_tokens": 256, "batch_size": 4},
        notes="T4 (sm_75): fp16 only; 4-bit QLoRA for training the policy.",
    ),
    "l4": dict(
        dtype=torch.bfloat16,
        load_in_4bit=True,
        models=_L4_MODELS,
        budgets={"train_steps": 300, "samples": 512, "max_new_tokens": 256, "batch_size": 8},
        notes="L4 24 GB (sm_89): bf16; 4-bit QLoRA where it must fit.",
    ),
    "a100": dict(
        dtype=torch.bfloat16,
        load_in_4bit=False,
        models=_A100_MODELS,
        budgets={"train_steps": 500, "samples": 1024, "max_new_tokens": 384, "batch_size": 16},
        notes="A100 40/80 GB (sm_80): bf16, no quantization needed.",
    ),
}


# `COURSE_DRY_RUN=1`: a preset's models, data, prompts and pairings on a CPU, in fp32 (the dtype a CPU
# trains in), with budgets cut to a few steps and samples: `make presets` proves the learner's cells in CI.
DRY_RUN_BUDGETS = {"train_steps": 2, "samples": 4, "max_new_tokens": 12, "batch_size": 2}


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_GPU" in os.environ


def pick_preset(capability: tuple[int, int], mem_gb: float) -> str:
    """GPU preset from compute capability and memory. bf16 needs capability >= 8.0: on a T4
    `torch.cuda.is_bf16_supported()` says True through slow emulation, so it is not asked."""
    if capability < (8, 0):
        return "t4"
    return "a100" if mem_gb >= 35 else "l4"


def choose_profile(
    env: dict[str, str] | None = None,
    cuda_available: bool | None = None,
    capability: tuple[int, int] | None = None,
    mem_gb: float | None = None,
    gpu_name: str = "",
) -> Profile:
    """Pure decision (testable without a GPU): `COURSE_PROFILE` wins, else no GPU -> tiny, else by card."""
    env = os.environ if env is None else env
    forced = env.get("COURSE_PROFILE", "").strip().lower()
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if forced and forced != "tiny" and forced not in GPU_PRESETS:
        raise ValueError(f"COURSE_PROFILE={forced!r}: choose tiny or one of {sorted(GPU_PRESETS)}")
    if forced == "tiny" or (not forced and not cuda_available):
        quick = env.get("COURSE_QUICK", "") == "1"
        notes = (
            "quick: steps and sample counts cut (make test); the figures are `make notebooks`'"
            if quick
            else ""
        )
        return Profile(
            "tiny",
            "cpu",
            torch.float32,
            False,
            dict(TINY_MODELS),
            dict(TINY_BUDGETS),
            notes=notes,
            quick=quick,
        )
    if env.get("COURSE_DRY_RUN", "") == "1" and not cuda_available:
        preset = GPU_PRESETS[forced]
        # COURSE_DRY_RUN_4BIT=1: the preset's 4-bit loading too (bitsandbytes runs NF4 layers on a CPU), so that
        # QLoRA's load path and training run in CI (`make presets` does it for one notebook)
        four_bit = preset["load_in_4bit"] and env.get("COURSE_DRY_RUN_4BIT", "") == "1"
        notes = (
            f"dry run of the {forced} preset on a CPU (fp32, {'4-bit as the preset' if four_bit else 'no 4-bit'}, "
            "budgets cut); the stand-in hub's models"
        )
        return Profile(
            forced,
            "cpu",
            torch.float32,
            four_bit,
            dict(preset["models"]),
            dict(DRY_RUN_BUDGETS),
            notes=notes,
            dry_run=True,
        )
    if not cuda_available:
        raise RuntimeError(f"COURSE_PROFILE={forced} needs a CUDA GPU; none is visible")
    if capability is None:
        capability = torch.cuda.get_device_capability(0)
        props = torch.cuda.get_device_properties(0)
        mem_gb, gpu_name = props.total_memory / 2**30, props.name
    name = forced or pick_preset(capability, mem_gb or 0.0)
    preset = GPU_PRESETS[name]
    dtype = preset["dtype"] if capability >= (8, 0) else torch.float16
    # on a GPU: the preset's real precision rules, budgets cut
    dry = env.get("COURSE_DRY_RUN", "") == "1"
    return Profile(
        name,
        "cuda",
        dtype,
        preset["load_in_4bit"],
        dict(preset["models"]),
        dict(DRY_RUN_BUDGETS if dry else preset["budgets"]),
        gpu_name=gpu_name,
        gpu_mem_gb=round(mem_gb or 0.0, 1),
        notes=preset["notes"] + (" Dry run: budgets cut." if dry else ""),
        dry_run=dry,
    )


def results_dir() -> Path:
    """Where notebooks write their measured figures: `COURSE_RESULTS` if set (`make test` points it at a
    scratch folder, so tests never touch tracked files), else the repository's `data/results/`, which the
    README's results table is rendered from (`make notebooks`)."""
    folder = Path(
        os.environ.get("COURSE_RESULTS", Path(__file__).resolve().parents[1] / "data" / "results")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def go_offline() -> None:
    """Tiny profile: nothing may touch the hub (CI has no network, and the tiny world needs none)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def quiet_progress_bars() -> None:
    """Tiny profile: loops take seconds, so no progress bars, weight-loading bars or library deprecation
    chatter in the rendered notebooks (the GPU presets keep them)."""
    import warnings

    # before transformers imports tqdm
    warnings.filterwarnings("ignore", message="IProgress not found")
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ["COURSE_PROGRESS"] = "0"
    from datasets.utils.logging import disable_progress_bar as datasets_quiet
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    datasets_quiet()  # "Tokenizing train dataset" bars of TRL's preprocessing


def show_progress() -> bool:
    """Whether long loops draw a progress bar (off in the tiny profile, see `quiet_progress_bars`)."""
    return os.environ.get("COURSE_PROGRESS", "1") != "0"


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and torch's generators (every GPU's too): `transformers.set_seed`."""
    from transformers import set_seed

    set_seed(seed)


def package_versions() -> dict[str, str]:
    names = ("torch", "transformers", "trl", "peft", "datasets", "bitsandbytes", "accelerate")
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "-"
    return out


# the roles each notebook loads (its summary names only these)
STAGE_ROLES = {
    "11": ("target", "draft"),
    "11b": ("target", "draft"),
    "12a": ("generator", "student", "target"),
    "12b": ("helpful", "feedback", "judge"),
    "12c": ("policy", "judge", "evaluator"),
    "13": ("vision_encoder", "vlm_lm"),
}


def setup(seed: int = 0, verbose: bool = True, stage: str | None = None) -> Profile:
    """Choose the profile, seed everything, set threads / offline mode, and print a summary (of `stage`'s
    roles, or of every role)."""
    import logging

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # silence its CPU-kernel probe
    profile = choose_profile()
    if profile.device == "cpu":
        go_offline()
        quiet_progress_bars()
        # Measured on a shared 2-core machine: 2 threads made tiny-model steps 10-40x slower.
        torch.set_num_threads(1)
    seed_everything(seed)
    if verbose:
        print(summary(profile, STAGE_ROLES.get(stage, ROLES)))
    return profile


def summary(profile: Profile, roles: tuple[str, ...] = ROLES) -> str:
    dtype = str(profile.dtype).replace("torch.", "")
    lines = [
        f"profile : {profile.name}"
        + (" (offline, CPU, 1 thread)" if profile.device == "cpu" else ""),
        f"device  : {profile.device}"
        + (f" - {profile.gpu_name}, {profile.gpu_mem_gb} GB" if profile.gpu_name else ""),
        f"dtype   : {dtype}" + ("  + 4-bit loading" if profile.load_in_4bit else ""),
        "models  : " + ", ".join(f"{r}={profile.model(r)}" for r in roles),
        "versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
    ]
    if profile.name == "tiny":
        from helpers.world import fingerprint

        lines.append(f"world   : {fingerprint()}")
    if profile.notes:
        lines.append(f"notes   : {profile.notes}")
    return "\n".join(lines)


def trainer_precision_kwargs(profile: Profile) -> dict:
    """Precision arguments for TRL/transformers TrainingArguments. TRL 1.x defaults to bf16=True and
    gradient checkpointing, which crash on a T4 (no bf16) and on a CPU without use_cpu=True."""
    # logging_nan_inf_filter=False: an inf/NaN loss is logged as it is (transformers would log the mean of the
    # finite ones instead), so `training.FiniteLoss` can stop a run that overflows in fp16
    if profile.device == "cpu":
        return dict(
            use_cpu=True,
            bf16=False,
            fp16=False,
            gradient_checkpointing=False,
            logging_nan_inf_filter=False,
        )
    bf16 = profile.dtype == torch.bfloat16
    return dict(
        use_cpu=False,
        bf16=bf16,
        fp16=not bf16,
        gradient_checkpointing=True,
        logging_nan_inf_filter=False,
    )
