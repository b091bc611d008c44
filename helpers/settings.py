"""Per-stage settings: everything that differs between the tiny profile and the GPU presets, declared.

A notebook runs the same cells on every profile; what differs (models, data sources, graders, learning
rates, steps, batch sizes, token budgets, output folders) comes from `cfg = settings.stage("14", profile)`.
This is nanoGPT's pattern: one `train.py`, a config per machine. This module only declares each stage's
fields; the values come from two builders with the same names, one per source: `helpers/world/settings.py`
(the tiny profile: the offline world's tasks and graders) and `helpers/hub_settings.py` (the GPU presets:
the hub's models and datasets). `stage` picks one, so a Colab learner's path never opens the world.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import profiles
from helpers.tasks import Task

# Outputs (resumable JSONL checkpoints, adapters): on Colab point COURSE_OUTPUTS at Google Drive and a
# disconnect loses nothing.
OUTPUTS = Path(os.environ.get("COURSE_OUTPUTS", Path(__file__).resolve().parents[1] / "outputs"))


def _variant(profile: profiles.Profile) -> list[str]:
    """What sets a run's files apart: nothing for the full tiny run, "quick", or the preset (and "dryrun")."""
    if profile.is_tiny:
        return ["quick"] if profile.quick else []
    return [profile.name, "dryrun"] if profile.dry_run else [profile.name]


def output_dir(stage: str, profile: profiles.Profile) -> Path:
    """One folder per stage and profile (a dry run never resumes from a real run's files, nor the reverse)."""
    return OUTPUTS / "-".join([stage, *_variant(profile)])


def results_name(stem: str, profile: profiles.Profile) -> str:
    """The results file of a stage: `capstone.json` for the tiny run the README renders, else per variant."""
    return "_".join([stem, *_variant(profile)]) + ".json"


def count(profile: profiles.Profile, full: int, quick: int) -> int:
    """A tiny count (steps, samples, held-out tasks): `quick` under `make test` (COURSE_QUICK=1), which proves
    that every cell runs in minutes; `full` for the figures the committed notebooks show (`make notebooks`)."""
    return quick if profile.quick else full


# ---------------------------------------------------------------- stage 11: speculative decoding
@dataclass(frozen=True)
class Speculative:
    prompts: list[str]  # the prompts every measurement decodes
    other_tokenizer: object  # a tokenizer of another family, for the vocabulary guard's refusal
    max_new_tokens: int
    # "your model" for the draft distillation (tiny: the policy, the target fine-tuned further)
    your_target: str
    distill_prompts: list[str]  # training prompts the target answers for the draft to learn from
    distill_held: list[str]  # held-out prompts alpha is measured on, before and after
    distill_steps: int
    distill_lr: float
    distill_batch: int
    out: Path
    # DistillSpec's on-policy distillation trains every weight of the draft: a smaller rate than LoRA's
    on_policy_lr: float = 5e-5
    on_policy_tokens: int = 64  # tokens the draft samples per prompt in each on-policy step
    law_samples: int = 1500  # speculative samples for the chi-square test of the two-token law
    bench_ks: tuple[int, ...] = (1, 2, 3, 4, 6, 8)  # the draft lengths the benchmark times
    bench_repeats: int = 3  # timed repeats per method (the best is kept)
    batch_repeats: int = 2  # the same, per batch size in the batched benchmark
    # l4, a100: a deeper pair of another family (padded vocabularies)
    second_pair: tuple[str, str] | None = None


# ---------------------------------------------------------------- stage 12a: Self-Instruct
@dataclass(frozen=True)
class SelfInstruct:
    seeds: list[dict]  # the seed tasks (instruction, input, output, is_classification)
    score: object  # score(model, tok) -> {metric: value}: how good the student is
    score_label: str
    # held-out prompts per family behind `score` (the noise bars' n); {} where the score is no accuracy
    heldout: dict
    # the writer's own score where known (tiny: from its build), for the table
    writer_reference: dict
    writer_note: str
    chance_note: str
    family_of: object  # family_of(instruction) -> a label for the funnel ("no grader" on the hub)
    clf_truth: object  # clf_truth(instruction) -> bool | None: is it really a classification task?
    # check_instance(instruction, input, output) -> bool | None: is the output right?
    check_instance: object
    exclude: object  # exclude(text) -> bool: decontamination against the evaluation set
    sampling: dict
    max_list_tokens: int
    rounds: int
    prompts_per_round: int
    list_batch: int
    instance_batch: int
    instance_tokens: int
    shots: int  # worked examples in the classification and instance prompts
    prefill: bool  # start each instance reply with its first label for the writer
    sft_steps: int
    sft_lr: float
    sft_batch: int
    max_length: int
    fresh_start: bool  # the tiny run starts afresh; on Colab the folder is kept, so a rerun resumes
    out: Path
    results: str
    # tiny: the held-out Task objects behind score; None on the presets
    heldout_tasks: list | None = None


