"""Speculative decoding over a batch of prompts: each row accepts its own drafts (`speculative.accept_rows`,
the step the one-prompt loop uses), rejected drafts stay in the cache masked out, every row stays exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from helpers.spec_schedules import check_k
from helpers.speculative import SpecStats, _crop, accept_rows, shared_vocab_size, to_probs


@dataclass
class BatchStats(SpecStats):
    """`SpecStats` plus what only a batch has: the rounds each row stayed in the batch (`row_rounds`, in
    input order; the batch runs as many rounds as its slowest row) and the widest the target's cache grew
    past the prompts (`peak_slots`: real tokens and masked rejected drafts alike). `merge` drops both."""

    row_rounds: list[int] = field(default_factory=list)
    peak_slots: int = 0


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
) -> tuple[list[list[int]], BatchStats]:
    """Speculative decoding for a batch of left-padded prompts, every row accepting its own number of drafts
    each round (`generate(assistant_model=...)` refuses batches). Exact per row: greedy rows equal each
    prompt's own greedy decoding, sampled rows follow the target's distribution. A row leaves the batch at
    end-of-turn or `max_new_tokens`. Returns each row's new tokens and the pooled statistics (`BatchStats`).
    `k=0` is the same loop with no drafts, the baseline of the speed-up formula: the draft never runs, and
    every round is one target step per row (masks, positions, rows leaving and bookkeeping as with drafts)."""
    k = 0 if k == 0 and not isinstance(k, bool) else check_k(k)
    greedy, V = temperature == 0, vocab_size or shared_vocab_size(target, draft)
    stats, t_start = BatchStats(k=k), time.perf_counter()
    dev = target.device
    ids, valid = input_ids.to(dev), attention_mask.to(dev).bool()
    row_rounds = torch.zeros(ids.shape[0], dtype=torch.long, device=dev)
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
        kr = max(1, min(k, left - 1)) if k else 0
        # 1. draft kr tokens per row (the last column of a left-padded block is every row's newest token)
        t0 = time.perf_counter()
        drafts, qs = [t_pending[:, :0]], []  # k = 0: no draft, an empty block
        if kr:
            logits, drafts = d.feed(d_pending, d_valid, keep=1)[:, -1, :V], []
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
        if kr:
            n, extra, overlap = accept_rows(X, qs, p_logits, greedy, probs_of, generator)
        else:  # no draft: the target's own next token
            last = p_logits[:, 0]
            extra = (
                last.argmax(-1)
                if greedy
                else torch.multinomial(probs_of(last), 1, generator=generator).squeeze(-1)
            )
            n, overlap = torch.zeros_like(extra), last[:, :0]
        rounds.append((n, overlap, kr))
        row_rounds[live] += 1
        stats.peak_slots = max(stats.peak_slots, t.mask.shape[1] - ids.shape[1])
        stood = torch.arange(kr, device=dev).unsqueeze(0) < n.unsqueeze(1)  # (rows, kr)
        if kr:
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
                for s in (t, d) if k else (t,):
                    s.keep_rows(rows)
        if len(live):
            for s in (t, d) if k else (t,):
                s.drop_empty_tail()
    for n, overlap, kr in rounds:
        _count_round(stats, n, overlap, kr)
    lengths = lengths.clamp(max=max_new_tokens).tolist()
    rows_out = [row[:m] for row, m in zip(out.tolist(), lengths)]
    stats.new_tokens = sum(lengths)
    stats.row_rounds = row_rounds.tolist()
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


def two_token_counts(
    target,
    draft,
    prompts: list[list[int]],
    pairs: list[torch.Tensor],
    n: int,
    pad_id: int,
    seed: int = 0,
    k: int = 3,
    batch_size: int = 512,
    **kwargs,
) -> list[torch.Tensor]:
    """The batched form of `spec_exactness.sample_two_tokens`: every prompt repeated `n` times, the rows
    interleaved (prompt 0, 1, 2, 0, 1, 2, ...) and decoded in left-padded batches of up to `batch_size`
    rows, two new tokens sampled per row; per prompt, the counts of each pair in its `pairs` (the first
    two tokens). Prompts of different lengths share every batch, so padding and per-row positions are
    exercised. A pair outside `pairs` would be a bug: it raises."""
    from helpers.generation import left_pad

    rows = [(j, p) for _ in range(n) for j, p in enumerate(prompts)]
    index = [{tuple(x): i for i, x in enumerate(law.tolist())} for law in pairs]
    counts = [torch.zeros(len(law), dtype=torch.float64) for law in pairs]
    dev = target.device
    gen = torch.Generator(device=dev).manual_seed(seed)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        ids, mask = left_pad([p for _, p in chunk], pad_id)
        out, _ = speculative_generate_batch(
            target, draft, ids.to(dev), mask.to(dev), k=k, max_new_tokens=2, generator=gen, **kwargs
        )
        for (j, _), row in zip(chunk, out):
            counts[j][index[j][tuple(row[:2])]] += 1
    return counts
