"""Stage 11's methods timed side by side on one pair: plain `generate`, transformers' assisted generation
(its default schedule and constant k), prompt lookup decoding, and ours for each k and adaptive schedules.

All methods run in one process, interleaved per prompt, repeated; speed-ups are ratios of medians measured
side by side, never numbers typed in. Greedy; by default a fixed number of new tokens (EOS off), or, with
`eos_token_id`, each answer up to its end of turn (every method decodes the same tokens, checked). Notebook 11
calls `run` on its pair, to the end of turn; `python -m helpers.tools.spec_bench` runs the same code on the
world's pairs.
"""

from __future__ import annotations

import math
import statistics
import warnings

import torch

from helpers import spec_costs, spec_schedules, speculative


def _hf_assisted(target, draft, ids, n, num_assistant_tokens=None, tokenizer=None, eos=None):
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
    return target.generate(ids, assistant_model=draft, **_fixed(ids, n, eos), **extra)


def _fixed(ids, n, eos=None):
    """Greedy `generate` settings: exactly n new tokens, or (eos given) up to n, stopping after eos."""
    # Qwen2.5's generation config sets a repetition penalty even for greedy; ours has none
    return dict(
        attention_mask=torch.ones_like(ids),
        max_new_tokens=n,
        min_new_tokens=0 if eos is not None else n,
        do_sample=False,
        repetition_penalty=1.0,
        eos_token_id=eos,
        pad_token_id=0,
    )


# stop drafting once the draft thinks its block more likely to fail than to survive
BLOCK_STOP = 0.5
# the row of our loop with no drafts: what every "ours" row's gain is measured against
NO_DRAFTS = "ours, no drafts (k=0)"


def _alpha_driven(
    target, draft, c: float, verify: dict, stop_block_below: float = 0.0, vocab_size=None, eos=None
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
        eos_token_id=eos,
    )


