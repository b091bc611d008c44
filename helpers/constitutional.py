"""Constitutional AI (Bai et al. 2022): critique and revision rounds (SL-CAI), then AI feedback (RL-CAI).

SL-CAI: the model answers a red-team prompt, then for each of N rounds a principle is drawn from the
constitution, the model critiques its current answer under that principle's critique request and
rewrites it under the revision request, with worked examples in context. Every round is saved through
the resumable JSONL generator. The final revisions, mixed with helpful answers, are the SFT data.
RL-CAI: pairs of samples per prompt from the SL-CAI model (`draw_pairs`); a pairwise judge asked a
sampled principle's choice question (red-team prompts) or the helpfulness question (helpful prompts,
where Bai et al. used human helpfulness comparisons) gives a soft label (`helpers.judge`: letter
log-probs, both orders averaged), and DPO trains on the confident ones.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from helpers import generation, judge, rlaif, tasks
from helpers.tasks import Task

# RL-CAI's two answers per prompt are drawn the same way (Bai et al. sample both from the SL-CAI model), so a
# pair's preference is about the answers, not about which temperature wrote them
PAIR_TEMPERATURES = (1.0, 1.0)

DATA = Path(__file__).resolve().parent.parent / "data"
FIELDS = {  # the keys each entry of the constitution file must give, as non-empty text
    "principles": ("name", "critique", "revision", "choice"),
    "examples": ("human", "assistant", "critique", "revision"),
}


@dataclass(frozen=True)
class Principle:
    name: str
    critique: str  # the critique request
    revision: str  # the revision request
    choice: str  # the question the feedback model answers with a letter (RL-CAI)


@dataclass(frozen=True)
class Constitution:
    principles: list[Principle]
    examples: list[dict]  # worked critique -> revision examples, shown in context
    # the question for helpful prompts' pairs (Bai et al. had humans compare those for helpfulness)
    helpfulness: str = "Which answer is more helpful?"


def load_constitution(path: str | Path = DATA / "constitution.json") -> Constitution:
    """Read an editable constitution; a missing field or an empty text names the file and the entry."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    for key, fields in FIELDS.items():
        entries = raw.get(key)
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{path}: needs a non-empty list {key!r}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValueError(
                    f"{path}: {key}[{i}] must be an object with the keys {list(fields)}"
                )
            bad = [f for f in fields if not isinstance(entry.get(f), str) or not entry[f].strip()]
            if bad:
                raise ValueError(f"{path}: {key}[{i}] needs non-empty text for {bad}")
    principles = [
        Principle(*(p[f].strip() for f in FIELDS["principles"])) for p in raw["principles"]
    ]
    helpfulness = raw.get("helpfulness", Constitution.helpfulness)
    if not isinstance(helpfulness, str) or not helpfulness.strip():
        raise ValueError(f"{path}: 'helpfulness' must be a non-empty question")
    examples = [{f: e[f].strip() for f in FIELDS["examples"]} for e in raw["examples"]]
    return Constitution(principles, examples, helpfulness.strip())


def sample_principles(
    constitution: Constitution, chain_id: str, rounds: int, seed: int
) -> list[Principle]:
    """One principle per round for one chain, drawn afresh each round (Bai et al.), from a generator
    seeded by (seed, chain id): reproducible, and independent of batch order or resumes."""
    rng = random.Random(f"{seed}:{chain_id}")
    return [rng.choice(constitution.principles) for _ in range(rounds)]


# ---------------------------------------------------------------- prompts
def block(human: str, answer: str, critique: str | None = None, revision: str | None = None) -> str:
    """One conversation, with its critique and revision where they are known."""
    lines = [f"Human: {human}", f"Assistant: {answer}"]
    lines += [f"Critique: {critique}"] if critique is not None else []
    lines += [f"Revision: {revision}"] if revision is not None else []
    return "\n".join(lines)


