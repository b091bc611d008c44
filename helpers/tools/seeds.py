"""Each notebook's headline figures on tiny worlds built with several seeds: which stories hold on all.

    python -m helpers.tools.seeds --seeds 0,1,2 --json data/results/seeds.json

For each world seed (`COURSE_WORLD_SEED`, see `helpers.world.tiny`) it builds the whole world, runs the
stage notebooks top to bottom into a scratch folder (the committed notebooks and `data/results/` are left
alone), reads the figures each notebook wrote, and prints every headline figure per seed with its range. A
story a notebook tells should hold on every seed; where it does not, the notebook must say so.
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

NOTEBOOKS = ("12a_self_instruct", "12b_constitutional", "12c_rlaif", "13_llava", "14_capstone")
# (results file, figure, path into the record)
HEADLINES = [
    ("self_instruct.json", "12a student mean accuracy before", ("before", "mean")),
    ("self_instruct.json", "12a student mean accuracy after", ("after", "mean")),
    ("self_instruct.json", "12a student 'owns' after (coin 0.5)", ("after", "owns")),
    ("constitutional.json", "12b SL-CAI harmless", ("results", "SL-CAI", "harmless")),
    (
        "constitutional.json",
        "12b SL-CAI refuses kind requests",
        ("results", "SL-CAI", "refusal_benign"),
    ),
    # RL-CAI's pairs are drawn at one temperature since issue 39 (earlier records: 0.7 and 1.0)
    (
        "constitutional.json",
        "12b RL-CAI (pairs at T=1) harmless",
        ("results", "RL-CAI", "harmless"),
    ),
    (
        "constitutional.json",
        "12b RL-CAI (pairs at T=1) refuses kind requests",
        ("results", "RL-CAI", "refusal_benign"),
    ),
    ("constitutional.json", "12b RL-CAI (pairs at T=1) confident pairs", ("pairs",)),
    *[  # the preference loss alone since issue 39 (earlier records added the NLL term to every run)
        ("rlaif.json", f"12c DPO loss only, {run}: {side}", ("results", f"DPO, {run}", side))
        for run in ("hard labels", "soft labels", "confident labels")
        for side in ("harmless", "helpful")
    ],
    *[
        ("rlaif.json", f"12c DPO, {run}: {side}", ("results", f"DPO, {run}", side))
        for run in ("confident labels + NLL (RPO)",)
        for side in ("harmless", "helpful")
    ],
    ("llava.json", "13 stage 2 exact", ("results", "stage 2: projector + LoRA", "exact")),
    *[
        ("llava.json", f"13 stage 2 caption: {name}", ("results", "stage 2: projector + LoRA", a))
        for a, name in (("colour", "colour"), ("shape", "shape"), ("position", "side"))
    ],
    ("llava.json", "13 blind exact", ("results", "blind (text only)", "exact")),
    ("capstone.json", "14 final mean accuracy", ("steps", "merged", "mean")),
    ("capstone.json", "14 final harmful requests refused", ("steps", "merged", "unsafe")),
    ("capstone.json", "14 acceptance, self-draft", ("speculative", "draft", "alpha")),
    (
        "capstone.json",
        "14 acceptance, distilled self-draft",
        ("speculative", "distilled draft", "alpha"),
    ),
]


def dig(record: dict, path: tuple) -> float | None:
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


def run_seed(seed: int, scratch: Path, workers: int) -> dict[str, dict]:
    """Build the world of `seed`, run the notebooks, return {results file: record}."""
    results, outputs = scratch / f"results-{seed}", scratch / f"outputs-{seed}"
    env = {
        **os.environ,
        "COURSE_WORLD_SEED": str(seed),
        "COURSE_RESULTS": str(results),
        "COURSE_OUTPUTS": str(outputs),
        "MPLBACKEND": "Agg",
    }
    env.pop("COURSE_QUICK", None)  # the full tiny counts: the figures the notebooks teach
    subprocess.run(
        [sys.executable, "-m", "helpers.world", "build", "--workers", str(workers)],
        env=env,
        check=True,
    )
    paths = [f"notebooks/{nb}.ipynb" for nb in NOTEBOOKS]
    # a failed run shows as gaps
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *paths,
            "--nbmake",
            "--nbmake-timeout=1800",
            "-n",
            str(workers),
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        env=env,
        check=False,
    )
    return read(results)


def read(folder: Path) -> dict[str, dict]:
    """{results file: record} of one run's results folder."""
    return {p.name: json.loads(p.read_text()) for p in Path(folder).glob("*.json")}


def figures(seeds: list[int], records: dict[int, dict]) -> dict[str, list]:
    """{headline figure: its value on each seed (None where that run wrote none)}."""
    return {
        name: [dig(records.get(s, {}).get(file, {}), path) for s in seeds]
        for file, name, path in HEADLINES
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m helpers.tools.seeds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workers", type=int, default=cache.cores(), help="one per core by default")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--keep", type=Path, help="keep the other seeds' figures from this earlier --json file"
    )
    ap.add_argument(
        "--seed0",
        type=Path,
        help="read seed 0's figures from this folder (make notebooks' data/results)",
    )
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        records = {
            s: read(args.seed0)
            if s == 0 and args.seed0
            else run_seed(s, Path(scratch), args.workers)
            for s in seeds
        }
    data = {"seeds": seeds, "figures": figures(seeds, records)}
    if args.keep:
        data = report.keep_other_seeds(data, json.loads(args.keep.read_text()))
    print("\n".join(report.seeds_rows(data)))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
