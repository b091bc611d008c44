import json

from helpers import report


def test_readme_results_match_the_measured_files():
    readme = (report.ROOT / "README.md").read_text()
    assert report.updated_readme(readme) == readme, "run `python -m helpers.report`"


def test_recorded_tiny_world_figures_are_this_codes(world):
    """data/results/tiny_world.json must be what the current recipe and code build (it is deterministic)."""
    recorded = json.loads((report.RESULTS / "tiny_world.json").read_text())
    built = json.loads((world / "world.json").read_text())
    assert recorded["hash"] == built["hash"]
    assert {r: m["heldout"] for r, m in recorded["models"].items()} == {
        r: m["heldout"] for r, m in built["models"].items()
    }