def step_prompt(principle: Principle, examples: list[dict], last: str, task: str) -> str:
    """The principle's two requests, worked examples, the conversation to work on, and the step to do.
    The requests are stated once for all the examples (Bai et al. repeat them per example; a small model's
    context window is the reason not to)."""
    shots = [block(e["human"], e["assistant"], e["critique"], e["revision"]) for e in examples]
    header = f"Critique request: {principle.critique}\nRevision request: {principle.revision}"
    return "\n\n".join([header, *shots, last, task])


def critique_prompt(human: str, answer: str, principle: Principle, examples: list[dict]) -> str:
    return step_prompt(principle, examples, block(human, answer), "Now write the critique.")


def revision_prompt(
    human: str, answer: str, critique: str, principle: Principle, examples: list[dict]
) -> str:
    return step_prompt(
        principle, examples, block(human, answer, critique), "Now write the revision."
    )


# ---------------------------------------------------------------- SL-CAI: the chains
def critique_items(
    prompts: dict[str, str], chains: dict, plan: dict, r: int, examples: list[dict]
) -> list[dict]:
    """Round r's critique requests: each chain's latest answer under the principle planned for round r."""
    return [
        {
            "id": i,
            "principle": plan[i][r - 1].name,
            "prompt": critique_prompt(prompts[i], steps[-1]["answer"], plan[i][r - 1], examples),
        }
        for i, steps in chains.items()
    ]


def revision_items(
    prompts: dict[str, str],
    chains: dict,
    plan: dict,
    r: int,
    examples: list[dict],
    critiques: list[dict],
) -> list[dict]:
    """Round r's revision requests: the latest answer, its critique, and the planned principle."""
    return [
        {
            "id": i,
            "prompt": revision_prompt(
                prompts[i], steps[-1]["answer"], c["output"], plan[i][r - 1], examples
            ),
        }
        for (i, steps), c in zip(chains.items(), critiques, strict=True)
    ]


def run_chains(
    model,
    tok,
    prompts: dict[str, str],
    constitution: Constitution,
    folder: str | Path,
    *,
    rounds: int,
    shots: int,
    seed: int = 0,
    batch_size: int = 64,
    max_new_tokens: int = 48,
    **sampling,
) -> dict[str, list[dict]]:
    """Initial answer, then `rounds` critique -> revision rounds for each prompt id. Each step of each
    round is one resumable JSONL file under `folder` (answers.jsonl, r1_critique.jsonl, r1_revision.jsonl,
    ...), so a rerun after a disconnect continues where it stopped. Returns, per id, the steps in order:
    [{"round": 0, "answer"}, {"round": r, "principle", "critique", "answer"}, ...]."""
    folder = Path(folder)
    kw = dict(batch_size=batch_size, max_new_tokens=max_new_tokens, **sampling)

    def step(name: str, items: list[dict], step_seed: int, desc: str) -> list[dict]:
        """One step for every chain, as one resumable file: a rerun reads back what is done."""
        path = folder / f"{name}.jsonl"
        return generation.generate_to_jsonl(
            path, items, model, tok, seed=step_seed, desc=desc, **kw
        )

    first = step("answers", [{"id": i, "prompt": p} for i, p in prompts.items()], seed, "answers")
    chains = {a["id"]: [{"round": 0, "answer": a["output"]}] for a in first}
    # the principle plan: one principle per chain and round, drawn up front from (seed, chain id)
    plan = {i: sample_principles(constitution, i, rounds, seed) for i in chains}
    examples = constitution.examples[:shots]
    for r in range(1, rounds + 1):
        items = critique_items(prompts, chains, plan, r, examples)
        critiques = step(f"r{r}_critique", items, seed + r, f"round {r} critiques")
        items = revision_items(prompts, chains, plan, r, examples, critiques)
        revisions = step(f"r{r}_revision", items, seed + 1000 + r, f"round {r} revisions")
        for c, v in zip(critiques, revisions, strict=True):  # each chain grows by one step
            chains[c["id"]].append(
                {
                    "round": r,
                    "principle": c["principle"],
                    "critique": c["output"],
                    "answer": v["output"],
                }
            )
    return chains


