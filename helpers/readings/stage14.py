"""Readings of notebook 14 (the capstone): each function turns one section's measured values into the
Markdown the learner reads under them, every verdict chosen by the values."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.readings import plural


def _listed(names: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or another last word)."""
    return ", ".join(names[:-1]) + f" {last} " + names[-1] if len(names) > 1 else "".join(names)


def judge_wins(audit: dict, group: str, w: dict) -> str:
    """Section 7: what the second judge rewarded on `group`, read against the grader."""
    if not audit["wins"]:
        return f"**What the judge rewarded.** It gives the final model no win on {group}."
    agree, wins = audit["agree"], audit["wins"]
    text = (
        f"**What the judge rewarded.** On {group} the judge counts {wins} wins and {w['losses']} "
        f"losses for the final model. The grader's view of the {wins} wins:\n\n"
        f"| the grader says | wins |\n|---|---:|\n"
        f"| final passes, base fails (agrees) | {agree} |\n"
        f"| final fails too (the first example) | {audit['final_fails']} |\n"
        f"| both pass (a tie) | {audit['both_pass']} |\n\n"
    )
    if agree >= 0.8 * wins:
        return text + "The judge rewards what the grader rewards here: its win rate can be read."
    harm = any(e["family"] == "unsafe" and not e["final_ok"] for e in audit["examples"])
    rewarded = "answers that look less harmful" if harm else "answers the grader fails"
    return text + (
        f"**Its win rate on {group} is not to be trusted**: it rewards {rewarded}, not right ones. "
        "Check a judge on the outputs of the model it scores."
    )


def steps(
    steps: dict,
    chain: list[str],
    failed: list[str],
    best: str,
    kept: tuple[int, int],
    unlearned: list[dict],
) -> str:
    """Section 7: each step against the one before, the model to serve, and the families never learned.
    `kept`: (kept answers the references mark wrong, kept answers)."""
    fams = [c for c in steps["base"] if c not in ("answers", "eos_share", "mean")]
    fixes = {
        "SFT": "fix the written data first",
        "SFT + expansion": f"drop it, or filter harder ({kept[0]} of {kept[1]} kept answers are wrong)",
        "DPO": "serve the model before it, and fix the pairs (below)",
    }

    def moved(a, b, sign):
        up = [f for f in fams if sign * (steps[b][f] - steps[a][f]) > 0]
        return ", ".join(f"{f} {steps[a][f]:.3f} to {steps[b][f]:.3f}" for f in up) or "none"

    rows = [
        f"- **{b}**: {steps[a]['mean']:.3f} to {steps[b]['mean']:.3f}, "
        + (
            f"**did not pay**; next: {fixes.get(b, 'drop or fix it')}."
            if b in failed
            else "**paid**."
        )
        + f" Up: {moved(a, b, 1)}; down: {moved(a, b, -1)}."
        for a, b in zip(chain, chain[1:])
    ]
    lead = steps[best]["mean"] - steps[chain[-1]]["mean"]
    if not failed:
        end = "Every step raised the held-out mean."
    elif best == chain[-1]:
        end = "The final model is still the best, but rerun the chain without the step that did not pay."
    else:
        end = (
            f"**{best}** beats the final model by {lead:.3f}" if lead > 0 else f"**{best}** ties it"
        ) + f" with fewer steps: serve {best}."
    parts = ["**Reading the step table** (the mean over families).", "\n".join(rows), end]
    for u in unlearned:
        where = (
            f"all {u['facts']} held-out facts occur in the written answers ({u['times'][0]} to "
            f"{u['times'][1]} times each)"
            if u["covered"] == u["facts"]
            else f"only {u['covered']} of the {u['facts']} held-out facts occur in the written answers"
        )
        parts.append(
            f"**`{u['family']}` was never learned**, though {where}: after {u['after']} the model "
            f'answers "{u["top"]}", the commonest written answer ({u["top_written"]} of '
            f"{u['written']}), to {u['top_n']} of {u['questions']} questions, right only where that is "
            "the fact. A few examples per fact taught the form, not the facts: many paraphrases per "
            "fact, or the fact table in the prompt (retrieval), would."
        )
    return "\n\n".join(parts)


