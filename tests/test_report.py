import json
import os

import pytest

from helpers import numerics
from helpers.tools import report


def test_readme_and_maintainers_results_match_the_measured_files():
    readme = (report.ROOT / "README.md").read_text()
    assert report.updated_readme(readme) == readme, "run `python -m helpers.tools.report`"
    docs = report.DOCS.read_text()
    assert report.updated_docs(docs) == docs, "run `python -m helpers.tools.report`"


@pytest.mark.skipif(
    os.environ.get("COURSE_WORLD_SEED", "0") != "0", reason="the record is the default world's"
)
@pytest.mark.skipif(
    not numerics.X86,
    reason="an ARM CPU builds another world: tests/test_world_digest.py compares it",
)
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


def test_a_rerun_of_some_seeds_keeps_the_others_marked_as_built_before_the_pin():
    """`--keep FILE`: seed 0 rerun on the pinned world, seeds 1 and 2 kept from an older record (which predates
    the mark, so every seed in it was built before the pin); the tables then say so under the columns."""
    old_figures = {"seeds": [0, 1, 2], "figures": {"a": [0.1, 0.2, 0.3], "b": [0.4, None, 0.6]}}
    merged = report.keep_other_seeds(
        {"seeds": [0], "figures": {"a": [0.9], "b": [0.8]}}, old_figures
    )
    assert merged == {
        "seeds": [0, 1, 2],
        "figures": {"a": [0.9, 0.2, 0.3], "b": [0.8, None, 0.6]},
        "before_pin": [1, 2],
    }
    rows = [
        {"world_seed": s, "what": "x", "side": "above", "bar": 0.5, "value": v, "margin": v - 0.5}
        for s, v in ((0, 0.7), (1, 0.6))
    ]
    old_rows = {"seeds": [0, 1], "rows": rows, "before_pin": [0, 1]}
    fresh = {"seeds": [0], "rows": [{**rows[0], "value": 0.8, "margin": 0.3}]}
    merged_rows = report.keep_other_seeds(fresh, old_rows)
    assert [r["value"] for r in merged_rows["rows"]] == [0.8, 0.6] and merged_rows[
        "before_pin"
    ] == [1]
    table = "\n".join(report.margins_rows(merged_rows))
    assert (
        "seed 1 (before the AVX2 pin)" in table
        and "seed 0 (before" not in table
        and "Seeds 1: built before" in table
    )
    assert "before_pin" not in report.keep_other_seeds({"seeds": [0, 1], "rows": []}, old_rows)
