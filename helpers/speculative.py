"""Speculative decoding (Leviathan et al. 2023; Chen et al. 2023), exact and cached.

A small *draft* model proposes k tokens; the *target* model checks all of them in one forward pass.
Draft token x_i (drawn from q_i) is kept with probability min(1, p_i(x_i) / q_i(x_i)); at the first
rejection a replacement is drawn from norm(max(0, p_i - q_i)); if all k pass, a bonus token comes from
p_{k+1}. Every round therefore emits 1..k+1 tokens for exactly one target call, and the output has
exactly the target's distribution (greedy: exactly the target's greedy text).

transformers does the same with `target.generate(..., assistant_model=draft)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

# ---------------------------------------------------------------- vocabulary guard


def _tokenizer_name(tok) -> str:
    """A hub id as is; a local folder by its last part (no machine paths in messages)."""
    name = tok.name_or_path or type(tok).__name__
    return Path(name).name if Path(name).is_absolute() else name


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
            f"{_tokenizer_name(target_tok)!r} ({len(target_tok)} tokens) and draft "
            f"tokenizer {_tokenizer_name(draft_tok)!r} ({len(draft_tok)} tokens) "
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
        """New tokens per target call."""
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


# ---------------------------------------------------------------- draft-length schedules


class ConstantK:
    """Always draft k tokens."""

    def __init__(self, k: int):
        self.k = check_k(k)

    def next_k(self) -> int:
        return self.k

    def update(self, accepted: int, proposed: int) -> None:
        pass


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


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (draft tokens per round) must be a positive integer, got {k!r}")
    return k


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

        # 3. accept x_i with probability min(1, p/q); stop at the first rejection
        n, extra = 0, None
        for i in range(kr):
            x = drafts[i].item()
            if greedy:
                best = p_logits[i].argmax().item()
                ok = x == best
                stats.overlap_sum += float(ok)
            else:
                p, q = probs_of(p_logits[i]), qs[i]
                stats.overlap_sum += torch.minimum(p, q).sum().item()
                r = torch.rand(1, generator=generator, device=p.device).item()
                ok = r < (p[x] / q[x]).item()
            stats.overlap_n += 1
            stats._count_position(i, ok)
            if not ok:  # the verification pass already holds p_i: no extra target call
                if greedy:
                    extra = best
                else:
                    residual = torch.clamp(p - q, min=0)
                    extra = torch.multinomial(
                        residual / residual.sum(), 1, generator=generator
                    ).item()
                stats.rejections += 1
                break
            n += 1
        if extra is None:  # all kr drafts accepted: bonus token from p_{kr+1}
            last = p_logits[kr]
            extra = (
                last.argmax().item()
                if greedy
                else torch.multinomial(probs_of(last), 1, generator=generator).item()
            )

        new = [d.item() for d in drafts[:n]] + [extra]
        if eos_token_id is not None and eos_token_id in new:
            new = new[: new.index(eos_token_id) + 1]
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


def compile_for_decoding(model, **compile_kwargs):
    """`torch.compile` a model's forward for decoding with `static_cache=True`. On a GPU the default
    `mode="reduce-overhead"` records CUDA graphs, so a step costs one graph launch instead of one launch per
    kernel: the per-layer floor that makes a deep draft cost what its target costs at batch 1 (section 10).
    Each new input shape compiles once (the draft's 1-token step, the target's (k+1)-token pass)."""
    import torch._dynamo

    # one graph per shape
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    model.forward = torch.compile(
        model.forward, **({"mode": "reduce-overhead", "dynamic": False} | compile_kwargs)
    )
    return model


# ---------------------------------------------------------------- a batch of prompts
class _Slots:
    """One model's KV cache over a batch whose rows hold different numbers of real tokens. Every fed token
    takes a slot in every row; `mask` marks the real ones (rejected drafts stay in the cache, masked out,
    so no row is copied or shifted), and each row's next position is its count of real tokens."""

    def __init__(self, model):
        self.model, self.cache, self.mask = model, None, None

    def feed(self, tokens: torch.Tensor, valid: torch.Tensor, keep: int) -> torch.Tensor:
        """Run the model on a (batch, width) block, `valid` marking its real tokens; the last `keep` logits."""
        before = self.mask.sum(1, keepdim=True) if self.mask is not None else 0
        positions = (before + valid.long().cumsum(1) - 1).clamp(min=0)
        self.mask = (
            valid.long() if self.mask is None else torch.cat([self.mask, valid.long()], dim=1)
        )
        out = self.model(
            input_ids=tokens,
            attention_mask=self.mask,
            position_ids=positions,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=keep,
        )
        self.cache = out.cache
        return out.logits

    def keep_rows(self, rows: torch.Tensor) -> None:
        self.cache.batch_select_indices(rows)
        self.mask = self.mask[rows]

    def drop_empty_tail(self) -> None:
        """Crop trailing slots that no row uses (every row rejected them)."""
        used = self.mask.any(0).nonzero()
        length = int(used.max()) + 1 if len(used) else 0
        if length < self.mask.shape[1]:
            _crop(self.cache, length)
            self.mask = self.mask[:, :length]


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


