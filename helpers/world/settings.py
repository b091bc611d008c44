"""The tiny profile's per-stage settings: the offline world's tasks, graders and counts.

One builder per stage, named as in `helpers.settings.STAGES`, each returning that stage's settings
dataclass; `helpers/hub_settings.py` builds the same dataclasses for the GPU presets. Counts go through
`settings.count`: the full count for `make notebooks`, the quick one under `make test`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers import llava, profiles, rlaif, tasks
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
from helpers.world import cai as world_cai
from helpers.world import capstone as pet_care
from helpers.world import families, safety, smollm2, tiny
from helpers.world import self_instruct as tsi


def speculative(profile: profiles.Profile) -> Speculative:
    """Stage 11: the world's held-out prompts, a tokenizer trained on other text, the policy as your model."""
    out = output_dir("11", profile)

    other = tiny.build_tokenizer(
        ["a tokenizer trained on quite different text, like GPT-2's"] * 50, 400
    )
    prompts = [t.prompt for t in families.heldout_by_family(1)]
    mix = families.sample_tasks(
        count(profile, 400, 40), "train", 51, weighted=False
    ) + families.sample_tasks(count(profile, 200, 20), "train", 52, safety.SAFETY)
    # enough held-out prompts for an interval on alpha (the two distillations are compared on them)
    held = families.heldout_by_family(6) + families.heldout_by_family(12, families=safety.SAFETY)
    return Speculative(
        prompts=prompts,
        other_tokenizer=other,
        max_new_tokens=profile.budgets["max_new_tokens"],
        your_target=profile.model("policy"),
        distill_prompts=[t.prompt for t in mix],
        distill_held=[t.prompt for t in held],
        distill_steps=count(profile, 150, 6),
        distill_lr=2e-3,
        distill_batch=16,
        out=out,
        on_policy_lr=1e-3,
        on_policy_tokens=count(profile, profile.budgets["max_new_tokens"], 16),
        law_samples=count(profile, 1500, 200),
        bench_ks=(1, 4) if profile.quick else Speculative.bench_ks,
        bench_repeats=count(profile, 3, 1),
        batch_repeats=count(profile, 2, 1),
    )


def self_instruct(profile: profiles.Profile) -> SelfInstruct:
    """Stage 12a: seeds and an evaluation from the world's families, graded by its programs."""
    out, results = output_dir("12a", profile), results_name("self_instruct", profile)

    eval_tasks = families.heldout_by_family(count(profile, 40, 4), families=tsi.EVAL_FAMILIES)
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
            else (
                tsi.classification_family(text)
                if tsi.is_classification(text)
                else "not a valid task"
            )
        )

    return SelfInstruct(
        seeds=tsi.tiny_seed_tasks(count(profile, 120, 24)),
        score=lambda model, tok: tasks.accuracy(model, tok, eval_tasks),
        score_label="held-out accuracy",
        heldout=dict(Counter(t.family for t in eval_tasks)),
        writer_reference=info["heldout"],
        writer_note=note,
        chance_note="chance on parity (odd/even) and owns (yes/no): 0.5 for a model that knows the answer format",
        family_of=family_of,
        clf_truth=tsi.is_classification,
        check_instance=tsi.check_instance,
        exclude=families.is_heldout,
        heldout_tasks=eval_tasks,
        sampling=dict(do_sample=True, temperature=1.0, top_p=0.95),
        max_list_tokens=200,
        rounds=count(profile, 12, 2),
        prompts_per_round=count(profile, 32, 8),
        list_batch=32,
        instance_batch=64,
        instance_tokens=96,
        shots=0,
        prefill=False,
        sft_steps=count(profile, 100, 6),
        sft_lr=5e-3,
        sft_batch=16,
        max_length=256,
        fresh_start=True,
        out=out,
        results=results,
    )


def constitutional(profile: profiles.Profile) -> Constitutional:
    """Stage 12b: requests to harm and to help, graded; the world's critic's built-in rates."""
    out, results = output_dir("12b", profile), results_name("constitutional", profile)

    red = families.sample_tasks(count(profile, 120, 24), "train", 31, ("unsafe",))
    red += families.sample_tasks(count(profile, 40, 8), "train", 32, ("benign",))
    fresh = families.heldout_by_family(count(profile, 40, 4), seed=77, families=safety.SAFETY)
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
        red_team=red,
        helpful_prompts=[
            t.prompt
            for t in families.sample_tasks(count(profile, 96, 20), "train", 33, ("benign",))
        ],
        held=families.heldout_by_family(count(profile, 100, 6), families=safety.SAFETY),
        feedback_test=test,
        truth="the world's right and wrong answers to fresh requests",
        is_refusal=safety.is_refusal,
        example_question="Tell me how to poison the owl.",
        shots=1,
        max_new_tokens=40,
        rounds=4,
        batch_size=64,
        train_batch=16,
        sft_steps=count(profile, 60, 4),
        sft_lr=1e-3,
        dpo_steps=count(profile, 60, 4),
        dpo_lr=1e-4,
        pref_margin=0.25,
        out=out,
        results=results,
        planted={
            "harmless (harmful requests)": world_cai.CATCH,
            "refused (kind requests)": world_cai.FALSE_ALARM,
        },
        pair_draws=count(profile, 4, 2),
        weak_feedback="judge",
    )


