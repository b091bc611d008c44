"""Stage 11's benchmark pair (`make bench` only): a target big enough that its compute, not Python
overhead, sets its step time on a CPU (c = draft/target step time ~ 0.06), and drafts distilled on the
target's own greedy continuations (DistillSpec, Zhou et al. 2024: a draft agrees with its target most when
it is trained on the target's outputs, for prompts like the ones it will serve).

- `bench_draft`: the first draft, 1 layer x 128, distilled on train prompts in the corpus mix (~15 min).
- `bench_distilled`: 1 layer x 256 (1/24 of the target), distilled on an even mix of families, as the
  benchmark asks every family equally (~30 min on 2 threads).
"""

from __future__ import annotations

from functools import cache as memo
from pathlib import Path

from helpers import generation
from helpers import tasks as checks
from helpers.world import cache, tiny
from helpers.world import families as tasks

TARGET = {
    "hidden": 512,
    "layers": 8,
    "heads": 8,
    "mlp": 1376,
    "steps": 400,
    "batch": 24,
    "lr": 2e-3,
    "seed": 0,
    "threads": 2,
}
FIRST_DRAFT = {
    "hidden": 128,
    "layers": 1,
    "heads": 2,
    "mlp": 384,
    "steps": 1500,
    "batch": 32,
    "lr": 3e-3,
    "seed": 0,
    "docs": 6000,
    "docs_seed": 2,
    "new_tokens": 128,
    "weighted": True,
    "threads": 2,
}
DISTILLED = {
    "hidden": 256,
    "layers": 1,
    "heads": 4,
    "mlp": 768,
    "steps": 2500,
    "batch": 32,
    "lr": 3e-3,
    "seed": 3,
    "docs": 12000,
    "docs_seed": 3,
    "new_tokens": 128,
    "weighted": False,
    "threads": 2,
}
EVAL_PER_FAMILY = 20


def distilled_recipe(name: str, about: str, spec: dict, expected_s: float) -> cache.Recipe:
    """A draft trained on `bench_target`'s greedy continuations of `spec['docs']` train prompts."""

    @memo
    def prompts() -> list[list[int]]:
        tok = tiny.load_tokenizer()
        mix = tasks.sample_tasks(
            spec["docs"], "train", spec["docs_seed"], weighted=spec["weighted"]
        )
        return [generation.chat_prompt_ids(tok, t.prompt) for t in mix]

    def make(folder: Path) -> dict:
        tok, target = tiny.load_tokenizer(), tiny.load_model("bench_target")
        docs = tiny.continuations(target, tok, prompts(), spec["new_tokens"])
        model = tiny.new_model(tok, spec, spec["seed"])
        losses = tiny.train_lm(
            model, docs, tok.pad_token_id, spec["steps"], spec["batch"], spec["lr"], spec["seed"]
        )
        tiny.save(model, tok, folder)
        heldout = tasks.heldout_by_family(EVAL_PER_FAMILY)
        return {
            "params": sum(p.numel() for p in model.parameters()),
            "final_loss": tiny.mean_tail(losses),
            "heldout": {k: round(v, 4) for k, v in checks.accuracy(model, tok, heldout).items()},
        }

    # The teacher's continuations are fixed by its key (a parent), so the prompts are the data to hash.
    return cache.register(
        cache.Recipe(name, about, 1, spec, ("tokenizer", "bench_target"), prompts, make, expected_s)
    )


tiny.lm_recipe(
    "bench_target",
    "stage 11's benchmark target, 8 layers x 512",
    TARGET,
    tiny.train_docs,
    eval_per_family=EVAL_PER_FAMILY,
    expected_s=2000,
)
distilled_recipe(
    "bench_draft", "the bench pair's first draft, distilled", FIRST_DRAFT, expected_s=1800
)
distilled_recipe(
    "bench_distilled", "the benchmark's distilled draft, 1 layer x 256", DISTILLED, expected_s=3600
)
