"""Self-Instruct (Wang et al. 2022): grow an instruction dataset from a few seed tasks with the model itself.

The pipeline of the paper's repository (yizhongw/self-instruct): prompts of 8 instructions (6 seeds + 2
machine-generated), a numbered-list parser, a yes/no "is it classification?" step, instances written
output-first for classification and input-first otherwise, and the filters below. Every generation goes
through `generation.generate_to_jsonl`, so a long run resumes where it stopped.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rouge_score import rouge_scorer, scoring

from helpers import generation

# ---------------------------------------------------------------- seed tasks
SEED_FIELDS = {"instruction": str, "input": str, "output": str, "is_classification": bool}


def load_seed_tasks(path: str | Path) -> list[dict]:
    """Seed tasks from JSONL, checked field by field; an error names the file and the line."""
    tasks = []
    for lineno, row in generation.jsonl_lines(path):
        for name, kind in SEED_FIELDS.items():
            if not isinstance(row.get(name), kind):
                raise ValueError(
                    f"{path}:{lineno}: field {name!r} must be a {kind.__name__}, got {row.get(name)!r}"
                )
        if not row["instruction"].strip() or not row["output"].strip():
            raise ValueError(f"{path}:{lineno}: empty instruction or output")
        tasks.append({k: row[k] for k in SEED_FIELDS})
    if not tasks:
        raise ValueError(f"{path}: no seed tasks")
    return tasks


def user_text(instruction: str, inp: str = "") -> str:
    """One chat turn from an (instruction, input) pair, as Alpaca formats its training data."""
    return f"{instruction}\n\n{inp}" if inp.strip() else instruction


# ---------------------------------------------------------------- the three prompts
def instruction_prompt(instructions: list[str]) -> str:
    """The paper's prompt: a numbered list of example tasks that the model continues."""
    lines = "".join(f"{i}. {text}\n" for i, text in enumerate(instructions, 1))
    return f"Come up with a series of tasks:\n{lines}{len(instructions) + 1}."


# the paper's stop sequences ("\n16", "16.", "16 ."): a reply ends where item 16 would begin
STOP_ITEM = 16
_STOP = re.compile(rf"(?:^|\n)\s*(?:[*_#]+\s*)?{STOP_ITEM}\s*\.")


def stop_at_item(text: str, finished: bool) -> tuple[str, bool]:
    """The reply as the paper's stop sequences would have ended it: cut where item 16 starts, and then
    finished. Cutting afterwards gives the same text as stopping there (generation is causal); the paper's
    blank-line stop ("\n\n") is left out, because a chat model writes one after its preamble."""
    match = _STOP.search(text)
    return (text[: match.start()], True) if match else (text, finished)


# "9. x", "10) x", "**11.** x"
_NUMBERED = re.compile(r"^\s*(?:[*_#]+\s*)?(\d+)\s*[.)]\s*(?:[*_]+)?\s*(.*)$")
# a chat model's "1. 1. x": the number written twice
_RENUMBERED = re.compile(r"^(\d+)\s*[.)](\s+|$)")


def parse_instructions(text: str, finished: bool = True) -> list[str]:
    """New instructions from a continued numbered list ("9. ...", "10) ...", "**9.** ..."). The first line may
    lack its number (the prompt ends in "9."), unless it is a chat model's preamble ending in ":"; an
    unnumbered line continues the item above it, unless a blank line came first (a closing remark). A reply
    that hit the token limit (`finished` False) gives nothing, as in the paper (bootstrap_instructions.py
    drops `finish_reason == "length"`; Alpaca keeps all but the cut-off last item)."""
    items: list[str] = []
    after_blank = False
    for line in text.strip().splitlines():
        match = _NUMBERED.match(line)
        if match:
            items.append(_RENUMBERED.sub("", match.group(2)))
        elif line.strip():
            # a closing remark after the list ("I hope these tasks help!")
            if items and after_blank:
                continue
            if items:
                items[-1] += " " + line.strip()
            # a chat model's preamble ("Sure! Here are more tasks:")
            elif not line.rstrip().endswith(":"):
                items.append(line)
        after_blank = not line.strip()
    if not finished:
        return []
    return [re.sub(r"\s+", " ", i.replace("**", "")).strip() for i in items if i.strip()]


