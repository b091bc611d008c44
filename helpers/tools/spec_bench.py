"""Stage 11 benchmark on the world's pairs: `helpers.side_by_side` (every method, timed side by side in one
process) on the bench pair or the tiny pair, with the table, its columns and a two-line reading.

    python -m helpers.tools.spec_bench --json bench/speculative.json            # bench pair + draft (~1 h once)
    python -m helpers.tools.spec_bench --pair tiny --prompts 3 --new-tokens 16  # the tiny pair, seconds
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from helpers import generation
from helpers.side_by_side import COLUMNS, best, format_table, run
from helpers.world import families as tasks
from helpers.world import load_all, tiny


def bench_prompts(tok, n: int, seed: int = 7) -> list[torch.Tensor]:
    """Held-out chat prompts from every task family, as (1, length) id tensors."""
    held = tasks.heldout_by_family(max(1, -(-n // len(tasks.CORE_FAMILIES))), seed=seed)
    order = sorted(range(len(held)), key=lambda i: (i % (len(held) // len(tasks.CORE_FAMILIES)), i))
    return [torch.tensor([generation.chat_prompt_ids(tok, held[i].prompt)]) for i in order[:n]]


def bench_pointer() -> str:
    """Where the bench pair's figures are, and its recorded headline (read from the committed results)."""
    recorded = Path(__file__).resolve().parents[2] / "data" / "results" / "speculative_bench.json"
    line = "The bench pair (a 26M target, c ~ 0.1; `make bench`) is built for that: see the README's results"
    if recorded.exists():
        rec = json.loads(recorded.read_text())
        ours, c = best(rec, "ours"), rec["costs"]["c"]
        line += f" ({ours['speedup']:.2f}x plain greedy at c = {c:.2f}, recorded in data/results/speculative_bench.json)"
    return line + "."


def reading(result: dict) -> str:
    """Two lines under the table: what it shows, and why the tiny pair's speed-up is small."""
    ours, hf = best(result, "ours"), best(result, "HF")  # "HF" covers assisted and prompt lookup
    c = result["costs"]["c"]
    lines = [
        f"best ours: {ours['method']} {ours['speedup']:.2f}x plain; best HF: {hf['method']} {hf['speedup']:.2f}x; "
        f"ratio {ours['speedup'] / hf['speedup']:.2f}"
    ]
    if result.get("pair", {}).get("name") == "tiny":
        lines.append(
            f"The tiny pair's draft costs c = {c:.2f} of a target step, because both are so small that Python "
            "overhead, not compute, sets their step time; speculative decoding pays when c is small."
        )
        lines.append(bench_pointer())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m helpers.tools.spec_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--pair", choices=["bench", "tiny"], default="bench")
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ks", default="1,2,3,4,5,6,7,8,10,12")
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads for every method (this machine: 2 cores)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from helpers.profiles import go_offline

    go_offline()
    load_all()
    names = (
        ("bench_target", "bench_distilled", "bench_draft")
        if args.pair == "bench"
        else ("target", "draft", None)
    )
    print(
        f"{args.pair} pair: {', '.join(n for n in names if n)} (built first if the cache lacks them)"
    )
    tok = tiny.load_tokenizer()
    target, draft = tiny.load_model(names[0]), tiny.load_model(names[1])
    first_draft = tiny.load_model(names[2]) if names[2] else draft
    torch.set_num_threads(args.threads)
    result = run(
        target,
        draft,
        bench_prompts(tok, args.prompts),
        args.new_tokens,
        [int(k) for k in args.ks.split(",")],
        args.repeats,
        first_draft=first_draft if draft is not first_draft else None,
    )
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    result["pair"] = {
        "name": args.pair,
        "target_params": count(target),
        "draft_params": count(draft),
    }
    if draft is not first_draft:
        result["pair"]["first_draft_params"] = count(first_draft)
        result["pair"]["draft_info"] = tiny.cache.info(names[1])
    print(format_table(result))
    print(COLUMNS)
    print(reading(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
