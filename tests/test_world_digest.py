"""One world on every machine: the models this machine's cache holds against the digests recorded in
data/results/tiny_world.json. On x86-64 every process runs PyTorch and MKL at AVX2 (`helpers.numerics`), so a
model with the recorded key should have the recorded weights bit for bit whatever CPU built it: every machine
that runs `make test` checks it."""

import json
import os

import pytest

from helpers import numerics
from helpers.tools import report
from helpers.world import cache, load_all

RECORD = json.loads((report.RESULTS / "tiny_world.json").read_text())
# CPUs without AVX2 (ARM) build another world: there a model is compared by its loss, within the spread that
# different instruction sets moved the target by before the pin (0.3580 at AVX-512, 0.3674 at AVX2, 0.3794 on a
# third CPU).
LOSS_SPREAD = 0.03

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("COURSE_WORLD_SEED", "0") != "0",
        reason="the record is the default world's (seed 0)",
    ),
    pytest.mark.world,
]


def test_the_record_holds_every_model_of_the_world_at_the_pinned_level():
    from helpers.world.__main__ import default_world

    # tests may register recipes of their own in this process: the world's are those of
    # helpers.world
    load_all()
    world = [
        n for n in default_world() if cache.recipe(n).data.__module__.startswith("helpers.world.")
    ]
    assert sorted(RECORD.get("digests", {})) == sorted(world), (
        "run `make notebooks` to record the world"
    )
    assert RECORD["numerics"] == {
        "cpu_capability": numerics.LEVEL.upper(),
        "mkl_cbwr": numerics.LEVEL.upper(),
    }


def test_this_process_runs_at_the_recorded_level():
    assert numerics.identity() == RECORD["numerics"] or not numerics.pinnable()


@pytest.mark.parametrize("name", sorted(RECORD.get("digests", {})))
def test_a_model_built_here_matches_its_recorded_digest(name):
    load_all()
    recorded = RECORD["digests"][name]
    if numerics.pinnable():
        assert cache.key(name) == recorded["key"], (
            f"{name}: this machine's key differs (libraries or recipe changed)"
        )
    if not cache.is_built(name):
        pytest.skip(f"{name} is not in this machine's cache (make world builds it)")
    built = cache.info(name)
    if numerics.pinnable():
        assert cache.weights_digest(cache.path(name)) == recorded["weights_sha256"], name
        assert built.get("final_loss") == recorded.get("final_loss"), name
    elif "final_loss" in recorded:
        assert abs(built["final_loss"] - recorded["final_loss"]) < LOSS_SPREAD, name


def test_the_digest_sees_a_single_changed_bit(tmp_path):
    """The digest is of the weights' bytes: one flipped low bit in one tensor changes it."""
    import torch
    from safetensors.torch import save_file

    weights = {"w": torch.linspace(-1, 1, 64).reshape(8, 8)}
    save_file(weights, tmp_path / "model.safetensors")
    before = cache.weights_digest(tmp_path)
    weights["w"].view(torch.int32)[3, 5] ^= 1
    save_file(weights, tmp_path / "model.safetensors")
    assert cache.weights_digest(tmp_path) != before