def per_round(chains: dict[str, list[dict]], score) -> list[float]:
    """Mean of `score(id, answer)` at each round (0 = the initial answer)."""
    rounds = len(next(iter(chains.values())))
    return [
        sum(score(i, steps[r]["answer"]) for i, steps in chains.items()) / len(chains)
        for r in range(rounds)
    ]


def round_curves(
    chains: dict[str, list[dict]], task_of: dict, is_refusal
) -> dict[str, list[float]]:
    """Per round: the harmless rate on harmful requests by their graders (where the tasks have graders; hub
    prompts have none), and the refusal rate on kind requests (a refusal detector works everywhere)."""
    unsafe = {i: c for i, c in chains.items() if task_of[i].meta["unsafe"]}
    benign = {i: c for i, c in chains.items() if not task_of[i].meta["unsafe"]}
    curves = {}
    if unsafe and all(tasks.gradable(task_of[i]) for i in unsafe):
        curves["harmless (harmful requests)"] = per_round(
            unsafe, lambda i, a: tasks.grade(task_of[i], a)
        )
    if benign:
        curves["refused (kind requests)"] = per_round(benign, lambda i, a: is_refusal(a))
    return curves


def planted_curve(start: float, rate: float, rounds: int) -> list[float]:
    """The curve a critic with a fixed per-round rate predicts: each round turns a share `rate` of the
    answers not yet refused into refusals, and a refusal never reverts, so 1 - (1 - start)(1 - rate)^r."""
    return [start] + [1 - (1 - start) * (1 - rate) ** r for r in range(1, rounds + 1)]


def judge_rounds(
    feedback_model, ftok, chains: dict[str, list[dict]], prompts: dict[str, str], choice: str
) -> list[list[judge.Verdict]]:
    """Per round r >= 1, one verdict per chain: round r's answer (first) against round 0's (second),
    under one principle's question, both orders averaged. Needs no grader."""
    ids = list(chains)
    first = [chains[i][0]["answer"] for i in ids]
    questions = [prompts[i] for i in ids]
    return [
        judge.judge_pairs(
            feedback_model, ftok, questions, [chains[i][r]["answer"] for i in ids], first, choice
        )
        for r in range(1, len(chains[ids[0]]))
    ]


def judged_curve(rounds: list[list[judge.Verdict]]) -> list[float]:
    """The judged curve: 0.5 at round 0 by construction (an answer against itself), then per round the
    mean P(round r's answer is better than round 0's) over the chains."""
    return [0.5] + [sum(v.p_first for v in vs) / len(vs) for vs in rounds]


def p_by_fate(verdicts: list[judge.Verdict], fates: list[str]) -> dict[str, tuple[int, float]]:
    """Per fate of a chain (e.g. "revision truly worse"): (chains, their mean P(later answer better)).
    The judged curve's mean is these means weighted by their counts."""
    groups: dict[str, list[float]] = {}
    for v, fate in zip(verdicts, fates, strict=True):
        groups.setdefault(fate, []).append(v.p_first)
    return {f: (len(ps), sum(ps) / len(ps)) for f, ps in groups.items()}


def says_harmful(critique: str) -> bool:
    """Whether a critique calls the answer harmful ("That is harmful.", not "The answer is not
    harmful."): exact on the tiny critic's sentences, a rough guess on free text."""
    text = critique.lower()
    return "harmful" in text and "not harmful" not in text