def methods(
    target, draft, ks, costs: dict, first_draft=None, vocab_size=None, tokenizer=None, eos=None
) -> dict:
    """name -> (k or None, function(ids, n) -> (sequence, stats or None)). `vocab_size`: the logits the
    pair shares (`speculative.shared_vocab_size`); `tokenizer`: for HF assisted on a padded pair; `eos`:
    every method stops after this token (None: exactly n new tokens)."""
    V, tk, E = vocab_size, tokenizer, eos
    table = {
        "plain generate": (None, lambda ids, n: (target.generate(ids, **_fixed(ids, n, E)), None)),
        # our loop drafting nothing: its own baseline, free of `generate`'s per-step work
        NO_DRAFTS: (
            0,
            lambda ids, n: speculative.speculative_generate(
                target,
                draft,
                ids,
                k=spec_schedules.NoDrafts(),
                max_new_tokens=n,
                vocab_size=V,
                eos_token_id=E,
            ),
        ),
        "HF assisted (default)": (
            None,
            lambda ids, n: (_hf_assisted(target, draft, ids, n, tokenizer=tk, eos=E), None),
        ),
        "HF prompt lookup": (
            None,
            lambda ids, n: (
                target.generate(ids, prompt_lookup_num_tokens=10, **_fixed(ids, n, E)),
                None,
            ),
        ),
    }
    for k in ks:
        table[f"HF assisted k={k}"] = (
            k,
            lambda ids, n, k=k: (_hf_assisted(target, draft, ids, n, k, tk, E), None),
        )
    for k in ks:
        table[f"ours k={k}"] = (
            k,
            lambda ids, n, k=k: speculative.speculative_generate(
                target, draft, ids, k=k, max_new_tokens=n, vocab_size=V, eos_token_id=E
            ),
        )
    verify = costs["verify"]
    table["ours k<=20, stop < 0.4"] = (
        None,
        lambda ids, n: speculative.speculative_generate(
            target,
            draft,
            ids,
            k=20,
            max_new_tokens=n,
            stop_below=0.4,
            vocab_size=V,
            eos_token_id=E,
        ),
    )
    table["ours heuristic (+2/-1)"] = (
        None,
        lambda ids, n: speculative.speculative_generate(
            target,
            draft,
            ids,
            k=spec_schedules.HeuristicK(5),
            max_new_tokens=n,
            vocab_size=V,
            eos_token_id=E,
        ),
    )
    table["ours alpha-driven k*"] = (
        None,
        _alpha_driven(target, draft, costs["c"], verify, vocab_size=V, eos=E),
    )
    table["ours alpha-driven k*, block stop"] = (
        None,
        _alpha_driven(target, draft, costs["c"], verify, BLOCK_STOP, V, E),
    )
    # the same schedule with the bench world's first draft: what raising alpha buys
    if first_draft is not None:
        table["ours alpha-driven k*, block stop, first draft"] = (
            None,
            _alpha_driven(target, first_draft, costs["c_first"], verify, BLOCK_STOP, eos=E),
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
    eos_token_id: int | None = None,
) -> dict:
    """Time every method on every prompt, `repeats` times, interleaved; return costs and result rows.
    `first_draft`: a weaker draft also timed with the alpha-driven schedule, for comparison. `vocab_size`
    and `tokenizer`: a pair whose matrices are padded to different sizes (see `methods`). `eos_token_id`:
    each answer stops at its end of turn (None: exactly `new_tokens` each). Our rows also carry `gain`: the
    speed-up over our own loop drafting nothing (`NO_DRAFTS`), what the formulas predict, and `rounds`
    (target calls over all prompts) and `time_split` (shares of draft, verify and the rest)."""
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
    table = methods(target, draft, ks, costs, first_draft, vocab_size, tokenizer, eos_token_id)
    times, stats, outputs, calls = time_methods(
        target, table, prompts, new_tokens, repeats, progress
    )
    tokens = {m: sum(len(o) for o in out) for m, out in outputs.items()}  # new tokens, all prompts
    base = statistics.median(times["plain generate"])
    base_ours = statistics.median(times[NO_DRAFTS])
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
            # tokens per target call: counted target forwards for transformers' methods
            "tau": round(tokens[m] / max(1, calls[m]), 3),
        }
        if st is not None:  # our loop: its gain over itself with no drafts, and its statistics
            row.update(
                gain=round(base_ours / med, 3),
                gain_range=[
                    round(base_ours / max(times[m]), 3),
                    round(base_ours / min(times[m]), 3),
                ],
                alpha_hat=None if math.isnan(st.alpha_hat) else round(st.alpha_hat, 4),
                tau=round(st.tau, 3),
                accepted_over_proposed=round(st.accepted_over_proposed, 4),
                rounds=st.target_calls,
            )
            row["time_split"] = {
                "draft": round(st.t_draft / st.t_total, 3),
                "verify": round(st.t_verify / st.t_total, 3),
                "overhead": round(1 - (st.t_draft + st.t_verify) / st.t_total, 3),
            }
            if k:
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
        "tokens": tokens["plain generate"],  # every exact method decoded these
        "to_end_of_turn": eos_token_id is not None,
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


def time_methods(target, table: dict, prompts, new_tokens: int, repeats: int, progress=False):
    """Every method of `table` (name -> (k, function(ids, n))) on every prompt, interleaved, `repeats`
    times. Returns per method: the seconds of each repeat (all prompts), the pooled statistics of the
    first repeat (None for transformers' methods), its outputs, and the target's forward calls in it."""
    from tqdm.auto import tqdm

    times = {m: [] for m in table}
    stats = {m: None for m in table}
    outputs: dict = {m: [] for m in table}
    calls = dict.fromkeys(table, 0)
    counting = [None]  # the method whose target calls are being counted (first repeat only)

    def count(*_):
        if counting[0] is not None:
            calls[counting[0]] += 1

    hook = target.register_forward_pre_hook(count)
    try:
        with torch.no_grad():
            for r in tqdm(range(repeats), desc="repeats", disable=not progress):
                for m in table:
                    times[m].append(0.0)
                for ids in prompts:
                    for m, (_, fn) in table.items():
                        counting[0] = m if r == 0 else None
                        secs, (seq, st) = spec_costs.timed(fn, ids, new_tokens, cuda=ids.is_cuda)
                        times[m][-1] += secs
                        if r == 0:
                            outputs[m].append(seq[0, ids.shape[1] :].tolist())
                            if st is not None:
                                stats[m] = st if stats[m] is None else stats[m].merge(st)
    finally:
        hook.remove()
    return times, stats, outputs, calls


