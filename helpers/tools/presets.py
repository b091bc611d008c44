"""`make presets`: notebooks on a GPU preset's code path, on this CPU, against the stand-in hub.

Each run is `COURSE_PROFILE=<preset> COURSE_DRY_RUN=1` through nbmake (outputs never written back): the
preset's models, data, prompts, parsers and pairings, in fp32 with budgets cut to a few steps. Figures and
output folders go under `--results` (a scratch folder), never into the clone.

    python -m helpers.tools.presets t4:14_capstone a100:11_speculative --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from helpers.tools import standin_hub

ROOT = Path(__file__).resolve().parents[2]
# A randomly initialised writer parses into nothing, so 12a's dry run writes with the real SmolLM2-135M-Instruct
# (the stand-in hub's one real model): the preset's prompts, prefill and parsers then meet a real chat model.
EXTRA_ENV = {"12a_self_instruct": {"COURSE_GENERATOR": "HuggingFaceTB/SmolLM2-135M-Instruct"}}
# One dry run loads and trains in 4-bit as its preset does (QLoRA: an NF4 base, fp32 LoRA adapters), on this CPU.
FOUR_BIT_RUNS = {"t4:14_capstone"}


def run_one(spec: str, results: str) -> tuple[str, int, float, str]:
    """(spec, return code, seconds, pytest's last line) of one preset:notebook run."""
    preset, notebook = spec.split(":")
    env = {
        **os.environ,
        **standin_hub.env(standin_hub.build()),
        "COURSE_PROFILE": preset,
        "COURSE_DRY_RUN": "1",
        "COURSE_RESULTS": results,
        "COURSE_OUTPUTS": f"{results}/outputs",
        **EXTRA_ENV.get(notebook, {}),
        "COURSE_DRY_RUN_4BIT": "1" if spec in FOUR_BIT_RUNS else "0",
    }
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        f"notebooks/{notebook}.ipynb",
        "--nbmake",
        "--nbmake-timeout=600",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    print(f"[{time.strftime('%H:%M:%S')}] preset start {spec}", flush=True)
    t0 = time.time()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    if done.returncode:
        print(done.stdout[-6000:], done.stderr[-2000:], sep="\n", flush=True)
    return spec, done.returncode, time.time() - t0, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="preset:notebook, e.g. t4:14_capstone")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", default="/tmp/llm-course-presets")
    args = parser.parse_args()
    standin_hub.build()  # once, before the workers read it
    print(
        f"presets: {len(args.runs)} dry runs, {args.workers} at a time, in the order given (longest first packs best)"
    )
    outcomes = []
    with ThreadPoolExecutor(args.workers) as pool:
        for done in as_completed([pool.submit(run_one, s, args.results) for s in args.runs]):
            spec, rc, seconds, last = done.result()
            outcomes.append(rc)
            print(
                f"[{time.strftime('%H:%M:%S')}] preset {'ok  ' if rc == 0 else 'FAIL'} {spec:28} {seconds:5.0f} s  {last}",
                flush=True,
            )
    sys.exit(max(outcomes))


if __name__ == "__main__":
    main()
