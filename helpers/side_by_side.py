"""Stage 11's methods timed side by side on one pair: plain `generate`, transformers' assisted generation
(its default schedule and constant k), prompt lookup decoding, and ours for each k and adaptive schedules.

All methods run in one process, interleaved per prompt, repeated; speed-ups are ratios of medians measured
side by side, never numbers typed in. Greedy, a fixed number of new tokens (EOS off). Notebook 11 calls
`run` on its pair; `python -m helpers.tools.spec_bench` runs the same code on the world's pairs.
"""

from __future__ import annotations

import statistics
import warnings

import torch

from helpers import spec_costs, spec_schedules, speculative


def _hf_assisted(target, draft, ids, n, num_assistant_tokens=None, tokenizer=None):
    """transformers' assisted generation; None = its default dynamic schedule (20 tokens, stop < 0.4).
    Models whose embedding matrices are padded to different sizes (Qwen2.5-7B with 0.5B) need the tokenizer:
    transformers then refuses to assume the ids agree and decodes through text (universal assisted generation)."""
    gc = draft.generation_config
    if num_assistant_tokens is None:
        (
            gc.num_assistant_tokens,
            gc.num_assistant_tokens_schedule,
            gc.assistant_confidence_threshold,
        ) = (
            20,
            "constant",
            0.4,
        )
    else:  # a true constant k needs the confidence stop off (None silently becomes 0.4)
        gc.num_assistant_tokens, gc.num_assistant_tokens_schedule = num_assistant_tokens, "constant"
        gc.assistant_confidence_threshold = 0.0
    padded = target.config.get_text_config().vocab_size != draft.config.get_text_config().vocab_size
    extra = dict(tokenizer=tokenizer, assistant_tokenizer=tokenizer) if padded else {}
    return target.generate(ids, assistant_model=draft, **_fixed(ids, n), **extra)


def _fixed(ids, n):
    # Qwen2.5's generation config sets one even for greedy; ours has none
    return dict(
        attention_mask=torch.ones_like(ids),
        max_new_tokens=n,
        min_new_tokens=n,
        do_sample=False,
        repetition_penalty=1.0,
        eos_token_id=None,
        pad_token_id=0,
    )


# stop drafting once the draft thinks its block more likely to fail than to survive
BLOCK_STOP = 0.5


def _alpha_driven(
    target, draft, c: float, verify: dict, stop_block_below: float = 0.0, vocab_size=None
):
    """Ours with k picked each round from the running alpha estimate and the measured c and v(k);
    optionally also ending a round's drafting once the draft's own guess that the block survives drops."""

    def schedule():
        return spec_schedules.AlphaK(
            c, lambda k: verify.get(k, verify[max(verify)]), k_max=max(verify)
        )  # noqa: E731

    return lambda ids, n: speculative.speculative_generate(
        target,
        draft,
        ids,
        max_new_tokens=n,
        k=schedule(),
        stop_block_below=stop_block_below,
        vocab_size=vocab_size,
    )


def methods(
    target, draft, ks, costs: dict, first_draft=None, vocab_size=None, tokenizer=None
) -> dict:
    """name -> (k or None, function(ids, n) -> (sequence, stats or None)). `vocab_size`: the logits the
    pair shares (`speculative.shared_vocab_size`); `tokenizer`: for HF assisted on a padded pair."""
    V, tk = vocab_size, tokenizer
    table = {
        "plain generate": (None, lambda ids, n: (target.generate(ids, **_fixed(ids, n)), None)),
        "HF assisted (default)": (
            None,
            lambda ids, n: (_hf_assisted(target, draft, ids, n, tokenizer=tk), None),
        ),
        "HF prompt lookup": (
            None,
            lambda ids, n: (
                target.generate(ids, prompt_lookup_num_tokens=10, **_fixed(ids, n)),
                None,
            ),
        ),
    }
    for k in ks:
        table[f"HF assisted k={k}"] = (
            k,
            lambda ids, n, k=k: (_hf_assisted(target, draft, ids, n, k, tk), None),
        )
    for k in ks:
        table[f"ours k={k}"] = (
            k,
            lambda ids, n, k=k: speculative.speculative_generate(
                target, draft, ids, k=k, max_new_tokens=n, vocab_size=V
            ),
        )
    verify = costs["verify"]
    table["ours k<=20, stop < 0.4"] = (
        None,
        lambda ids, n: speculative.speculative_generate(
            target, draft, ids, k=20, max_new_tokens=n, stop_below=0.4, vocab_size=V
        ),
    )
    table["ours heuristic (+2/-1)"] = (
        None,
        lambda ids, n: speculative.speculative_generate(
            target, draft, ids, k=spec_schedules.HeuristicK(5), max_new_tokens=n, vocab_size=V
        ),
    )
    table["ours alpha-driven k*"] = (
        None,
        _alpha_driven(target, draft, costs["c"], verify, vocab_size=V),
    )
    table["ours alpha-driven k*, block stop"] = (
        None,
        _alpha_driven(target, draft, costs["c"], verify, BLOCK_STOP, V),
    )
    # the same schedule with the bench world's first draft: what raising alpha buys
    if first_draft is not None:
        table["ours alpha-driven k*, block stop, first draft"] = (
            None,
            _alpha_driven(target, first_draft, costs["c_first"], verify, BLOCK_STOP),
        )
    return table


