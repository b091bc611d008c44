"""A pairwise AI judge over any causal LM, and the measurements that say how far to trust it.

The judge reads a question and two answers and we take the next-token log-probabilities of the letters
"A" and "B" right where it would start to reply (Lee et al. 2023; Bai et al. 2022 for CAI's feedback
model). Each pair is scored in both orders and the two distributions are averaged, which cancels a
constant preference for one slot (position bias). Shared by stages 12b, 12c and 14.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from helpers import generation

TEMPLATE = "Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n{criterion}\nReply with a single letter, A or B."
LETTERS = ("A", "B")


def render(question: str, a: str, b: str, criterion: str, template: str = TEMPLATE) -> str:
    return template.format(question=question, a=a, b=b, criterion=criterion)


def letter_ids(tok, prompt_ids: list[int], letters: tuple[str, str] = LETTERS) -> list[int]:
    """The token id of each answer letter as the judge would write it right after the prompt. Raises if a
    letter is not exactly one token there (then its probability is not one next-token probability)."""
    text = tok.decode(prompt_ids)
    base = tok(text, add_special_tokens=False)["input_ids"]
    ids = []
    for letter in letters:
        full = tok(text + letter, add_special_tokens=False)["input_ids"]
        new = full[len(base) :]
        if full[: len(base)] != base or len(new) != 1:
            raise ValueError(
                f"the answer letter {letter!r} is not a single token after this judge's prompt (it becomes "
                f"{[tok.decode([t]) for t in new]}); choose other labels or end the prompt differently"
            )
        ids.append(new[0])
    return ids


def token_batches(rows: list[list[int]], batch_size: int, max_tokens: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive batches of at most `batch_size` rows and `max_tokens` padded tokens (rows x
    the longest row): long judge prompts on a GPU split into smaller batches, short ones keep whole batches."""
    spans, start = [], 0
    while start < len(rows):
        end, longest = start, 0
        while end < len(rows) and end - start < batch_size:
            longest_next = max(longest, len(rows[end]))
            if end > start and (end - start + 1) * longest_next > max_tokens:
                break
            end, longest = end + 1, longest_next
        spans.append((start, end))
        start = end
    return spans


@torch.no_grad()
def letter_probs(
    model, tok, prompts: list[str], batch_size: int = 32, max_tokens: int = 16384
) -> tuple[torch.Tensor, torch.Tensor]:
    """P(A) among {A, B} at the reply position of each chat prompt, and the total mass P(A) + P(B)
    (near 0 means the judge is not answering with a letter at all)."""
    rows = [generation.chat_prompt_ids(tok, p) for p in prompts]
    ids_ab = letter_ids(tok, rows[0])
    p_a, mass = [], []
    for start, end in token_batches(rows, batch_size, max_tokens):
        ids, mask = generation.left_pad(rows[start:end], tok.pad_token_id)
        # logits_to_keep=1: only the reply position's logits (a full batch x length x 152k in 16-bit is ~6 GB);
        # use_cache=False: no KV cache (393 KB a token for an MHA evaluator: gigabytes at batch 32), and the
        # output is dropped before the next batch runs, so one batch's activations are alive at a time
        out = model(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            logits_to_keep=1,
            use_cache=False,
        )
        logits = out.logits[:, -1].float()
        del out
        if not torch.isfinite(logits).all():
            raise FloatingPointError(
                "the judge's logits are not finite (inf/NaN): 16-bit overflow, a known risk of Qwen2.5 in fp16 "
                "on a T4. Load the judge in float32 (or bf16 on an Ampere GPU); its verdicts would be all ties."
            )
        logp = logits.log_softmax(-1)[:, ids_ab]
        p_a.append(logp.softmax(-1)[:, 0].cpu())
        mass.append(logp.exp().sum(-1).cpu())
    return torch.cat(p_a), torch.cat(mass)


@dataclass(frozen=True)
class Verdict:
    """One pair judged in both orders. `p_first`: probability that the first answer is better, the
    average of "A" with it in slot A and "B" with it in slot B."""

    p_ab: float  # P(A) with the first answer in slot A
    p_ba: float  # P(A) with the first answer in slot B
    mass: float

    @property
    def p_first(self) -> float:
        return (self.p_ab + (1.0 - self.p_ba)) / 2

    @property
    def consistent(self) -> bool:
        """The same answer wins in both orders."""
        return (self.p_ab > 0.5) == (self.p_ba < 0.5)

    def label(self, margin: float = 0.0) -> int | None:
        """0: first better, 1: second better, None: a tie or abstention inside the margin."""
        if self.p_first > 0.5 + margin:
            return 0
        if self.p_first < 0.5 - margin:
            return 1
        return None


