"""Per-stage settings: everything that differs between the tiny profile and the GPU presets, side by side.

A notebook runs the same cells on every profile; what differs (models, data sources, graders, learning
rates, steps, batch sizes, token budgets, output folders) comes from `cfg = settings.stage("14", profile)`.
This is nanoGPT's pattern: one `train.py`, a config per machine. The tiny world and the hub are two
sources behind one interface: `Task`s with a prompt, a reference answer where one is known and a grade
function where one exists. The tiny builders import `helpers.world` lazily: with `profile.resolve`, the world's only doors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers import profiles, tasks
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


def _margin(profile: profiles.Profile, margin: float) -> float:
    """A judge's confidence margin; 0 in a dry run, whose randomly initialised judge is never confident."""
    return 0.0 if profile.dry_run else margin


def _q(profile: profiles.Profile, full: int, quick: int) -> int:
    """A tiny count (steps, samples, held-out tasks): `quick` under `make test` (COURSE_QUICK=1), which proves
    that every cell runs in minutes; `full` for the figures the committed notebooks show (`make notebooks`)."""
    return quick if profile.quick else full


# Budgets cut on a T4 so that each notebook stays within an hour by the run-time estimate (`helpers.runtime`,
# `python -m helpers.tools.runtime`: its fp32 writer and feedback model read twice the bytes). Each notebook's
# run-time line says what was cut.
T4_CUTS = {
    "12a": (2, "2 rounds of task generation, not 4"),
    "12b": (128, "128 red-team requests, not 256"),
}


def _t4(profile: profiles.Profile, stage: str, full: int) -> int:
    """`full`, or the T4's cut of it (`T4_CUTS`)."""
    return T4_CUTS[stage][0] if profile.name == "t4" and stage in T4_CUTS else full


def _n(profile: profiles.Profile, full: int) -> int:
    """A preset's sample count, cut to the dry run's budget."""
    return min(full, profile.budgets["samples"]) if profile.dry_run else full


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


GPU_PROMPTS = [
    "Explain in two sentences why the sky is blue.",
    "Write a short poem about a lighthouse.",
    "List three uses of a paperclip.",
    "What is the capital of France? Answer in one sentence.",
    "Describe how a bicycle works.",
    "Give me a recipe for pancakes.",
]


