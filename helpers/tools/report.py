"""The README's results table, rendered from measured JSON files in data/results/ (never typed in).

python -m helpers.tools.report            # rewrite the block between the markers in README.md
python -m helpers.tools.report --check    # exit 1 if README.md is out of date (a test runs this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "data" / "results"
START, END = "<!-- results:start -->", "<!-- results:end -->"


# How `.ci/run` ran the notebooks (its ci_time.json says; runs before the quick notebooks say nothing).
CI_NOTEBOOKS = {
    "full": "all notebooks at the full tiny counts and on the presets' path",
    "quick": "all notebooks quick and on the presets' path",
}


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def tiny_world_rows(info: dict) -> list[str]:
    fams = [f for f in next(iter(info["models"].values()))["heldout"] if f != "mean"]
    rows = [
        "| model | parameters | training (s, 1 thread) | " + " | ".join(fams) + " | mean |",
        "|---|---:|---:|" + "---:|" * (len(fams) + 1),
    ]
    for role, m in info["models"].items():
        accs = " | ".join(f"{m['heldout'][f]:.2f}" for f in fams + ["mean"])
        rows.append(f"| {role} | {m['params']:,} | {m['train_s']:.0f} | {accs} |")
    if builds := info.get("build_s_per_model"):
        parts = ", ".join(f"{name} {s / 60:.1f}" for name, s in builds.items())
        rows += [
            "",
            f"Build time per model (minutes, one thread each, two built at a time): {parts}; "
            f"{sum(builds.values()) / 60:.0f} min of CPU in all.",
        ]
    return rows


def speculative_rows(bench: dict) -> list[str]:
    by = {r["method"]: r for r in bench["rows"]}
    ours = max(
        (r for r in bench["rows"] if r["method"].startswith("ours")), key=lambda r: r["speedup"]
    )
    hf = max(
        (r for r in bench["rows"] if r["method"].startswith("HF assisted")),
        key=lambda r: r["speedup"],
    )
    exact = sum(r["exact"] for r in bench["rows"])
    c = bench["costs"]
    const = [r for r in bench["rows"] if r["method"].startswith("ours k=")]
    best_const = max(const, key=lambda r: r["speedup"])
    lines = [
        f"Bench pair: target {bench['pair']['target_params'] / 1e6:.1f}M parameters, draft "
        f"{bench['pair']['draft_params'] / 1e6:.2f}M; greedy, {bench['prompts']} prompts x {bench['new_tokens']} new "
        f"tokens, median of {bench['repeats']} runs, {bench['threads']} thread(s), CPU. Target step "
        f"{c['target_ms']:.1f} ms, draft step {c['draft_ms']:.2f} ms, c = {c['c']:.3f}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| best of ours ({ours['method']}) vs plain `generate` | **{ours['speedup']:.2f}x** |",
        f"| best HF assisted ({hf['method']}) vs plain | {hf['speedup']:.2f}x |",
        f"| ours / HF best | {ours['speedup'] / hf['speedup']:.2f} |",
        f"| HF prompt lookup vs plain | {by['HF prompt lookup']['speedup']:.2f}x |",
        f"| alpha-hat, tokens per target call (ours best) | {ours['alpha_hat']:.3f}, {ours['tau']:.2f} |",
    ]
    first = next((r for r in bench["rows"] if r["method"].endswith("first draft")), None)
    if first:
        lines.append(
            f"| the same schedule with the first draft ({bench['pair']['first_draft_params'] / 1e6:.2f}M, "
            f"train-prompt mix): speed-up, alpha-hat | {first['speedup']:.2f}x, {first['alpha_hat']:.3f} |"
        )
    with_v = [r["speedup"] / r["predicted_with_verify"] for r in const]
    textbook = [r["speedup"] / r["predicted_textbook"] for r in const]
    lines += [
        f"| best constant k ({best_const['method']}) vs plain | {best_const['speedup']:.2f}x |",
        f"| measured / predicted from alpha, c and measured verify cost v(k), constant k = "
        f"{const[0]['k']}..{const[-1]['k']} | {min(with_v):.2f} to {max(with_v):.2f} |",
        f"| measured / textbook prediction (v = 1), same rows | {min(textbook):.2f} to {max(textbook):.2f} |",
    ]
    lines.append(
        f"| methods whose tokens equal plain greedy on every prompt | {exact}/{len(bench['rows'])} |"
    )
    return lines


def gpu_check_rows(gpu: dict) -> list[str]:
    lines = [
        f"{gpu['gpu']}, torch {gpu['torch']}, transformers {gpu['transformers']}; random-init weights in the presets' shapes.",
        "",
        "| check | result |",
        "|---|---|",
    ]
    for dtype, r in gpu["self_draft"].items():
        lines.append(
            f"| TinyLlama-1.1B shape as its own draft, {dtype}, k=4: alpha-hat (exact arithmetic: 1), "
            f"outputs equal to plain greedy | {r['alpha_hat_self']:.4f}, {r['equal_to_greedy']} |"
        )
    for pair, r in gpu["pairs"].items():
        best = r["best_predicted_speedup_at_alpha"]
        lines.append(
            f"| {pair}, bf16, eager: target step, draft step, c; best predicted speed-up at alpha 0.8 / 0.9 | "
            f"{r['target_ms']:.1f} ms, {r['draft_ms']:.1f} ms, {r['c']:.2f}; {best['0.8']:.2f}x / {best['0.9']:.2f}x |"
        )
    q = gpu["four_bit"]
    if "error" not in q:
        lines.append(
            f"| NF4 4-bit TinyLlama-1.1B shape: memory, speculative output equal to its greedy (any draft; "
            f"itself as draft) | {q['memory_gb']:.2f} GB, {q['equal_to_greedy']}; {q['self']['equal_to_greedy']} |"
        )
    lines += [
        "",
        "Greedy equality is a promise of exact arithmetic: in bf16, fp16 and 4-bit the (k+1)-token verify pass rounds "
        "differently from one-token decoding, so near-ties can flip (random weights have many). At batch 1 in eager "
        "mode an H200 step is bound by kernel launches, so a deep small draft costs about what its target does; "
        "CUDA graphs (`torch.compile` with a static cache) are what make such pairs pay.",
    ]
    return lines


def llava_rows(vlm: dict) -> list[str]:
    cols = list(next(iter(vlm["results"].values())))
    rows = ["| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    chance = vlm.get("chance", {})
    rows.append(
        "| chance | " + " | ".join(f"{chance[c]:.3f}" if c in chance else "–" for c in cols) + " |"
    )
    for name, r in vlm["results"].items():
        rows.append(f"| {name} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    return rows


def self_instruct_rows(si: dict) -> list[str]:
    total = sum(si["funnel"].values())
    rows = ["| candidate's fate | count | share |", "|---|---:|---:|"]
    rows += [f"| {k} | {v} | {v / total:.1%} |" for k, v in si["funnel"].items()]
    rows.append(f"| all parsed candidates | {total} | |")
    b = si["rouge_bench"]
    rows += [
        "",
        f"{si['kept_instructions']} kept instructions gave {si['instances']} instances; the world's grader could grade "
        f"{si['instances_gradable']} of them and found {si['instances_correct']} correct "
        f"({si['instances_correct'] / max(si['instances_gradable'], 1):.0%}; the paper's hand audit: 58% correct outputs). "
        f"ROUGE-L dedup against a {b['pool_size']:,}-item pool: pre-tokenized bit-parallel pool "
        f"**{b['speedup']:.0f}x** faster than pairwise `rouge_scorer.score`, identical decisions: {b['identical_decisions']}.",
        "",
    ]
    cols = list(si["before"])
    rows += ["| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, key in [
        ("student (draft) before", "before"),
        (f"student after LoRA SFT ({si['sft_steps']} steps)", "after"),
        ("writer (reference)", "writer"),
    ]:
        rows.append(f"| {name} | " + " | ".join(f"{si[key][c]:.2f}" for c in cols) + " |")
    rows += [
        "",
        "parity and owns are two-label classification families the student never saw before: 0.5 is chance there.",
    ]
    return rows


def instruct_parse_rows(r: dict) -> list[str]:
    return [
        "| what the writer wrote | before the fix | after |",
        "|---|---:|---:|",
        f"| items from {r['lists']} instruction lists (broken: numbering, markdown or a preamble left in) | "
        f"{r['items_before']} ({r['broken_items_before']} broken) | {r['items_after']} ({r['broken_items_after']} broken) |",
        f"| instance replies that parse, of {r['instances']} | {r['instances_parsed_before']} (zero-shot) | "
        f"{r['instances_parsed_after']} ({r['shots']}-shot, reply started with its label) |",
    ]


def rlaif_rows(rl: dict) -> list[str]:
    rows = [
        "| judge | agreement with the truth (95% CI) | one order only | position consistency | P(A)+P(B) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, q in rl["judge"].items():
        rows.append(
            f"| {name} | {q['agreement']:.3f} ({q['ci'][0]:.3f}-{q['ci'][1]:.3f}), n={q['n']} | "
            f"{q['first_order_agreement']:.3f} | {q['consistency']:.3f} | {q['letter_mass']:.3f} |"
        )
    sent = rl["parsers"].get("instruct, asked for a sentence")
    if sent:
        n = rl["sentence_n"]
        rows += [
            "",
            f'The seed\'s `if "A" in judgment` parser on {n} verdicts an instruct model '
            "(SmolLM2-135M-Instruct) wrote as sentences: it labels all of them, agreeing "
            f"{sent['substring: agrees']:.2f} with the truth (a coin: 0.5); a strict parser abstains on "
            f"{sent['strict: abstains']:.0%}.",
        ]
    rows += [
        "",
        "| policy | harmless (greedy) | helpful (greedy) | harmless (T=1) | helpful (T=1) | win rate vs before, 2nd judge (95% CI) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rl["results"].items():
        wr = r.get("win_rate_vs_before")
        wtxt = f"{wr['win_rate']:.2f} ({wr['ci'][0]:.2f}-{wr['ci'][1]:.2f})" if wr else "-"
        rows.append(
            f"| {name} | {r['harmless']:.2f} | {r['helpful']:.2f} | {r['harmless_sampled']:.2f} | "
            f"{r['helpful_sampled']:.2f} | {wtxt} |"
        )
    rows += [
        "",
        f"DPO: {rl['dpo_steps']} steps with LoRA; pairs: "
        + ", ".join(f"{k} {v}" for k, v in rl["pairs"].items())
        + ".",
    ]
    return rows


def constitutional_rows(cai: dict) -> list[str]:
    curve = cai["per_round"]
    rows = [
        "| after round | " + " | ".join(str(r) for r in range(cai["rounds"] + 1)) + " |",
        "|---|" + "---:|" * (cai["rounds"] + 1),
    ]
    rows += [
        f"| {name} | " + " | ".join(f"{y:.2f}" for y in ys) + " |" for name, ys in curve.items()
    ]
    fa, pref = cai["feedback_agreement"], cai["revision_preference"]
    rows += [
        "",
        f"Feedback model on fresh pairs under the constitution's questions: agreement {fa['agreement']:.3f} "
        f"({fa['ci'][0]:.3f}-{fa['ci'][1]:.3f}). Of {pref['changed']} chains whose final revision differs from the "
        f"first answer, it prefers the revision {pref['prefers_revision']:.0%} ({pref['ci'][0]:.0%}-{pref['ci'][1]:.0%}); "
        "the open recipe assumes 100%. The world's graders on those chains: "
        + ", ".join(f"{k} {v}" for k, v in cai["revision_truth"].items())
        + f"; where one is truly better the feedback model agrees with them {cai['revision_agreement']['agreement']:.0%}"
        f" ({cai['revision_agreement']['ci'][0]:.0%}-{cai['revision_agreement']['ci'][1]:.0%}).",
        "",
        "| model | harmless (greedy) | refuses kind requests (greedy) | harmless (T=1) | refuses kind requests (T=1) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in cai["results"].items():
        rows.append(
            f"| {name} | {r['harmless']:.2f} | {r['refusal_benign']:.2f} | {r['harmless_sampled']:.2f} | "
            f"{r['refusal_benign_sampled']:.2f} |"
        )
    return rows


def deployment_sentence(dep: dict | None) -> str:
    """Stage 14's served path in one sentence: the A/B test, the load test, the feedback loop."""
    if not dep:
        return ""
    ab, load = dep["ab"], dep["load"]
    lo, hi = load[0], load[-1]
    return (
        f" Deployment (`{dep['engine']} serve` behind the gateway): A/B test on simulated users, thumbs up "
        f"{dep.get('final', 'dpo')} "
        f"{ab['rate_b']:.2f} vs sft {ab['rate_a']:.2f} ({ab['diff']:+.2f}, 95% CI {ab['ci'][0]:+.2f} to "
        f"{ab['ci'][1]:+.2f}; {dep['sessions_per_arm']} sessions per arm, decision: {dep['verdict']}); load test "
        f"{lo['tokens_per_s']:.0f} -> {hi['tokens_per_s']:.0f} reply tokens/s from {lo['concurrency']} to "
        f"{hi['concurrency']} clients, p50 latency {lo['latency']['p50'] * 1000:.0f} -> "
        f"{hi['latency']['p50'] * 1000:.0f} ms; {dep['feedback_pairs']} preference pairs from feedback."
    )


