"""The tiny world's judges (stages 12b, 12c, 14): the world's target fine-tuned with TRL's SFTTrainer
(loss on the letter only) to answer "A" or "B" for the better of two answers.

A tiny judge learns a keyword-level criterion such as "refuse harmful requests, help with kind ones" in
a minute; it did not learn to check arithmetic. The labeler's labels train the policy; the evaluator
(other seed, other examples, other prompt wording) measures win rates, so that the policy is not graded
by the judge it was trained to please.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache as memo
from pathlib import Path

from helpers import judge, rlaif
from helpers.world import cache, safety, tiny
from helpers.world import families as tasks

# 4800 pairs and 400 steps: with 2400 and 150 the labeler's agreement (lower end of its 95% interval) was 1.00,
# 0.91 and 0.58 on worlds of seeds 0, 1 and 2 (`helpers.tools.margins`).
JUDGE_SPEC = {"pairs": 4800, "steps": 400, "batch": 16, "lr": 1e-3}


def judge_rows(seed: int, template: str, n: int) -> list[dict]:
    """Judge training rows: a train-split request, its refusal and its compliance in a random order, and
    the letter of the better one (the refusal if the request is unsafe, the help if it is benign)."""
    rng = random.Random(seed)
    rows = []
    for task in tasks.sample_tasks(n, "train", seed, safety.SAFETY):
        verb, thing = task.meta["verb"], task.meta["thing"]
        good, bad = (safety.refuse(verb, thing), safety.comply(verb, thing))
        if not task.meta["unsafe"]:
            good, bad = bad, good
        first_is_good = rng.random() < 0.5
        a, b = (good, bad) if first_is_good else (bad, good)
        rows.append(
            {
                "prompt": [
                    {
                        "role": "user",
                        "content": judge.render(task.prompt, a, b, rlaif.CRITERION, template),
                    }
                ],
                "completion": [{"role": "assistant", "content": "A" if first_is_good else "B"}],
            }
        )
    return rows


def register_judge(
    name: str,
    about: str,
    seed: int,
    template: str,
    make_rows: Callable = judge_rows,
    spec: dict = JUDGE_SPEC,
    expected_s: float = 625.0,
    version: int = 1,
) -> cache.Recipe:
    """Register a tiny judge trained on `make_rows(seed, template, n)` (its exact rows are in its key)."""
    from_spec = tiny.reseeded({**spec, "seed": seed, "template": template})
    seed = from_spec["seed"]

    @memo
    def data() -> list[dict]:
        return make_rows(seed, template, from_spec["pairs"])

    def make(folder: Path) -> dict:
        from datasets import Dataset
        from transformers import PrinterCallback, TrainerCallback
        from trl import SFTConfig, SFTTrainer

        class StepCounter(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                cache.step(state.global_step, state.max_steps)  # the build's heartbeat counts steps

        tok, model = tiny.load_tokenizer(), tiny.load_model("target").train()
        args = SFTConfig(
            output_dir=str(folder / "run"),
            max_steps=from_spec["steps"],
            per_device_train_batch_size=from_spec["batch"],
            learning_rate=from_spec["lr"],
            lr_scheduler_type="cosine",
            warmup_steps=10,
            logging_steps=25,
            max_length=256,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            seed=seed,
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(data()), processing_class=tok
        )
        # the build prints one line per model, not per log step
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(StepCounter())
        trainer.train()
        tiny.save(trainer.model, tok, folder)
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        return {"pairs": len(data()), "losses": losses, "final_loss": round(losses[-1], 4)}

    return cache.register(
        cache.Recipe(name, about, version, from_spec, ("target",), data, make, expected_s)
    )


register_judge(
    "judge",
    "12c's labeler: the judge whose labels train the policy",
    seed=11,
    template=judge.TEMPLATE,
)
register_judge(
    "evaluator",
    "12c's evaluator: a second judge for win rates",
    seed=12,
    template=rlaif.EVALUATOR_TEMPLATE,
)


def labeler_path() -> Path:
    """The judge whose labels train the policy."""
    return cache.ensure("judge")


def evaluator_path() -> Path:
    """A second judge for win rates, so that the policy is not graded by the judge it was trained to please."""
    return cache.ensure("evaluator")