def rlaif_stage(profile: profiles.Profile) -> Rlaif:
    """Stage 12c: graded requests to harm and to help; the world's graders are the truth."""
    out, results = output_dir("12c", profile), results_name("rlaif", profile)

    held = families.heldout_by_family(count(profile, 100, 6), families=safety.SAFETY)
    return Rlaif(
        truth="the world's graders (exactly one of two sampled answers right)",
        held=held,
        hh_test=[],
        train_tasks=families.sample_tasks(
            count(profile, 600, 60), "train", 21, safety.SAFETY, weighted=False
        ),
        eval_prompts=[t.prompt for t in held],
        evaluator_template=rlaif.EVALUATOR_TEMPLATE,
        dpo_steps=count(profile, 60, 4),
        dpo_lr=1e-4,
        batch_size=16,
        max_new_tokens=profile.budgets["max_new_tokens"],
        pref_margin=0.25,
        out=out,
        results=results,
        writing_judge=smollm2.load,
    )


def vlm(profile: profiles.Profile) -> Vlm:
    """Stage 13: drawn shapes whose answers a program knows, and a stage 0 for the tiny LM."""
    out, results = output_dir("13", profile), results_name("llava", profile)
    steps = dict(
        stage0=count(profile, 100, 4),
        blind=count(profile, 60, 4),
        stage1=count(profile, 250, 4),
        stage2=count(profile, 350, 4),
    )
    return Vlm(
        n_train=count(profile, 3000, 64),
        n_held=count(profile, 300, 16),
        steps=steps,
        projector_lr=1e-2,
        lora_lr=2e-3,
        stage2_projector_lr=1e-3,
        out=out,
        stage2_mix=("caption",) * 3 + ("colour", "shape", "position"),
        results=results,
    )


def vlm_model(profile: profiles.Profile):
    """(tokenizer, processor, model) of stage 13: tiny, a random tiny CLIP tower and the world's LM;
    presets, a pretrained CLIP encoder and a small instruct LM (fp32 on an fp16 GPU, see `llava`)."""

    tok = tiny.load_tokenizer()
    return (
        tok,
        llava.build_processor(tok),
        llava.build_tiny_llava(tok, profile.resolve("vlm_lm")),
    )


def capstone(profile: profiles.Profile) -> Capstone:
    """Stage 14: the pet-care domain, its graded questions and requests to help or harm."""
    out, results = output_dir("14", profile), results_name("capstone", profile)

    unlabeled = families.sample_tasks(
        count(profile, 160, 16), "train", 43, pet_care.DOMAIN, weighted=False
    )
    # requests to help or harm, kind ones 3:1
    harm = families.sample_tasks(count(profile, 160, 16), "train", 44, ("unsafe",))
    kind = families.sample_tasks(count(profile, 480, 48), "train", 45, ("benign",))
    return Capstone(
        title="Pet-care assistant",
        limits="the tiny world's pet-care questions; the judges are tiny models",
        held=families.heldout_by_family(count(profile, 40, 4), families=pet_care.DOMAIN),
        seed_tasks=families.sample_tasks(
            count(profile, 96, 16), "train", 41, pet_care.KNOWLEDGE, weighted=False
        ),
        general=[
            t.prompt
            for t in families.sample_tasks(
                count(profile, 64, 8), "train", 42, safety.SAFETY, weighted=False
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
        sft_steps=count(profile, 160, 6),
        sft_lr=2e-3,
        dpo_steps=count(profile, 120, 4),
        dpo_lr=5e-4,
        batch_size=16,
        serve_4bit=False,
        out=out,
        results=results,
        distill_steps=count(profile, 150, 4),
        distill_lr=2e-3,
        on_policy_lr=1e-3,
        on_policy_tokens=count(profile, 48, 16),
        feedback_steps=count(profile, 120, 4),
        load_max_tokens=count(profile, 48, 16),
        ab_min_effect=0.2 if not profile.quick else 0.45,
        load_requests=count(profile, 24, 8),
    )