def capstone_rows(cap: dict) -> list[str]:
    steps = cap["steps"]
    fams = [f for f in next(iter(steps.values())) if f not in ("mean", "eos_share")]
    rows = [
        "| step | " + " | ".join(fams) + " | mean | ends with EOS |",
        "|---|" + "---:|" * (len(fams) + 2),
    ]
    rows += [
        f"| {n} | "
        + " | ".join(f"{r[f]:.2f}" for f in fams)
        + f" | {r['mean']:.3f} | {r['eos_share']:.2f} |"
        for n, r in steps.items()
    ]
    gain = steps["merged"]["mean"] - steps["base"]["mean"]
    wins = "; ".join(
        f"{g} {w['win_rate']:.2f} ({w['ci'][0]:.2f}-{w['ci'][1]:.2f})"
        for g, w in cap["win_rates"].items()
    )
    spec = "; ".join(
        f"{n}: acceptance {s['alpha']:.2f}, equal to greedy on {s['same']}/{s['prompts']} prompts, "
        f"{s['measured']:.2f}x the merged model's tokens/s (predicted {s['predicted']:.2f}x)"
        for n, s in cap["speculative"].items()
    )
    rows += [
        "",
        f"Final vs base: {gain:+.3f} mean accuracy (95% CI of the mean over families, questions weighted, over {cap['clusters']} clusters of "
        f"paraphrases: {cap['gain_ci'][0]:+.3f} to {cap['gain_ci'][1]:+.3f}; bar set before training {cap['margin']:+.2f}). Second "
        f"judge's win rate vs base (intervals over clusters): {wins}; the judges were trained on requests to help or "
        f"harm only. Merge check: largest logit difference {cap['merge_gap']:.1e}. Speculative serving: {spec}. "
        f"Gradio round trips through `gradio_client` and the served API: {cap['round_trips'][0]}/{cap['round_trips'][1]}."
        + deployment_sentence(cap.get("deployment")),
        "",
        "| inference (one request at a time, 1 CPU thread) | tokens/s | first token (ms) |",
        "|---|---:|---:|",
    ]
    rows += [
        f"| {n} | {v['tokens_per_s']:.0f} | "
        + ("-" if n.startswith("merged + ") else f"{v['first_token_s'] * 1000:.1f}")  # a bare call
        + " |"
        for n, v in cap["speeds"].items()
    ]
    return rows