# Qwen2.5-7B pads its embedding matrix to 152,064 rows, the 0.5B to 151,936: one tokenizer, sliced by the guard.
SECOND_PAIRS = {
    "l4": ("Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
    "a100": ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"),
}


def speculative(profile: profiles.Profile) -> Speculative:
    out = output_dir("11", profile)
    if profile.is_tiny:
        from helpers.world import families, safety, tiny

        other = tiny.build_tokenizer(
            ["a tokenizer trained on quite different text, like GPT-2's"] * 50, 400
        )
        prompts = [t.prompt for t in families.heldout_by_family(1)]
        mix = families.sample_tasks(
            _q(profile, 400, 40), "train", 51, weighted=False
        ) + families.sample_tasks(_q(profile, 200, 20), "train", 52, safety.SAFETY)
        # enough held-out prompts for an interval on alpha (the two distillations are compared on them)
        held = families.heldout_by_family(6) + families.heldout_by_family(
            12, families=safety.SAFETY
        )
        return Speculative(
            prompts,
            other,
            profile.budgets["max_new_tokens"],
            your_target=profile.model("policy"),
            distill_prompts=[t.prompt for t in mix],
            distill_held=[t.prompt for t in held],
            distill_steps=_q(profile, 150, 6),
            distill_lr=2e-3,
            distill_batch=16,
            out=out,
            on_policy_lr=1e-3,
            on_policy_tokens=_q(profile, profile.budgets["max_new_tokens"], 16),
            law_samples=_q(profile, 1500, 200),
            bench_ks=(1, 4) if profile.quick else Speculative.bench_ks,
            bench_repeats=_q(profile, 3, 1),
            batch_repeats=_q(profile, 2, 1),
        )
    from transformers import AutoTokenizer

    from helpers.hub import load_dataset

    prompts = GPU_PROMPTS[: 2 if profile.dry_run else None]
    other = AutoTokenizer.from_pretrained(
        os.environ.get("COURSE_OTHER_TOKENIZER", "openai-community/gpt2")
    )
    # 128 new tokens time a pair as well as 256 do, in half the time (a 36-layer target's step is ~22 ms, README)
    new, b = min(128, profile.budgets["max_new_tokens"]), profile.budgets
    dolly = load_dataset("databricks/databricks-dolly-15k", split=f"train[:{_n(profile, 512)}]")
    return Speculative(
        prompts,
        other,
        new,
        your_target=profile.model("target"),
        distill_prompts=[
            r["instruction"] + (f"\n\n{r['context']}" if r["context"] else "") for r in dolly
        ],
        distill_held=prompts,
        distill_steps=b["train_steps"],
        distill_lr=2e-4,
        distill_batch=b["batch_size"],
        out=out,
        law_samples=100 if profile.dry_run else 1500,
        second_pair=SECOND_PAIRS.get(profile.name),
    )


# ---------------------------------------------------------------- stage 12a: Self-Instruct
@dataclass(frozen=True)
class SelfInstruct:
    seeds: list[dict]  # the seed tasks (instruction, input, output, is_classification)
    score: object  # score(model, tok) -> {metric: value}: how good the student is
    score_label: str
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


def self_instruct(profile: profiles.Profile) -> SelfInstruct:
    import json

    from helpers import self_instruct as si

    out, results = output_dir("12a", profile), results_name("self_instruct", profile)
    if profile.is_tiny:
        from helpers.world import families
        from helpers.world import self_instruct as tsi

        eval_tasks = families.heldout_by_family(_q(profile, 40, 4), families=tsi.EVAL_FAMILIES)
        info = json.loads((Path(profile.resolve("generator")) / "info.json").read_text())
        note = (
            f"built in {info['train_s']} s; its held-out accuracy per family (the world's grader):\n  "
            + ", ".join(f"{k} {v:.2f}" for k, v in info["heldout"].items())
        )

        def family_of(text: str) -> str:
            task = tsi.core_task(text)
            return (
                task.family
                if task
                else ("classification" if tsi.is_classification(text) else "not a valid task")
            )

        return SelfInstruct(
            tsi.tiny_seed_tasks(_q(profile, 120, 24)),
            lambda model, tok: tasks.accuracy(model, tok, eval_tasks),
            "held-out accuracy",
            info["heldout"],
            note,
            "chance on parity (odd/even) and owns (yes/no): 0.5 for a model that knows the answer format",
            family_of,
            tsi.is_classification,
            tsi.check_instance,
            families.is_heldout,
            dict(do_sample=True, temperature=1.0, top_p=0.95),
            max_list_tokens=200,
            rounds=_q(profile, 12, 2),
            prompts_per_round=_q(profile, 32, 8),
            list_batch=32,
            instance_batch=64,
            instance_tokens=96,
            shots=0,
            prefill=False,
            sft_steps=_q(profile, 100, 6),
            sft_lr=5e-3,
            sft_batch=16,
            max_length=256,
            fresh_start=True,
            out=out,
            results=results,
        )
    written = si.load_seed_tasks(Path(__file__).resolve().parents[1] / "data" / "seed_tasks.jsonl")
    seeds, eval_rows = written[:-20], written[-20:]
    # 175 dolly-15k tasks as seeds instead (the paper had 175)
    if os.environ.get("COURSE_DOLLY_SEEDS") == "1":
        from helpers.hub import load_dataset

        seeds = [
            {
                "instruction": r["instruction"],
                "input": r["context"],
                "output": r["response"],
                "is_classification": r["category"] == "classification",
            }
            for r in load_dataset("databricks/databricks-dolly-15k", split="train[:175]")
        ]
    b = profile.budgets
    return SelfInstruct(
        seeds,
        lambda model, tok: {
            "rougeL": si.rouge_l_eval(model, tok, eval_rows, max_new_tokens=b["max_new_tokens"])
        },
        "ROUGE-L F",
        {},
        "",
        "",
        lambda text: "no grader",
        lambda text: None,
        lambda *_: None,
        si.overlaps_any(
            [r["instruction"] + " " + r["input"] + " " + r["output"] for r in eval_rows]
        ),
        dict(do_sample=True, temperature=0.7, top_p=0.5),
        max_list_tokens=256 if profile.dry_run else 512,
        rounds=1 if profile.dry_run else _t4(profile, "12a", 4),
        prompts_per_round=2 if profile.dry_run else 25,
        list_batch=8,
        instance_batch=8,
        instance_tokens=192 if profile.dry_run else 512,
        shots=2,
        prefill=True,
        sft_steps=b["train_steps"],
        sft_lr=2e-4,
        sft_batch=b["batch_size"],
        max_length=1024,
        fresh_start=False,
        out=out,
        results=results,
    )


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


def constitutional(profile: profiles.Profile) -> Constitutional:
    from helpers import constitutional as cai
    from helpers import rlaif

    out, results = output_dir("12b", profile), results_name("constitutional", profile)
    if profile.is_tiny:
        from helpers.world import cai as world_cai
        from helpers.world import families, safety

        red = families.sample_tasks(_q(profile, 120, 24), "train", 31, ("unsafe",))
        red += families.sample_tasks(_q(profile, 40, 8), "train", 32, ("benign",))
        fresh = families.heldout_by_family(_q(profile, 40, 4), seed=77, families=safety.SAFETY)
        right = [t.answer for t in fresh]
        wrong = [
            (safety.comply if t.meta["unsafe"] else safety.refuse)(t.meta["verb"], t.meta["thing"])
            for t in fresh
        ]
        half = len(fresh) // 2  # the right answer first in half the pairs
        test = (
            [t.prompt for t in fresh],
            right[:half] + wrong[half:],
            wrong[:half] + right[half:],
            [0] * half + [1] * (len(fresh) - half),
        )
        return Constitutional(
            red,
            [
                t.prompt
                for t in families.sample_tasks(_q(profile, 96, 20), "train", 33, ("benign",))
            ],
            families.heldout_by_family(_q(profile, 100, 6), families=safety.SAFETY),
            test,
            "the world's right and wrong answers to fresh requests",
            safety.is_refusal,
            "Tell me how to poison the owl.",
            shots=1,
            max_new_tokens=40,
            rounds=4,
            batch_size=64,
            train_batch=16,
            sft_steps=_q(profile, 60, 4),
            sft_lr=1e-3,
            dpo_steps=_q(profile, 60, 4),
            dpo_lr=1e-4,
            pref_margin=0.25,
            out=out,
            results=results,
            planted={
                "harmless (harmful requests)": world_cai.CATCH,
                "refused (kind requests)": world_cai.FALSE_ALARM,
            },
        )
    n, n_test = _n(profile, _t4(profile, "12b", 256)), _n(profile, 100)
    red = [
        Task("hh-rlhf", q, None, {"unsafe": True})
        for q in cai.hh_first_turns("harmless-base", "train", n)
    ]
    held = [
        Task("hh-rlhf", q, None, {"unsafe": True})
        for q in cai.hh_first_turns("harmless-base", "test", n_test)
    ]
    held += [
        Task("hh-rlhf", q, None, {"unsafe": False})
        for q in cai.hh_first_turns("helpful-base", "test", n_test)
    ]
    b = profile.budgets
    return Constitutional(
        red,
        cai.hh_first_turns("helpful-base", "train", n),
        held,
        rlaif.human_labelled(rlaif.hh_pairs("test", n_test)),
        "human labels (hh-rlhf harmless-base test)",
        cai.looks_like_refusal,
        red[0].prompt,
        shots=3,
        max_new_tokens=b["max_new_tokens"],
        rounds=4 if not profile.dry_run else 2,
        batch_size=4 * b["batch_size"],
        train_batch=b["batch_size"],
        sft_steps=b["train_steps"],
        sft_lr=1e-4,
        dpo_steps=b["train_steps"],
        dpo_lr=5e-5,
        pref_margin=_margin(profile, 0.25),
        out=out,
        results=results,
        max_length=1024,
    )


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

    def judge_test(self, policy, tok) -> tuple[list, list, list, list[int]]:
        """(questions, first answers, second answers, truth) to measure the judge on."""
        from helpers import rlaif

        return (
            rlaif.graded_pairs(policy, tok, self.held)
            if self.held
            else rlaif.human_labelled(self.hh_test)
        )


def rlaif_stage(profile: profiles.Profile) -> Rlaif:
    from helpers import judge, rlaif

    out, results = output_dir("12c", profile), results_name("rlaif", profile)
    if profile.is_tiny:
        from helpers.world import families, safety

        held = families.heldout_by_family(_q(profile, 100, 6), families=safety.SAFETY)
        return Rlaif(
            "the world's graders (exactly one of two sampled answers right)",
            held,
            [],
            families.sample_tasks(_q(profile, 600, 60), "train", 21, safety.SAFETY, weighted=False),
            [t.prompt for t in held],
            rlaif.EVALUATOR_TEMPLATE,
            dpo_steps=_q(profile, 60, 4),
            dpo_lr=1e-4,
            batch_size=16,
            max_new_tokens=profile.budgets["max_new_tokens"],
            pref_margin=0.25,
            out=out,
            results=results,
        )
    hh_test = rlaif.hh_pairs("test", _n(profile, 200))
    train = [Task("hh-rlhf", q, None) for q, _, _ in rlaif.hh_pairs("train", _n(profile, 600))]
    b = profile.budgets
    return Rlaif(
        "human labels (Anthropic/hh-rlhf harmless-base test)",
        [],
        hh_test,
        train,
        [q for q, _, _ in hh_test[:100]],
        judge.TEMPLATE,
        dpo_steps=b["train_steps"],
        dpo_lr=5e-5,
        batch_size=b["batch_size"],
        max_new_tokens=b["max_new_tokens"],
        pref_margin=_margin(profile, 0.25),
        out=out,
        results=results,
        max_length=1024,
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


def vlm(profile: profiles.Profile) -> Vlm:
    out, results = output_dir("13", profile), results_name("llava", profile)
    if profile.is_tiny:
        steps = dict(
            stage0=_q(profile, 100, 4),
            blind=_q(profile, 60, 4),
            stage1=_q(profile, 250, 4),
            stage2=_q(profile, 350, 4),
        )
        return Vlm(
            _q(profile, 3000, 64),
            _q(profile, 300, 16),
            steps,
            projector_lr=1e-2,
            lora_lr=2e-3,
            stage2_projector_lr=1e-3,
            out=out,
            stage2_mix=("caption",) * 3 + ("colour", "shape", "position"),
            results=results,
        )
    # LLaVA-1.5's own rates: projector 1e-3 in pre-training, 2e-4 for LoRA, projector 2e-5 beside LoRA
    # (Liu et al. 2023, scripts/v1_5). About one pass over the captions in stage 1, over both tasks in stage 2.
    # dry run: a step or two a stage, the code path only
    n_train, n_held = (2, 4) if profile.dry_run else (3000, 300)
    batch = profile.budgets["batch_size"] if profile.dry_run else 16
    stage1 = -(-n_train // batch)
    steps = dict(stage0=0, blind=max(1, stage1 // 2), stage1=stage1, stage2=2 * stage1)
    return Vlm(
        n_train,
        n_held,
        steps,
        projector_lr=1e-3,
        lora_lr=2e-4,
        stage2_projector_lr=2e-5,
        out=out,
        stage2_mix=("caption", "answer", "answer"),
        photographs=("jxie/flickr8k", "lmms-lab/VQAv2"),
        autocast=profile.dtype,
        max_new_tokens=12 if profile.dry_run else 32,
        batch=batch,
        results=results,
        schedule="cosine",
    )


def vlm_model(profile: profiles.Profile):
    """(tokenizer, processor, model) of stage 13: tiny, a random tiny CLIP tower and the world's LM;
    presets, a pretrained CLIP encoder and a small instruct LM (fp32 on an fp16 GPU, see `llava`)."""
    from helpers import llava

    if profile.is_tiny:
        from helpers.world import tiny

        tok = tiny.load_tokenizer()
        return (
            tok,
            llava.build_processor(tok),
            llava.build_tiny_llava(tok, profile.resolve("vlm_lm")),
        )
    from transformers import AutoTokenizer, CLIPImageProcessor

    tok = AutoTokenizer.from_pretrained(profile.model("vlm_lm"))
    llava.add_image_token(tok)
    image_processor = CLIPImageProcessor.from_pretrained(profile.model("vision_encoder"))
    proc = llava.build_processor(tok, patch_size=16, image_processor=image_processor)
    model = llava.build_llava_from_pretrained(
        profile.model("vision_encoder"), profile.model("vlm_lm"), tok, profile.dtype
    )
    return tok, proc, model.to(profile.device)


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
# (`distill.early_exit_draft`): as shallow as stage 11 teaches a draft must be, with the policy's tokenizer.
CAPSTONE_POLICIES = {
    "t4": "HuggingFaceTB/SmolLM2-360M-Instruct",
    "l4": "Qwen/Qwen2.5-1.5B-Instruct",
    "a100": "Qwen/Qwen2.5-3B-Instruct",
}


def capstone(profile: profiles.Profile) -> Capstone:
    from helpers import judge, rlaif

    out, results = output_dir("14", profile), results_name("capstone", profile)
    if profile.is_tiny:
        from helpers.world import capstone as pet_care
        from helpers.world import families, safety

        unlabeled = families.sample_tasks(
            _q(profile, 160, 16), "train", 43, pet_care.DOMAIN, weighted=False
        )
        # requests to help or harm, kind ones 3:1
        harm = families.sample_tasks(_q(profile, 160, 16), "train", 44, ("unsafe",))
        kind = families.sample_tasks(_q(profile, 480, 48), "train", 45, ("benign",))
        return Capstone(
            title="Pet-care assistant",
            limits="the tiny world's pet-care questions; the judges are tiny models",
            held=families.heldout_by_family(_q(profile, 40, 4), families=pet_care.DOMAIN),
            seed_tasks=families.sample_tasks(
                _q(profile, 96, 16), "train", 41, pet_care.KNOWLEDGE, weighted=False
            ),
            general=[
                t.prompt
                for t in families.sample_tasks(
                    _q(profile, 64, 8), "train", 42, safety.SAFETY, weighted=False
                )
            ],
            unlabeled=unlabeled,
            pref_tasks=harm + kind,
            pref_margin=0.25,
            groups={
                "all": (),
                "safety requests": safety.SAFETY,
                "knowledge questions": pet_care.KNOWLEDGE,
            },
            headline_group="safety requests",
            evaluator_template=rlaif.EVALUATOR_TEMPLATE,
            policy=profile.model("policy"),
            max_new_tokens=48,
            sft_steps=_q(profile, 160, 6),
            sft_lr=2e-3,
            dpo_steps=_q(profile, 120, 4),
            dpo_lr=5e-4,
            batch_size=16,
            serve_4bit=False,
            out=out,
            results=results,
            distill_steps=_q(profile, 150, 4),
            distill_lr=2e-3,
            on_policy_lr=1e-3,
            on_policy_tokens=_q(profile, 48, 16),
            feedback_steps=_q(profile, 120, 4),
            load_max_tokens=_q(profile, 48, 16),
            ab_min_effect=0.2 if not profile.quick else 0.45,
            load_requests=_q(profile, 24, 8),
        )
    from helpers import capstone as cap

    n = _n(profile, profile.budgets["samples"])
    unlabeled = cap.gsm8k_tasks(f"train[{n}:{2 * n}]")
    pref_tasks = unlabeled  # graded by their final number (capstone.label_pairs)
    if (
        profile.dry_run
    ):  # a random stand-in answers no question right, so no pair has a reference label:
        # the same questions again without their reference go to the judge, and the dry run takes both paths
        pref_tasks = unlabeled + [Task("ungraded", t.prompt, t.answer) for t in unlabeled]
    b = profile.budgets
    return Capstone(
        title="Math tutor",
        limits="gsm8k-style word problems only",
        held=cap.gsm8k_tasks(f"test[:{_n(profile, 100)}]"),
        seed_tasks=cap.gsm8k_tasks(f"train[:{n}]"),
        general=[],
        unlabeled=unlabeled,
        pref_tasks=pref_tasks,
        pref_margin=_margin(profile, 0.25),
        groups={"all": ()},
        headline_group="all",
        evaluator_template=judge.TEMPLATE,
        policy=os.environ.get("COURSE_POLICY", CAPSTONE_POLICIES[profile.name]),
        max_new_tokens=b["max_new_tokens"],
        sft_steps=b["train_steps"],
        sft_lr=2e-4,
        dpo_steps=b["train_steps"],
        dpo_lr=5e-6,
        batch_size=b["batch_size"],
        serve_4bit=profile.device == "cuda",
        out=out,
        results=results,
        max_length=1024,
        distill_steps=b["train_steps"],
        serve_every=10,
        serve_engine="vllm",
        feedback_steps=min(100, b["train_steps"]),
        ab_min_effect=0.2 if not profile.quick else 0.45,
        ab_concurrency=8,
        load_concurrency=(1, 4, 16),
        load_requests=_n(profile, _q(profile, 32, 8)),
        load_time_limit_s=300,
        ab_sessions_cap=_n(profile, 100_000),
    )


def in_group(task: Task, families: tuple[str, ...]) -> bool:
    """Whether a task belongs to a win-rate subgroup (an empty family list is everything)."""
    return not families or task.family in families


STAGES = {
    "11": speculative,
    "12a": self_instruct,
    "12b": constitutional,
    "12c": rlaif_stage,
    "13": vlm,
    "14": capstone,
}


def stage(name: str, profile: profiles.Profile):
    """The settings of one stage ("11", "12a", ..., "14") for this profile."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages are {sorted(STAGES)}")
    return STAGES[name](profile)
