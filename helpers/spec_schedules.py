"""How many tokens to draft: the theory (Leviathan et al. 2023, eq. 1) and the schedules that pick k.

A schedule gives `speculative_generate` its draft length each round and learns from what was accepted:
constant, transformers' heuristic, or k* from a running alpha estimate and the measured costs.
"""

from __future__ import annotations


def expected_tokens(alpha: float, k: int) -> float:
    """E[tokens per target call] = (1 - alpha^(k+1)) / (1 - alpha) (Leviathan et al., eq. 1)."""
    return k + 1.0 if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


def predicted_speedup(alpha: float, k: int, c: float, verify_cost: float = 1.0) -> float:
    """Wall-time speed-up over plain decoding. Textbook: verify_cost = 1 (a (k+1)-token target pass
    costs the same as a 1-token one). On a CPU it does not: pass the measured ratio."""
    return expected_tokens(alpha, k) / (k * c + verify_cost)


def optimal_k(alpha: float, c: float, verify_cost=None, k_max: int = 16) -> int:
    """The k in 1..k_max with the highest predicted speed-up. verify_cost: callable k -> ratio, or None."""
    cost = verify_cost or (lambda k: 1.0)
    return max(range(1, k_max + 1), key=lambda k: predicted_speedup(alpha, k, c, cost(k)))


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (draft tokens per round) must be a positive integer, got {k!r}")
    return k


class ConstantK:
    """Always draft k tokens."""

    def __init__(self, k: int):
        self.k = check_k(k)

    def next_k(self) -> int:
        return self.k

    def update(self, accepted: int, proposed: int) -> None:
        pass


class NoDrafts(ConstantK):
    """Draft nothing: every round is one target step. The loop's own baseline, the "1" of the formula."""

    def __init__(self):
        self.k = 0


class HeuristicK(ConstantK):
    """transformers' 'heuristic' schedule: +2 after a fully accepted round, -1 otherwise (min 1)."""

    def update(self, accepted: int, proposed: int) -> None:
        self.k = self.k + 2 if accepted == proposed else max(1, self.k - 1)


class AlphaK(ConstantK):
    """Pick k* from a running alpha estimate and the measured costs (draft c, verify v(k)).
    Counts decay by `memory` per round, so the estimate follows the text (templates vs. numbers)."""

    def __init__(self, c: float, verify_cost=None, k_max: int = 16, memory: float = 0.9):
        self.c, self.verify_cost, self.k_max, self.memory = c, verify_cost, k_max, memory
        self.acc, self.rej = 4.0, 1.0  # a weak prior: alpha ~ 0.8 before any evidence
        super().__init__(optimal_k(self.acc / (self.acc + self.rej), c, verify_cost, k_max))

    def update(self, accepted: int, proposed: int) -> None:
        self.acc = self.memory * self.acc + accepted
        self.rej = self.memory * self.rej + int(accepted < proposed)
        self.k = optimal_k(self.acc / (self.acc + self.rej), self.c, self.verify_cost, self.k_max)


def accepted_lengths(accepted: list[int], proposed: list[int], k: int, alpha: float):
    """Over the rounds that drafted all k: how many kept 0..k drafts (measured), and the counts the
    truncated geometric model of the i.i.d. theory expects at `alpha`. Returns (measured, expected)."""
    import torch

    full = [n for n, p in zip(accepted, proposed) if p == k]
    hist = torch.bincount(torch.tensor(full, dtype=torch.long), minlength=k + 1).double()
    geo = [alpha**n * (1 - alpha) if n < k else alpha**k for n in range(k + 1)]
    return hist, torch.tensor(geo, dtype=torch.float64) * len(full)


def plot_acceptance(per_position: list[float], alpha: float, hist, geo) -> None:
    """Left: P(accept draft i | drafts before it kept) against alpha-hat; right: accepted drafts per
    round (rounds that drafted all k) against the truncated geometric model."""
    import matplotlib.pyplot as plt

    k = len(hist) - 1
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.5))
    # positions no round reached (every draft rejected earlier) have no rate: fewer bars than k
    ax[0].bar(range(1, len(per_position) + 1), per_position)
    ax[0].axhline(alpha, color="k", ls="--")
    ax[0].set(xlabel="draft position i", ylabel="P(accept i | 1..i-1 accepted)", ylim=(0, 1))
    ax[0].set_title(f"Per-position acceptance (dashed: alpha_hat = {alpha:.2f})")
    ax[1].bar(range(k + 1), hist, label="measured")
    ax[1].plot(range(k + 1), geo, "ko--", label="truncated geometric(alpha_hat)")
    ax[1].set(
        xlabel="accepted drafts in a round", ylabel="rounds", title=f"Accepted length, k = {k}"
    )
    ax[1].legend(loc="best")
    fig.tight_layout()
    plt.show()