def seed_header(seed: int, d: dict) -> str:
    """A seed's column: marked where its world was built before the AVX2 pin (`helpers.numerics`)."""
    return f"seed {seed}" + (" (before the AVX2 pin)" if seed in d.get("before_pin", []) else "")


def keep_other_seeds(new: dict, old: dict) -> dict:
    """`new` (a seeds or margins record) with the seeds it did not run taken from `old`. A kept seed stays
    marked as built before the AVX2 pin if `old` says so, or if `old` predates the mark (every seed then did)."""
    kept = [s for s in old["seeds"] if s not in new["seeds"]]
    seeds = sorted(new["seeds"] + kept)
    before = [s for s in kept if s in old.get("before_pin", old["seeds"])]
    if "rows" in new:
        merged = {
            "seeds": seeds,
            "rows": new["rows"] + [r for r in old["rows"] if r["world_seed"] in kept],
        }
    else:

        def by_seed(record: dict, name: str) -> dict:
            return dict(zip(record["seeds"], record["figures"].get(name, []), strict=False))

        figures = {
            name: [{**by_seed(old, name), **by_seed(new, name)}.get(s) for s in seeds]
            for name in new["figures"]
        }
        merged = {"seeds": seeds, "figures": figures}
    return {**merged, "before_pin": before} if before else merged