def turn_counts(
    chains: dict[str, list[dict]], task_of: dict, is_refusal, flags=says_harmful
) -> dict[str, dict[str, int]]:
    """Counted in the chains, for harmful (True) and kind (False) requests, over the rounds that
    start from a complying answer: how many (`open`), how many the critique flagged (`flagged`),
    how many ended in a refusal after a flag (`flagged_turned`) or without one (`unflagged_turned`);
    and over the rounds that start from a refusal: how many (`refused`), how many undo it (`undone`)."""
    keys = ("open", "flagged", "flagged_turned", "unflagged_turned", "refused", "undone")
    out = {unsafe: dict.fromkeys(keys, 0) for unsafe in (True, False)}
    for i, chain in chains.items():
        c = out[bool(task_of[i].meta["unsafe"])]
        for before, after in zip(chain, chain[1:]):
            was, now = is_refusal(before["answer"]), is_refusal(after["answer"])
            if was:
                c["refused"] += 1
                c["undone"] += not now
                continue
            flag = flags(after["critique"])
            c["open"] += 1
            c["flagged"] += flag
            c["flagged_turned" if flag else "unflagged_turned"] += now
    return out


def principle_effects(chains: dict[str, list[dict]], task_of: dict, is_refusal) -> Counter:
    """Per principle: rounds run, harmful answers it fixed (graded tasks only) and new refusals of kind requests."""
    rows = Counter()
    for i, steps in chains.items():
        t = task_of[i]
        graded = t.meta["unsafe"] and tasks.gradable(t)
        for prev, step in zip(steps, steps[1:]):
            rows[step["principle"], "rounds"] += 1
            rows[step["principle"], "fixed"] += (
                graded and not tasks.grade(t, prev["answer"]) and tasks.grade(t, step["answer"])
            )
            rows[step["principle"], "new refusals"] += (
                (not t.meta["unsafe"])
                and not is_refusal(prev["answer"])
                and is_refusal(step["answer"])
            )
    return rows


def answerer(model, tok, max_new_tokens: int, batch_size: int = 128, **sampling):
    """`answer_fn(prompts, samples)` for `safety_scores`: greedy answers (samples = 0), or `samples`
    answers per prompt with `sampling` (T = 1 here), flattened sample by sample; sample s is drawn
    after `torch.manual_seed(100 + s)`, so every model is sampled from the same seeds."""
    import torch

    def answer_fn(prompts: list[str], samples: int = 0) -> list[str]:
        out = []
        for s in range(max(samples, 1)):
            torch.manual_seed(100 + s)
            extra = sampling if samples else {}
            out += generation.chat_generate(
                model, tok, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, **extra
            )
        return out

    return answer_fn


def safety_scores(
    answer_fn, held: list[Task], is_refusal, samples: int = 4
) -> dict[str, list[float]]:
    """Per held-out request, greedy and over `samples` answers at T = 1 (`_sampled`): harmless by its
    grader on harmful requests (or, with no grader, refused as a stand-in) and refused on kind ones;
    a sampled score is the request's mean over its samples. `answer_fn(prompts, n)` returns the
    answers sample by sample (n = 0: greedy, one each)."""
    red, kind = [t for t in held if t.meta["unsafe"]], [t for t in held if not t.meta["unsafe"]]
    graded = all(tasks.gradable(t) for t in red)
    out = {}
    for tag, n in (("", 0), ("_sampled", samples)):
        harm = answer_fn([t.prompt for t in red], n)
        if graded:
            hits = [float(tasks.grade(t, a)) for t, a in zip(red * max(n, 1), harm, strict=True)]
        else:
            hits = [float(is_refusal(a)) for a in harm]
        out[("harmless" if graded else "refusal_harmful") + tag] = per_request(hits, len(red))
        refused = [float(is_refusal(a)) for a in answer_fn([t.prompt for t in kind], n)]
        out["refusal_benign" + tag] = per_request(refused, len(kind))
    return out


def per_request(values: list[float], n: int) -> list[float]:
    """Each of n requests' mean over its answers, given sample by sample (answer k is request k % n)."""
    return [sum(values[j::n]) / len(values[j::n]) for j in range(n)]


def rates(scores: dict[str, list[float]]) -> dict[str, float]:
    """Each column's rate: the mean of its per-request scores."""
    return {k: sum(v) / len(v) for k, v in scores.items()}


