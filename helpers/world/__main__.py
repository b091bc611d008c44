"""`python -m helpers.world build [NAME ...]`: build the tiny world's models (all by default) on every core
and print their table; `python -m helpers.world path NAME`: a model's folder; `python -m helpers.world check
[NAME ...]`: exit 0 if every one is cached, 1 if some must be built (what `make test` asks first)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from helpers import numerics
from helpers.world import cache, load_all, tiny


def default_world() -> list[str]:
    """Every model the notebooks and tests use (stage 11's bench pair is built by `make bench` only)."""
    return [name for name in cache.RECIPES if not name.startswith("bench")]


def digests(names: list[str]) -> dict[str, dict]:
    """Each model's key, final loss and weight digest: what every other machine's build is compared with."""
    record = {
        n: {f: cache.info(n)[f] for f in ("key", "final_loss") if f in cache.info(n)} for n in names
    }
    return {
        n: {**r, "weights_sha256": cache.weights_digest(cache.path(n))} for n, r in record.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.world", description=__doc__)
    parser.add_argument("command", choices=["build", "path", "check"])
    parser.add_argument(
        "names", nargs="*", help="models to build (default: the whole world but the bench pair)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=cache.cores(),
        help="parallel build processes of one thread each (default: one per core)",
    )
    parser.add_argument("--json", type=Path, help="also write the base models' figures here")
    args = parser.parse_args(argv)
    from helpers.profiles import go_offline

    go_offline()
    load_all()
    names = args.names or default_world()
    if args.command == "path":
        for name in names:
            print(cache.path(name))
        return
    t0 = time.time()
    todo = cache.needed(names)
    if args.command == "check":
        print(
            f"tiny world: {len(todo)} of the models asked for must be built"
            + (f" ({', '.join(todo)})" if todo else "")
        )
        raise SystemExit(1 if todo else 0)
    cache.know_pace(todo)
    print(
        f"tiny world in {cache.cache_root()}: {len(names) - len([n for n in names if n in todo])} of {len(names)} "
        f"models cached"
        + (
            f"; building {len(todo)} on {args.workers} cores: {', '.join(todo)} (~"
            f"{cache._minutes(cache.estimate(todo, args.workers))} at this machine's pace, {cache.pace():.1f}x the "
            "recorded build times)"
            if todo
            else ""
        )
    )
    cache.build(names, workers=args.workers)
    if todo:
        print(f"built in {cache._minutes(time.time() - t0)}")
    print(tiny.cache_table(names))
    if {"target", "draft"} <= set(names):
        print(tiny.world_table(tiny.world_info()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            **tiny.world_info(),
            "numerics": numerics.identity(),
            "digests": digests(names),
            "build_s_per_model": {n: cache.info(n)["build_s"] for n in names},
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
