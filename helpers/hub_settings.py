"""The GPU presets' per-stage settings: the hub's models and datasets, budgets per card.

One builder per stage, named as in `helpers.settings.STAGES`, each returning that stage's settings
dataclass; `helpers/world/settings.py` builds the same dataclasses for the tiny profile.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import AutoTokenizer

from helpers import capstone as cap
from helpers import constitutional as cai
from helpers import judge, llava, profiles, rlaif
from helpers import self_instruct as si
from helpers.hub import load_dataset
from helpers.settings import (
    Capstone,
    Constitutional,
    Rlaif,
    SelfInstruct,
    Speculative,
    Vlm,
    count,
    output_dir,
    results_name,
)
from helpers.tasks import Task

# Budgets cut on a T4 so that each notebook stays within an hour by the run-time estimate (`helpers.runtime`,
# `python -m helpers.tools.runtime`: its fp32 writer and feedback model read twice the bytes). Each notebook's
# run-time line says what was cut.
T4_CUTS = {
    "12a": (2, "2 rounds of task generation, not 4"),
    "12b": (128, "128 red-team requests, not 256"),
}


def t4_cut(profile: profiles.Profile, stage: str, full: int) -> int:
    """`full`, or the T4's cut of it (`T4_CUTS`)."""
    return T4_CUTS[stage][0] if profile.name == "t4" and stage in T4_CUTS else full


def dry_count(profile: profiles.Profile, full: int) -> int:
    """A preset's sample count, cut to the dry run's budget."""
    return min(full, profile.budgets["samples"]) if profile.dry_run else full


def judge_margin(profile: profiles.Profile, margin: float) -> float:
    """A judge's confidence margin; 0 in a dry run, whose randomly initialised judge is never confident."""
    return 0.0 if profile.dry_run else margin


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


CAPSTONE_POLICIES = {
    "t4": "HuggingFaceTB/SmolLM2-360M-Instruct",
    "l4": "Qwen/Qwen2.5-1.5B-Instruct",
    "a100": "Qwen/Qwen2.5-3B-Instruct",
}


def speculative(profile: profiles.Profile) -> Speculative:
    """Stage 11: a few chat prompts, GPT-2's tokenizer for the guard, dolly-15k for distillation."""
    out = output_dir("11", profile)

    prompts = GPU_PROMPTS[: 2 if profile.dry_run else None]
    other = AutoTokenizer.from_pretrained(
        os.environ.get("COURSE_OTHER_TOKENIZER", "openai-community/gpt2")
    )
    # 128 new tokens time a pair as well as 256 do, in half the time (a 36-layer target's step is ~22 ms, README)
    new, b = min(128, profile.budgets["max_new_tokens"]), profile.budgets
    dolly = load_dataset(
        "databricks/databricks-dolly-15k", split=f"train[:{dry_count(profile, 512)}]"
    )
    return Speculative(
        prompts=prompts,
        other_tokenizer=other,
        max_new_tokens=new,
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


def self_instruct(profile: profiles.Profile) -> SelfInstruct:
    """Stage 12a: the course's written seed tasks (or dolly-15k's), scored by ROUGE-L."""
    out, results = output_dir("12a", profile), results_name("self_instruct", profile)
    written = si.load_seed_tasks(Path(__file__).resolve().parents[1] / "data" / "seed_tasks.jsonl")
    seeds, eval_rows = written[:-20], written[-20:]
    # 175 dolly-15k tasks as seeds instead (the paper had 175)
    if os.environ.get("COURSE_DOLLY_SEEDS") == "1":
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
        seeds=seeds,
        score=lambda model, tok: {
            "rougeL": si.rouge_l_eval(model, tok, eval_rows, max_new_tokens=b["max_new_tokens"])
        },
        score_label="ROUGE-L F",
        heldout={},
        writer_reference={},
        writer_note="",
        chance_note="",
        family_of=lambda text: "no grader",
        clf_truth=lambda text: None,
        check_instance=lambda *_: None,
        exclude=si.overlaps_any(
            [r["instruction"] + " " + r["input"] + " " + r["output"] for r in eval_rows]
        ),
        sampling=dict(do_sample=True, temperature=0.7, top_p=0.5),
        max_list_tokens=256 if profile.dry_run else 512,
        rounds=1 if profile.dry_run else t4_cut(profile, "12a", 4),
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


def constitutional(profile: profiles.Profile) -> Constitutional:
    """Stage 12b: hh-rlhf's first human turns (harmless-base red team, helpful-base benign)."""
    out, results = output_dir("12b", profile), results_name("constitutional", profile)
    n, n_test = dry_count(profile, t4_cut(profile, "12b", 256)), dry_count(profile, 100)
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
        red_team=red,
        helpful_prompts=cai.hh_first_turns("helpful-base", "train", n),
        held=held,
        feedback_test=rlaif.human_labelled(rlaif.hh_pairs("test", n_test)),
        truth="human labels (hh-rlhf harmless-base test)",
        is_refusal=cai.looks_like_refusal,
        example_question=red[0].prompt,
        shots=3,
        max_new_tokens=b["max_new_tokens"],
        rounds=4 if not profile.dry_run else 2,
        batch_size=4 * b["batch_size"],
        train_batch=b["batch_size"],
        sft_steps=b["train_steps"],
        sft_lr=1e-4,
        dpo_steps=b["train_steps"],
        dpo_lr=5e-5,
        pref_margin=judge_margin(profile, 0.25),
        out=out,
        results=results,
        max_length=1024,
    )


