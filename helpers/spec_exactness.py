"""Is the output exactly the target's distribution? A chi-square test of the first two sampled tokens
against the target's own two-token law (the control that must fail: `draft_argmax=True`).
"""

from __future__ import annotations

import torch

from helpers.speculative import speculative_generate, to_probs


def chi_square_pvalue(
    counts: torch.Tensor, probs: torch.Tensor, min_expected: float = 5.0
) -> tuple[float, int]:
    """Pearson chi-square goodness of fit of `counts` to `probs`; bins expected < 5 are pooled.
    Returns (p-value, degrees of freedom)."""
    n = counts.sum()
    expected = probs.double() * n
    big = expected >= min_expected
    obs = torch.cat([counts[big].double(), counts[~big].double().sum().view(1)])
    exp = torch.cat([expected[big], expected[~big].sum().view(1)])
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    stat = ((obs - exp) ** 2 / exp).sum()
    dof = int(keep.sum()) - 1
    return torch.special.gammaincc(
        torch.tensor(dof / 2.0, dtype=torch.float64), stat / 2
    ).item(), dof


@torch.no_grad()
def two_token_law(
    target,
    ids: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 20,
    vocab_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The target's exact law of the next two tokens, p(x1) p(x2 | x1), over the top-k support, on the
    first `vocab_size` logits (as `speculative_generate` sees them). Returns (pairs (n, 2), probabilities (n,));
    top_k keeps the enumeration small for any vocabulary."""
    V = vocab_size or target.config.get_text_config().vocab_size
    p1 = to_probs(target(ids).logits[0, -1, :V].float(), temperature, top_k)
    first = torch.nonzero(p1).flatten()
    ext = torch.cat([ids.repeat(len(first), 1), first.view(-1, 1).to(ids.device)], dim=1)
    p2 = to_probs(target(ext).logits[:, -1, :V].float(), temperature, top_k)
    pairs, probs = [], []
    for row, x1 in enumerate(first.tolist()):
        second = torch.nonzero(p2[row]).flatten()
        pairs += [(x1, x2) for x2 in second.tolist()]
        probs.append(p1[x1].double() * p2[row, second].double())
    return torch.tensor(pairs), torch.cat(probs).cpu()


def sample_two_tokens(
    target,
    draft,
    ids,
    pairs: torch.Tensor,
    n: int,
    seed: int,
    k: int = 3,
    new_tokens: int = 2,
    sampler=None,
    **kwargs,
) -> torch.Tensor:
    """Counts of each pair in `pairs` (the first two new tokens) over `n` speculative samples. With two
    new tokens a round drafts one token, so the accept, residual and bonus paths all occur; with three
    (and k >= 2) the first round drafts two, so the second draft's test, its residual and the rollback
    after a rejected first draft shape the first two tokens too (a bonus then comes third, uncounted).
    A pair outside `pairs` would be a bug: it raises. `sampler(ids, new_tokens, generator)` -> the new token
    ids: another loop to test (e.g. notebook 11's one-cell `speculate`); None = `speculative_generate`."""
    gen = torch.Generator(device=ids.device).manual_seed(seed)
    index = {tuple(p): i for i, p in enumerate(pairs.tolist())}
    counts = torch.zeros(len(pairs), dtype=torch.float64)
    for _ in range(n):
        if sampler is None:
            seq, _ = speculative_generate(
                target, draft, ids, k=k, max_new_tokens=new_tokens, generator=gen, **kwargs
            )
            new = seq[0, ids.shape[1] :].tolist()
        else:
            new = list(sampler(ids, new_tokens, gen))
        counts[index[tuple(new[:2])]] += 1
    return counts


@torch.no_grad()
def first_acceptance(
    target, draft, ids, temperature: float = 1.0, top_k: int = 20, vocab_size=None
) -> float:
    """Sum_x min(p(x), q(x)) at the first new token: the chance the first draft is kept, so the share of
    samples whose first round goes on to test a second draft."""
    V = vocab_size or target.config.get_text_config().vocab_size
    p, q = (to_probs(m(ids).logits[0, -1, :V].float(), temperature, top_k) for m in (target, draft))
    return float(torch.minimum(p, q).sum())


def first_token_share(pairs: torch.Tensor, counts: torch.Tensor) -> tuple[int, float]:
    """The most frequent first token among counted pairs, and its share of all the counts."""
    firsts = pairs[:, 0]
    totals = {int(t): float(counts[firsts == t].sum()) for t in firsts.unique()}
    top = max(totals, key=totals.get)
    return top, totals[top] / max(float(counts.sum()), 1.0)


def plot_counts(labels: list[str], bars: dict, n: int) -> None:
    """Grouped bars of counts per outcome (the expected counts first), one group per label."""
    import matplotlib.pyplot as plt

    x = torch.arange(len(labels))
    width = 0.8 / len(bars)
    plt.figure(figsize=(10, 3.5))
    for i, (name, height) in enumerate(bars.items()):
        plt.bar(x + width * (i - (len(bars) - 1) / 2), height, width, label=name)
    plt.xticks(x, labels, rotation=45, ha="right", fontsize=8)
    plt.xlabel("first two tokens")
    plt.ylabel(f"count of {n}")
    plt.title(f"First two sampled tokens: the {len(labels)} likeliest outcomes")
    plt.legend(loc="upper right")  # the bars fall to the right
    plt.show()