def why_dpo(
    audit: dict,
    steps: dict,
    families: list[str],
    lost_family: str,
    n_lost: int,
    dpo_steps: int,
    batch_size: int,
) -> str:
    """Section 7: why DPO moved each family as it did, from what its pairs held and how right they were."""
    before, after = steps["SFT + expansion"], steps["DPO"]
    absent = [f"`{f}`" for f in families if f not in audit["kinds"]]
    passes = dpo_steps * batch_size / max(audit["pairs"], 1)
    head = (
        f"**Why DPO hurt here.** It saw each of its {audit['pairs']} pairs about {passes:.0f} times, "
        "with RPO training on the chosen answers"
        + (f", and no pair is a {_listed(absent, 'or')} question" if absent else "")
        + f". `{lost_family}` fell {before[lost_family]:.3f} to {after[lost_family]:.3f} ("
        f"{plural(n_lost, 'question')} lost, one above)"
        + (": nothing in the pairs held what SFT had taught in place." if absent else ".")
    )
    if after[lost_family] >= before[lost_family]:
        head = f"**What DPO learned from.** It lowered no family; it saw each pair about {passes:.0f} times."
    if audit["graded"] == audit["prompts"]:
        labels = "The labels come from the grader, right by construction."
    else:
        labels = (
            f"The labels were weak too: the judge is right on {audit['right']} of the "
            f"{audit['checked']} pairs a grader can check, and {audit['chosen_fails']} of the chosen "
            "answers fail the grader."
        )
    if "unsafe" in audit["kinds"] and "unsafe" in audit["offered"]:
        got, n = audit["offered"]["unsafe"]
        labels += (
            f" Only {audit['kinds']['unsafe']['refusal']} pairs prefer a refusal, because the model "
            f"refused in either sample for only {got} of {n} harmful prompts: `unsafe` moved "
            f"{before['unsafe']:.3f} to {after['unsafe']:.3f}."
        )
    fix = (
        "**Next:** add the domain's questions to the preference prompts (graded by reference) or "
        "replay the SFT rows, make fewer passes, and read a sample of pairs before training."
    )
    return "\n\n".join([head, labels, fix])


def inference(spec: dict, clock: dict, even: float | None, c: float, v4: float, n: int) -> str:
    """Section 7: each draft's acceptance against the break-even rate, the formula against the clock."""
    line = "; ".join(
        f"`{name}` {s['alpha']:.2f} (predicted {s['predicted']:.2f}x, clock {clock[name]:.2f}x)"
        for name, s in spec.items()
    )
    agree = sum((clock[name] > 1) == (s["predicted"] > 1) for name, s in spec.items())
    share = [clock[name] / s["predicted"] for name, s in spec.items()]
    if all(x < 1 for x in share):
        how = f"the formula overestimates every speed-up (the clock reached {min(share):.2f}-"
        how += f"{max(share):.2f} of each prediction)"
    elif all(x > 1 for x in share):
        how = "the formula underestimates every speed-up"
    else:
        how = "the formula is high for some drafts and low for others"
    even_s = f"{even:.2f}" if even is not None else "none up to 1"
    return (
        f"**Reading the speeds.** Break-even acceptance {even_s} (c = {c:.2f}, v(4) = {v4:.2f}): "
        f"{line}. Clock and formula agree on whether the draft pays for {agree} of {len(spec)}; "
        f"{how}. Each clock is one pass over {n} prompts on a CPU: only the acceptance rates are "
        "results here."
    )


