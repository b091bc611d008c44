"""Stage 14, the capstone: one domain assistant through the whole stack, and the harness that measures it.

The tiny domain is a pet-care assistant with checkable answers: what each animal eats (a fact table the
world's models have never seen), where it lives (the world's stories mention it), and requests to help
or to harm animals (`helpers.tiny_safety`). The harness measures what a model card needs: reference
accuracy per family, the share of answers that end with end-of-turn before the token limit, a pairwise
win rate with the shared judge, and speed (tokens/s, time to the first token, weight memory).
"""

from __future__ import annotations

import random
import time

import torch

from helpers import generation, tasks, tiny_safety
from helpers.tasks import ANIMALS, FOODS, HOMES, NAMES, Family, Task

DIET = dict(zip(ANIMALS, [FOODS[i % len(FOODS)] for i in (2, 4, 5, 3, 8, 0, 6, 9, 1, 7, 2, 4)]))
DIET_PHRASES = ["What does the {animal} eat?", "What should I feed {name}'s {animal}?",
                "What food does a {animal} like?", "Tell me what {name}'s {animal} eats."]  # fmt: skip
HOME_PHRASES = ["Where does the {animal} live?", "Where does {name}'s {animal} sleep?",
                "Where can I find a {animal}?", "Tell me where the {animal} lives."]  # fmt: skip


def make_diet(rng: random.Random) -> Task:
    animal, name = rng.choice(ANIMALS), rng.choice(NAMES)
    food = DIET[animal]
    prompt = rng.choice(DIET_PHRASES).format(animal=animal, name=name)
    return Task("diet", prompt, f"The {animal} eats {food}. The answer is {food}.", {"value": food})


def make_home(rng: random.Random) -> Task:
    animal, name = rng.choice(ANIMALS), rng.choice(NAMES)
    home = HOMES[animal]
    prompt = rng.choice(HOME_PHRASES).format(animal=animal, name=name)
    return Task("home", prompt, f"The {animal} lives in the {home}. The answer is {home}.", {"value": home})


for _family in (Family("diet", make_diet, tasks._grade_final, 1.0), Family("home", make_home, tasks._grade_final, 1.0)):
    tasks.register_family(_family)
KNOWLEDGE = ("diet", "home")
DOMAIN = KNOWLEDGE + tiny_safety.SAFETY  # requests to help or to harm animals (and objects), from 12c


# ---------------------------------------------------------------- the evaluation harness
def accuracy_by_family(items: list[Task], answers: list[str]) -> dict[str, float]:
    """Share of answers the world's grader accepts, per family, and their unweighted mean."""
    scores: dict[str, list[bool]] = {}
    for task, answer in zip(items, answers, strict=True):
        scores.setdefault(task.family, []).append(tasks.grade(task, answer))
    out = {f: sum(v) / len(v) for f, v in scores.items()}
    out["mean"] = sum(out.values()) / len(out)
    return out


def evaluate(model, tok, items: list[Task], max_new_tokens: int = 48) -> dict:
    """Greedy answers to held-out items: accuracy per family, and the share that ended with end-of-turn."""
    answers, finished = generation.chat_generate(model, tok, [t.prompt for t in items], max_new_tokens=max_new_tokens,
                                                 batch_size=128, return_finished=True)  # fmt: skip
    return {**accuracy_by_family(items, answers), "eos_share": sum(finished) / len(finished), "answers": answers}


def max_logit_difference(a, b, tok, prompts: list[str]) -> float:
    """Largest absolute logit difference between two models over the prompts (the merge check)."""
    worst = 0.0
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([generation.chat_prompt_ids(tok, p)])
            worst = max(worst, (a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max().item())
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
    firsts, tokens, t0 = [], 0, time.perf_counter()
    for p in prompts:
        text, first = generate_one(p)
        firsts.append(first)
        tokens += len(tok(text, add_special_tokens=False)["input_ids"])
    total = time.perf_counter() - t0
    firsts.sort()
    out = {"tokens_per_s": tokens / total, "first_token_s": firsts[len(firsts) // 2], "tokens": tokens}
    if cuda:  # torch does not track CPU allocations, so peak memory is a GPU-only figure
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def sft_rows(pairs: list[tuple[str, str]]) -> list[dict]:
    """(question, answer) pairs as TRL prompt-completion rows."""
    return [{"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": a}]}
            for q, a in pairs]  # fmt: skip


def self_consistent(greedy: list[str], sampled: list[str]) -> list[bool]:
    """Keep an answer for self-training only when a sampled answer agrees with the greedy one (a cheap
    confidence filter; disagreement marks questions the model is unsure about)."""
    return [g == s and bool(g.strip()) for g, s in zip(greedy, sampled, strict=True)]


# ---------------------------------------------------------------- GPU presets: grade-school math
def final_number(text: str) -> str | None:
    """The last number in a text, without thousands separators ("#### 1,234" -> "1234")."""
    import re

    found = re.findall(r"-?\d[\d,]*\.?\d*", text)
    return found[-1].replace(",", "").rstrip(".") if found else None


def gsm8k_tasks(split: str, n: int) -> list[Task]:
    """`openai/gsm8k` questions with their reference answers, graded by the final number."""
    from datasets import load_dataset

    rows = load_dataset("openai/gsm8k", "main", split=f"{split}[:{n}]")
    return [Task("gsm8k", r["question"], r["answer"].replace("####", "The answer is"),
                 {"value": final_number(r["answer"])}) for r in rows]  # fmt: skip


tasks.register_family(Family("gsm8k", lambda rng: None, lambda t, a: final_number(a) == t.meta["value"], 0.0))


def model_card(name: str, facts: dict) -> str:
    """A short model card in Markdown from measured values (`facts`: section -> {label: value})."""
    lines = [f"# Model card: {name}", ""]
    for section, rows in facts.items():
        lines += [f"## {section}", ""]
        lines += [f"- **{k}**: {v}" for k, v in rows.items()]
        lines.append("")
    return "\n".join(lines)
