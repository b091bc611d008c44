"""The batched stage-11 benchmark on the world's pairs: `helpers.side_by_side_batched` (batched speculative
decoding against plain batched `generate` of the same target, at several batch sizes, in one run) on the
tiny or the bench pair, with the cache key and figures of the models it timed.

    python -m helpers.tools.batch_bench --pair tiny --json data/results/batched_bench.json
    python -m helpers.tools.batch_bench --pair bench   # the bench pair (make bench builds it, ~1 h once)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from helpers.side_by_side_batched import format_table, run


def build_record(name: str) -> dict:
    """Which build of a world model was timed: its cache key and figures (builds differ across machines)."""
    from helpers.world import cache, load_all

    load_all()
    info = cache.info(name)
    return {
        "key": info["key"],
        "final_loss": info.get("final_loss"),
        "heldout_mean": info.get("heldout", {}).get("mean"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m helpers.tools.batch_bench", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--pair", choices=["bench", "tiny"], default="tiny")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from helpers.profiles import go_offline
    from helpers.tools.spec_bench import bench_prompts
    from helpers.world import tiny

    go_offline()
    names = ("bench_target", "bench_distilled") if args.pair == "bench" else ("target", "draft")
    tok = tiny.load_tokenizer()
    target, draft = (tiny.load_model(n).eval() for n in names)
    torch.set_num_threads(args.threads)
    prompts = [p[0].tolist() for p in bench_prompts(tok, args.prompts)]
    result = run(target, draft, prompts, args.new_tokens, tok.pad_token_id, repeats=args.repeats)
    result["pair"] = args.pair
    result["models"] = {n: build_record(n) for n in names}
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