def against_no_drafts(
    target,
    drafts: dict,
    prompts,
    new_tokens: int,
    k: int,
    vocab_size=None,
    repeats: int = 3,
    eos_token_id: int | None = None,
) -> dict:
    """Our loop at a constant k with each draft of `drafts` (name -> model), timed interleaved with the
    same loop drafting nothing (each answer to its end of turn if `eos_token_id` is given). name ->
    alpha_hat, tokens per call, gain (median over the no-draft median) and gain_range (the repeats'
    slowest to fastest)."""

    def ours(d, kk):
        return lambda ids, n: speculative.speculative_generate(
            target, d, ids, k=kk, max_new_tokens=n, vocab_size=vocab_size, eos_token_id=eos_token_id
        )

    first = next(iter(drafts.values()))
    table = {NO_DRAFTS: (0, ours(first, spec_schedules.NoDrafts()))}
    table.update({name: (k, ours(d, k)) for name, d in drafts.items()})
    times, stats, _, _ = time_methods(target, table, prompts, new_tokens, repeats)
    base = statistics.median(times[NO_DRAFTS])
    return {
        name: {
            "alpha_hat": stats[name].alpha_hat,
            "tau": stats[name].tau,
            "gain": base / statistics.median(times[name]),
            "gain_range": [base / max(times[name]), base / min(times[name])],
        }
        for name in drafts
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


def per_token_ms(result: dict, method: str) -> float:
    """Milliseconds a new token cost `method` (its median time over every prompt's tokens)."""
    row = next(r for r in result["rows"] if r["method"] == method)
    tokens = result.get("tokens", result["prompts"] * result["new_tokens"])
    return row["median_s"] * 1e3 / tokens


def round_costs(result: dict, k: int) -> dict:
    """Where a round of ours at constant k spends its time, in ms per round: `measured` (the draft steps,
    the verify pass and the rest: acceptance, cache crops, Python), from the row's median time, its rounds
    and its time split, against what section 1's formula with v(k) charges (`formula`: k draft steps and
    v(k) target steps, nothing else); and a round of our loop drafting nothing against a bare target step."""
    rows = {r["method"]: r for r in result["rows"]}
    row, c = rows[f"ours k={k}"], result["costs"]
    per_round = row["median_s"] * 1e3 / row["rounds"]
    split = row["time_split"]
    zero = rows[NO_DRAFTS]
    return {
        "k": k,
        "measured": {part: split[key] * per_round for part, key in _PARTS},
        "formula": {
            "draft": k * c["draft_ms"],
            "verify": c["verify"][k] * c["target_ms"],
            "rest": 0.0,
        },
        "no_drafts_ms": zero["median_s"] * 1e3 / zero["rounds"],
        "target_ms": c["target_ms"],
    }


_PARTS = (("draft", "draft"), ("verify", "verify"), ("rest", "overhead"))


def gain_factors(result: dict, k: int) -> dict:
    """Why ours at constant k ran at its measured gain, not the verify-aware formula's. A gain is tokens
    per call times a step's cost over a round's cost, so measured / formula is the product of three
    ratios: `tokens` (measured tokens per call over (1 - a^(k+1)) / (1 - a)), `round` (the formula's
    round, k draft steps and v(k) target steps, over the measured one) and `baseline` (our loop's round
    drafting nothing over a bare target step: the baseline pays the loop's costs too). `product`: the
    formula's gain times the three, the measured gain up to rounding."""
    rows = {r["method"]: r for r in result["rows"]}
    row, got = rows[f"ours k={k}"], round_costs(result, k)
    tau_formula = spec_schedules.expected_tokens(row["alpha_hat"], k)
    round_formula, round_measured = sum(got["formula"].values()), sum(got["measured"].values())
    ratios = {
        "tokens": row["tau"] / tau_formula,
        "round": round_formula / round_measured,
        "baseline": got["no_drafts_ms"] / got["target_ms"],
    }
    formula = row["predicted_with_verify"]
    return {
        "formula": formula,
        "gain": row["gain"],
        "tau": row["tau"],
        "tau_formula": tau_formula,
        "round_formula_ms": round_formula,
        "round_ms": round_measured,
        **ratios,
        "product": formula * ratios["tokens"] * ratios["round"] * ratios["baseline"],
    }


def shortfall(result: dict) -> float:
    """The clock's gain over the verify-aware formula's, the median over the constant k of ours: below 1,
    the loop pays costs the formula does not charge."""
    ratios = sorted(
        r["gain"] / r["predicted_with_verify"]
        for r in result["rows"]
        if r["method"].startswith("ours k=")
    )
    return statistics.median(ratios)


def compact(result: dict) -> str:
    """The benchmark as a learner reads it: one row per constant k (ours over plain `generate` and over
    itself with no drafts, both formulas, tokens per call, alpha-hat, v(k), and transformers at the
    same k), then the methods without a fixed k, then what a token costs each decoder."""
    rows = {r["method"]: r for r in result["rows"]}
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    v = result["costs"]["verify"]
    lines = [
        f"{'k':>2} {'/plain':>6} {'/k=0':>6} {'theory':>6} {'+verify':>7} {'tok/call':>8} "
        f"{'alpha_hat':>9} {'v(k)':>5} {'HF/plain':>8} {'HF tok/call':>11}"
    ]
    zero = rows[NO_DRAFTS]
    lines.append(
        f"{0:2d} {zero['speedup']:5.2f}x {1:5.2f}x {1:5.2f}x {1:6.2f}x {zero['tau']:8.2f} "
        f"{'-':>9} {'-':>5} {'-':>8} {'-':>11}"
    )
    for k in ks:
        ours, hf = rows[f"ours k={k}"], rows[f"HF assisted k={k}"]
        lines.append(
            f"{k:2d} {ours['speedup']:5.2f}x {ours['gain']:5.2f}x "
            f"{ours['predicted_textbook']:5.2f}x {ours['predicted_with_verify']:6.2f}x "
            f"{ours['tau']:8.2f} {ours['alpha_hat']:9.2f} {v[k]:5.2f} {hf['speedup']:7.2f}x "
            f"{hf['tau']:11.2f}"
        )
    others = [r for r in result["rows"] if r["k"] is None and r["method"] != "plain generate"]
    w = max(len(r["method"]) for r in others)
    lines += [
        "",
        f"{'no fixed k':{w}} {'/plain':>6} {'spread':>9} {'/k=0':>6} {'spread':>9} tok/call",
    ]

    def spread(r: dict, key: str) -> str:
        if key not in r:
            return f"{'-':>6} {'-':>9}"
        lo, hi = r[f"{key}_range"]
        return f"{r[key]:5.2f}x {lo:4.2f}-{hi:4.2f}"

    for r in others:
        line = f"{r['method']:{w}} {spread(r, 'speedup')} {spread(r, 'gain')} {r['tau']:8.2f}"
        lines.append(line)
    c = result["costs"]
    lines += [
        "",
        f"median of {result['repeats']} repeats (spread: slowest to fastest); /plain: over plain "
        "generate, /k=0: over ours at k = 0",
        f"a token costs: plain generate {per_token_ms(result, 'plain generate'):.1f} ms, our loop "
        f"with no drafts {per_token_ms(result, NO_DRAFTS):.1f} ms, a bare target step "
        f"{c['target_ms']:.1f} ms; c = {c['c']:.2f}",
    ]
    return "\n".join(lines)


def plot_vs_k(result: dict) -> None:
    """Speed-up against k, each decoder over itself with no drafts: ours over our loop at k = 0,
    transformers' assisted generation over plain `generate`. Markers: median of the repeats, bars from the
    slowest to the fastest repeat; lines: both formulas at each k's own alpha-hat. The measured v(k) is
    one median per k, so that prediction is drawn as unjoined markers."""
    import matplotlib.pyplot as plt

    rows = {r["method"]: r for r in result["rows"]}
    ks = [r["k"] for r in result["rows"] if r["method"].startswith("ours k=")]
    fig, ax = plt.subplots(figsize=(9, 4))
    series = (
        ("ours k", "gain", "ours over our loop with no drafts", "o", -0.08),
        ("HF assisted k", "speedup", "HF assisted over plain generate", "s", 0.08),
    )
    for name, key, label, marker, dx in series:
        got = [rows[f"{name}={k}"] for k in ks]
        med = [r[key] for r in got]
        spread = [
            [m - r[f"{key}_range"][0] for m, r in zip(med, got)],
            [r[f"{key}_range"][1] - m for m, r in zip(med, got)],
        ]
        ax.errorbar(
            [k + dx for k in ks],
            med,
            yerr=spread,
            fmt=marker,
            capsize=3,
            label=f"{label} (bars: repeats)",
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
    ax.axhline(1, color="red", lw=0.8, label="the same decoder with no drafts (1x)")
    ax.set(xlabel="k (drafts per round)", ylabel="speed-up over no drafts", xticks=ks)
    ax.set_title(f"Greedy speed-up against k (c = {result['costs']['c']:.2f})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    plt.show()