@torch.inference_mode()
def speculative_generate_batch(
    target,
    draft,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    k: int = 4,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
) -> tuple[list[list[int]], SpecStats]:
    """Speculative decoding for a batch of left-padded prompts, every row accepting its own number of drafts
    each round (`generate(assistant_model=...)` refuses batches). Exact per row: greedy rows equal each
    prompt's own greedy decoding, sampled rows follow the target's distribution. A row leaves the batch at
    end-of-turn or `max_new_tokens`. Returns each row's new tokens and the pooled statistics."""
    k = check_k(k)
    greedy, V = temperature == 0, vocab_size or shared_vocab_size(target, draft)
    stats, t_start = SpecStats(k=k), time.perf_counter()
    dev = target.device
    ids, valid = input_ids.to(dev), attention_mask.to(dev).bool()
    t, d = _Slots(target), _Slots(draft)
    # what each model has not seen yet
    t_pending, d_pending, t_valid, d_valid = ids, ids, valid, valid
    live = torch.arange(ids.shape[0], device=dev)  # the original row of each row still in the batch
    # new tokens per row
    out = torch.zeros(ids.shape[0], max_new_tokens + k + 1, dtype=torch.long, device=dev)
    lengths = torch.zeros(ids.shape[0], dtype=torch.long, device=dev)
    rounds = []  # (n, ok, kr) per round, pooled into the statistics at the end

    def probs_of(logits):
        return to_probs(logits, temperature, top_k, top_p)

    while len(live):
        left = int((max_new_tokens - lengths[live]).min())
        kr = max(1, min(k, left - 1))
        # 1. draft kr tokens per row (the last column of a left-padded block is every row's newest token)
        t0 = time.perf_counter()
        logits, drafts, qs = d.feed(d_pending, d_valid, keep=1)[:, -1, :V], [], []
        for i in range(kr):
            if i:
                logits = d.feed(drafts[-1], torch.ones_like(drafts[-1], dtype=torch.bool), keep=1)[
                    :, -1, :V
                ]
            if greedy:
                drafts.append(logits.argmax(-1, keepdim=True))
            else:
                qs.append(probs_of(logits))
                drafts.append(torch.multinomial(qs[-1], 1, generator=generator))
        X = torch.cat(drafts, dim=1)  # (rows, kr)
        stats.draft_calls += kr
        t1 = time.perf_counter()
        # 2. one target pass per round over [its unseen tokens, x_1..x_kr]
        feed_valid = torch.cat([t_valid, torch.ones_like(X, dtype=torch.bool)], dim=1)
        p_logits = t.feed(torch.cat([t_pending, X], dim=1), feed_valid, keep=kr + 1)[:, :, :V]
        stats.target_calls += 1
        t2 = time.perf_counter()
        # 3. per-row acceptance, then mask each row's rejected drafts out of both caches
        n, extra, overlap = accept_rows(X, qs, p_logits, greedy, probs_of, generator)
        rounds.append((n, overlap, kr))
        stood = torch.arange(kr, device=dev).unsqueeze(0) < n.unsqueeze(1)  # (rows, kr)
        t.mask[:, -kr:] = stood.long()
        if kr > 1:
            d.mask[:, -(kr - 1) :] = stood[:, : kr - 1].long()
        all_stood = (n == kr).unsqueeze(1)
        t_pending, t_valid = extra.unsqueeze(1), torch.ones_like(all_stood)
        d_pending = torch.cat(
            [torch.where(all_stood, X[:, -1:], extra.unsqueeze(1)), extra.unsqueeze(1)], dim=1
        )
        d_valid = torch.cat([all_stood, torch.ones_like(all_stood)], dim=1)
        stats.t_draft, stats.t_verify = stats.t_draft + t1 - t0, stats.t_verify + t2 - t1
        # 4. write each row's accepted drafts and its extra token (up to end-of-turn); finished rows leave
        new = torch.cat([X, extra.unsqueeze(1)], dim=1)
        # the accepted drafts, then the target's token
        new[torch.arange(len(live), device=dev), n] = extra
        count, ended = _count_to_eos(new, n + 1, eos_token_id)
        col = torch.arange(kr + 1, device=dev).unsqueeze(0)
        put = col < count.unsqueeze(1)
        out[live.unsqueeze(1).expand_as(new)[put], (lengths[live].unsqueeze(1) + col)[put]] = new[
            put
        ]
        lengths[live] += count
        going = ~ended & (lengths[live] < max_new_tokens)
        if not bool(going.all()):
            rows = going.nonzero().flatten()
            live, t_pending, t_valid, d_pending, d_valid = (
                x[rows] for x in (live, t_pending, t_valid, d_pending, d_valid)
            )
            if len(live):
                t.keep_rows(rows)
                d.keep_rows(rows)
        if len(live):
            t.drop_empty_tail()
            d.drop_empty_tail()
    for n, overlap, kr in rounds:
        _count_round(stats, n, overlap, kr)
    lengths = lengths.clamp(max=max_new_tokens).tolist()
    rows_out = [row[:m] for row, m in zip(out.tolist(), lengths)]
    stats.new_tokens = sum(lengths)
    stats.t_total = time.perf_counter() - t_start
    return rows_out, stats