def judge_pairs(
    model,
    tok,
    questions: list[str],
    first: list[str],
    second: list[str],
    criterion: str,
    template: str = TEMPLATE,
    batch_size: int = 32,
) -> list[Verdict]:
    """Judge each (question, first, second) in both orders."""
    ab = [render(q, a, b, criterion, template) for q, a, b in zip(questions, first, second)]
    ba = [render(q, b, a, criterion, template) for q, a, b in zip(questions, first, second)]
    p_ab, m_ab = letter_probs(model, tok, ab, batch_size)
    p_ba, m_ba = letter_probs(model, tok, ba, batch_size)
    return [
        Verdict(float(x), float(y), float((ma + mb) / 2))
        for x, y, ma, mb in zip(p_ab, p_ba, m_ab, m_ba)
    ]


# ---------------------------------------------------------------- how good is the judge?
def position_consistency(verdicts: list[Verdict]) -> float:
    return sum(v.consistent for v in verdicts) / len(verdicts)


def bootstrap_ci(
    values: list[float], n: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(n))
    return means[int((1 - level) / 2 * n)], means[int((1 + level) / 2 * n) - 1]


def wilson_ci(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion: unlike a bootstrap it does not collapse to a point when
    every pair agrees (40 of 40 still leaves room below 1)."""
    if n == 0:
        return 0.0, 1.0
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_bootstrap_ci(
    values: list[float], clusters: list, n: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean that resamples whole clusters (paraphrases of one fact
    are not independent questions). With every value its own cluster it equals `bootstrap_ci`."""
    groups: dict = {}
    for v, c in zip(values, clusters, strict=True):
        groups.setdefault(c, []).append(v)
    sums = [(sum(g), len(g)) for g in groups.values()]
    rng = random.Random(seed)
    means = []
    for _ in range(n):
        draw = rng.choices(sums, k=len(sums))
        means.append(sum(s for s, _ in draw) / sum(m for _, m in draw))
    means.sort()
    return means[int((1 - level) / 2 * n)], means[int((1 + level) / 2 * n) - 1]


def agreement(verdicts: list[Verdict], truth: list[int], margin: float = 0.0) -> dict:
    """Share of pairs whose label equals the true one (0: first better, 1: second); a tie counts as half,
    so a judge that always abstains scores 0.5, as a coin would."""
    hits = [
        0.5 if (lab := v.label(margin)) is None else float(lab == t)
        for v, t in zip(verdicts, truth)
    ]
    lo, hi = wilson_ci(sum(hits) / len(hits), len(hits))
    ties = sum(v.label(margin) is None for v in verdicts)
    return {"agreement": sum(hits) / len(hits), "ci": (lo, hi), "ties": ties, "n": len(hits)}


def calibration(
    p_first: list[float], truth: list[int], bins: int = 5
) -> list[tuple[float, float, int]]:
    """(mean predicted P(first better), observed frequency, count) per bin of a reliability plot. The bins
    hold equal numbers of pairs (quantiles of p), so a judge whose p sits near 0 and 1 still fills each."""
    order = sorted(range(len(p_first)), key=lambda i: p_first[i])
    rows = []
    for b in range(bins):
        idx = order[b * len(order) // bins : (b + 1) * len(order) // bins]
        if idx:
            mean_p = sum(p_first[i] for i in idx) / len(idx)
            rows.append((mean_p, sum(truth[i] == 0 for i in idx) / len(idx), len(idx)))
    return rows


def length_bias(
    verdicts: list[Verdict], first: list[str], second: list[str], truth: list[int]
) -> dict:
    """How often the longer answer wins, by the judge and by the truth, over pairs of unequal length."""
    judged, true = [], []
    for v, a, b, t in zip(verdicts, first, second, truth):
        if len(a) != len(b) and v.label() is not None:
            longer = 0 if len(a) > len(b) else 1
            judged.append(v.label() == longer)
            true.append(t == longer)
    n = max(len(judged), 1)
    return {
        "judge_prefers_longer": sum(judged) / n,
        "truth_prefers_longer": sum(true) / n,
        "n": len(judged),
    }


# ---------------------------------------------------------------- a common tutorial's parser, for contrast
def substring_label(judgment: str) -> int:
    """A common tutorial's parser: `if "A" in judgment` -> first answer. True for "As an AI...",
    "Answer:", "(B) is better than (A)" and most refusals: do not use."""
    return 0 if "A" in judgment else 1


def strict_label(judgment: str) -> int | None:
    """A strict parser for free-text verdicts: the reply must be the bare letter; anything else abstains."""
    reply = judgment.strip().rstrip(".").strip("()[] ")
    return {"A": 0, "B": 1}.get(reply)