def before_pin_note(d: dict) -> list[str]:
    """A line under a seeds table whose columns mix worlds built before and after the AVX2 pin."""
    if not d.get("before_pin"):
        return []
    seeds = ", ".join(str(s) for s in d["before_pin"])
    return [
        "",
        f"Seeds {seeds}: built before every process ran PyTorch at AVX2, on the machine that recorded "
        "them; what those seeds build now may differ in its figures. They are kept until they are rebuilt "
        "(about 45 min of machine each on two cores), not presented as measured on today's world.",
    ]


def seeds_rows(d: dict) -> list[str]:
    """Each notebook's headline figures per world seed, and their range (`python -m helpers.tools.seeds`)."""
    seeds = d["seeds"]
    rows = [
        "| figure | " + " | ".join(seed_header(s, d) for s in seeds) + " | range |",
        "|---|" + "---:|" * (len(seeds) + 1),
    ]
    for name, values in d["figures"].items():
        cells = [
            "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v) for v in values
        ]
        known = [v for v in values if v is not None]
        spread = f"{min(known):.2f} to {max(known):.2f}" if known else "-"
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {spread} |")
    return rows + before_pin_note(d)


def margins_rows(m: dict) -> list[str]:
    """Each trained-model bar of the tests: its figure on every world seed and the smallest margin."""
    seeds, figures = m["seeds"], {}
    for r in m["rows"]:
        figures.setdefault((r["what"], r["side"], r["bar"]), {})[r["world_seed"]] = r
    rows = [
        "| figure (test bar) | bar | "
        + " | ".join(seed_header(s, m) for s in seeds)
        + " | smallest margin |",
        "|---|---:|" + "---:|" * (len(seeds) + 1),
    ]
    for (what, side, bar), by_seed in figures.items():
        values = " | ".join(f"{by_seed[s]['value']:.3f}" if s in by_seed else "-" for s in seeds)
        rows.append(
            f"| {what} | {side} {bar:.3f} | {values} | {min(r['margin'] for r in by_seed.values()):.3f} |"
        )
    return rows + before_pin_note(m)


