"""An A/B test done the way it holds up: stable assignment, a sample size fixed before the data, one test.

- `arm_for`: a session's arm from a hash of (experiment, session), so a returning user keeps their arm and
  no table is needed to route a request.
- `sample_size`: sessions per arm to detect a minimum effect on a rate (two-sided z-test, normal
  approximation), computed before any data is seen.
- `compare`: the difference in rates with its 95 % Wald interval and the pooled two-proportion z-test.
- `peeking_false_positives`: why the test is run once, at the planned size: checking the p-value after
  every batch and stopping at the first p < alpha inflates the false-positive rate (simulated under no effect).
"""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist

import numpy as np

_Z = NormalDist()


def arm_for(session: str, arms: tuple[str, ...], experiment: str = "ab") -> str:
    """The arm of a session: the same on every request and every server, uniform over `arms`."""
    digest = hashlib.sha256(f"{experiment}:{session}".encode()).digest()
    return arms[int.from_bytes(digest[:8], "big") % len(arms)]


def sample_size(p_base: float, min_effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Observations per arm for a two-sided test at `alpha` to detect `p_base` -> `p_base + min_effect`
    with probability `power`."""
    p1, p2 = p_base, p_base + min_effect
    if not (0 < p1 < 1 and 0 < p2 < 1):
        raise ValueError(f"rates must lie in (0, 1): {p1} and {p2}")
    p_bar = (p1 + p2) / 2
    z_a, z_b = _Z.inv_cdf(1 - alpha / 2), _Z.inv_cdf(power)
    num = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil((num / min_effect) ** 2)


def compare(ups_a: int, n_a: int, ups_b: int, n_b: int) -> dict:
    """Rate of B minus rate of A, its 95 % Wald interval, and the pooled z-test's two-sided p-value."""
    pa, pb = ups_a / n_a, ups_b / n_b
    diff = pb - pa
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    pooled = (ups_a + ups_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = diff / se0 if se0 > 0 else 0.0
    return {
        "rate_a": pa,
        "rate_b": pb,
        "diff": diff,
        "ci": (diff - 1.96 * se, diff + 1.96 * se),
        "z": z,
        "p_value": 2 * (1 - _Z.cdf(abs(z))),
    }


def peeking_false_positives(
    rate: float, n_per_arm: int, looks: int, alpha: float = 0.05, runs: int = 2000, seed: int = 0
) -> dict:
    """Simulated A/A tests (no true difference): the share declared significant when the test runs once
    at `n_per_arm`, and when it is run after each of `looks` equal batches, stopping at the first p < alpha."""
    rng = np.random.default_rng(seed)
    batch = n_per_arm // looks
    a = rng.random((runs, looks, batch)) < rate
    b = rng.random((runs, looks, batch)) < rate
    ups_a, ups_b = a.sum(2).cumsum(1), b.sum(2).cumsum(1)
    n = batch * np.arange(1, looks + 1)
    pooled = (ups_a + ups_b) / (2 * n)
    se0 = np.sqrt(np.maximum(pooled * (1 - pooled) * 2 / n, 1e-12))
    z = (ups_b - ups_a) / n / se0
    p = 2 * (1 - np.vectorize(_Z.cdf)(np.abs(z)))
    significant = p < alpha
    return {
        "once": float(significant[:, -1].mean()),
        "peeking": float(significant.any(axis=1).mean()),
        "by_look": significant.cumsum(1).clip(max=1).mean(0).tolist(),
    }


def decision(result: dict, arms: tuple[str, str], alpha: float = 0.05) -> str:
    """The planned test's decision from `compare`'s result: the better arm of (a, b) where p < `alpha`,
    else "neither (not significant)"."""
    if result["p_value"] >= alpha:
        return "neither (not significant)"
    return arms[1] if result["diff"] > 0 else arms[0]