def run(
    target,
    draft,
    prompts,
    new_tokens: int,
    ks,
    repeats: int = 3,
    progress: bool = True,
    first_draft=None,
    vocab_size: int | None = None,
    tokenizer=None,
) -> dict:
    """Time every method on every prompt, `repeats` times, interleaved; return costs and result rows.
    `first_draft`: a weaker draft also timed with the alpha-driven schedule, for comparison. `vocab_size`
    and `tokenizer`: a pair whose matrices are padded to different sizes (see `methods`)."""
    from tqdm.auto import tqdm
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message=".*generation_config.*")
    # Costs at a context length typical of the run: the first prompt plus half the new tokens.
    with torch.no_grad():
        context = target.generate(prompts[0], **_fixed(prompts[0], max(1, new_tokens // 2)))
    # v(k) up to 16 at least, so the alpha-driven schedule can draft long where the text is easy
    costs = spec_costs.measure_costs(
        target, draft, context, ks=range(1, max(*ks, 16) + 1), repeats=30
    )
    if first_draft is not None:
        costs["c_first"] = (
            spec_costs.time_call(first_draft, context, 1, 30) * 1e3 / costs["target_ms"]
        )
    table = methods(target, draft, ks, costs, first_draft, vocab_size, tokenizer)
    times = {m: [] for m in table}
    stats = {m: None for m in table}
    outputs: dict = {m: [] for m in table}
    with torch.no_grad():
        for r in tqdm(range(repeats), desc="repeats", disable=not progress):
            for m in table:
                times[m].append(0.0)
            for ids in prompts:
                for m, (_, fn) in table.items():
                    secs, (seq, st) = spec_costs.timed(fn, ids, new_tokens, cuda=ids.is_cuda)
                    times[m][-1] += secs
                    if r == 0:
                        outputs[m].append(seq[0, ids.shape[1] :].tolist())
                        if st is not None:
                            stats[m] = st if stats[m] is None else stats[m].merge(st)
    base = statistics.median(times["plain generate"])
    rows = []
    for m, (k, _) in table.items():
        med = statistics.median(times[m])
        st = stats[m]
        row = {
            "method": m,
            "k": k,
            "median_s": round(med, 4),
            "speedup": round(base / med, 3),
            # the spread of the repeats: plain's median time over each repeat's time, lowest to highest
            "speedup_range": [round(base / max(times[m]), 3), round(base / min(times[m]), 3)],
            "exact": outputs[m] == outputs["plain generate"],
            "alpha_hat": None,
            "tau": None,
        }
        if st is not None:
            row.update(
                alpha_hat=round(st.alpha_hat, 4),
                tau=round(st.tau, 3),
                accepted_over_proposed=round(st.accepted_over_proposed, 4),
            )
            row["time_split"] = {
                "draft": round(st.t_draft / st.t_total, 3),
                "verify": round(st.t_verify / st.t_total, 3),
                "overhead": round(1 - (st.t_draft + st.t_verify) / st.t_total, 3),
            }
            if k is not None:
                v = costs["verify"][k]
                row["predicted_textbook"] = round(
                    spec_schedules.predicted_speedup(st.alpha_hat, k, costs["c"]), 3
                )
                row["predicted_with_verify"] = round(
                    spec_schedules.predicted_speedup(st.alpha_hat, k, costs["c"], v), 3
                )
        rows.append(row)
    return {
        "prompts": len(prompts),
        "new_tokens": new_tokens,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "costs": {
            "target_ms": round(costs["target_ms"], 3),
            "draft_ms": round(costs["draft_ms"], 3),
            "c": round(costs["c"], 4),
            **({"c_first": round(costs["c_first"], 4)} if first_draft is not None else {}),
            "verify": {k: round(v, 3) for k, v in costs["verify"].items()},
        },
        "rows": rows,
    }


def format_table(result: dict) -> str:
    w = max(len(r["method"]) for r in result["rows"])
    head = f"{'method':{w}} {'median s':>9} {'speedup':>8} {'alpha':>6} {'tau':>5} {'theory':>7} {'+verify':>7} exact"
    lines = [head, "-" * len(head)]
    f = lambda v, w, d: f"{v:{w}.{d}f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"  # noqa: E731
    for r in result["rows"]:
        lines.append(
            f"{r['method']:{w}} {f(r['median_s'], 9, 3)} {f(r['speedup'], 7, 2)}x {f(r['alpha_hat'], 6, 3)} "
            f"{f(r['tau'], 5, 2)} {f(r.get('predicted_textbook'), 7, 2)} {f(r.get('predicted_with_verify'), 7, 2)} {r['exact']}"
        )
    c = result["costs"]
    lines.append(
        f"target step {c['target_ms']:.2f} ms, draft step {c['draft_ms']:.2f} ms, c = {c['c']:.3f}; verify cost v(k) = {c['verify']}"
    )
    return "\n".join(lines)


def best(result: dict, prefix: str) -> dict:
    """The fastest row whose method name starts with `prefix`."""
    return max(
        (r for r in result["rows"] if r["method"].startswith(prefix)), key=lambda r: r["speedup"]
    )


COLUMNS = """columns:
  method = how the tokens were decoded (plain generate, HF assisted or prompt lookup, or ours with k or a schedule)
  median s = median over repeats of the time to decode all prompts
  speedup = plain generate's median time / this method's
  alpha = share of drafted tokens the target accepted
  tau = tokens produced per target call
  theory = speed-up the textbook formula predicts from alpha, k and c
  +verify = the same, charged the measured cost v(k) of a k-token verify pass
  exact = output identical to plain greedy on every prompt"""


def compact(result: dict) -> str:
    """The benchmark as a learner reads it: one row per constant k (ours beside transformers at the same k,
    with alpha-hat, v(k) and both formulas), then the methods without a fixed k, then the costs."""
    rows = {r["method"]: r for r in result["rows"]}
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    v = result["costs"]["verify"]
    lines = [
        f"{'k':>2} {'ours':>6} {'HF':>6} {'alpha_hat':>9} {'v(k)':>5} {'theory':>7} {'+verify':>7}"
    ]
    for k in ks:
        ours, hf = rows[f"ours k={k}"], rows[f"HF assisted k={k}"]
        lines.append(
            f"{k:2d} {ours['speedup']:5.2f}x {hf['speedup']:5.2f}x {ours['alpha_hat']:9.2f} "
            f"{v[k]:5.2f} {ours['predicted_textbook']:6.2f}x {ours['predicted_with_verify']:6.2f}x"
        )
    others = [r for r in result["rows"] if r["k"] is None and r["method"] != "plain generate"]
    w = max(len(r["method"]) for r in others)
    lines += ["", f"{'no fixed k':{w}} {'speed-up':>8} {'tokens/call':>11}"]
    for r in others:
        tau = f"{r['tau']:11.2f}" if r["tau"] else f"{'-':>11}"
        lines.append(f"{r['method']:{w}} {r['speedup']:7.2f}x {tau}")
    c = result["costs"]
    lines.append(
        f"\nspeed-ups over plain generate, median of {result['repeats']} repeats; "
        f"target step {c['target_ms']:.1f} ms, c = {c['c']:.2f}"
    )
    return "\n".join(lines)


def plot_vs_k(result: dict) -> None:
    """Speed-up against k: measured (median of the repeats, bars from slowest to fastest repeat), and
    both formulas at each k's own alpha-hat. The measured v(k) is one median per k, so that prediction
    is drawn as unjoined markers."""
    import matplotlib.pyplot as plt

    rows = {r["method"]: r for r in result["rows"]}
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    fig, ax = plt.subplots(figsize=(9, 4))
    for name, marker, dx in (("ours", "o", -0.08), ("HF assisted", "s", 0.08)):
        got = [rows[f"{name} k={k}"] for k in ks]
        med = [r["speedup"] for r in got]
        spread = [
            [m - r["speedup_range"][0] for m, r in zip(med, got)],
            [r["speedup_range"][1] - m for m, r in zip(med, got)],
        ]
        ax.errorbar(
            [k + dx for k in ks],
            med,
            yerr=spread,
            fmt=marker,
            capsize=3,
            label=f"{name}, measured (bars: slowest to fastest repeat)",
        )
    ours = [rows[f"ours k={k}"] for k in ks]
    ax.plot(ks, [r["predicted_textbook"] for r in ours], "k--", label="theory, textbook (v = 1)")
    ax.plot(
        ks,
        [r["predicted_with_verify"] for r in ours],
        "kx",
        ms=8,
        label="theory with the measured v(k), one median per k",
    )
    ax.axhline(1, color="red", lw=0.8, label="plain generate (1x)")
    ax.set(xlabel="k (drafts per round)", ylabel="speed-up over plain generate", xticks=ks)
    ax.set_title(f"Greedy speed-up against k (c = {result['costs']['c']:.2f})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    plt.show()