CLF_SHOTS = [
    ("Sort the numbers from smallest to largest.", "No"),
    ("Is this email spam or not spam?", "Yes"),
    ("Write a haiku about autumn.", "No"),
    ("Tell whether the animal is a mammal or a bird.", "Yes"),
]


def clf_prompt(instruction: str, shots: int = 0) -> str:
    """Classification identification: zero-shot, or with `shots` worked examples (the paper gave base
    GPT-3 31 examples; the tiny writer was trained zero-shot)."""
    demos = "".join(f"Task: {task}\nAnswer: {answer}\n\n" for task, answer in CLF_SHOTS[:shots])
    return (
        "Can the following task be regarded as a classification task with finite output labels?\n"
        f"{demos}Task: {instruction}\nAnswer Yes or No."
    )


def parse_yes_no(text: str) -> bool | None:
    """True for Yes, False for No, None when the answer is neither."""
    first = re.match(r"\W*(yes|no)\b", text.strip(), flags=re.I)
    return None if first is None else first.group(1).lower() == "yes"


# Worked examples for `instance_prompt(..., shots=n)`: the paper's instance prompts are few-shot, and the
# examples show a chat model the labels `parse_instances` reads. The tiny writer was trained zero-shot.
INSTANCE_SHOTS = [
    (
        "Convert the temperature from Celsius to Fahrenheit.",
        "Input: 25 degrees Celsius\nOutput: 77 degrees Fahrenheit",
    ),
    ("Suggest a name for a new coffee shop.", "Output: The Daily Grind"),
    (
        "Summarize the sentence in three words.",
        "Input: The weather was cold and rainy all week.\nOutput: A wet week",
    ),
]
CLF_INSTANCE_SHOTS = [
    (
        "Classify the sentiment of the review as positive or negative.",
        "Class label: positive\nInput: I loved every minute of this film.\n"
        "Class label: negative\nInput: The food was cold and the waiter was rude.",
    ),
    ("Is the number even or odd?", "Class label: even\nInput: 14\nClass label: odd\nInput: 9"),
]


def instance_prompt(instruction: str, is_classification: bool, shots: int = 0) -> str:
    """Output-first for classification (label, then an input for it), so that labels are not all the
    majority class; input-first otherwise. `shots` worked examples go before the task."""
    if is_classification:
        head = (
            "Given the classification task definition and the class labels, generate an input that "
            "corresponds to each of the class labels.\n"
        )
        examples = CLF_INSTANCE_SHOTS[:shots]
    else:
        head = (
            "Come up with an example for the following task. If the task doesn't require additional input, "
            "you can generate the output directly.\n"
        )
        examples = INSTANCE_SHOTS[:shots]
    demos = "".join(f"Task: {task}\n{answer}\n\n" for task, answer in examples)
    return f"{head}{demos}Task: {instruction}"


def first_label(is_classification: bool) -> str:
    """The label an instance reply starts with (`generate_instances(prefill=True)` writes it for the model)."""
    return "Class label:" if is_classification else "Input:"


def _unmark(text: str) -> str:
    """Markdown emphasis off ("**Input:**" -> "Input:"), as chat models write their labels."""
    return re.sub(r"(\*\*|__)", "", text)


def parse_instances(text: str, is_classification: bool) -> list[tuple[str, str]]:
    """(input, output) pairs. Classification: "Class label: X / Input: Y" blocks; otherwise an optional
    "Input:" and an "Output:"."""
    text = _unmark(text)
    if is_classification:
        pattern = r"Class label:\s*(.*?)\s*\n\s*Input:\s*(.*?)\s*(?=\n\s*Class label:|\Z)"
        return [
            (inp.strip(), label.strip()) for label, inp in re.findall(pattern, text, re.S | re.I)
        ]
    # anywhere after a preamble line ("Sure! Here is an example:"), labels in any case
    match = re.search(r"(?:\A|\n)\s*(?:Input:\s*(.*?)\s*\n)?\s*Output:\s*(.*)\Z", text, re.S | re.I)
    if not match:
        return []
    return [((match.group(1) or "").strip(), match.group(2).strip())]


