"""Speculative decoding (Leviathan et al. 2023; Chen et al. 2023), exact and cached.

A small *draft* model proposes k tokens; the *target* model checks all of them in one forward pass.
Draft token x_i (drawn from q_i) is kept with probability min(1, p_i(x_i) / q_i(x_i)); at the first
rejection a replacement is drawn from norm(max(0, p_i - q_i)); if all k pass, a bonus token comes from
p_{k+1}. Every round therefore emits 1..k+1 tokens for exactly one target call, and the output has
exactly the target's distribution (greedy: exactly the target's greedy text).

transformers does the same with `target.generate(..., assistant_model=draft)`. Beside this module:
`spec_batch` (a batch of prompts), `spec_schedules` (theory and draft lengths), `spec_costs` (measured
costs, compile) and `spec_exactness` (the chi-square check of the output's distribution).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from helpers.spec_schedules import ConstantK

# ---------------------------------------------------------------- vocabulary guard


def _tokenizer_name(tok) -> str:
    """A hub id as is, a local folder by its last part (no machine paths in messages), with its size;
    a tokenizer built in memory has no name: it is called unnamed, never by its class."""
    name = tok.name_or_path
    if not name:
        return f"(unnamed, {len(tok)} tokens)"
    return f"{Path(name).name if Path(name).is_absolute() else name!r} ({len(tok)} tokens)"


def shared_vocab_size(target, draft, target_tok=None, draft_tok=None) -> int:
    """How many logits the two models share. Token ids must mean the same thing in both models.

    * same tokenizer (or no tokenizers given and equal vocab sizes): use the full vocabulary;
    * one tokenizer, embedding matrices padded to different sizes (Qwen2.5-7B 152064 vs 0.5B 151936):
      slice both to the tokenizer's length;
    * different tokenizers (GPT-2 draft with a Llama target): refuse, naming both.
    """
    vt, vd = target.config.get_text_config().vocab_size, draft.config.get_text_config().vocab_size
    if target_tok is None or draft_tok is None:
        if vt != vd:
            raise ValueError(
                f"target vocab {vt} != draft vocab {vd}: pass both tokenizers so the guard can tell "
                "padding from a real mismatch"
            )
        return vt
    if target_tok is not draft_tok and target_tok.get_vocab() != draft_tok.get_vocab():
        raise ValueError(
            "speculative decoding needs one tokenizer: target tokenizer "
            f"{_tokenizer_name(target_tok)} and draft tokenizer {_tokenizer_name(draft_tok)} "
            "give the same id different meanings. Pick a draft from the target's family, or use "
            "transformers' universal assisted generation (tokenizer=..., assistant_tokenizer=...)."
        )
    n = len(target_tok)
    if min(vt, vd) < n:
        raise ValueError(f"a model's vocabulary ({vt}, {vd}) is smaller than its tokenizer ({n})")
    return n


# ---------------------------------------------------------------- distributions


def to_probs(
    logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """Sampling distribution after temperature, top-k and top-p (the same warpers as `generate`)."""
    logits = logits.float() / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove = cum <= 1 - top_p
        remove[..., -1] = False  # keep at least the most likely token
        logits = logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return logits.softmax(-1)


# ---------------------------------------------------------------- statistics


@dataclass
class SpecStats:
    """What happened during one speculative generation."""

    k: int = 0
    rounds: int = 0
    target_calls: int = 0
    draft_calls: int = 0
    new_tokens: int = 0
    accepted: list[int] = field(default_factory=list)  # accepted drafts per round
    proposed: list[int] = field(default_factory=list)  # drafts per round
    rejections: int = 0
    pos_tried: list[int] = field(default_factory=list)  # per draft position: how often checked
    pos_accepted: list[int] = field(default_factory=list)
    # per rejection: (index among the new tokens of the target's replacement, the rejected draft token);
    # pooled stats list every generation's rejections, each indexed in its own text
    rejected: list[tuple[int, int]] = field(default_factory=list)
    overlap_sum: float = 0.0  # sum over checked positions of sum_x min(p(x), q(x))
    overlap_n: int = 0
    t_draft: float = 0.0
    t_verify: float = 0.0
    t_total: float = 0.0

    @property
    def alpha_hat(self) -> float:
        """Acceptance rate alpha: accepted / (accepted + rejections), the i.i.d. estimate."""
        a = sum(self.accepted)
        return a / (a + self.rejections) if a + self.rejections else float("nan")

    @property
    def accepted_over_proposed(self) -> float:
        """The textbook's 'acceptance rate'. Not alpha: it shrinks as k grows."""
        return sum(self.accepted) / max(1, sum(self.proposed))

    @property
    def alpha_overlap(self) -> float:
        """Mean of sum_x min(p, q) over checked positions: alpha's lower-variance estimate."""
        return self.overlap_sum / self.overlap_n if self.overlap_n else float("nan")

    @property
    def tau(self) -> float:
        """New tokens per target call (tau)."""
        return self.new_tokens / max(1, self.target_calls)

    @property
    def per_position(self) -> list[float]:
        """P(accept draft i | drafts before it were accepted), i = 1..k."""
        return [a / t if t else float("nan") for a, t in zip(self.pos_accepted, self.pos_tried)]

    def merge(self, other: SpecStats) -> SpecStats:
        """Pool statistics over several prompts."""
        out = SpecStats(k=max(self.k, other.k))
        for name in (
            "rounds",
            "target_calls",
            "draft_calls",
            "new_tokens",
            "rejections",
            "overlap_n",
        ):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        for name in ("overlap_sum", "t_draft", "t_verify", "t_total"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.accepted, out.proposed = self.accepted + other.accepted, self.proposed + other.proposed
        out.rejected = self.rejected + other.rejected
        n = max(len(self.pos_tried), len(other.pos_tried))
        pad = lambda v: v + [0] * (n - len(v))  # noqa: E731
        out.pos_tried = [a + b for a, b in zip(pad(self.pos_tried), pad(other.pos_tried))]
        out.pos_accepted = [a + b for a, b in zip(pad(self.pos_accepted), pad(other.pos_accepted))]
        return out

    def _count_position(self, i: int, accepted: bool) -> None:
        while len(self.pos_tried) <= i:
            self.pos_tried.append(0)
            self.pos_accepted.append(0)
        self.pos_tried[i] += 1
        self.pos_accepted[i] += int(accepted)


def split_at_end(st: SpecStats, new_tokens: list[int], eos_token_id: int) -> torch.Tensor:
    """Kept and rejected drafts of one generation inside its answer and past its end of turn: a (2, 2)
    tensor, rows (inside, past), columns (kept, rejected). A draft counts as inside when its place in the
    new tokens is at or before the first `eos_token_id` (all inside if there is none). Round i starts
    where round i - 1's kept drafts and its one target token end."""
    end = new_tokens.index(eos_token_id) if eos_token_id in new_tokens else len(new_tokens)
    counts, start = torch.zeros(2, 2), 0
    for n, kr in zip(st.accepted, st.proposed):
        for i in range(min(n + 1, kr)):  # the positions the verdict reached
            counts[int(start + i > end), int(i >= n)] += 1
        start += n + 1
    return counts


# ---------------------------------------------------------------- one round's verdict


def accept_rows(drafts, qs, p_logits, greedy: bool, probs_of, generator):
    """Per row: how many drafts the target accepts (n), the token it adds (the correction or the bonus), and
    per position sum_x min(p, q) (alpha's lower-variance estimate; greedy: whether the argmaxes agree).
    Greedy: a draft stands while it equals the target's argmax. Sampling: accept x_i with probability
    min(1, p/q), then draw the correction from max(0, p - q), or the bonus from p when all stood."""
    B, kr = drafts.shape
    rows = torch.arange(B, device=drafts.device)
    if greedy:
        best = p_logits.argmax(-1)  # (B, kr + 1)
        ok = drafts == best[:, :kr]
        n = ok.long().cumprod(1).sum(1)
        return n, best[rows, n], ok.float()
    p = probs_of(p_logits)  # (B, kr + 1, V)
    q = torch.stack(qs, dim=1)  # (B, kr, V)
    idx = drafts.unsqueeze(-1)
    ratio = p[:, :kr].gather(-1, idx).squeeze(-1) / q.gather(-1, idx).squeeze(-1)
    ok = torch.rand(B, kr, generator=generator, device=drafts.device) < ratio
    n = ok.long().cumprod(1).sum(1)
    residual = torch.clamp(p[rows, n.clamp(max=kr - 1)] - q[rows, n.clamp(max=kr - 1)], min=0)
    last = torch.where((n == kr).unsqueeze(-1), p[rows, n], residual)
    extra = torch.multinomial(last / last.sum(-1, keepdim=True), 1, generator=generator).squeeze(-1)
    return n, extra, torch.minimum(p[:, :kr], q).sum(-1)


# ---------------------------------------------------------------- the algorithm


def _crop(cache, length: int) -> None:
    """Roll a KV cache back to its first `length` tokens (transformers 5: crop(-tokens_to_remove))."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


# like no_grad, minus autograd's version counters: a little less work per call
@torch.inference_mode()
def speculative_generate(
    target,
    draft,
    input_ids: torch.Tensor,
    *,
    k=4,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    draft_argmax: bool = False,
    stop_below: float = 0.0,
    stop_block_below: float = 0.0,
    static_cache: bool = False,
) -> tuple[torch.Tensor, SpecStats]:
    """Generate up to `max_new_tokens` after `input_ids` (batch 1) with a draft and a target model.

    `k` is an int or a schedule (ConstantK, HeuristicK, AlphaK). temperature 0 is greedy decoding.
    `stop_below`: end a round's drafting once the draft gives its token a probability below this
    (transformers' `assistant_confidence_threshold`, 0.4 by default there). Still exact: when to stop
    depends on the draft alone.
    `stop_block_below`: end it once the product of those probabilities in this round, the draft's own
    guess that the whole block survives, drops below this (an untrained form of SpecDec++'s stop rule).
    `draft_argmax=True` is a negative control, the tutorial bug: the draft takes its argmax but the
    ratio uses the soft q, so the output no longer follows the target's distribution.
    `static_cache=True`: both KV caches preallocated (`transformers.StaticCache`), rolled back by moving
    their position, nothing copied or freed: the fixed shapes `torch.compile` and CUDA graphs need
    (`compiled` below). Returns the full sequence (prompt + new tokens) and the statistics.
    """
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must have shape (1, length), got {tuple(input_ids.shape)}")
    if input_ids.shape[1] == 0:
        raise ValueError(
            "empty prompt: speculative decoding needs at least one token to condition on"
        )
    schedule = k if hasattr(k, "next_k") else ConstantK(k)
    greedy = temperature == 0
    V = vocab_size or shared_vocab_size(target, draft)
    stats = SpecStats(k=schedule.next_k())
    t_start = time.perf_counter()
    seq = input_ids.to(target.device)
    prompt_len = seq.shape[1]
    t_cache = d_cache = None  # KV caches; None until the first call creates them
    # a round feeds at most the tokens it may still emit: prompt + max_new_tokens slots suffice
    if static_cache:
        from transformers import StaticCache

        size = prompt_len + max_new_tokens + 1
        t_cache, d_cache = (
            StaticCache(config=m.config, max_cache_len=size) for m in (target, draft)
        )
    t_len = d_len = 0  # how many tokens of `seq` each cache holds

    def probs_of(logits):
        return to_probs(logits, temperature, top_k, top_p)

    while seq.shape[1] - prompt_len < max_new_tokens:
        remaining = max_new_tokens - (seq.shape[1] - prompt_len)
        kr = min(schedule.next_k(), remaining - 1)  # a round emits at most kr + 1 tokens

        # 1. draft kr tokens autoregressively, keeping q_i (the distribution each was drawn from)
        t0 = time.perf_counter()
        drafts, qs, survive = [], [], 1.0
        for _ in range(kr):
            # one new token, or all the draft has not seen
            feed = drafts[-1] if drafts else seq[:, d_len:]
            out = draft(input_ids=feed, cache=d_cache, use_cache=True, logits_to_keep=1)
            d_cache, d_len = out.cache, d_len + feed.shape[1]
            logits = out.logits[0, -1, :V]
            if greedy:
                x = logits.argmax().view(1, 1)
                qs.append(None)
                confidence = (
                    logits.float().softmax(-1)[x].item() if stop_below or stop_block_below else 1.0
                )
            else:
                q = probs_of(logits)
                x = (
                    q.argmax().view(1, 1)
                    if draft_argmax
                    else torch.multinomial(q, 1, generator=generator).view(1, 1)
                )
                qs.append(q)
                confidence = q[x].item()
            drafts.append(x)
            stats.draft_calls += 1
            survive *= confidence
            if confidence < stop_below or survive < stop_block_below:
                break
        kr = len(drafts)
        t1 = time.perf_counter()

        # 2. one target pass over [tokens it has not seen, x_1..x_kr] gives p_1..p_{kr+1}
        feed = torch.cat([seq[:, t_len:], *drafts], dim=1)
        out = target(input_ids=feed, cache=t_cache, use_cache=True, logits_to_keep=kr + 1)
        t_cache, t_len = out.cache, t_len + feed.shape[1]
        p_logits = out.logits[0, -(kr + 1) :, :V]
        stats.target_calls += 1
        t2 = time.perf_counter()

        # 3. accept x_i with probability min(1, p/q); stop at the first rejection; then the correction
        #    from max(0, p - q), or the bonus from p_{kr+1} when all stood (the batched loop's step too)
        if kr == 0:  # no room left for a draft: the target's own next token
            last = p_logits[0]
            extra = (
                last.argmax()
                if greedy
                else torch.multinomial(probs_of(last), 1, generator=generator)
            )
            n, extra, overlap = 0, extra.item(), torch.zeros(1, 0)
        else:
            q_rows = None if greedy else [q.unsqueeze(0) for q in qs]
            n, extra, overlap = accept_rows(
                torch.cat(drafts, dim=1), q_rows, p_logits.unsqueeze(0), greedy, probs_of, generator
            )
            n, extra = n.item(), extra.item()
        new = [d.item() for d in drafts[:n]] + [extra]
        if eos_token_id is not None and eos_token_id in new:
            end = new.index(eos_token_id)
            new = new[: end + 1]
            if end < n:  # the turn ended on a kept draft: its round's verdicts past it never count
                n = kr = end + 1
        tried = min(n + 1, kr)  # the positions the verdict reached
        for i in range(tried):
            stats._count_position(i, i < n)
        stats.overlap_sum += overlap[0, :tried].sum().item()
        stats.overlap_n += tried
        stats.rejections += int(n < kr)
        if n < kr:
            stats.rejected.append((seq.shape[1] - prompt_len + n, drafts[n].item()))
        seq = torch.cat([seq, torch.tensor([new], device=seq.device)], dim=1)

        # 4. roll both caches back to the accepted prefix (the newest token is fed next round)
        keep = seq.shape[1] - 1
        _crop(t_cache, keep)
        t_len = min(t_len, keep)
        if d_cache is not None:
            _crop(d_cache, keep)
            d_len = min(d_len, keep)
        stats.rounds += 1
        stats.accepted.append(n)
        stats.proposed.append(kr)
        schedule.update(n, kr)
        stats.t_draft += t1 - t0
        stats.t_verify += t2 - t1
        if eos_token_id is not None and new[-1] == eos_token_id:
            break
    stats.new_tokens = seq.shape[1] - prompt_len
    stats.t_total = time.perf_counter() - t_start
    return seq, stats