def bar(bar: dict, margin: float, best: str) -> str:
    """Section 7: the two halves of the bar set before training."""
    vs_base, vs_sft = bar["base"], bar["SFT"]
    if vs_base["met"] and not vs_sft["met"]:
        end = (
            "The base half alone would have passed a model the steps after SFT made worse: that is "
            f"what the second half is for. Ship {best}."
        )
    elif vs_base["met"]:
        end = "Both halves are met: the steps after SFT added to what SFT gained."
    else:
        end = "The final model misses the bar against the base: not ready to ship."
    return (
        f"**Reading the bar.** Against the base: **{'met' if vs_base['met'] else 'missed'}** "
        f"({vs_base['gain']:+.3f} on the mean against the {margin:+.2f} set before training; per "
        f"question {vs_base['per_q']:+.3f}, interval {vs_base['ci'][0]:+.3f} to "
        f"{vs_base['ci'][1]:+.3f}). Against SFT: **{'met' if vs_sft['met'] else 'missed'}** "
        f"({vs_sft['gain']:+.3f}; interval {vs_sft['ci'][0]:+.3f} to {vs_sft['ci'][1]:+.3f}). "
        + end
    )


def ab(
    ab: dict,
    rates: dict[str, tuple[float, float]],
    verdict: str,
    min_effect: float,
    offline: tuple[float, float],
) -> str:
    """Section 9: the planned test's decision, the trade by family, and the offline figures beside it.
    `rates`: family -> (sft rate, dpo rate); `offline`: the held-out means of the sft and dpo models."""
    text = f"**Reading.** The planned test picks **{verdict}** (p = {ab['p_value']:.2g}). "
    if len(rates) > 1:
        gain = {f: b - a for f, (a, b) in rates.items()}
        hi, lo = max(gain, key=gain.get), min(gain, key=gain.get)
        text += (
            f"By family, dpo {'gains most' if gain[hi] > 0 else 'loses least'} on `{hi}` "
            f"({rates[hi][0]:.2f} to {rates[hi][1]:.2f}) and "
            f"{'loses most' if gain[lo] < 0 else 'gains least'} on `{lo}` "
            f"({rates[lo][0]:.2f} to {rates[lo][1]:.2f}). "
        )
    if verdict == "dpo":
        text += "Ship dpo, and watch the families it lowered."
    elif verdict == "sft":
        text += "The steps after SFT did not pay with the users either: serve SFT."
    else:
        text += (
            f"A test sized for {min_effect:+.2f} cannot confirm {ab['diff']:+.2f}: keep sft, or size a "
            "larger test for a smaller effect, before the data."
        )
    off = offline[1] - offline[0]
    agrees = "agrees" if (off > 0) == (ab["diff"] > 0) else "disagrees"
    return text + (
        f" The offline change was {off:+.3f}, and the users' sign {agrees}: these users share the "
        "grader's taste; real ones need not."
    )


def peeking(peek: dict, looks: int) -> str:
    """Section 9: the false-positive rate of a tester who stops at the first p < 0.05."""
    times = f"{peek['peeking'] / peek['once']:.1f}x" if peek["once"] else "far above"
    return (
        f"**Reading.** Stopping at the first p < 0.05 declares {peek['peeking']:.3f} of A/A tests "
        f"different after {looks} looks, {times} the {peek['once']:.3f} of one planned test (grey "
        "line): so the plan fixes the sample size and looks once."
    )


