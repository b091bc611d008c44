"""Every test runs in the offline tiny profile, on one thread."""

import json
import os

os.environ["COURSE_PROFILE"] = "tiny"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import helpers  # noqa: E402, F401, I001  (first: it pins torch's CPU kernels to AVX2 before torch is imported)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _full_tiny_profile(monkeypatch):
    """Unit tests see the full tiny profile: `make test` sets COURSE_QUICK=1 for its notebook runs only."""
    monkeypatch.delenv("COURSE_QUICK", raising=False)


@pytest.fixture(scope="session")
def world():
    """The base models' figures (the target and the draft are built first if the cache lacks them)."""
    from helpers.world import tiny

    return tiny.world_info()


@pytest.fixture(scope="session")
def tok(world):
    from helpers.world import tiny

    return tiny.load_tokenizer()


@pytest.fixture(scope="session")
def target(world):
    from helpers.world import tiny

    return tiny.load_model("target")


@pytest.fixture(scope="session")
def draft(world):
    from helpers.world import tiny

    return tiny.load_model("draft")


@pytest.fixture
def bar(request):
    """`bar(value, above=x)` or `bar(value, below=x)`: assert that a trained tiny model's figure clears its
    bar. With COURSE_MARGINS=FILE it also appends the margin there: `python -m helpers.tools.margins` runs
    these tests on worlds of several seeds and prints how far each figure stayed from its bar."""

    def check(
        value: float, *, above: float | None = None, below: float | None = None, what: str
    ) -> None:
        margin = value - above if above is not None else below - value
        if path := os.environ.get("COURSE_MARGINS"):
            row = {
                "test": request.node.name,
                "what": what,
                "value": round(value, 4),
                "bar": above if above is not None else below,
                "side": "above" if above is not None else "below",
                "margin": round(margin, 4),
                "world_seed": int(os.environ.get("COURSE_WORLD_SEED", "0")),
            }
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")
        side, level = ("above", above) if above is not None else ("below", below)
        assert margin > 0, f"{what}: {value:.3f}, bar: {side} {level}"

    return check


# ---------------------------------------------------------------- markers (`make unit` runs neither)
WORLD_FIXTURES = {"world", "tok", "target", "draft", "bar"}  # the tiny world's trained models
HUB_FIXTURES = {"hub", "hub_data", "fresh_table"}  # the stand-in hub (make hub)


def pytest_collection_modifyitems(items):
    """Mark each test by what it needs: `world` (trained tiny models), `hub` (the stand-in hub)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & WORLD_FIXTURES:
            item.add_marker(pytest.mark.world)
        if names & HUB_FIXTURES:
            item.add_marker(pytest.mark.hub)
