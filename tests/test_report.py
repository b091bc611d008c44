import json
import os

import pytest

from helpers import numerics
from helpers.tools import report


def test_readme_results_match_the_measured_files():
    readme = (report.ROOT / "README.md").read_text()
    assert report.updated_readme(readme) == readme, "run `python -m helpers.tools.report`"


@pytest.mark.skipif(os.environ.get("COURSE_WORLD_SEED", "0") != "0", reason="the record is the default world's")
@pytest.mark.skipif(not numerics.X86, reason="an ARM CPU builds another world: tests/test_world_digest.py compares it")
def test_recorded_tiny_world_figures_hold_for_this_build(world):
    """data/results/tiny_world.json against the models this machine built, exactly: every x86-64 CPU builds
    the same world at the pinned instruction level. Another world seed is another world: not its reference."""
    recorded = json.loads((report.RESULTS / "tiny_world.json").read_text())
    keys = "params", "final_loss", "heldout", "key", "spec"
    for name, built in world["models"].items():
        assert {k: recorded["models"][name][k] for k in keys} == {k: built[k] for k in keys}, name
    assert recorded["tokenizer"]["key"] == world["tokenizer"]["key"]


def test_the_margins_check_runs_every_test_with_a_bar():
    """`helpers.tools.margins` prints a margin for each bar a test puts on a trained tiny model: every test
    that takes the `bar` fixture is in its list, and nothing else."""
    import ast

    from helpers.tools import margins

    with_bar = set()
    for path in sorted((report.ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and "bar" in [a.arg for a in node.args.args]:
                with_bar.add(f"tests/{path.name}::{node.name}")
    assert with_bar == set(margins.TESTS)