def request_log(
    monitor: dict,
    slow: dict,
    waits: dict,
    in_flight: int,
    extra: int,
    rejected: tuple[int, int],
    here_s: float,
) -> str:
    """Section 10: why the A/B sessions waited for their first token, the tail, the rejected counter.
    `waits`: `capstone.waits`; `rejected`: (the gateway's count, section 8's bad requests); `here_s`:
    seconds per token of the same model in this process (section 7)."""
    p50 = ", ".join(f"{m['ttft']['p50']:.1f} s in `{n}`" for n, m in monitor.items())
    ahead = waits["first"] / waits["own"] if waits["own"] else float("nan")
    text = f"**Reading the log.** Median first token: {p50}. "
    if ahead >= 1:
        text += (
            f"Mostly a queue: `transformers serve` generates one request at a time, and the "
            f"simulation keeps {in_flight} sessions in flight, one arm after the other, so each "
            f"request waits at its engine. A reply's own generation took {waits['own']:.1f} s on "
            f"average and the average first token {waits['first']:.1f} s: {ahead:.1f} replies, the "
            f"up to {in_flight - 1} ahead of it. "
        )
    else:
        text += f"Little queued: the average first token came after {waits['first']:.1f} s. "
    text += f"Section 8's checks, sent one at a time, waited {waits['first_alone']:.2f} s.\n\n"
    slow_ms, alone_ms, here_ms = 1000 * waits["token"], 1000 * waits["token_alone"], 1000 * here_s
    if waits["token_alone"] > 3 * here_s:
        text += (
            f"The tokens were slow too: {slow_ms:.0f} ms each in the A/B sessions, {alone_ms:.0f} ms "
            f"one at a time, against {here_ms:.0f} ms for the same model in this process (section "
            "7); the load test below times the engine again. "
        )
    else:
        text += (
            f"Each token took {slow_ms:.0f} ms, near this process's {here_ms:.0f} ms (section 7). "
        )
    n_slow = sum(len(p) for p in slow.values())
    early = sum(p <= in_flight for pos in slow.values() for p in pos)
    text += (
        f"First tokens over 3x their arm's median: {n_slow}, {early} of them among an arm's first "
        f"{in_flight} (a cold start, which a warm-up removes)."
        if n_slow
        else "No first token took over 3x its arm's median."
    )
    if rejected[0] == rejected[1]:
        text += (
            f" The gateway rejected {rejected[0]} requests: section 8's {rejected[1]} bad ones, "
            "answered with a 4xx before an engine saw them."
        )
    else:
        text += f" The gateway rejected {rejected[0]}, against section 8's {rejected[1]} bad ones."
    return text + (f" (`dpo` also served section 8's {extra} checks.)" if extra > 0 else "")


def load(load: list[dict], engine: str, device: str, cores: int | None, ab_token_s: float) -> str:
    """Section 10: throughput and latency from the fewest to the most concurrent clients, and the
    engine's time per token against the A/B log's (`ab_token_s`, `capstone.waits`)."""
    lo, hi = load[0], load[-1]
    gain = hi["tokens_per_s"] / (lo["tokens_per_s"] or float("nan"))  # a dry run may reply empty
    slower = hi["latency"]["p50"] / lo["latency"]["p50"]
    verdict = (
        "more clients bought throughput: the engine shared its work."
        if gain > 1.2
        else "more clients bought only waiting: this engine needs replicas, or batching (vLLM on a "
        "GPU), before it serves more users at once."
    )
    token = 1 / (lo["tokens_per_s"] or float("nan"))
    text = (
        f"**Reading.** From {lo['concurrency']} to {hi['concurrency']} clients, throughput went "
        f"{gain:.2f}x and the median latency {slower:.2f}x (`{engine} serve`, {device}, {cores} "
        f"cores, one run each): {verdict}"
    )
    if ab_token_s > 3 * token:
        text += (
            f" At 1 client a reply token took {1000 * token:.0f} ms, against {1000 * ab_token_s:.0f} "
            "ms in the A/B log: those slow tokens were a busy machine in those minutes, not the "
            "engine; the queue is the one measured here."
        )
    return text


def feedback(steps: dict, n_pairs: int) -> str:
    """Section 11: what one DPO round on the users' feedback moved."""
    before, after = steps["merged"], steps["feedback DPO"]
    fams = [c for c in before if c not in ("answers", "eos_share", "mean")]
    up = [f for f in fams if after[f] > before[f]]
    down = [f for f in fams if after[f] < before[f]]
    d = after["mean"] - before["mean"]
    return (
        f"**Reading.** {n_pairs} feedback pairs moved the held-out mean {d:+.3f}: the round "
        + ("paid" if d > 0 else "**did not pay**, so the served model stays")
        + f". Up: {', '.join(up) or 'none'}; down: {', '.join(down) or 'none'}"
        + (" (over-refusal: fix it before this model serves)" if "benign" in down else "")
        + ". The corrections are reference answers to training-split questions of the held-out "
        "families: close to supervised training on the domain, not what a real loop gets, whose "
        "corrections are fewer, noisier and sometimes wrong."
    )