def safety_rates(answer_fn, held: list[Task], is_refusal, samples: int = 4) -> dict[str, float]:
    """Greedy and sampled rates on held-out requests (`safety_scores`, averaged)."""
    return rates(safety_scores(answer_fn, held, is_refusal, samples))


def paired_bar(new: list[float], old: list[float]) -> float:
    """A change's noise bar when both models answered the same requests: two standard errors of the
    mean per-request difference, 2 sd(d) / sqrt(n) (0 when every request moved the same way)."""
    d = [a - b for a, b in zip(new, old, strict=True)]
    n, mean = len(d), sum(d) / len(d)
    var = sum((x - mean) ** 2 for x in d) / max(n - 1, 1)
    return 2 * (var / n) ** 0.5


def paired_bars(new: dict[str, list[float]], old: dict[str, list[float]]) -> dict[str, float]:
    """`paired_bar` for every column two models' `safety_scores` share."""
    return {k: paired_bar(new[k], old[k]) for k in new if k in old}


def sft_rows(
    prompts: dict[str, str], chains: dict[str, list[dict]], helpful: list[tuple[str, str]]
) -> list[dict]:
    """Prompt-completion rows: each red-team prompt with its final revision, plus (prompt, helpful answer)
    pairs so that the model does not learn to refuse everything (Bai et al. mix in helpfulness data)."""
    pairs = [(prompts[i], steps[-1]["answer"]) for i, steps in chains.items()] + list(helpful)
    return [
        {
            "prompt": [{"role": "user", "content": p}],
            "completion": [{"role": "assistant", "content": a}],
        }
        for p, a in pairs
        if a.strip()
    ]


# ---------------------------------------------------------------- RL-CAI: AI feedback
def feedback_questions(constitution: Constitution, helpful: list[bool], seed: int = 0) -> list[str]:
    """The question each pair is judged under: the helpfulness question for a helpful prompt, else a
    principle's choice question drawn per pair (Bai et al. sample one per comparison)."""
    rng = random.Random(seed)
    drawn = [rng.choice(constitution.principles).choice for _ in helpful]
    return [constitution.helpfulness if h else d for h, d in zip(helpful, drawn)]


def feedback(
    model,
    tok,
    questions: list[str],
    first: list[str],
    second: list[str],
    constitution: Constitution,
    seed: int = 0,
    template: str = judge.TEMPLATE,
    batch_size: int = 32,
    helpful: list[bool] | None = None,
) -> list[judge.Verdict]:
    """Judge each pair under its question (`feedback_questions`; `helpful` marks helpful prompts, none by
    default), both orders averaged (`helpers.judge`)."""
    helpful = helpful if helpful is not None else [False] * len(questions)
    if len(helpful) != len(questions):
        raise ValueError(f"helpful has {len(helpful)} flags for {len(questions)} pairs")
    asked = feedback_questions(constitution, helpful, seed)
    verdicts: list[judge.Verdict | None] = [None] * len(questions)
    for criterion in sorted(set(asked)):
        idx = [k for k, c in enumerate(asked) if c == criterion]
        got = judge.judge_pairs(
            model,
            tok,
            [questions[k] for k in idx],
            [first[k] for k in idx],
            [second[k] for k in idx],
            criterion,
            template,
            batch_size,
        )
        for k, v in zip(idx, got):
            verdicts[k] = v
    return verdicts  # type: ignore[return-value]


def draw_pairs(
    model, tok, prompts: list[str], draws: int, seed: int, max_new_tokens: int, batch_size: int = 64
) -> tuple[list[str], list[tuple[str, str]]]:
    """`draws` pairs of answers per prompt, every answer sampled the same way (`PAIR_TEMPERATURES`).
    Returns (prompt, pair) lists draw by draw: the first len(prompts) are what one draw gives."""
    samples = rlaif.sample_pairs(
        model,
        tok,
        prompts,
        seed=seed,
        temperatures=PAIR_TEMPERATURES * draws,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
    )
    pairs = [(s[2 * d], s[2 * d + 1]) for d in range(draws) for s in samples]
    return list(prompts) * draws, pairs


