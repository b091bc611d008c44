"""What a notebook asserts about its own results, and the one rule for where each kind of claim can hold.

A notebook ends its key cells with `claims.check(...)`: a run that breaks what the notebook teaches (greedy
speculative decoding that differs from `generate` by one token, a stale record reused) stops there, under
`make test` too, instead of printing the failure and carrying on. Two kinds of claim hold only somewhere:
- `exact(profile)`: bit-for-bit claims hold in float32 without 4-bit weights. In fp16, bf16 or NF4 a batched
  pass may sum in another order than a one-token pass, so outputs can part (said in notebook 11).
- `full_counts(profile)`: claims about what training learned, or a statistical test's power, need the full
  counts: not `COURSE_QUICK` (steps and samples cut) and not a dry run (random stand-in models).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from helpers import profiles


def exact(profile: profiles.Profile) -> bool:
    """Whether bit-exact claims can hold here: float32 weights, no 4-bit."""
    return profile.dtype == torch.float32 and not profile.load_in_4bit


def full_counts(profile: profiles.Profile) -> bool:
    """Whether learned and statistical claims can hold here: full step and sample counts, real models."""
    return not profile.quick and not profile.dry_run


def check(ok: bool, claim: str, where: bool = True) -> None:
    """Assert `claim` (a sentence saying what must hold) where it can hold; say which it was, either way."""
    if not where:
        print(f"claim not checked on this profile: {claim}")
        return
    if not ok:
        raise AssertionError(f"claim failed: {claim}")
    print(f"claim holds: {claim}")


SEEDS = Path(__file__).resolve().parents[1] / "data" / "results" / "seeds.json"


def seed_record(path: Path = SEEDS, live: Path | None = None) -> dict:
    """The seeds table, with this page's column (its first seed) read from this run's results files
    where the run wrote them, so the box never shows a figure of an earlier run as this page's."""
    from helpers.tools import seeds as table  # its list of headline figures and where they live

    record = json.loads(Path(path).read_text())
    on_this_world = os.environ.get("COURSE_WORLD_SEED", "0") == str(record["seeds"][0])
    if not on_this_world or profiles.choose_profile().name != "tiny":
        return record  # another world or a GPU run: its figures are not this column's
    files = table.read(profiles.results_dir() if live is None else live)
    for file, name, key in table.HEADLINES:
        value = table.dig(files.get(file, {}), key)
        if value is not None and name in record["figures"]:
            record["figures"][name][0] = value
    return record


def live_seeds(path: Path = SEEDS) -> Path:
    """`seed_record` written to the outputs folder, for readings that take the table's path."""
    from helpers.settings import OUTPUTS

    out = OUTPUTS / "seeds_live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(seed_record(path)))
    return out


def stability(stage: str, path: Path = SEEDS) -> None:
    """How stable is this? Print this stage's headline figures on tiny worlds built with other seeds
    (`python -m helpers.tools.seeds` wrote them; docs/maintainers.md#results has the whole table);
    this page's column is this run's own figures."""
    record = seed_record(path)
    rows = {k: v for k, v in record["figures"].items() if k.split()[0] == stage}
    seeds, before = record["seeds"], set(record.get("before_pin", []))
    if not rows:
        print(f"no figure of stage {stage} is recorded across world seeds yet")
        return
    head = [f"seed {s}" + (" (this page)" if s == seeds[0] else "") for s in seeds]
    width = max(map(len, rows), default=10)
    print(f"{'figure':{width}}" + "".join(f"{h:>22}" for h in head))
    for name, values in rows.items():
        cells = [
            "-" if v is None else f"{v:.0f}" if v == int(v) and v > 1 else f"{v:.2f}"
            for v in values
        ]
        print(f"{name:{width}}" + "".join(f"{c:>22}" for c in cells))
    note = "'-': not measured on that world"
    if before:
        others = " and ".join(str(s) for s in seeds if s in before)
        note += f"; seed {others}: built once, by an earlier version of the world's build"  # before the pin
    print(note)