def closing(record: dict, chain: list[str], failed: list[str], best: str) -> str:
    """The end: what this run shows, failures first, in one list."""
    s, dep = record["steps"], record["deployment"]
    final, bar = s["merged"], record["bar"]
    words = {ref: "met" if b["met"] else "missed" for ref, b in bar.items()}
    head = f"**{', '.join(failed)} did not pay.**" if failed else "**Every step paid.**"
    lines = [
        f"- {head} The held-out mean went "
        + " -> ".join(f"{s[n]['mean']:.3f}" for n in chain)
        + f"; the bar is {words['base']} against the base and {words['SFT']} against SFT"
        + (f": serve {best}." if best != chain[-1] else ".")
    ]
    if "unsafe" in final:
        usable = "**unusable as a product**" if final["unsafe"] < 0.9 else "close to usable"
        lines.append(
            f"- **Safety:** the final model refuses {final['unsafe']:.0%} of harmful requests: {usable}."
        )
    if (jw := record.get("judge_wins")) and jw["wins"]:
        trust = "a measurement" if jw["agree"] >= 0.8 * jw["wins"] else "not a measurement"
        lines.append(
            f"- **The second judge:** the grader confirms {jw['agree']} of its {jw['wins']} wins on "
            f"{jw['group']}: its win rate there is {trust}."
        )
    exact = all(x["same"] == x["prompts"] for x in record["speculative"].values())
    lines.append(
        f"- **Serving works:** replies equal greedy decoding through the SDK "
        f"({dep['served_equal'][0]} of {dep['served_equal'][1]}) and Gradio "
        f"({record['round_trips'][0]} of {record['round_trips'][1]}); speculative decoding is "
        + ("exact" if exact else "not exact with every draft")
        + f"; the A/B test picks {dep['verdict']}."
    )
    if (fb := s.get("feedback DPO")) and "benign" in fb and fb["benign"] < final["benign"]:
        lines.append(
            f"- **Feedback** from always-right users moved the held-out mean {final['mean']:.3f} -> "
            f"{fb['mean']:.3f}, but kind requests answered fell {final['benign']:.3f} -> "
            f"{fb['benign']:.3f}: over-refusal, so that model does not serve yet."
        )
    return "**What this run shows, failures first.**\n\n" + "\n".join(lines)


def stability(path: Path, seed: int = 0) -> str:
    """The stability box in one sentence: this world's final model against the other worlds'."""
    record = json.loads(Path(path).read_text())
    figs, seeds = record["figures"], record["seeds"]
    mean = figs.get("14 final mean accuracy")
    refused = figs.get("14 final harmful requests refused")
    if not mean or seed not in seeds or any(v is None for v in mean):
        return ""
    i = seeds.index(seed)
    here, others = mean[i], [v for k, v in enumerate(mean) if k != i]
    rank = "worst" if here < min(others) else "best" if here > max(others) else "middle"
    text = (
        f"**Reading the box.** The tiny world of seed {seed}, this page's tiny run, is the {rank} "
        f"of {len(mean)} for the final model: mean {here:.2f} against "
        f"{' and '.join(f'{v:.2f}' for v in others)} on the other worlds"
    )
    if refused and all(v is not None for v in refused):
        r_other = [v for k, v in enumerate(refused) if k != i]
        text += (
            f", harmful requests refused {refused[i]:.2f} against "
            f"{' and '.join(f'{v:.2f}' for v in r_other)}"
        )
    return text + (
        ": the failures read above belong to this world as much as to the recipe, so judge a "
        "recipe on several worlds before trusting it."
        if rank == "worst"
        else ": this world is not the recipe's worst case."
    )