def _count_to_eos(
    new: torch.Tensor, count: torch.Tensor, eos_token_id: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: how many of its `count` new tokens to keep (through the first end-of-turn), and whether it ended."""
    if eos_token_id is None:
        return count, torch.zeros_like(count, dtype=torch.bool)
    col = torch.arange(new.shape[1], device=new.device).unsqueeze(0)
    is_eos = (new == eos_token_id) & (col < count.unsqueeze(1))
    ended = is_eos.any(1)
    return torch.where(ended, is_eos.long().argmax(1) + 1, count), ended


def _count_round(stats: SpecStats, n: torch.Tensor, overlap: torch.Tensor, kr: int) -> None:
    """Pool one round's per-row acceptance into `stats` (a row checks positions up to its first rejection)."""
    stats.rounds += 1
    stats.accepted += n.tolist()
    stats.proposed += [kr] * len(n)
    stats.rejections += int((n < kr).sum())
    stats.pos_tried += [0] * (kr - len(stats.pos_tried))
    stats.pos_accepted += [0] * (kr - len(stats.pos_accepted))
    for i in range(kr):
        tried = n >= i
        stats.pos_tried[i] += int(tried.sum())
        stats.pos_accepted[i] += int((n > i).sum())
        stats.overlap_sum += float(overlap[:, i][tried].sum())
        stats.overlap_n += int(tried.sum())


# ---------------------------------------------------------------- theory


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


@torch.inference_mode()  # the mode speculative_generate runs in, so c and v(k) are its costs
def time_call(model, context: torch.Tensor, n_new: int, repeats: int = 20) -> float:
    """Median seconds of one cached forward over `n_new` new tokens after `context`."""
    # GPU calls return before they finish
    sync = torch.cuda.synchronize if context.is_cuda else (lambda: None)
    out = model(input_ids=context, use_cache=True)
    cache, times = out.cache, []
    new = context[:, -n_new:]
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        model(input_ids=new, cache=cache, use_cache=True, logits_to_keep=n_new)
        sync()
        times.append(time.perf_counter() - t0)
        _crop(cache, context.shape[1])
    return sorted(times)[len(times) // 2]


def measure_costs(target, draft, context: torch.Tensor, ks=range(1, 9), repeats: int = 20) -> dict:
    """c = draft step / target step, and v(k) = target (k+1)-token pass / target 1-token pass."""
    t1 = time_call(target, context, 1, repeats)
    d1 = time_call(draft, context, 1, repeats)
    verify = {k: time_call(target, context, k + 1, repeats) / t1 for k in ks}
    return {"target_ms": t1 * 1e3, "draft_ms": d1 * 1e3, "c": d1 / t1, "verify": verify}


# ---------------------------------------------------------------- exactness check


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
    **kwargs,
) -> torch.Tensor:
    """Counts of each pair in `pairs` (the first two new tokens) over `n` speculative samples. With two
    new tokens a round drafts one token, so the accept, residual and bonus paths all occur. A pair
    outside `pairs` would be a bug: it raises."""
    gen = torch.Generator(device=ids.device).manual_seed(seed)
    index = {tuple(p): i for i, p in enumerate(pairs.tolist())}
    counts = torch.zeros(len(pairs), dtype=torch.float64)
    for _ in range(n):
        seq, _ = speculative_generate(
            target, draft, ids, k=k, max_new_tokens=new_tokens, generator=gen, **kwargs
        )
        counts[index[tuple(seq[0, ids.shape[1] : ids.shape[1] + 2].tolist())]] += 1
    return counts
