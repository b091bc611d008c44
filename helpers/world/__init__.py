"""The offline tiny world: what only the tiny profile builds (CI, tests, a CPU without a hub).

A synthetic task world (`families`), a byte-level tokenizer and small Llama models trained on it
(`tiny`), and each stage's own families and models (`safety`, `self_instruct`, `cai`, `judges`,
`capstone`, `bench`). Every model is cached on its own (`cache`) and built on demand. The stage modules
in `helpers/` never import this package; `profiles.resolve` and `settings.stage` (through
`world/settings.py`) open it inside a function, on the tiny profile only, so a Colab learner's path does
not go through it.

    python -m helpers.world build            # every model of the default world, on 2 cores, and its table
    python -m helpers.world build target     # one model and what it needs
"""

from __future__ import annotations

import importlib
from pathlib import Path

MODULES = ("tiny", "safety", "self_instruct", "cai", "judges", "capstone", "bench")


def load_all() -> None:
    """Import every world module, so that every model's recipe is registered."""
    for module in MODULES:
        importlib.import_module(f"helpers.world.{module}")


def model_path(name: str) -> Path:
    """A world model's folder (built first if the cache lacks it)."""
    from helpers.world import cache

    load_all()
    return cache.ensure(name)


def resolve(name: str) -> str:
    """'tiny:target' -> its folder on disk (built on demand); anything else (hub id, local path) unchanged."""
    if not name.startswith("tiny:"):
        return name
    return str(model_path(name.split(":", 1)[1]))


def fingerprint() -> str:
    """One line saying whether this run uses the world the committed notebooks were run on
    (data/results/tiny_world.json: the target's weight digest), and it is the world the committed notebooks were run on (data/results/tiny_world.json)."""
    import json

    from helpers.world import cache

    load_all()
    record = Path(__file__).resolve().parents[2] / "data" / "results" / "tiny_world.json"
    recorded = (
        json.loads(record.read_text()).get("digests", {}).get("target", {})
        if record.exists()
        else {}
    )
    weights = cache.weights_digest(cache.ensure("target"))  # built first if the cache lacks it
    same = weights == recorded.get("weights_sha256")
    verdict = (
        "the same tiny world as the rendered notebooks: every figure but a timing will match theirs"
        if same
        else "another tiny world than the rendered notebooks: your figures will differ"
    )
    return f"{verdict} (checked by the target's weights, fingerprint {weights[:8]})"