def rlaif_stage(profile: profiles.Profile) -> Rlaif:
    """Stage 12c: hh-rlhf's human-labelled pairs to measure the judge, its prompts for DPO."""
    out, results = output_dir("12c", profile), results_name("rlaif", profile)
    hh_test = rlaif.hh_pairs("test", dry_count(profile, 200))
    train = [
        Task("hh-rlhf", q, None) for q, _, _ in rlaif.hh_pairs("train", dry_count(profile, 600))
    ]
    b = profile.budgets
    return Rlaif(
        truth="human labels (Anthropic/hh-rlhf harmless-base test)",
        held=[],
        hh_test=hh_test,
        train_tasks=train,
        eval_prompts=[q for q, _, _ in hh_test[:100]],
        evaluator_template=judge.TEMPLATE,
        dpo_steps=b["train_steps"],
        dpo_lr=5e-5,
        batch_size=b["batch_size"],
        max_new_tokens=b["max_new_tokens"],
        pref_margin=judge_margin(profile, 0.25),
        out=out,
        results=results,
        max_length=1024,
    )


def vlm(profile: profiles.Profile) -> Vlm:
    """Stage 13: Flickr8k captions and VQAv2 questions, LLaVA-1.5's learning rates."""
    out, results = output_dir("13", profile), results_name("llava", profile)
    # LLaVA-1.5's own rates: projector 1e-3 in pre-training, 2e-4 for LoRA, projector 2e-5 beside LoRA
    # (Liu et al. 2023, scripts/v1_5). About one pass over the captions in stage 1, over both tasks in stage 2.
    # dry run: a step or two a stage, the code path only
    n_train, n_held = (2, 4) if profile.dry_run else (3000, 300)
    batch = profile.budgets["batch_size"] if profile.dry_run else 16
    stage1 = -(-n_train // batch)
    steps = dict(stage0=0, blind=max(1, stage1 // 2), stage1=stage1, stage2=2 * stage1)
    return Vlm(
        n_train=n_train,
        n_held=n_held,
        steps=steps,
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

    from transformers import CLIPImageProcessor  # here: without torchvision it warns on import

    tok = AutoTokenizer.from_pretrained(profile.model("vlm_lm"))
    llava.add_image_token(tok)
    image_processor = CLIPImageProcessor.from_pretrained(profile.model("vision_encoder"))
    proc = llava.build_processor(tok, patch_size=16, image_processor=image_processor)
    model = llava.build_llava_from_pretrained(
        profile.model("vision_encoder"), profile.model("vlm_lm"), tok, profile.dtype
    )
    return tok, proc, model.to(profile.device)


def capstone(profile: profiles.Profile) -> Capstone:
    """Stage 14: a math tutor on gsm8k, graded by the final number."""
    out, results = output_dir("14", profile), results_name("capstone", profile)

    n = dry_count(profile, profile.budgets["samples"])
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
        held=cap.gsm8k_tasks(f"test[:{dry_count(profile, 100)}]"),
        seed_tasks=cap.gsm8k_tasks(f"train[:{n}]"),
        general=[],
        unlabeled=unlabeled,
        pref_tasks=pref_tasks,
        pref_margin=judge_margin(profile, 0.25),
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
        load_requests=dry_count(profile, count(profile, 12, 8)),
        load_time_limit_s=300,
        ab_sessions_cap=dry_count(profile, 100_000),
    )