def parse_instance_reply(
    text: str, is_classification: bool, prefilled: bool = False
) -> list[tuple[str, str]]:
    """`parse_instances`; a prefilled "Input:" reply with no "Output:" still gives its input (the output of a
    non-classification task comes from a second call anyway)."""
    pairs = parse_instances(text, is_classification)
    if pairs or not prefilled or is_classification:
        return pairs
    match = re.match(r"\s*Input:\s*(.*\S)", _unmark(text), re.S | re.I)
    return [(match.group(1).strip(), "")] if match else []


# ---------------------------------------------------------------- filters
BLACKLIST = [
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
]
_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b", re.I)


def cheap_rejection(instruction: str) -> str | None:
    """The paper's rule-based instruction filters (bootstrap_instructions.py); returns the rule that
    rejects, or None."""
    words = instruction.split()
    if len(words) <= 3:
        return "3 words or fewer"
    if len(words) > 150:
        return "over 150 words"
    if _BLACKLIST_RE.search(instruction):
        return "blacklisted word"
    if instruction.lower().startswith("write a program"):
        return "'Write a program'"
    first = instruction[0]
    if first in string.punctuation or not first.isascii():
        return "starts with punctuation / non-ASCII"
    return None


def overlaps_any(texts: list[str], n: int = 10):
    """exclude(text): True when a text shares an `n`-word window with any of `texts` (n-gram decontamination
    against an evaluation set, as dataset builders run against their benchmarks)."""

    def grams(t: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", t.lower())
        return {tuple(w[i : i + n]) for i in range(max(len(w) - n + 1, 1))}

    banned = set().union(*(grams(t) for t in texts)) if texts else set()
    return lambda text: bool(grams(text) & banned)


def _continues_the_list(out: str) -> bool:
    """An output that goes on with the prompt's numbered list of tasks ("10. Spell the word fox.") or its
    labels, as AlpacaDataCleaned found; an answer's own numbered list starts at 1 and is kept."""
    numbers = re.findall(r"(?:^|\n)\s*(\d+)\s*[.)]\s", out)
    return bool(re.search(r"Instruction:|Task:", out)) or (bool(numbers) and numbers[0] != "1")


def instance_rejection(inp: str, out: str) -> str | None:
    """Instance checks (prepare_for_finetuning.py, plus AlpacaDataCleaned's defects)."""
    if not out.strip():
        return "empty output"
    if inp.strip() and inp.strip() == out.strip():
        return "input == output"
    if _continues_the_list(out):
        return "leaked list numbering"
    if inp.rstrip().endswith(":") or out.rstrip().endswith(":"):
        return "ends with ':'"
    return None


# ---------------------------------------------------------------- ROUGE-L, fast
_SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's own tokenization (lower-case, alphanumeric words), so scores match it exactly."""
    return _SCORER._tokenizer.tokenize(text)


def lcs_length(masks: dict[str, int], b: list[str]) -> int:
    """Length of the longest common subsequence by the bit-parallel method (Allison-Dix / Hyyro):
    `masks` holds, for each token of the first text, the bit set of its positions."""
    row = 0
    for token in b:
        match = masks.get(token, 0)
        x = match | row
        row = x & ((x - ((row << 1) | 1)) ^ x)
    return row.bit_count()


def position_masks(tokens: list[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << i)
    return masks


class RougePool:
    """Instructions kept so far, tokenized once (as Alpaca does). `max_score` gives the largest ROUGE-L F
    of a candidate against the pool, equal to `rouge_scorer.score(pool_item, candidate)` maximized."""

    def __init__(self, texts: list[str] = ()):
        self.tokens: list[list[str]] = []
        self.masks: list[dict[str, int]] = []
        for t in texts:
            self.add(t)

    def add(self, text: str) -> None:
        tokens = rouge_tokens(text)
        self.tokens.append(tokens)
        self.masks.append(position_masks(tokens))

    def __len__(self) -> int:
        return len(self.tokens)

    def max_score(self, text: str) -> tuple[float, int]:
        """(best F-measure, index of the most similar pool item or -1)."""
        pred = rouge_tokens(text)
        best, where = 0.0, -1
        if not pred:
            return best, where
        n = len(pred)
        for i, target in enumerate(self.tokens):
            m = len(target)
            # LCS <= min(m, n) bounds F from above. Skip only items whose bound is clearly below the best:
            # the bound and `fmeasure` round differently (2*21/60 is 0.7, fmeasure(1, 21/39) is 0.7 + 1 ulp),
            # and a bound equal to the best may hide a score just above it, and the threshold with it.
            if not m or 2 * min(m, n) / (m + n) < best - 1e-9:
                continue
            lcs = lcs_length(self.masks[i], pred)
            f = scoring.fmeasure(lcs / n, lcs / m)
            if f > best:
                best, where = f, i
        return best, where


def slow_max_score(pool: list[str], text: str) -> float:
    """The reference: pairwise `rouge_scorer.score`, re-tokenizing both texts every time."""
    return max((_SCORER.score(p, text)["rougeL"].fmeasure for p in pool), default=0.0)


# ---------------------------------------------------------------- the bootstrapping loop
@dataclass
class Candidate:
    instruction: str
    round: int
    reason: str | None  # None = kept
    max_rouge: float | None = None
    most_similar: str | None = None


@dataclass
class Run:
    """Everything one pipeline run produced: the pool, each candidate's fate, the final instances."""

    seeds: list[dict]
    candidates: list[Candidate] = field(default_factory=list)
    instances: list[dict] = field(default_factory=list)
    rejected_instances: list[dict] = field(default_factory=list)

    @property
    def kept(self) -> list[str]:
        return [c.instruction for c in self.candidates if c.reason is None]

    def funnel(self) -> Counter:
        """Candidates per fate, in pipeline order."""
        return Counter("kept" if c.reason is None else c.reason for c in self.candidates)


def build_prompts(seeds: list[dict], machine: list[str], n: int, rng: random.Random) -> list[str]:
    """`n` prompts of 8 shuffled instructions: 6 seeds and 2 machine-generated ones once the pool has 2."""
    prompts = []
    for _ in range(n):
        chosen = [s["instruction"] for s in rng.sample(seeds, 6 if len(machine) >= 2 else 8)]
        if len(machine) >= 2:
            chosen += rng.sample(machine, 2)
        rng.shuffle(chosen)
        prompts.append(instruction_prompt(chosen))
    return prompts


def generate_instructions(
    model,
    tok,
    seeds: list[dict],
    workdir: str | Path,
    *,
    rounds: int,
    prompts_per_round: int,
    seed: int = 0,
    threshold: float = 0.7,
    batch_size: int = 16,
    max_new_tokens: int = 160,
    progress: bool = False,
    **sampling,
) -> Run:
    """Bootstrapping rounds: each round's prompts mix seeds with instructions kept so far; candidates pass
    the rule filters and ROUGE-L. The items of a reply cut at the token limit are recorded and dropped."""
    run = Run(seeds)
    pool = RougePool([s["instruction"] for s in seeds])
    for r in range(rounds):
        rng = random.Random(f"{seed}:round{r}")
        prompts = build_prompts(seeds, run.kept, prompts_per_round, rng)
        items = [{"id": f"round{r}-{j}", "prompt": p} for j, p in enumerate(prompts)]
        records = generation.generate_to_jsonl(
            Path(workdir) / "instructions.jsonl",
            items,
            model,
            tok,
            seed=seed,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            progress=progress,
            desc=f"round {r}",
            **sampling,
        )
        for record in records:
            reply, finished = stop_at_item(record["output"], record["finished"])
            if not finished:
                run.candidates += [
                    Candidate(t, r, "reply cut at the token limit")
                    for t in parse_instructions(reply)
                ]
            for text in parse_instructions(reply, finished):
                run.candidates.append(judge_candidate(text, r, pool, threshold))
    return run


def judge_candidate(text: str, rnd: int, pool: RougePool, threshold: float) -> Candidate:
    """Apply the filters in order; a kept instruction joins the pool that later candidates are compared to."""
    reason = cheap_rejection(text)
    if reason is not None:
        return Candidate(text, rnd, reason)
    score, where = pool.max_score(text)
    similar = None if where < 0 else " ".join(pool.tokens[where])
    if score > threshold:
        return Candidate(text, rnd, f"ROUGE-L > {threshold}", score, similar)
    pool.add(text)
    return Candidate(text, rnd, None, score, similar)


def generate_instances(
    model,
    tok,
    run: Run,
    workdir: str | Path,
    *,
    seed: int = 0,
    batch_size: int = 16,
    max_new_tokens: int = 96,
    progress: bool = False,
    shots: int = 0,
    prefill: bool = False,
    exclude=None,
    **sampling,
) -> Run:
    """Identify classification tasks, write instances for every kept instruction, filter them.

    Classification: one output-first call gives (label, input) pairs. Otherwise the input-first call
    gives the input, and the output is the writer's answer to the task as a chat turn (a second call,
    as distilabel's SelfInstruct -> TextGeneration does; in the paper one call wrote both). `shots`: worked
    examples in the classification and instance prompts; `prefill`: each reply starts with its first label
    ("Class label:" or "Input:"), as GPT-3 continued the paper's prompts (a small chat model then keeps to them).
    `exclude(prompt)`: decontamination, on the prompt the student would train on (instruction and input)."""
    kept = run.kept
    workdir = Path(workdir)
    gen = dict(model=model, tok=tok, seed=seed, batch_size=batch_size, progress=progress)
    clf_items = [
        {"id": f"clf-{i}", "prompt": clf_prompt(t, shots), "instruction": t}
        for i, t in enumerate(kept)
    ]
    clf = generation.generate_to_jsonl(
        workdir / "classification.jsonl", clf_items, max_new_tokens=4, desc="classification?", **gen
    )
    is_clf = [parse_yes_no(r["output"]) is True for r in clf]
    inst_items = [
        {
            "id": f"inst-{i}",
            "prompt": instance_prompt(t, c, shots),
            "instruction": t,
            "is_classification": c,
            "reply_prefix": first_label(c) if prefill else "",
        }
        for i, (t, c) in enumerate(zip(kept, is_clf))
    ]
    records = generation.generate_to_jsonl(
        workdir / "instances.jsonl",
        inst_items,
        max_new_tokens=max_new_tokens,
        desc="instances",
        **gen,
        **sampling,
    )
    drafts, run.rejected_instances = [], []
    for r in records:
        pairs = parse_instance_reply(
            r.get("reply_prefix", "") + r["output"], r["is_classification"], prefill
        )
        if not pairs:
            run.rejected_instances.append({**r, "input": "", "reason": "unparseable"})
        # the last instance was cut off: dropped, as prepare_for_finetuning.py does
        if pairs and not r["finished"]:
            run.rejected_instances.append(
                {**r, "input": pairs.pop()[0], "reason": "cut at the token limit"}
            )
        drafts += [(r, inp, out) for inp, out in pairs]
    to_answer = [
        {"id": f"answer-{i}", "prompt": user_text(r["instruction"], inp)}
        for i, (r, inp, _) in enumerate(drafts)
        if not r["is_classification"]
    ]
    answers = generation.generate_to_jsonl(
        workdir / "answers.jsonl",
        to_answer,
        max_new_tokens=max_new_tokens,
        desc="outputs",
        **gen,
        **sampling,
    )
    answer_of = {a["prompt"]: a for a in answers}
    rows = []
    for r, inp, out in drafts:
        answer = None if r["is_classification"] else answer_of[user_text(r["instruction"], inp)]
        row = {
            "instruction": r["instruction"],
            "input": inp,
            "output": answer["output"] if answer else out,
            "is_classification": r["is_classification"],
        }
        rows.append(
            (row, "answer cut at the token limit" if answer and not answer["finished"] else None)
        )
    run.instances = []
    for row, reason in _filter_rows(rows, exclude):
        (run.rejected_instances if reason else run.instances).append({**row, "reason": reason})
    return run


def _filter_rows(
    rows: list[tuple[dict, str | None]], exclude=None
) -> list[tuple[dict, str | None]]:
    """Each instance's fate: the instance checks, duplicates, decontamination, and the paper's task filter
    (prepare_for_finetuning.py drops every instance of a task whose same input got different outputs)."""
    outputs: dict[tuple[str, str], set[str]] = {}
    for row, _ in rows:
        outputs.setdefault((row["instruction"], row["input"]), set()).add(row["output"])
    conflicted = {instruction for (instruction, _), outs in outputs.items() if len(outs) > 1}
    seen: set[tuple[str, str, str]] = set()
    fates = []
    for row, reason in rows:
        key = (row["instruction"], row["input"], row["output"])
        reason = (
            reason
            or instance_rejection(row["input"], row["output"])
            or ("duplicate" if key in seen else None)
            or ("same input, different outputs" if row["instruction"] in conflicted else None)
            or (
                "in the evaluation set"
                if exclude and exclude(user_text(row["instruction"], row["input"]))
                else None
            )
        )
        seen.add(key)
        fates.append((row, reason))
    return fates


def rouge_l_eval(
    model, tok, rows: list[dict], max_new_tokens: int = 256, batch_size: int = 8
) -> float:
    """Mean ROUGE-L F of greedy answers against reference outputs (how the paper scored SuperNI)."""
    prompts = [user_text(r["instruction"], r["input"]) for r in rows]
    answers = generation.chat_generate(
        model, tok, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    scores = [_SCORER.score(r["output"], a)["rougeL"].fmeasure for r, a in zip(rows, answers)]
    return sum(scores) / len(scores)


def to_sft_rows(instances: list[dict]) -> list[dict]:
    """Prompt-completion chat rows: TRL's SFTTrainer then puts the loss on the completion only."""
    return [
        {
            "prompt": [{"role": "user", "content": user_text(x["instruction"], x["input"])}],
            "completion": [{"role": "assistant", "content": x["output"]}],
        }
        for x in instances
    ]


# ---------------------------------------------------------------- benchmark: fast pool vs pairwise scorer
def variants(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """`n` instruction-like texts: the given ones with random words swapped in, so that some are near
    duplicates of each other (as a real pool is) and some are not."""
    rng = random.Random(seed)
    vocab = sorted({w for t in texts for w in t.split()})
    out = []
    for _ in range(n):
        words = rng.choice(texts).split()
        for _ in range(rng.randint(0, len(words))):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        out.append(" ".join(words))
    return out


def rouge_benchmark(
    texts: list[str], pool_size: int = 5000, candidates: int = 20, threshold: float = 0.7
) -> dict:
    """Time `RougePool.max_score` against pairwise `rouge_scorer.score` on the same pool and candidates,
    and check that both give the same scores (hence the same keep/reject decisions)."""
    import time

    pool_texts = variants(texts, pool_size, seed=0)
    cands = variants(texts, candidates, seed=1)
    t0 = time.perf_counter()
    pool = RougePool(pool_texts)
    fast = [pool.max_score(c)[0] for c in cands]
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = [slow_max_score(pool_texts, c) for c in cands]
    slow_s = time.perf_counter() - t0
    return {
        "pool_size": pool_size,
        "candidates": candidates,
        "identical_scores": fast == slow,
        "identical_decisions": [f > threshold for f in fast] == [s > threshold for s in slow],
        "rejected": sum(s > threshold for s in slow),
        "fast_s": round(fast_s, 3),
        "pairwise_s": round(slow_s, 3),
        "speedup": round(slow_s / fast_s, 1),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.self_instruct", description=__doc__)
    parser.add_argument("command", choices=["bench"])
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    texts = [
        s["instruction"]
        for s in load_seed_tasks(Path(__file__).parent.parent / "data" / "seed_tasks.jsonl")
    ]
    result = rouge_benchmark(texts, args.pool, args.candidates)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
