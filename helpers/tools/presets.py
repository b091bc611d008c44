"""`make presets`: notebooks on a GPU preset's code path, on this CPU, against the stand-in hub.

Each run is `COURSE_PROFILE=<preset> COURSE_DRY_RUN=1` through nbmake (outputs never written back): the
preset's models, data, prompts, parsers and pairings, in fp32 with budgets cut to a few steps. Figures and
output folders go under `--results` (a scratch folder), never into the clone.

    python -m helpers.tools.presets t4:14_capstone a100:11b_speculative_serving --workers 2
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
# "preset:notebook@form": the notebook with your own checkpoint for its main role, in one of the two forms a
# phase-3 run leaves (a LoRA adapter folder as trainer.save_model() writes it, or a merged model folder).
CHECKPOINT_ROLE = {
    "11_speculative": "target",
    "11b_speculative_serving": "target",
    "14_capstone": "policy",
}


def your_checkpoint(preset: str, notebook: str, form: str, folder: Path) -> dict[str, str]:
    """Write a stand-in "phase-3 checkpoint" for the notebook's main role (the preset's model with a seeded
    random LoRA adapter) in `form`, and return the environment variable that points the role at it."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers import hub_settings, profiles, training

    role = CHECKPOINT_ROLE[notebook]
    if role == "policy":
        repo = hub_settings.CAPSTONE_POLICIES[preset]
    else:
        repo = profiles.GPU_PRESETS[preset]["models"][role]
    base = standin_hub.local_path(repo)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), training.lora_config(r=4))
    for name, p in model.named_parameters():
        if "lora_B" in name:  # a trained adapter is not zero
            torch.nn.init.normal_(p, std=0.02)
    out = folder / f"{role}-{form}"
    if form == "adapter":
        model.save_pretrained(out)
    else:
        model.merge_and_unload().save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return {f"COURSE_{role.upper()}": str(out)}


def checkpoint_env(spec: str, results: str) -> dict[str, str]:
    """The environment of a "preset:notebook@form" run's checkpoint (written here); {} for a plain run."""
    if "@" not in spec:
        return {}
    (preset, notebook), form = spec.split("@")[0].split(":"), spec.split("@")[1]
    return your_checkpoint(preset, notebook, form, Path(results) / "checkpoints" / preset)


def run_one(spec: str, results: str, checkpoint: dict) -> tuple[str, int, float, str]:
    """(spec, return code, seconds, pytest's last line) of one preset:notebook run."""
    preset, notebook = spec.split("@")[0].split(":")
    env = {
        **os.environ,
        **standin_hub.env(standin_hub.build()),
        "COURSE_PROFILE": preset,
        "COURSE_DRY_RUN": "1",
        "COURSE_RESULTS": results,
        "COURSE_OUTPUTS": f"{results}/outputs",
        **EXTRA_ENV.get(notebook, {}),
        "COURSE_DRY_RUN_4BIT": "1" if spec in FOUR_BIT_RUNS else "0",
        **checkpoint,
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
    parser.add_argument(
        "runs", nargs="+", help="preset:notebook[@adapter|@merged], e.g. t4:14_capstone"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", default="/tmp/llm-course-presets")
    args = parser.parse_args()
    standin_hub.build()  # once, before the workers read it
    print(
        f"presets: {len(args.runs)} dry runs, {args.workers} at a time, in the order given (longest first packs best)"
    )
    # before the workers: transformers' loading is not thread-safe (its empty-weights context is global)
    checkpoints = {s: checkpoint_env(s, args.results) for s in args.runs}
    outcomes = []
    with ThreadPoolExecutor(args.workers) as pool:
        runs = [pool.submit(run_one, s, args.results, checkpoints[s]) for s in args.runs]
        for done in as_completed(runs):
            spec, rc, seconds, last = done.result()
            outcomes.append(rc)
            print(
                f"[{time.strftime('%H:%M:%S')}] preset {'ok  ' if rc == 0 else 'FAIL'} {spec:28} {seconds:5.0f} s  {last}",
                flush=True,
            )
    sys.exit(max(outcomes))


if __name__ == "__main__":
    main()