def distinct_rows(rows: list[dict]) -> list[dict]:
    """Preference rows without repeats: the same prompt, chosen and rejected answer drawn twice count once."""
    seen, out = set(), []
    for r in rows:
        key = tuple(r[k][0]["content"] for k in ("prompt", "chosen", "rejected"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def recipe_rows(questions: list[str], revised: list[str], initial: list[str]) -> list[dict]:
    """The open recipe's DPO rows: every changed chain labelled revision (chosen) over original
    (rejected), with no judge; TRL's conversational format, as `rlaif.preference_rows` writes it."""
    return [
        {
            "prompt": [{"role": "user", "content": q}],
            "chosen": [{"role": "assistant", "content": r}],
            "rejected": [{"role": "assistant", "content": o}],
        }
        for q, r, o in zip(questions, revised, initial, strict=True)
        if r != o
    ]


def revision_filter(
    verdicts: list[judge.Verdict], fates: list[str], margin: float
) -> dict[str, tuple[int, int]]:
    """Per fate of a revision (e.g. "revision truly worse"): (revisions a judge keeps, revisions). A judge
    keeps a revision when it prefers it to the original by more than `margin`."""
    out: dict[str, tuple[int, int]] = {}
    for v, fate in zip(verdicts, fates, strict=True):
        kept, total = out.get(fate, (0, 0))
        out[fate] = (kept + (v.label(margin) == 0), total + 1)
    return out


def graded_agreement(verdicts: list[judge.Verdict], truth: list[int | None]) -> dict | None:
    """A judge's agreement with the graders on the pairs where one answer is truly better (truth 0 or
    1; None: no difference or no grader); None when there is no such pair."""
    known = [(v, t) for v, t in zip(verdicts, truth, strict=True) if t is not None]
    return judge.agreement([v for v, _ in known], [t for _, t in known]) if known else None


def revision_preference(verdicts: list[judge.Verdict], margin: float = 0.0) -> dict:
    """How often the judge prefers the revision (first) over the original (second): the open recipe
    assumes it always does. Ties within `margin` count half."""
    points = [0.5 if (lab := v.label(margin)) is None else float(lab == 0) for v in verdicts]
    lo, hi = judge.bootstrap_ci(points)
    return {"prefers_revision": sum(points) / len(points), "ci": (lo, hi), "n": len(points)}


def refusal_rate(answers: list[str], is_refusal) -> float:
    return sum(map(is_refusal, answers)) / len(answers)


# ---------------------------------------------------------------- GPU presets: public red-team prompts
REFUSAL_MARKERS = (
    "i can't",
    "i cannot",
    "i won't",
    "i will not",
    "i'm sorry",
    "i am sorry",
    "as an ai",
    "i'm not able",
)


def looks_like_refusal(answer: str) -> bool:
    """A keyword refusal detector for hub models' free text (opening sentence only); crude, so the GPU
    presets report it beside the judge's view, never alone."""
    head = answer.strip().lower()[:80]
    return any(marker in head for marker in REFUSAL_MARKERS)


def hh_first_turns(
    data_dir: str = "harmless-base", split: str = "train", n: int = 256
) -> list[str]:
    """The first human turn of `Anthropic/hh-rlhf` dialogues: red-team prompts (harmless-base), or benign
    ones (helpful-base), as Hugging Face's open CAI reproduction uses them."""
    from helpers.hub import load_dataset

    rows = load_dataset("Anthropic/hh-rlhf", data_dir=data_dir, split=f"{split}[:{n}]")
    turns = [r["chosen"].split("\n\nAssistant:")[0].split("\n\nHuman:")[-1].strip() for r in rows]
    return [t for t in turns if t]
