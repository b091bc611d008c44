"""How far each trained-model bar in the tests stays from failing, on worlds of several seeds.

    python -m helpers.tools.margins --seeds 0,1,2 --json data/results/margins.json

For each world seed (`COURSE_WORLD_SEED`, see `helpers.world.tiny`) it builds the models the tests use,
runs the tests that put a bar on a trained tiny model (they call the `bar` fixture), and prints every
figure with its bar and margin per seed. A bar that holds on one build only is not a bar.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers.tools import report
from helpers.world import cache

MODELS = ("target", "draft", "policy", "judge", "helpful", "feedback")
TESTS = (
    "tests/test_tiny_world.py::test_world_table_shape_and_target_beats_draft",
    "tests/test_tiny_world.py::test_four_bit_loading_path_on_cpu",
    "tests/test_constitutional.py::test_tiny_critic_tells_harmful_from_kind_and_revisions_follow_critiques",
    "tests/test_constitutional.py::test_tiny_feedback_model_beats_chance_under_the_constitutions_questions",
    "tests/test_rlaif.py::test_tiny_judge_beats_chance_on_fresh_policy_pairs",
    "tests/test_llava.py::test_training_reads_the_image_beyond_chance",
    "tests/test_llava.py::test_mixed_precision_training_keeps_fp32_weights_and_learns",
    "tests/test_distill.py::test_a_draft_distilled_for_the_policy_accepts_more",
    "tests/test_rlaif.py::test_dpo_trainer_accepts_the_rows_and_learns_a_planted_preference",
    "tests/test_capstone.py::test_merge_check_finds_an_identical_merge_and_a_real_change",
)


def run_seed(seed: int, rows_file: Path, workers: int) -> None:
    env = {**os.environ, "COURSE_WORLD_SEED": str(seed), "COURSE_MARGINS": str(rows_file)}
    subprocess.run(
        [sys.executable, "-m", "helpers.world", "build", *MODELS, "--workers", str(workers)],
        env=env,
        check=True,
    )
    # a failed bar is a result to print, not a crash
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *TESTS,
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            str(workers),
        ],
        env=env,
        check=False,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m helpers.tools.margins",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workers", type=int, default=cache.cores(), help="one per core by default")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--keep", type=Path, help="keep the other seeds' figures from this earlier --json file"
    )
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        rows_file = Path(scratch) / "margins.jsonl"
        for seed in seeds:
            run_seed(seed, rows_file, args.workers)
        rows = (
            [json.loads(line) for line in rows_file.read_text().splitlines()]
            if rows_file.exists()
            else []
        )
    data = {"seeds": seeds, "rows": rows}
    if args.keep:
        data = report.keep_other_seeds(data, json.loads(args.keep.read_text()))
    print("\n".join(report.margins_rows(data)))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
