"""ROUGE-L dedup, fast: a new instruction is kept only if its ROUGE-L F against every kept one is at most
0.7. `RougePool` gives the same decisions as `rouge_score`'s pairwise scorer (bit-parallel LCS over
precomputed token masks); `python -m helpers.rouge_pool bench` measures both side by side.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from rouge_score import rouge_scorer, scoring

# ---------------------------------------------------------------- ROUGE-L, fast
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's own tokenization (lower-case, alphanumeric words), so scores match it exactly."""
    return SCORER._tokenizer.tokenize(text)


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
    return max((SCORER.score(p, text)["rougeL"].fmeasure for p in pool), default=0.0)


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

    parser = argparse.ArgumentParser(prog="python -m helpers.rouge_pool", description=__doc__)
    parser.add_argument("command", choices=["bench"])
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from helpers.self_instruct import load_seed_tasks

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