# ---------------------------------------------------------------- stage 12b: Constitutional AI
@dataclass(frozen=True)
class Constitutional:
    # requests the chains revise (meta["unsafe"]: harmful or kind), graded where possible
    red_team: list[Task]
    helpful_prompts: list[str]  # kind prompts whose answers join the SFT data (helpfulness kept)
    held: list[Task]  # held-out harmful and kind requests
    # labelled pairs to measure the feedback model on
    feedback_test: tuple[list, list, list, list[int]]
    truth: str  # where those labels come from
    is_refusal: object  # the refusal detector for this model family
    example_question: str
    shots: int  # worked examples in context (the tiny model's window is 512 tokens)
    max_new_tokens: int
    rounds: int
    # generation: four times the training batch on the presets (no gradients to hold)
    batch_size: int
    train_batch: int
    sft_steps: int
    sft_lr: float
    dpo_steps: int
    dpo_lr: float
    pref_margin: float
    out: Path
    results: str
    # tokens per training row (prompt + answer); the presets' answers run to 256+ tokens
    max_length: int = 256
    # tiny: the per-round rates its critic was built with (curve -> rate)
    planted: dict | None = None
    # RL-CAI: pairs sampled per prompt (each judged; repeated pairs dropped before DPO)
    pair_draws: int = 1
    # section 6's second, weaker judge: a profile role ("helpful": the model judging its own revisions)
    weak_feedback: str = "helpful"


# ---------------------------------------------------------------- stage 12c: RLAIF
@dataclass(frozen=True)
class Rlaif:
    truth: str  # where the judge's test labels come from
    # tiny: held-out requests the world grades; presets: none (their prompts have no grader)
    held: list[Task]
    # presets: human-labelled (question, preferred, other) triples
    hh_test: list[tuple[str, str, str]]
    train_tasks: list[Task]  # prompts for the judged DPO pairs (graded where a grader exists)
    eval_prompts: list[str]  # prompts of the win rate against the policy before DPO
    evaluator_template: str
    dpo_steps: int
    dpo_lr: float
    batch_size: int
    max_new_tokens: int
    pref_margin: float  # the "confident" labels: P(first better) at least this far from 0.5
    out: Path
    results: str
    max_length: int = 256  # tokens per training row (prompt + answer)
    # section 5's judge that writes its verdict in a sentence: tiny, the real SmolLM2-135M-Instruct
    # (its judge was trained to write one letter); None on the presets: their instruct judge itself
    writing_judge: Callable[[], tuple] | None = None

    def sentence_judge(self, judge_model, judge_tok) -> tuple:
        """(model, tokenizer) that is asked to write its verdict in a sentence."""
        return self.writing_judge() if self.writing_judge else (judge_model, judge_tok)

    def judge_test(self, policy, tok) -> tuple[list, list, list, list[int]]:
        """(questions, first answers, second answers, truth) to measure the judge on."""
        from helpers import rlaif

        return (
            rlaif.graded_pairs(policy, tok, self.held)
            if self.held
            else rlaif.human_labelled(self.hh_test)
        )


# ---------------------------------------------------------------- stage 13: a LLaVA-style VLM
@dataclass(frozen=True)
class Vlm:
    n_train: int  # training examples per task, and held-out examples per kind (captions, questions)
    n_held: int
    # stage0 (the tiny LM learning to read its image slots; 0 = none), blind, stage1, stage2
    steps: dict[str, int]
    projector_lr: float  # stage 1 (and the blind control)
    lora_lr: float  # stage 2
    stage2_projector_lr: float
    out: Path  # each training run's checkpoint (a rerun resumes it)
    stage2_mix: tuple[str, ...]  # the tasks stage 2 draws from, a task repeated to weight it
    # (caption set, VQA set) on the hub; None: the drawn shapes
    photographs: tuple[str, str] | None = None
    autocast: object = None  # a torch dtype: fp32 weights, products in fp16 (T4) or bf16 (L4, A100)
    max_new_tokens: int = 16  # per generated caption or answer
    batch: int = 16
    results: str = "llava.json"
    # the rate over a run: "cosine" is LLaVA-1.5's (3 % warmup, then cosine decay)
    schedule: str = "constant"
    image_side: int = 224  # photographs shrink to the vision tower's input side as they load


# ---------------------------------------------------------------- stage 14: the capstone
CAPSTONE_DRAFT_DEPTH = 0.25  # stage 14's self-draft keeps this share of the policy's layers


