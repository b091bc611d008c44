"""What a notebook asserts about its own results, and the one rule for where each kind of claim can hold.

A notebook ends its key cells with `claims.check(...)`: a run that breaks what the notebook teaches (greedy
speculative decoding that differs from `generate` by one token, a stale record reused) stops there, under
`make test` too, instead of printing the failure and carrying on. Two kinds of claim hold only somewhere:
- `exact(profile)`: bit-for-bit claims hold in float32 without 4-bit weights. In fp16, bf16 or NF4 a batched
  pass may sum in another order than a one-token pass, so outputs can part (said in notebook 11).
- `full_counts(profile)`: claims about what training learned, or a statistical test's power, need the full
  counts: not `COURSE_QUICK` (steps and samples cut) and not a dry run (random stand-in models).
"""

from __future__ import annotations

import torch

from helpers import profiles


def exact(profile: profiles.Profile) -> bool:
    """Whether bit-exact claims can hold here: float32 weights, no 4-bit."""
    return profile.dtype == torch.float32 and not profile.load_in_4bit


def full_counts(profile: profiles.Profile) -> bool:
    """Whether learned and statistical claims can hold here: full step and sample counts, real models."""
    return not profile.quick and not profile.dry_run


def check(ok: bool, claim: str, where: bool = True) -> None:
    """Assert `claim` (a sentence saying what must hold) where it can hold; say which it was, either way."""
    if not where:
        print(f"claim not checked on this profile: {claim}")
        return
    if not ok:
        raise AssertionError(f"claim failed: {claim}")
    print(f"claim holds: {claim}")
