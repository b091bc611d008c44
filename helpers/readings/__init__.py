"""The notebooks' readings: each function turns one section's measured values into the sentences the
learner reads under it, with every verdict chosen by the values, so a rerun cannot leave stale prose.

One module per notebook (`stage11`, `stage12a`, ...); a notebook cell calls one function and shows its
Markdown. The algorithms live in the stage modules; nothing here computes a result.
"""

from __future__ import annotations


def n_of(k: int, n: int, what: str = "") -> str:
    """'3 of 24 replies' (the noun as given)."""
    return f"{k} of {n}" + (f" {what}" if what else "")


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 pair', '2 pairs'."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def coin_noise(n: int) -> float:
    """Two standard errors of a coin's rate over n trials, 2·sqrt(0.25/n) = sqrt(1/n): a coin scores 0.5 ± this."""
    return (1 / max(n, 1)) ** 0.5


def within(delta: float, bar: float) -> bool:
    """Whether a change is inside a noise bar (the verdict every comparison reading starts from)."""
    return abs(delta) <= bar