@dataclass(frozen=True)
class Capstone:
    title: str  # the chat demo's title and the model card's name
    limits: str  # the model card's "domain" limit
    held: list[Task]  # held-out questions with references and graders
    seed_tasks: list[Task]  # the written domain data (SFT)
    # general prompts whose sampled answers are replayed in SFT (none on the presets)
    general: list[str]
    unlabeled: list[Task]  # questions for self-training; their references only audit what was kept
    # prompts of the preference pairs (DPO): graded by reference where a family has one
    pref_tasks: list[Task]
    pref_margin: float  # keep a pair when the judge's P(first better) is this far from 0.5
    # win-rate subgroups by task family ("all" covers every family)
    groups: dict[str, tuple[str, ...]]
    headline_group: str  # the subgroup the card reports
    evaluator_template: str
    # the model the capstone trains (COURSE_POLICY overrides it); `profiles.resolve_model` loads it
    policy: str
    max_new_tokens: int
    sft_steps: int
    sft_lr: float
    dpo_steps: int
    dpo_lr: float
    batch_size: int
    serve_4bit: bool  # also measure the merged model reloaded in 4-bit (bitsandbytes needs a GPU)
    out: Path = field(default=OUTPUTS / "14")
    results: str = "capstone.json"
    # tokens per training row (a gsm8k question + worked answer often passes 256)
    max_length: int = 256
    # the serving draft: this share of the merged model's first layers
    draft_depth: float = CAPSTONE_DRAFT_DEPTH
    # the serving draft, distilled on the merged model's answers (stage 11's recipe)
    distill_steps: int = 100
    distill_lr: float = 2e-4
    # DistillSpec's on-policy distillation of the same draft (every weight)
    on_policy_lr: float = 5e-5
    on_policy_tokens: int = 64  # tokens the draft samples per prompt in each on-policy step
    feedback_steps: int = 100  # the DPO round on the users' feedback (section 11)
    load_max_tokens: int = 128  # reply tokens per load-test request
    # the speculative and speed checks run one request at a time on every n-th held-out question
    serve_every: int = 4
    # the deployment (section 8): the engine behind the gateway, `vllm` where it can run
    serve_engine: str = "transformers"
    # the A/B test plans its sample size to detect this gain in thumbs-up rate (alpha 0.05, power 0.8)
    ab_min_effect: float = 0.2
    # the load test: concurrent clients per run, requests per run, and each run's time limit
    load_concurrency: tuple[int, ...] = (1, 4)
    load_requests: int = 24
    load_time_limit_s: float = 120
    # at most this many A/B sessions per arm (the dry run's budget; a real run takes the planned size)
    ab_sessions_cap: int = 100_000
    ab_concurrency: int = (
        4  # simulated users in flight at once (an engine that batches serves them together)
    )

    @property
    def pref_prompts(self) -> list[str]:
        return [t.prompt for t in self.pref_tasks]


# Stage 14's policy per preset. Its serving draft is the policy's own first quarter of layers under its head


def in_group(task: Task, families: tuple[str, ...]) -> bool:
    """Whether a task belongs to a win-rate subgroup (an empty family list is everything)."""
    return not families or task.family in families


STAGES = {  # stage -> the builder's name in both settings modules
    "11": "speculative",
    "12a": "self_instruct",
    "12b": "constitutional",
    "12c": "rlaif_stage",
    "13": "vlm",
    "14": "capstone",
}


def _builders(profile: profiles.Profile):
    """The tiny world's settings module, or the hub's: imported here, so each opens only on its profile."""
    return importlib.import_module(
        "helpers.world.settings" if profile.is_tiny else "helpers.hub_settings"
    )


def stage(name: str, profile: profiles.Profile):
    """The settings of one stage ("11", "12a", ..., "14") for this profile."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages are {sorted(STAGES)}")
    return getattr(_builders(profile), STAGES[name])(profile)


def vlm_model(profile: profiles.Profile):
    """(tokenizer, processor, model) of stage 13, from the profile's source (see `vlm_model` there)."""
    return _builders(profile).vlm_model(profile)


def world_refusal() -> tuple[Callable[[str], bool], Callable[[str, str], str]]:
    """The tiny world's refusal test and refusal text (is_refusal, refuse(verb, thing)): stage 14's
    refusal fix rewrites the harmful requests only the tiny world has (GSM8K has none)."""
    from helpers.world.safety import is_refusal, refuse

    return is_refusal, refuse


def world_matched_rows(mix, seed: int = 0) -> list[dict]:
    """Stage 12a's matched control: right rows from the tiny world's task makers
    (`helpers.world.self_instruct.matched_rows`)."""
    from helpers.world import self_instruct as tsi

    return tsi.matched_rows(mix, seed)