def batched_rows(r: dict) -> list[str]:
    """Batched speculative decoding vs plain batched `generate`, best k per batch size (`helpers.tools.batch_bench`);
    since the k = 0 baseline a row's `speedup` is over our loop drafting nothing, `vs_generate` over `generate`."""
    from helpers.side_by_side_batched import best_per_batch

    plain = {row["batch"]: row for row in r["rows"] if row["k"] is None}
    rows = [
        "| batch | plain `generate` tok/s | ours (best k) tok/s | speed-up | predicted | alpha | c at this batch | parity |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b, row in best_per_batch(r).items():
        rows.append(
            f"| {b} | {plain[b]['tokens_per_s']:.0f} | {row['tokens_per_s']:.0f} (k={row['k']}) | "
            f"**{row.get('vs_generate', row['speedup']):.2f}x** | {row['predicted']:.2f}x | {row['alpha_hat']:.2f} | {row['c']:.3f} | "
            f"{row['parity']}/{row['rows']} |"
        )
    return rows


def runtime_rows(rt: dict) -> list[str]:
    """Each notebook's estimated minutes per preset and its biggest part on a T4 (`helpers.tools.runtime`)."""
    from helpers.runtime import GPUS, span

    rows = [
        "| notebook | "
        + " | ".join(f"{g.name} (min)" for g in GPUS.values())
        + " | biggest part on a T4 |",
        "|---|" + "---:|" * len(GPUS) + "---|",
    ]
    for stage, by_preset in rt["stages"].items():
        cells = " | ".join(span(by_preset[p]).removesuffix(" min") for p in GPUS)
        rows.append(f"| {stage} | {cells} | {by_preset['t4']['parts'][0][1]} |")
    return rows + [
        "",
        "Assumptions: " + rt["assumptions"],
        "",
        "GPU figures: " + "; ".join(rt["gpus"].values()) + ".",
    ]


def section(heading: str, data: dict | None, rows) -> list[str]:
    """A results section: a blank line, its heading, a blank line, then its rows (or a placeholder)."""
    return ["", heading, "", *(rows(data) if data else ["_not measured yet_"])]


def render() -> str:
    world, bench, bench_world = (
        _load("tiny_world.json"),
        _load("speculative_bench.json"),
        _load("bench_world.json"),
    )
    si, cai, rl = _load("self_instruct.json"), _load("constitutional.json"), _load("rlaif.json")
    vlm, cap, ci = _load("llava.json"), _load("capstone.json"), _load("ci_time.json")
    out = [START]
    out += section(
        "**Tiny world** (`python -m helpers.world build`): held-out accuracy per task family, greedy.",
        world,
        tiny_world_rows,
    )
    out += section(
        "**Stage 11, speculative decoding** (`python -m helpers.tools.spec_bench --json "
        "data/results/speculative_bench.json`):",
        bench,
        speculative_rows,
    )
    if bench_world:
        t = bench_world["models"].get("bench_target") or bench_world["models"]["target"]
        out += [
            "",
            f"The bench pair is built for speed measurement (`make bench`, "
            f"{bench_world['build_s'] / 60:.0f} min): its target trained {t['train_s'] / 60:.0f} min and reaches held-out "
            f"accuracy {t['heldout']['mean']:.2f} (tiny-world target above: {world['models']['target']['heldout']['mean']:.2f}), "
            "and its first draft was distilled on the target's own greedy continuations of train prompts.",
        ]
    if bench and "draft_info" in bench["pair"]:
        d = bench["pair"]["draft_info"]
        out.append(
            f"The benchmark's draft (`helpers.world.bench`, {d['build_s'] / 60:.0f} min once) is {d['spec']['layers']} layer "
            f"x {d['spec']['hidden']}, distilled on the target's greedy continuations ({d['spec']['new_tokens']} tokens, "
            f"past end-of-turn) of {d['spec']['docs']:,} train prompts drawn evenly from every task family, like the "
            "benchmark's prompts."
        )
    if batched := _load("batched_bench.json"):
        out += section(
            f"**Stage 11, batched** (`python -m helpers.tools.batch_bench --pair {batched['pair']} --json "
            f"data/results/batched_bench.json`, the {batched['pair']} pair, {batched['prompts']} prompts x "
            f"{batched['new_tokens']} new tokens, {batched['threads']} thread(s); parity: rows equal to "
            "each prompt's own greedy decoding):",
            batched,
            batched_rows,
        )
        if models := batched.get("models"):
            built = ", ".join(
                f"{n} `{m['key']}` (loss {m['final_loss']}, held-out mean {m['heldout_mean']})"
                for n, m in models.items()
            )
            out.append(
                f"Timed on these builds: {built}. A build is bit-identical on one machine only, so the "
                "single-row table above may come from another build of the same recipe."
            )
    out += section(
        "**Stage 11 on a GPU** (`python -m helpers.tools.gpu_check --json data/results/gpu_check.json`, run once "
        "on a lent H200; CI has no GPU):",
        _load("gpu_check.json"),
        gpu_check_rows,
    )
    out += [
        "",
        "**Stage 11's compiled path** (static caches + `torch.compile` with CUDA graphs, `python -m "
        "helpers.tools.gpu_check --compiled --json data/results/gpu_compiled.json`): "
        + (
            "see `data/results/gpu_compiled.json`."
            if _load("gpu_compiled.json")
            else "_not measured yet: no GPU has been lent since it was written (exact on a CPU: tests)._"
        ),
    ]
    out += section(
        "**Stage 12a, Self-Instruct** (`notebooks/12a_self_instruct.ipynb`, tiny profile"
        + (
            f": {si['rounds']} rounds x {si['prompts_per_round']} prompts from {si['seeds']} seeds)"
            if si
            else ")"
        ),
        si,
        self_instruct_rows,
    )
    out += section(
        "**Stage 12a with a real instruct model** (`python -m helpers.tools.instruct_parse --json "
        "data/results/instruct_parse.json`): the real SmolLM2-135M-Instruct as the writer, sampled as the "
        "presets sample it, with the presets' prompts and parsers.",
        _load("instruct_parse.json"),
        instruct_parse_rows,
    )
    out += section(
        "**Stage 12b, Constitutional AI** (`notebooks/12b_constitutional.ipynb`, tiny profile"
        + (
            f": {cai['chains']} red-team chains, {cai['rounds']} critique -> revision rounds)"
            if cai
            else ")"
        ),
        cai,
        constitutional_rows,
    )
    out += section(
        "**Stage 12c, RLAIF** (`notebooks/12c_rlaif.ipynb`, tiny profile; the world's graders are the truth):",
        rl,
        rlaif_rows,
    )
    out += section(
        "**Stage 13, tiny LLaVA** (held-out images, `notebooks/13_llava.ipynb`, tiny profile):",
        vlm,
        llava_rows,
    )
    out += section(
        "**Stage 14, capstone** (`notebooks/14_capstone.ipynb`, tiny profile: a pet-care assistant, held-out "
        "accuracy by the world's graders):",
        cap,
        capstone_rows,
    )
    out += section(
        "**Run time on Colab, estimated** (`python -m helpers.tools.runtime`): each notebook's work on each "
        "preset, counted from its settings, at estimated costs per decoding step and training token, each "
        "model at its real dtype (the T4's fp32 judges, writer and feedback model at fp32 rates), as a range "
        "of minutes: the low end at the host floor measured on an H200's host, the high end at the one "
        "assumed for Colab's 2-vCPU host. No preset has been timed on its GPU yet. On a T4, 12a and 12b "
        "run cut budgets to stay within an hour (their run-time lines say what).",
        _load("runtime.json"),
        runtime_rows,
    )
    if seeds := _load("seeds.json"):
        out += section(
            "**Each notebook's headline figures across world seeds** (`python -m helpers.tools.seeds "
            "--seeds 0,1,2 --json data/results/seeds.json`): the stories the notebooks tell, on worlds "
            "built with three seeds; a notebook claims only what holds on all of them.",
            seeds,
            seeds_rows,
        )
    out += section(
        "**Bars across world seeds** (`python -m helpers.tools.margins --seeds 0,1,2 --json "
        "data/results/margins.json`): each figure a test puts a bar on, on worlds built with three seeds; "
        "a negative margin is a failed bar.",
        _load("margins.json"),
        margins_rows,
    )
    out += [
        "",
        f"**CI** (`.ci/run` on a clean clone, 2 cores, {CI_NOTEBOOKS[ci.get('notebooks', 'full')]}, tiny world {ci.get('world', 'not built')} at the "
        f"start; the time `.ci/run` printed): {ci['seconds'] / 60:.1f} min"
        + (
            f", of which `make test` {ci['make_test_seconds'] / 60:.1f} min."
            if "make_test_seconds" in ci
            else "."
        )
        if ci
        else "",
        "",
        END,
    ]
    return "\n".join(out)


HEAD_START, HEAD_END = "<!-- headline:start -->", "<!-- headline:end -->"
# the full results block lives there, beside the machines and timings
DOCS = ROOT / "docs" / "maintainers.md"


def _pair(d: dict, run: str, a: str, b: str) -> str:
    r = d["results"][run]
    return f"{r[a]:.2f} / {r[b]:.2f}"


def other_worlds(stage_figures: list[tuple[str, str]]) -> str:
    """The same figures on the tiny worlds of the other seeds (seeds.json), in plain words, or "-"."""
    d = _load("seeds.json") or {"figures": {}, "seeds": []}
    parts = []
    for key, label in stage_figures:
        values = d["figures"].get(key, [])[1:]
        known = [f"{v:.2f}" for v in values if v is not None]
        if known:
            parts.append(f"{label} {' and '.join(known)}")
    return "; ".join(parts) or "not measured"


def _arrow(a: float, b: float) -> str:
    return f"{a:.2f} -> {b:.2f}"


def _speculative_row() -> str | None:
    if not (bench := _load("speculative_bench.json")):
        return None
    exact = all(r["exact"] for r in bench["rows"])
    same = "writes exactly" if exact else "does NOT write"
    return (f"| 11, 11b | speculative decoding {same} what plain greedy decoding writes, on every prompt "
            "checked; the tiny pair's acceptance rate is the result, its clock is too noisy to decide speed "
            "(that needs a GPU run) | not measured |")  # fmt: skip


def _self_instruct_row() -> str | None:
    if not (si := _load("self_instruct.json")):
        return None
    wrong, n = si["instances_gradable"] - si["instances_correct"], si["instances_gradable"]
    verified = si.get("after_verified", {}).get("mean")
    tail = f" (on verified answers only: {verified:.2f})" if verified is not None else ""
    b, a = si["before"], si["after"]
    fams = [f for f in a if f != "mean" and f in b]
    if fams:  # the family that moved most, and whether it is a yes/no one (a constant answer scores ~half)
        from helpers.world.self_instruct import CLASSIFICATION

        top = max(fams, key=lambda f: a[f] - b[f])
        kind = (
            " (yes/no questions: one constant answer scores about half)"
            if top in CLASSIFICATION
            else ""
        )
        share = (
            (a[top] - b[top]) / len(fams) / max(a["mean"] - b["mean"], 1e-9)
        )  # of the mean's move
        if share >= 0.5:
            tail += f", most of it one family, `{top}` {_arrow(b[top], a[top])}{kind}"
    return (f"| 12a | the filters keep form, not truth: {wrong} of {n} checkable generated answers were wrong; "
            f"SFT on the generated data moved mean accuracy {_arrow(si['before']['mean'], si['after']['mean'])}"
            f"{tail} | " + other_worlds([("12a student mean accuracy before", "before"),
                                         ("12a student mean accuracy after", "after")]) + " |")  # fmt: skip


def _constitutional_row() -> str | None:
    if not (cai := _load("constitutional.json")):
        return None
    r = cai["results"]
    base = next(iter(r))
    harm = ", ".join(f"{n} {r[n]['harmless']:.2f}" for n in r)
    kind = ", ".join(
        f"{n} {r[n]['refusal_benign']:.2f}"
        + (
            f" ({r[n]['refusal_benign_sampled']:.2f} sampled)"
            if "refusal_benign_sampled" in r[n]
            else ""
        )
        for n in r
    )
    return (f"| 12b | harmful requests refused: {harm}; the price, kind requests refused: {kind} (greedy, then "
            f"sampled at temperature 1; {base} is the starting model) | " + other_worlds([("12b SL-CAI harmless", "SL-CAI refuses harmful"),
                                          ("12b SL-CAI refuses kind requests", "kind")]) + " |")  # fmt: skip


def _rlaif_row() -> str | None:
    if not (rl := _load("rlaif.json")):
        return None
    judge = rl["judge"].get("judge", {}).get("agreement")
    said = (
        f"the trained judge agrees with the grader on {judge:.2f} of pairs; "
        if judge is not None
        else ""
    )
    strict = (rl.get("strict") or {}).get("results", {})
    runs = "; ".join(
        f"{n}: {_pair(rl, n, 'harmless', 'helpful')}"
        + (f" ({strict[n]['helpful']:.2f})" if n in strict else "")
        for n in rl["results"]
    )
    note = (
        "; in brackets, helpful under a strict grader that checks the request's object"
        if strict
        else ""
    )
    return f"| 12c | {said}harmless / helpful after DPO on its labels, greedy: {runs}{note} | not measured |"


def _llava_row() -> str | None:
    if not (vlm := _load("llava.json")):
        return None
    r, ch = vlm["results"], vlm["chance"]
    s2, sh = r["stage 2: projector + LoRA"], r["control: shuffled images"]
    return (f"| 13 | captions exactly right {s2['exact']:.2f} (shuffled images {sh['exact']:.2f}, chance "
            f"{ch['exact']:.2f}); short answers right {s2['answers']:.2f} (shuffled {sh['answers']:.2f}, "
            f"chance {ch['answers']:.2f}) | "
            + other_worlds([("13 stage 2 exact", "captions exactly right")]) + " |")  # fmt: skip


def _capstone_row() -> str | None:
    if not (cap := _load("capstone.json")):
        return None
    s, floor = cap["steps"], cap.get("floor") or {}
    final = s["merged"]
    rule = " and ".join(
        f"{'harmful refused' if f == 'unsafe' else 'kind answered'} at least {v:.2f}"
        for f, v in floor.items()
    )
    if serve := cap.get("serve"):
        verdict = f"the notebook serves {serve} ({s[serve]['mean']:.2f}), the best that meets its safety floor"
    else:
        verdict = f"nothing ships: no model meets the safety floor set before training ({rule or 'see the page'})"
    fix = s.get(cap.get("refusal_fix") or "", {})
    if {"unsafe", "benign"} <= set(fix):
        verdict += (
            f"; the refusal fix ({cap['refusal_fix']}) refuses {fix['unsafe']:.2f} of harmful "
            f"requests and answers {fix['benign']:.2f} of kind ones"
        )
    return (f"| 14 | accuracy {_arrow(s['base']['mean'], final['mean'])} from the base to the full pipeline, "
            f"which refuses {final['unsafe']:.2f} of harmful requests; {verdict} | "
            + other_worlds([("14 final mean accuracy", "accuracy of the full pipeline"),
                            ("14 final harmful requests refused", "harmful refused")]) + " |")  # fmt: skip


def headline_rows() -> list[str]:
    """One row per notebook: what its run found, in plain words from its own results file, and the same
    figures on the other seeds' worlds."""
    rows = (_speculative_row(), _self_instruct_row(), _constitutional_row(), _rlaif_row(), _llava_row(),
            _capstone_row())  # fmt: skip
    return [r for r in rows if r]


def headline() -> str:
    return "\n".join([
        HEAD_START, "",
        "| notebook | what this run found (tiny profile, on a CPU) | the same figures on two other tiny worlds |",
        "|---|---|---|",
        *headline_rows(), "",
        "Every figure comes from the tiny profile's small models on a CPU, none from a GPU. The other worlds are "
        "the same recipe from two other random seeds, built with an earlier version of the code. All tables: "
        "[docs/maintainers.md](docs/maintainers.md#results).", "", HEAD_END,
    ])  # fmt: skip


def _replace(text: str, start: str, end: str, block: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


STAGE_START, STAGE_END = "<!-- stages:start -->", "<!-- stages:end -->"
# (notebook, what you build, prerequisites): the course's path runs down this table
STAGES = [
    ("11_speculative", "exact speculative decoding: the loop, proved exact, its speed formula against the "
     "clock", "the course's phases 1-3 (fine-tuning, LoRA, DPO)"),
    ("11b_speculative_serving", "speculative decoding for serving: many prompts at once, and a draft distilled "
     "from your model", "11"),
    ("12a_self_instruct", "Self-Instruct: a dataset grown from a few seed tasks by the model itself, filtered, "
     "then SFT with LoRA", "11b"),
    ("12b_constitutional", "Constitutional AI: critique and revision rounds, SFT on revisions, AI feedback and "
     "DPO", "12a"),
    ("12c_rlaif", "RLAIF: a pairwise judge measured against the truth, DPO on hard, soft and confident labels",
     "12b"),
    ("13_llava", "a LLaVA-style vision-language model: CLIP, a projector, an LM, two training stages",
     "12c (a new thread: phases 1-3 suffice)"),
    ("14_capstone", "one assistant through the whole stack, evaluated, merged, then deployed: an OpenAI-compatible API, an A/B test, monitoring, a load test and a feedback loop", "11-13"),
]  # fmt: skip


def stage_table() -> str:
    """The README's table of notebooks: badge, what you build, prerequisites, study minutes (as the page's first
    cell states them, checked against `lessons.study_minutes`) and estimated T4 minutes."""
    from helpers.tools import lessons, notebooks

    times = (_load("runtime.json") or {}).get("stages", {})
    rows = [STAGE_START, "", "| notebook | what you build | study after | study (min) | T4 compute (min, estimate) | Colab |",
            "|---|---|---|---:|---:|---|"]  # fmt: skip
    for name, what, before in STAGES:
        t = times.get(name.split("_")[0], {}).get("t4")
        low, high = (f"{t[k]:.0f}" for k in ("low", "minutes")) if t else ("-", "-")
        minutes = low if low == high else f"{low}-{high}"
        path = ROOT / "notebooks" / f"{name}.ipynb"
        cells = notebooks.read_notebook(path)["cells"]
        stated = lessons.stated_minutes("".join(cells[0]["source"]))
        study = f"{stated if stated is not None else lessons.study_minutes(cells):.0f}"
        badge = notebooks.colab_badge(f"notebooks/{name}.ipynb")
        rows.append(
            f"| [{name}](notebooks/{name}.ipynb) | {what} | {before} | {study} | {minutes} | {badge} |"
        )
    return "\n".join([*rows, "", STAGE_END])


def updated_readme(text: str) -> str:
    text = _replace(text, STAGE_START, STAGE_END, stage_table())
    return _replace(text, HEAD_START, HEAD_END, headline())


def updated_docs(text: str) -> str:
    return _replace(text, START, END, render())


def main() -> None:
    # a maintainer records a CI run's time (.ci/run writes it to .cache/, untracked)
    if "--ci" in sys.argv:
        timing = Path(sys.argv[sys.argv.index("--ci") + 1])
        (RESULTS / "ci_time.json").write_text(timing.read_text())
    for path, update in ((ROOT / "README.md", updated_readme), (DOCS, updated_docs)):
        text = path.read_text()
        new = update(text)
        if "--check" in sys.argv:
            if new != text:
                sys.exit(
                    f"{path.name} results are out of date: run `python -m helpers.tools.report`"
                )
            continue
        path.write_text(new)
        print(f"{path.relative_to(ROOT)} results updated")


if __name__ == "__main__":
    main()
