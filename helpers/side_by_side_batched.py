"""Batched speculative decoding (`spec_batch.speculative_generate_batch`) against plain batched `generate`
of the same target, at several batch sizes, in one run: tokens per second, the speed-up, greedy parity of
every row with that prompt's own greedy decoding, and the speed-up the formula predicts from c and v(k)
measured at each batch size. Notebook 11 calls `run`; `python -m helpers.tools.batch_bench` runs it on the
world's pairs.
"""

from __future__ import annotations

import statistics

import torch

from helpers import generation, spec_batch, spec_costs, spec_schedules


def left_padded(
    prompts: list[list[int]], pad_id: int, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """`generation.left_pad` on the target's device."""
    ids, mask = generation.left_pad(prompts, pad_id)
    return ids.to(device), mask.to(device)


def plain_batched(target, ids, mask, n: int, pad_id: int) -> list[list[int]]:
    """Plain greedy `generate` over a left-padded batch, exactly `n` new tokens per row."""
    out = target.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=n,
        min_new_tokens=n,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=pad_id,
    )
    return out[:, ids.shape[1] :].tolist()


def _timed(fn, groups) -> tuple[float, list]:
    """Seconds to decode every group, and the rows (`spec_costs.timed` over the whole pass)."""

    def every_group() -> list:
        return [row for g in groups for row in fn(*g)]

    return spec_costs.timed(every_group, cuda=groups[0][0].is_cuda)


def run(
    target,
    draft,
    prompts: list[list[int]],
    new_tokens: int,
    pad_id: int,
    batches=(1, 4, 8),
    ks=(2, 4, 6),
    repeats: int = 3,
    vocab_size: int | None = None,
) -> dict:
    """Every prompt decoded in batches of each size by plain `generate` and by ours at each k, interleaved
    and repeated; medians of the whole pass, so every method decodes the same tokens. `vocab_size`: a pair
    whose embedding matrices are padded to different sizes (stage 11's vocabulary guard)."""
    torch.manual_seed(0)
    dev = target.device
    with torch.inference_mode():
        reference = [
            plain_batched(target, *left_padded([p], pad_id, dev), new_tokens, pad_id)[0]
            for p in prompts
        ]
    rows = []
    for b in batches:
        groups = [left_padded(prompts[i : i + b], pad_id, dev) for i in range(0, len(prompts), b)]
        context = torch.tensor([prompts[0]], device=dev).repeat(b, 1)
        costs = spec_costs.measure_costs(target, draft, context, ks=ks, repeats=20)
        methods = {"plain": lambda ids, mask: plain_batched(target, ids, mask, new_tokens, pad_id)}
        for k in ks:
            methods[f"ours k={k}"] = lambda ids, mask, k=k: spec_batch.speculative_generate_batch(
                target, draft, ids, mask, k=k, max_new_tokens=new_tokens, vocab_size=vocab_size
            )[0]
        times: dict = {m: [] for m in methods}
        outs: dict = {}
        with torch.inference_mode():
            for _ in range(repeats):
                for m, fn in methods.items():
                    seconds, outs[m] = _timed(fn, groups)
                    times[m].append(seconds)
            alpha = {k: _alpha(target, draft, groups, k, new_tokens, vocab_size) for k in ks}
        plain = statistics.median(times["plain"])
        tokens = len(prompts) * new_tokens
        for m in methods:
            k = None if m == "plain" else int(m.split("=")[1])
            med = statistics.median(times[m])
            row = {
                "batch": b,
                "method": m,
                "k": k,
                "tokens_per_s": round(tokens / med, 1),
                "speedup": round(plain / med, 3),
                "parity": sum(o == r for o, r in zip(outs[m], reference)),
                "rows": len(prompts),
                "c": round(costs["c"], 4),
            }
            if k:
                row["alpha_hat"] = round(alpha[k], 4)
                row["predicted"] = round(
                    spec_schedules.predicted_speedup(alpha[k], k, costs["c"], costs["verify"][k]), 3
                )
            rows.append(row)
    return {
        "prompts": len(prompts),
        "new_tokens": new_tokens,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


def _alpha(target, draft, groups, k: int, n: int, vocab_size: int | None) -> float:
    pooled = None
    for ids, mask in groups:
        st = spec_batch.speculative_generate_batch(
            target, draft, ids, mask, k=k, max_new_tokens=n, vocab_size=vocab_size
        )[1]
        pooled = st if pooled is None else pooled.merge(st)
    return pooled.alpha_hat


def best_per_batch(result: dict) -> dict[int, dict]:
    """The fastest k of ours at each batch size."""
    out: dict = {}
    for r in result["rows"]:
        if r["k"] and (r["batch"] not in out or r["speedup"] > out[r["batch"]]["speedup"]):
            out[r["batch"]] = r
    return out


def format_table(result: dict) -> str:
    lines = ["batch  plain tok/s  best ours     tok/s  speed-up  predicted  parity"]
    plain = {r["batch"]: r for r in result["rows"] if r["k"] is None}
    for b, r in best_per_batch(result).items():
        lines.append(
            f"{b:5}  {plain[b]['tokens_per_s']:11.1f}  k={r['k']:<10} {r['tokens_per_s']:6.1f}  "
            f"{r['speedup']:7.2f}x  {r['predicted']:8.2f}x  {r['parity']}/{r['rows']}"
        )
    return "\n".join(lines)
