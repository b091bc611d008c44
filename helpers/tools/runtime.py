"""The run-time table: each notebook's work on each GPU preset, counted from its settings, times the
estimated costs of `helpers.runtime`; writes `data/results/runtime.json`, which the notebooks' intros and
the README read.

    python -m helpers.tools.runtime   # builds each preset's settings against the stand-in hub (offline)

Each entry is one call of a notebook that does GPU work (cell references in the `what` text); counts are
upper bounds where the code decides at run time (every sampled batch runs to its token limit, every
instruction list yields 7 new tasks). Speculative runs are counted as plain decoding of the target.
"""

from __future__ import annotations

import json
import os

from helpers import runtime, tasks
from helpers.runtime import Work
from helpers.tools import memory

_ANSWER = 100  # tokens of a prompt with its chat template, for rows and judge prompts


def _spec(cfg, b, m, jb) -> list[Work]:
    n, new = len(cfg.prompts), cfg.max_new_tokens
    t = m["target"]
    return [
        Work("generate", t, "plain, seed loop and ours at k = 4 (sec. 3)", 3 * n, 1, new),
        Work("generate", t, "acceptance sweep and greedy parity over k (sec. 3-6)", 11 * n, 1, new),
        Work("generate", t, "the two-token law's samples (sec. 5)", 3 * cfg.law_samples, 1, 2),
        Work(
            "generate",
            t,
            "benchmark: 20 methods x 4 prompts x 3 repeats (sec. 7)",
            20 * min(4, n) * 3,
            1,
            new,
        ),
        Work("generate", t, "temperatures and draft-quality cases (sec. 9)", 16 * n, 1, new),
    ]


