"""Stage 14, the capstone: one domain assistant through the whole stack, and the harness that measures it.

In the tiny profile the domain is a pet-care assistant with checkable answers (`helpers.world.capstone`);
on a GPU preset it is GSM8K, whose final numbers are checkable too. The harness measures what a model card needs: reference
accuracy per family, the share of answers that end with end-of-turn before the token limit, a pairwise
win rate with the shared judge, and speed (tokens/s, time to the first token, weight memory).
"""

from __future__ import annotations

import time

import torch

from helpers import generation, judge, tasks
from helpers.tasks import Family, Task


# ---------------------------------------------------------------- the evaluation harness
def evaluate(model, tok, items: list[Task], max_new_tokens: int = 48) -> dict:
    """Greedy answers to held-out items: accuracy per family, and the share that ended with end-of-turn."""
    answers, correct, finished = tasks.graded_answers(
        model, tok, items, max_new_tokens, batch_size=128
    )
    return {
        **tasks.accuracy_by_family(items, correct),
        "eos_share": sum(finished) / len(finished),
        "answers": answers,
    }


def max_logit_difference(a, b, tok, prompts: list[str]) -> float:
    """Largest absolute logit difference between two models over the prompts (the merge check)."""
    worst = 0.0
    with torch.no_grad():
        for p in prompts:
            # a GPU model needs GPU ids
            ids = torch.tensor([generation.chat_prompt_ids(tok, p)], device=a.device)
            worst = max(
                worst, (a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max().item()
            )
    return worst


def merge_adapter(peft_model, full_base, folder) -> torch.nn.Module:
    """Fold a trained LoRA adapter into an unquantized copy of its base: save the adapter, load it onto
    `full_base` (a full-precision model; with QLoRA the adapter was trained on a 4-bit copy, and merging into
    4-bit weights would round the sum back to 4 bits), merge. Serving then needs no PEFT."""
    import copy

    from peft import PeftModel

    peft_model.save_pretrained(folder)
    return PeftModel.from_pretrained(copy.deepcopy(full_base), folder).merge_and_unload().eval()


def weight_megabytes(model) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def speed(generate_one, prompts: list[str], tok) -> dict:
    """Tokens per second and median time to the first token of `generate_one(prompt) -> (text, first_s)`,
    one prompt at a time (the chat demo's regime), and the peak GPU memory on a GPU."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        # every model loaded so far: not this one's serving cost
        resident = torch.cuda.memory_allocated()
    firsts, tokens, t0 = [], 0, time.perf_counter()
    for p in prompts:
        text, first = generate_one(p)
        firsts.append(first)
        tokens += len(tok(text, add_special_tokens=False)["input_ids"])
    total = time.perf_counter() - t0
    firsts.sort()
    out = {
        "tokens_per_s": tokens / total,
        "first_token_s": firsts[len(firsts) // 2],
        "tokens": tokens,
    }
    if cuda:  # torch does not track CPU allocations, so peak memory is a GPU-only figure
        # above what was resident
        out["peak_gpu_mb"] = (torch.cuda.max_memory_allocated() - resident) / 2**20
    return out


def self_consistent(items: list[Task], greedy: list[str], sampled: list[str]) -> list[bool]:
    """Keep an answer for self-training only when a sampled answer agrees with the greedy one (a cheap
    confidence filter; disagreement marks questions the model is unsure about). Agreement is the family's:
    the same final number for GSM8K (`tasks.same_answer`), the same text otherwise."""
    return [tasks.same_answer(t, g, s) for t, g, s in zip(items, greedy, sampled, strict=True)]


def label_pairs(
    items: list[Task], pairs: list[tuple[str, str]], judge_verdicts
) -> list[judge.Verdict]:
    """A verdict per pair: by the reference grader where the task has one (GSM8K: right beats wrong; both
    right or both wrong is a tie, dropped), by `judge_verdicts(prompts, firsts, seconds)` for the rest. The
    judge is called only when some pair needs it, so a preset whose pairs are all graded never loads it."""
    graded = [tasks.reference_graded(t) for t in items]
    need = [i for i, g in enumerate(graded) if not g]
    judged = iter(
        judge_verdicts(
            [items[i].prompt for i in need],
            [pairs[i][0] for i in need],
            [pairs[i][1] for i in need],
        )
        if need
        else []
    )
    out = []
    for t, (a, b), g in zip(items, pairs, graded, strict=True):
        if not g:
            out.append(next(judged))
            continue
        # 1: only the first is right, 0: only the second
        p = 0.5 + (tasks.grade(t, a) - tasks.grade(t, b)) / 2
        out.append(judge.Verdict(p, 1.0 - p, 1.0))
    return out


# ---------------------------------------------------------------- GPU presets: grade-school math
def final_number(text: str) -> str | None:
    """The last number in a text, without thousands separators ("#### 1,234" -> "1234")."""
    import re

    found = re.findall(r"-?\d[\d,]*\.?\d*", text)
    return found[-1].replace(",", "").rstrip(".") if found else None


def gsm8k_tasks(split: str) -> list[Task]:
    """`openai/gsm8k` questions with their reference answers, graded by the final number. `split` is one
    datasets split spec, slice included ("train[256:512]"): datasets accepts one slice, not two."""
    from helpers.hub import load_dataset

    rows = load_dataset("openai/gsm8k", "main", split=split)
    return [
        Task(
            "gsm8k",
            r["question"],
            r["answer"].replace("####", "The answer is"),
            {"value": final_number(r["answer"])},
        )
        for r in rows
    ]


tasks.register_family(
    Family(
        "gsm8k",
        lambda rng: None,
        lambda t, a: final_number(a) == t.meta["value"],
        0.0,
        key=final_number,
    )
)


def model_card(name: str, facts: dict) -> str:
    """A short model card in Markdown from measured values (`facts`: section -> {label: value})."""
    lines = [f"# Model card: {name}", ""]
    for section, rows in facts.items():
        lines += [f"## {section}", ""]
        lines += [f"- **{k}**: {v}" for k, v in rows.items()]
        lines.append("")
    return "\n".join(lines)
