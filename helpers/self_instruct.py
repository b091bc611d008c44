"""Self-Instruct (Wang et al. 2022): grow an instruction dataset from a few seed tasks with the model itself.

The pipeline of the paper's repository (yizhongw/self-instruct): prompts of 8 instructions (6 seeds + 2
machine-generated), a numbered-list parser, a yes/no "is it classification?" step, instances written
output-first for classification and input-first otherwise, and the filters below. Every generation goes
through `generation.generate_to_jsonl`, so a long run resumes where it stopped. The prompts and
parsers live in `instruct_prompts`, the fast ROUGE-L dedup in `rouge_pool`.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from helpers import generation
from helpers.instruct_prompts import (
    clf_prompt,
    first_label,
    instance_prompt,
    instruction_prompt,
    parse_instance_reply,
    parse_instructions,
    parse_yes_no,
    stop_at_item,
    user_text,
)
from helpers.rouge_pool import SCORER, RougePool
from helpers.tasks import accuracy_by_family, graded_answers

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
    files = (workdir / "instances.jsonl", workdir / "answers.jsonl", "answer")
    rows, run.rejected_instances = _write_instances(
        gen, inst_items, files, max_new_tokens, prefill, sampling
    )
    run.instances = []
    for row, reason in _filter_rows(rows, exclude):
        (run.rejected_instances if reason else run.instances).append({**row, "reason": reason})
    return run


def _write_instances(
    gen: dict, inst_items: list[dict], files: tuple, max_new_tokens: int, prefill: bool, sampling
) -> tuple[list[tuple[dict, str | None]], list[dict]]:
    """Instance replies for `inst_items`, parsed; a non-classification task's output from a second call.
    `files`: (instance file, answer file, answer id prefix). Returns (row, reason) pairs for the filters
    and the replies that gave no usable instance."""
    instance_file, answer_file, answer_id = files
    records = generation.generate_to_jsonl(
        instance_file,
        inst_items,
        max_new_tokens=max_new_tokens,
        desc="instances",
        **gen,
        **sampling,
    )
    drafts, rejected = [], []
    for r in records:
        pairs = parse_instance_reply(
            r.get("reply_prefix", "") + r["output"], r["is_classification"], prefill
        )
        if not pairs:
            rejected.append({**r, "input": "", "reason": "unparseable"})
        # the last instance was cut off: dropped, as prepare_for_finetuning.py does
        if pairs and not r["finished"]:
            rejected.append({**r, "input": pairs.pop()[0], "reason": "cut at the token limit"})
        drafts += [(r, inp, out) for inp, out in pairs]
    to_answer = [
        {"id": f"{answer_id}-{i}", "prompt": user_text(r["instruction"], inp)}
        for i, (r, inp, _) in enumerate(drafts)
        if not r["is_classification"]
    ]
    answers = generation.generate_to_jsonl(
        answer_file,
        to_answer,
        max_new_tokens=max_new_tokens,
        desc="outputs",
        **gen,
        **sampling,
    )
    answer_of = {a["id"]: a for a in answers}
    rows = []
    for i, (r, inp, out) in enumerate(drafts):
        answer = answer_of.get(f"{answer_id}-{i}")
        row = {
            "instruction": r["instruction"],
            "input": inp,
            "output": answer["output"] if answer else out,
            "is_classification": r["is_classification"],
        }
        rows.append(
            (row, "answer cut at the token limit" if answer and not answer["finished"] else None)
        )
    return rows, rejected


def sample_instances(
    model,
    tok,
    run: Run,
    workdir: str | Path,
    *,
    samples: int,
    seed: int = 0,
    batch_size: int = 16,
    max_new_tokens: int = 96,
    progress: bool = False,
    shots: int = 0,
    prefill: bool = False,
    exclude=None,
    **sampling,
) -> list[dict]:
    """`samples` more instances per kept instruction of `run` (after `generate_instances`), written with
    the same prompts and classification answers, sampled with `sampling`. They pass the instance checks,
    duplicates and decontamination, but not the paper's task filter: a verifier judges each one instead.
    Checkpointed like every call (files instance_samples.jsonl, answer_samples.jsonl)."""
    said = {
        x["instruction"]: x["is_classification"] for x in run.instances + run.rejected_instances
    }
    kept = [t for t in run.kept if t in said]
    items = [
        {
            "id": f"sample{k}-{i}",
            "prompt": instance_prompt(t, said[t], shots),
            "instruction": t,
            "is_classification": said[t],
            "reply_prefix": first_label(said[t]) if prefill else "",
        }
        for k in range(samples)
        for i, t in enumerate(kept)
    ]
    workdir = Path(workdir)
    gen = dict(model=model, tok=tok, seed=seed, batch_size=batch_size, progress=progress)
    files = (workdir / "instance_samples.jsonl", workdir / "answer_samples.jsonl", "s-answer")
    rows, _ = _write_instances(gen, items, files, max_new_tokens, prefill, sampling)
    fates = _filter_rows(rows, exclude, task_filter=False)
    return [{**row, "reason": None} for row, reason in fates if reason is None]


def verified(instances: list[dict], check) -> list[dict]:
    """The instances the verifier `check(instruction, input, output)` marks right (True), each
    (instruction, input, output) once, in order."""
    seen, out = set(), []
    for x in instances:
        key = (x["instruction"], x["input"], x["output"])
        if key not in seen and check(*key) is True:
            seen.add(key)
            out.append(x)
    return out


def matched_control(mix: Counter, seed: int = 0) -> list[dict]:
    """Right rows from the tiny world's task makers, family by family as many as `mix` holds (family ->
    rows), drawn from its training split (never a held-out prompt); a two-way family's labels come as
    the maker draws them, about half each. [] for a family the world does not know (the hub's)."""
    from helpers import settings  # the world's door: only the tiny world has task makers

    return settings.world_matched_rows(mix, seed)


def _filter_rows(
    rows: list[tuple[dict, str | None]], exclude=None, task_filter: bool = True
) -> list[tuple[dict, str | None]]:
    """Each instance's fate: the instance checks, duplicates, decontamination, and the paper's task filter
    (prepare_for_finetuning.py drops every instance of a task whose same input got different outputs)."""
    outputs: dict[tuple[str, str], set[str]] = {}
    for row, _ in rows:
        outputs.setdefault((row["instruction"], row["input"]), set()).add(row["output"])
    conflicted = {i for (i, _), outs in outputs.items() if len(outs) > 1} if task_filter else set()
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
    scores = [SCORER.score(r["output"], a)["rougeL"].fmeasure for r, a in zip(rows, answers)]
    return sum(scores) / len(scores)


# ---------------------------------------------------------------- scoring the student, prompt by prompt
class Scores(dict):
    """Scores per family and their 'mean' (a dict, as `cfg.score` returns them), with each held-out
    prompt's verdict in `each` and its raw answer in `answers` (None where the prompts are not known:
    the presets' ROUGE-L)."""

    def __init__(
        self, scores: dict, each: list[bool] | None = None, answers: list[str] | None = None
    ):
        super().__init__(scores)
        self.each, self.answers = each, answers


def heldout_tasks(cfg) -> list:
    """The graded held-out tasks behind `cfg.score` (tiny); [] where the settings hold none (presets)."""
    return list(getattr(cfg, "heldout_tasks", None) or [])


def score(model, tok, cfg, items: list) -> Scores:
    """`cfg.score(model, tok)`, with each prompt's verdict when its held-out tasks `items` are known: the
    same greedy answers, graded once."""
    if not items:
        return Scores(cfg.score(model, tok))
    answers, right, _ = graded_answers(model, tok, items)
    return Scores(accuracy_by_family(items, right), right, answers)


def change_bars(first: Scores, other: Scores, items: list, heldout: dict[str, int]) -> dict:
    """Noise bars of the change from `first` to `other`, per family and for the 'mean' of F families.
    Paired where each prompt's verdict is known (McNemar): with no real change, each of the D prompts
    whose verdict flipped went up or down at even odds, so the net count has standard deviation sqrt(D)
    and the bar is 2*sqrt(D)/n, for the mean 2*sqrt(sum D_f/n_f**2)/F. Otherwise the worst case of two
    independent scores, sqrt(2/n)."""
    if first.each is not None and other.each is not None and items:
        flips, n = Counter(), Counter()
        for task, a, b in zip(items, first.each, other.each, strict=True):
            n[task.family] += 1
            flips[task.family] += a != b
        var = {f: flips[f] / n[f] ** 2 for f in n}
    else:
        var = {f: 0.5 / max(k, 1) for f, k in heldout.items()}
    if not var:
        return {}
    bars = {f: 2 * v**0.5 for f, v in var.items()}
    return bars | {"mean": 2 * sum(var.values()) ** 0.5 / len(var)}


def commonest(items: list) -> dict[str, tuple[str, float]]:
    """Per family of the tasks `items`: its commonest reference answer and that answer's share."""
    answers: dict[str, Counter] = {}
    for task in items:
        answers.setdefault(task.family, Counter())[task.answer] += 1
    return {
        f: (c.most_common(1)[0][0], c.most_common(1)[0][1] / sum(c.values()))
        for f, c in answers.items()
    }


def rose(
    before: dict, after: dict, bars: dict, baseline: dict, heldout: dict
) -> tuple[list[str], list[str]]:
    """(skill, format): the families whose score rose beyond its noise bar in `bars`. A family with a
    baseline (a two-way answer) counts as skill only if it ends above that baseline by more than one
    score's noise bar, sqrt(1/n); otherwise it learned the answer format."""
    skill, form = [], []
    for f, bar in bars.items():
        if f == "mean" or after[f] - before[f] <= bar:
            continue
        guess = f in baseline and after[f] - baseline[f] <= (1 / max(heldout.get(f, 1), 1)) ** 0.5
        (form if guess else skill).append(f)
    return skill, form


def plot_funnel(run: Run, offered: Counter, kept_by: Counter, rounds: int) -> list[float]:
    """Three panels: each candidate's fate, the kept share per family (of those reaching ROUGE-L), the
    kept share per bootstrapping round. Returns the per-round kept shares."""
    import matplotlib.pyplot as plt

    fates = run.funnel()
    fig, ax = plt.subplots(1, 3, figsize=(15, 3.8), layout="tight")
    names = [r for r, _ in fates.most_common()][::-1]
    colors = ["tab:green" if r == "kept" else "tab:red" for r in names]
    ax[0].barh(names, [fates[r] for r in names], color=colors)
    ax[0].set(title="What happened to each candidate", xlabel="candidates")
    share = {f: kept_by[f] / offered[f] for f in offered}
    fams = sorted(share, key=share.get)
    ax[1].barh(fams, [share[f] for f in fams], color="tab:green")
    ax[1].set(title="Kept share per family (of those reaching ROUGE-L)", xlabel="share kept")
    ax[1].set_ylabel("task family")
    seen = Counter(c.round for c in run.candidates)
    per_round = Counter(c.round for c in run.candidates if c.reason is None)
    kept_share = [per_round[r] / max(seen[r], 1) for r in range(rounds)]
    ax[2].plot(range(rounds), kept_share, "s--", color="tab:orange")
    ax[2].set(title="Bootstrapping rounds", xlabel="round", ylim=(0, None))
    ax[2].set_ylabel("share of the round's candidates kept")
    plt.show()
    return kept_share


def plot_scores(
    table: dict[str, dict], baseline: dict, label: str, losses: list, bars: dict | None = None
) -> None:
    """Left: each model's score per family, a dashed line at each two-way family's baseline, the mean set
    apart, and on the second model's bars the paired noise bar of its change (`bars`: family -> bar);
    right: the training loss on the completions."""
    import matplotlib.pyplot as plt

    cols = list(next(iter(table.values())))
    fig, ax = plt.subplots(1, 2, figsize=(14, 4.2), layout="constrained")
    w, x = 0.8 / len(table), range(len(cols))
    for i, (name, r) in enumerate(table.items()):
        err = [bars.get(c, 0) for c in cols] if bars and i == 1 else None  # the change's bar
        b = ax[0].bar([j + i * w for j in x], [r[c] for c in cols], w, label=name, yerr=err)
        box = dict(fc="white", ec="none", pad=0.3)  # a label stays legible over a baseline line
        ax[0].bar_label(b, fmt="%.2f", fontsize=7, rotation=90, padding=2, bbox=box)
    for k, (j, c) in enumerate((j, c) for j, c in enumerate(cols) if c in baseline):
        name = "baseline (two-way answer)" if k == 0 else None
        ax[0].hlines(baseline[c], j - w / 2, j + 0.8 - w / 2, colors="k", ls="--", label=name)
    if "mean" in cols:  # the mean is not a family: a thin line sets it apart
        ax[0].axvline(cols.index("mean") - 0.1 - w / 2, color="k", lw=0.6)
    ax[0].set_xticks([j + 0.4 - w / 2 for j in x], cols)
    ax[0].set(xlabel="task family", ylabel=label, ylim=(0, 1.2), title="Student before and after")
    fig.legend(loc="outside upper center", ncol=4)  # above the panels, off the bars
    ax[1].plot(*zip(*losses), "o-")
    ax[1].set(xlabel="step", ylabel="training loss (completions)", title="SFT with LoRA")
    plt.show()


def sensible(instance: dict) -> bool:
    """Whether an instance's input makes sense of its question, beyond what a grader checks: every name
    the instruction asks about (a capitalised word after its first) occurs in the input, and the input's
    clauses joined by ' and ' differ. An instance without input passes."""
    inp = instance["input"].strip().rstrip(".")
    if not inp:
        return True
    names = [w.strip("?.,'s") for w in instance["instruction"].split()[1:] if w[:1].isupper()]
    clauses = [c.strip() for c in inp.split(" and ")]
    return all(n in inp for n in names) and len(set(clauses)) == len(clauses)


def to_sft_rows(instances: list[dict]) -> list[dict]:
    """Prompt-completion chat rows: TRL's SFTTrainer then puts the loss on the completion only."""
    return [
        {
            "prompt": [{"role": "user", "content": user_text(x["instruction"], x["input"])}],
            "completion": [{"role": "assistant", "content": x["output"]}],
        }
        for x in instances
    ]


def save_results(
    path: str | Path,
    cfg,
    run: Run,
    verdicts: Counter,
    bench: dict,
    before: dict,
    after: dict,
    after_verified: dict | None,
    n_verified: int,
    after_grown: dict | None = None,
    n_grown: int = 0,
    after_control: dict | None = None,
    n_control: int = 0,
) -> None:
    """Write a run's headline figures to a JSON file (the course's results table reads it): the stage's
    budget (`cfg`), the funnel, the grader's audit (`verdicts`: True/False/None counts), the ROUGE-L
    benchmark and the student's scores before and after SFT on all, on verified instances, on the
    verified set grown by sampling, and on as many right rows (the positive control)."""
    record = {
        "rounds": cfg.rounds,
        "prompts_per_round": cfg.prompts_per_round,
        "seeds": len(cfg.seeds),
        "funnel": dict(run.funnel().most_common()),
        "kept_instructions": len(run.kept),
        "instances": len(run.instances),
        "instances_gradable": verdicts[True] + verdicts[False],
        "instances_correct": verdicts[True],
        "rouge_bench": bench,
        "sft_steps": cfg.sft_steps,
        "before": before,
        "after": after,
        "verified_instances": n_verified,
        "after_verified": after_verified,
        "grown_instances": n_grown,
        "after_grown": after_grown,
        "control_instances": n_control,
        "after_control": after_control,
        "writer": cfg.writer_reference,
    }
    Path(path).write_text(json.dumps(record, indent=2) + "\n")