def _spec_serving(cfg, b, m, jb) -> list[Work]:
    """Notebook 11b: batched speculative decoding, draft distillation and the second pair (stage 11's
    settings)."""
    new, t = cfg.max_new_tokens, m["target"]
    return [
        Work("score", t, "cost and v(k) measurements (11b top)", 8 * 21 + 17 * 31, 1, _ANSWER),
        *(
            # 8 rows x repeats x 4 decoders (k = 0, 2, 4 and generate); rows stop at end-of-turn, which
            # took about a third of the budget on the tiny world (assumed on the hub's models too)
            Work(
                "generate",
                t,
                f"section 1's timed runs at batch {b}: no drafts, ours and generate (11b sec. 1)",
                8 * 4 * cfg.batch_repeats * 4,
                b,
                max(1, new // 3),
            )
            for b in (1, 4, 8)
        ),
        Work(
            "generate",
            t,
            "your target's answers to the distillation prompts (11b sec. 2)",
            len(cfg.distill_prompts),
            64,
            new,
        ),
        Work(
            "train",
            m["draft"],
            "draft distillation (11b sec. 2)",
            cfg.distill_steps,
            cfg.distill_batch,
            min(256, _ANSWER + new),
        ),
        *on_policy(
            m["draft"], t, cfg.distill_steps, cfg.distill_batch, cfg.on_policy_tokens, "11b sec. 2"
        ),
        Work(
            "generate",
            t,
            "alpha of three drafts, one prompt at a time (11b sec. 2)",
            6 * len(cfg.distill_held),
            1,
            new,
        ),
        *(
            [
                Work(
                    "generate",
                    cfg.second_pair[0],
                    "the second pair: parity and alpha (11b sec. 3)",
                    4,
                    1,
                    new,
                )
            ]
            if cfg.second_pair
            else []
        ),
    ]


def _self_instruct(cfg, b, m, jb) -> list[Work]:
    g, s = m["generator"], m["student"]
    tasks = 7 * cfg.rounds * cfg.prompts_per_round
    return [
        Work(
            "generate",
            g,
            "instruction lists (sec. 4, 6)",
            cfg.rounds * cfg.prompts_per_round + 1,
            cfg.list_batch,
            cfg.max_list_tokens,
            dtype_bytes=jb,
        ),
        Work(
            "generate",
            g,
            "classification: yes/no per task (sec. 7)",
            tasks,
            cfg.instance_batch,
            4,
            dtype_bytes=jb,
        ),
        Work(
            "generate",
            g,
            "the generator writing each task's instance, then its output (sec. 7)",
            2 * tasks,
            cfg.instance_batch,
            cfg.instance_tokens,
            dtype_bytes=jb,
        ),
        Work(
            "train",
            s,
            "SFT of the student (sec. 8)",
            cfg.sft_steps,
            cfg.sft_batch,
            min(cfg.max_length, _ANSWER + cfg.instance_tokens),
        ),
        Work("generate", s, "ROUGE-L before and after (sec. 8)", 40, 8, b["max_new_tokens"]),
    ]


def _constitutional(cfg, b, m, jb) -> list[Work]:
    h, f = m["helpful"], m["feedback"]
    red, new, pairs = (
        len(cfg.red_team),
        cfg.max_new_tokens,
        len(cfg.red_team) + min(48, len(cfg.helpful_prompts)),
    )
    row = min(cfg.max_length, _ANSWER + new)
    return [
        Work(
            "generate",
            h,
            "critique-revision chains (sec. 4)",
            red * (1 + 2 * cfg.rounds),
            cfg.batch_size,
            new,
        ),
        Work(
            "score",
            f,
            "feedback model: rounds, revisions, labelled pairs (sec. 5-6)",
            2 * (cfg.rounds + 1) * red + 2 * len(cfg.feedback_test[0]),
            32,
            _ANSWER + 2 * new,
            dtype_bytes=jb,
        ),
        Work(
            "generate",
            h,
            "helpful answers and RL-CAI sample pairs (sec. 7-8)",
            len(cfg.helpful_prompts) + 2 * pairs,
            64,
            new,
        ),
        Work(
            "score",
            f,
            "AI feedback on the pairs (sec. 8)",
            2 * pairs,
            32,
            _ANSWER + 2 * new,
            dtype_bytes=jb,
        ),
        Work("train", h, "SL-CAI SFT (sec. 7)", cfg.sft_steps, cfg.train_batch, row),
        Work(
            "train", h, "SL-CAI without helpful rows (sec. 9)", cfg.sft_steps, cfg.train_batch, row
        ),
        Work("train", h, "RL-CAI DPO (sec. 8)", cfg.dpo_steps, cfg.train_batch, row, passes=3),
        Work(
            "generate",
            h,
            "held-out rates: 4 models x 5 answers (sec. 9)",
            20 * len(cfg.held),
            128,
            new,
        ),
    ]


# 12c's control trains hard labels for as many passes as the confident run: hard / confident pairs
# (403 / 185 on the tiny world; the same share is assumed on the hub's pairs)
_MATCHED_RUNS = 2.2


def _rlaif(cfg, b, m, jb) -> list[Work]:
    p, j, e = m["policy"], m["judge"], m["evaluator"]
    test, train, ev, new = (
        len(cfg.hh_test),
        len(cfg.train_tasks),
        len(cfg.eval_prompts),
        cfg.max_new_tokens,
    )
    return [
        Work(
            "score",
            j,
            "judge on labelled pairs (sec. 5)",
            2 * test,
            32,
            3 * _ANSWER,
            dtype_bytes=jb,
        ),
        Work("score", p, "untrained policy on labelled pairs (sec. 5)", 2 * test, 32, 3 * _ANSWER),
        Work(
            "generate",
            j,
            "free-text verdicts for the parsers (sec. 5)",
            2 * test,
            64,
            12,
            dtype_bytes=jb,
        ),
        Work("generate", p, "two sampled answers per training prompt (sec. 6)", 2 * train, 64, 72),
        Work(
            "score",
            j,
            "the judge labels the training pairs (sec. 6)",
            2 * train,
            32,
            _ANSWER + 144,
            dtype_bytes=jb,
        ),
        Work(
            "train",
            p,
            "5 DPO runs, the matched-passes control about 2.2 runs long (sec. 7)",
            round((4 + _MATCHED_RUNS) * cfg.dpo_steps),
            cfg.batch_size,
            _ANSWER + 72,
            passes=3,
        ),
        Work("generate", p, "answers before and after each run (sec. 8)", 6 * ev, 64, new),
        Work(
            "score",
            e,
            "the second judge comparing each run's answers with the policy's before DPO (sec. 8)",
            10 * ev,
            32,
            _ANSWER + 2 * new,
            dtype_bytes=jb,
        ),
    ]


_QUESTIONS_PER_IMAGE = 5.3  # VQAv2 validation: 214,354 questions about 40,504 images
_PHOTO_KB = 160  # a COCO or Flickr8k JPEG inside its parquet row


def _vlm(cfg, b, m, jb) -> list[Work]:
    # 196 image patches + the chat turn and its answer
    lm, clip, row = m["vlm_lm"], m["vision_encoder"], 196 + 48
    steps = cfg.steps["blind"] + cfg.steps["stage1"] + cfg.steps["stage2"]
    # VQAv2 rows are streamed until both sides are full: held out, 1 image in 10 and at most 2 questions each
    vqa_rows = max(cfg.n_train * 10 / 9, 10 * cfg.n_held / 2 * _QUESTIONS_PER_IMAGE)
    evaluated = 4 * 2 * cfg.n_held
    return [
        Work("train", lm, "blind control, stage 1 and stage 2 (sec. 6-8)", steps, cfg.batch, row),
        Work(
            "score",
            clip,
            "the frozen CLIP tower on every training row (sec. 6-8)",
            steps * cfg.batch,
            cfg.batch,
            197,
        ),
        Work(
            "generate",
            lm,
            "held-out captions and answers: 4 evaluations (sec. 6-9)",
            evaluated,
            100,
            cfg.max_new_tokens,
        ),
        Work(
            "score", clip, "the CLIP tower on every evaluated image (sec. 6-9)", evaluated, 100, 197
        ),
        Work(
            "fetch",
            clip,
            "streaming the photographs: Flickr8k and VQAv2 rows (sec. 2)",
            int(cfg.n_train + cfg.n_held + vqa_rows),
            1,
            _PHOTO_KB,
        ),
    ]


def on_policy(draft: str, target: str, steps: int, batch: int, new: int, where: str) -> list[Work]:
    """DistillSpec's loop: the draft samples, the target scores its samples, the draft trains."""
    return [
        Work("generate", draft, f"on-policy samples of the draft ({where})", steps * batch, batch, new),
        Work("score", target, f"the target's distributions on them ({where})", steps * batch, batch, _ANSWER + new),
        Work("train", draft, f"on-policy distillation ({where})", steps, batch, _ANSWER + new),
    ]  # fmt: skip


def deployment(cfg, p: str, new: int) -> list[Work]:
    """Stage 14's served path: the A/B sessions (planned at a 0.5 base rate), the load test, one DPO round."""
    from helpers import abtest

    sessions = 2 * min(
        abtest.sample_size(0.5 - cfg.ab_min_effect / 2, cfg.ab_min_effect), cfg.ab_sessions_cap
    )
    return [
        Work("generate", p, "served probes and chats, one at a time (sec. 8)", 3 * len(cfg.held[::10]), 1, new),
        Work("generate", p, "A/B sessions, served together (sec. 9)", sessions, cfg.ab_concurrency, new),
        Work("generate", p, "each arm timed alone (sec. 10)", 2 * cfg.load_requests, 1, new),
        *(Work("generate", p, f"load test, {c} clients (sec. 10)", cfg.load_requests, c, cfg.load_max_tokens)
          for c in cfg.load_concurrency),
        Work("train", p, "one DPO round on the feedback (sec. 11)", cfg.feedback_steps, cfg.batch_size,
             min(cfg.max_length, _ANSWER + new), passes=3),
        Work("generate", p, "held-out answers after the feedback round (sec. 11)", len(cfg.held), 128, new),
    ]  # fmt: skip


def _capstone(cfg, b, m, jb) -> list[Work]:
    p, new, held = cfg.policy, cfg.max_new_tokens, len(cfg.held)
    row = min(cfg.max_length, _ANSWER + new)
    prompts = len({t.prompt for t in cfg.seed_tasks + cfg.unlabeled} | set(cfg.pref_prompts))
    judged = sum(not tasks.reference_graded(t) for t in cfg.pref_tasks)
    return [
        Work("generate", p, "held-out answers after each step (sec. 1-5)", 5 * held, 128, new),
        Work("train", p, "SFT twice (sec. 2-3)", 2 * cfg.sft_steps, cfg.batch_size, row),
        Work(
            "generate",
            p,
            "self-training answers, greedy and sampled (sec. 3)",
            2 * len(cfg.unlabeled),
            64,
            new,
        ),
        Work("generate", p, "preference pairs (sec. 4)", 2 * len(cfg.pref_prompts), 64, new),
        Work(
            "score",
            m["judge"],
            "the judge on the pairs no reference grades (sec. 4)",
            2 * judged,
            32,
            _ANSWER + 2 * new,
            dtype_bytes=jb,
        ),
        Work("train", p, "DPO (sec. 4)", cfg.dpo_steps, cfg.batch_size, row, passes=3),
        # the refusal fix: GSM8K has no harmful rows, so section 2's SFT is reloaded, not retrained
        Work("generate", p, "held-out answers of the refusal fix (sec. 7)", held, 128, new),
        Work(
            "generate", p, "distillation data: the model's own answers (sec. 6)", prompts, 64, new
        ),
        Work(
            "train",
            memory.capstone_draft(p),
            "draft distillation (sec. 6)",
            cfg.distill_steps,
            cfg.batch_size,
            256,
        ),
        *on_policy(
            memory.capstone_draft(p),
            p,
            cfg.distill_steps,
            cfg.batch_size,
            cfg.on_policy_tokens,
            "sec. 6",
        ),
        *deployment(cfg, p, new),
        Work(
            "generate",
            p,
            "speculative checks and serving speed, one at a time (sec. 6-8)",
            (4 + 2 + int(cfg.serve_4bit) + 2) * len(cfg.held[:: cfg.serve_every])
            + 2 * len(cfg.held[::10]),
            1,
            new,
        ),
        Work(
            "score",
            m["evaluator"],
            "second judge, final vs base (sec. 7)",
            2 * held,
            32,
            _ANSWER + 2 * new,
            dtype_bytes=jb,
        ),
    ]


PLANS = {
    "11": _spec,
    "11b": _spec_serving,
    "12a": _self_instruct,
    "12b": _constitutional,
    "12c": _rlaif,
    "13": _vlm,
    "14": _capstone,
}


def preset_profile(name: str):
    """A GPU preset's profile with its real budgets, built on this CPU (nothing is loaded onto a GPU)."""
    from helpers import profiles

    capability = (7, 5) if name == "t4" else (8, 0)
    return profiles.choose_profile(
        env={"COURSE_PROFILE": name}, cuda_available=True, capability=capability, mem_gb=40.0
    )


def table() -> dict:
    """{stage: {preset: estimate}} from each preset's settings."""
    from helpers import hub_settings, settings

    out: dict = {}
    for preset in runtime.GPUS:
        profile = preset_profile(preset)
        # 4 where the judges, writer and feedback model load in fp32 (a T4)
        jb = profile.judge_dtype.itemsize
        for stage, plan in PLANS.items():
            cfg = settings.stage("11" if stage == "11b" else stage, profile)  # 11b: 11's settings
            work = plan(cfg, profile.budgets, profile.models, jb)
            out.setdefault(stage, {})[preset] = runtime.estimate(work, preset)
            if preset == "t4" and stage in hub_settings.T4_CUTS:
                out[stage][preset]["cut"] = hub_settings.T4_CUTS[stage][1]
    return out


def main() -> None:
    import argparse
    from pathlib import Path

    from helpers.tools import standin_hub

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", type=Path, default=runtime.RESULTS, help="where to write the table"
    )
    args = parser.parse_args()
    # before a build imports the hub libraries
    os.environ.update(standin_hub.env(standin_hub.root()))
    standin_hub.build()
    stages = table()
    record = {
        "stages": stages,
        "assumptions": runtime.__doc__.split("\n\n")[1].replace("\n", " "),
        "gpus": {k: g.source for k, g in runtime.GPUS.items()},
    }
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    for stage, rows in stages.items():
        print(
            stage,
            "  ".join(f"{p} {runtime.span(r):>10}" for p, r in rows.items()),
            "|",
            rows["t4"]["parts"][0],
        )


if __name__ == "__main__":
    main()
