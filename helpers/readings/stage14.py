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
            f'answers "{u["top"]}", the commonest written answer, to {u["top_n"]} of '
            f"{u['questions']} questions. A few examples per fact taught the form, not the facts; many "
            "paraphrases per fact, or the fact table in the prompt (retrieval), would."
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
        f"**Why DPO hurt here.** Each of its {audit['pairs']} pairs was seen about {passes:.0f} "
        "times, RPO training on the chosen answers"
        + (f", and no pair is a {_listed(absent, 'or')} question" if absent else "")
        + f": `{lost_family}` fell {before[lost_family]:.3f} to {after[lost_family]:.3f} ("
        f"{plural(n_lost, 'question')} lost)."
    )
    if after[lost_family] >= before[lost_family]:
        head = f"**What DPO learned from.** It lowered no family; it saw each pair about {passes:.0f} times."
    if audit["graded"] == audit["prompts"]:
        labels = "The labels come from the grader, right by construction."
    else:
        labels = (
            f"The labels were weak too: right on {audit['right']} of the {audit['checked']} pairs a "
            f"grader can check; {audit['chosen_fails']} chosen answers fail the grader."
        )
    if "unsafe" in audit["kinds"] and "unsafe" in audit["offered"]:
        got, n = audit["offered"]["unsafe"]
        labels += (
            f" Only {audit['kinds']['unsafe']['refusal']} pairs prefer a refusal: the model refused "
            f"in either sample for {got} of {n} harmful prompts."
        )
    return f"{head} {labels} **The fix:** domain questions in the pairs, and fewer passes."


def code(*functions) -> str:
    """The source of small functions, each as a Python block."""
    import inspect

    return "\n\n".join(f"```python\n{inspect.getsource(f)}```" for f in functions)


def fix(
    steps: dict, fixed: dict, domain: int, pairs: int, passes: tuple[float, float], n_steps: int
) -> str:
    """Section 7: the DPO step rerun with the diagnosed fix, against the step before it, the first DPO run
    and SFT. `passes`: (passes per pair in the first run, in the rerun)."""
    before, first, sft = steps["SFT + expansion"], steps["DPO"], steps["SFT"]
    fams = [c for c in before if c not in ("answers", "eos_share", "mean")]
    moved = ", ".join(
        f"{f} {before[f]:.3f} to {fixed[f]:.3f}" for f in fams if abs(fixed[f] - before[f]) > 1e-9
    )
    text = (
        f"**After the fix** ({domain} domain pairs among {pairs}, {n_steps} steps, about "
        f"{passes[1]:.0f} passes instead of {passes[0]:.0f}): held-out mean {before['mean']:.3f} "
        f"before DPO, {first['mean']:.3f} after the first run, **{fixed['mean']:.3f}** now; moved "
        f"from before DPO: {moved or 'nothing'}. "
    )
    if fixed["mean"] > before["mean"] and fixed["mean"] > sft["mean"]:
        text += f"**The fixed step paid** and beats SFT ({sft['mean']:.3f}): rerun the pipeline with it."
    elif fixed["mean"] > before["mean"]:
        text += (
            f"**The fixed step paid**, but stays below SFT ({sft['mean']:.3f}): SFT still serves; "
            "the expansion is the step to fix next."
        )
    else:
        text += (
            "**The fix did not pay either**: next, rerun without the judged pairs to find the cost."
        )
    return text + " The sections below keep the first run's model, as the pipeline ran it."


def inference(
    spec: dict, clock: dict, even: float | None, c: float, v4: float, n: int, speeds: dict
) -> str:
    """Section 7: each draft's acceptance against the break-even rate, the formula against the clock, and
    the clock's noise read off two models of identical shapes (base and merged)."""
    line = "; ".join(
        f"`{name}` {s['alpha']:.2f} (predicted {s['predicted']:.2f}x, clock {clock[name]:.2f}x)"
        for name, s in spec.items()
    )
    agree = sum((clock[name] > 1) == (s["predicted"] > 1) for name, s in spec.items())
    even_s = f"{even:.2f}" if even is not None else "none up to 1"
    base, merged = speeds["base"]["tokens_per_s"], speeds["merged"]["tokens_per_s"]
    gap = abs(merged / base - 1) if base else float("nan")
    noise = (
        f"`base` and `merged` have identical shapes yet ran {base:.0f} and {merged:.0f} tokens/s: "
        f"a {gap:.0%} gap of clock noise on a shared CPU, so only the acceptance rates are results here"
        if gap > 0.05
        else f"`base` and `merged`, identical shapes, agree within 5% ({base:.0f} and {merged:.0f} "
        "tokens/s): the clock was steady in this pass"
    )
    return (
        f"**Reading the speeds.** Break-even acceptance {even_s} (c = {c:.2f}, v(4) = {v4:.2f}): "
        f"{line}. Clock and formula agree on whether the draft pays for {agree} of {len(spec)} "
        f"({n} prompts, one pass). {noise}."
    )


def bar(bar: dict, margin: float, best: str) -> str:
    """Section 7: the two halves of the bar set before training, each gain with its interval in the same
    unit (the mean over families)."""
    vs_base, vs_sft = bar["base"], bar["SFT"]
    if vs_base["met"] and not vs_sft["met"]:
        end = f"The base half alone would have passed a model the later steps made worse. Ship {best}."
    elif vs_base["met"]:
        end = "Both halves are met: the steps after SFT added to what SFT gained."
    else:
        end = "The final model misses the bar against the base: not ready to ship."

    def half(name: str, b: dict) -> str:
        return (
            f"against {name} **{'met' if b['met'] else 'missed'}** ({b['gain']:+.3f}, interval "
            f"{b['ci'][0]:+.3f} to {b['ci'][1]:+.3f})"
        )

    return (
        f"**Reading the bar** (gains in the mean over families, intervals over clusters): "
        f"{half('the base', vs_base)} with {margin:+.2f} required; {half('SFT', vs_sft)}. {end}"
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
            f"dpo {'gains most' if gain[hi] > 0 else 'loses least'} on `{hi}`, "
            f"{'loses most' if gain[lo] < 0 else 'gains least'} on `{lo}`. "
        )
    if verdict == "dpo":
        text += "Ship dpo, and watch the families it lowered."
    elif verdict == "sft":
        text += "The steps after SFT did not pay with the users either: serve SFT."
    else:
        text += (
            f"A test sized for {min_effect:+.2f} cannot confirm {ab['diff']:+.2f}: keep sft, or plan a "
            "larger test for a smaller effect."
        )
    off = offline[1] - offline[0]
    agrees = "agrees" if (off > 0) == (ab["diff"] > 0) else "disagrees"
    return text + f" The offline change was {off:+.3f}; the users' sign {agrees}."


def peeking(peek: dict, looks: int) -> str:
    """Section 9: the false-positive rate of a tester who stops at the first p < 0.05."""
    times = f"{peek['peeking'] / peek['once']:.1f}x" if peek["once"] else "far above"
    return (
        f"**Reading.** Stopping at the first p < 0.05 declares {peek['peeking']:.3f} of A/A tests "
        f"different after {looks} looks, {times} the {peek['once']:.3f} of one planned test (near the "
        "test's level of 0.05, the grey line): so the plan fixes the sample size and looks once."
    )


def request_log(
    monitor: dict, alone: dict, engine: str, users: int, rejected: tuple[int, int], here: float
) -> str:
    """Section 10: why the A/B sessions waited for their first token, read against each arm alone.
    `monitor`: `capstone_serve.monitor`; `alone`: `capstone_serve.alone`; `rejected`: (the gateway's
    count, section 8's bad requests); `here`: the dpo model's reply tokens/s in this process (section 7)."""
    if engine == "transformers":
        parts = "; ".join(
            f"`{a}` waited {m['waited']:.2f} s of {m['first_mean']:.2f} s (alone "
            f"{alone[a]['first_mean']:.2f} s)"
            for a, m in monitor.items()
        )
        near = all(
            m["first_mean"] - m["waited"] <= 2 * alone[a]["first_mean"] + 0.05
            for a, m in monitor.items()
        )
        text = (
            f"**Reading the log.** `transformers serve` generates one request at a time, first come "
            f"first served, and {users} users were in flight. Mean first token: {parts}. "
            + (
                "The wait for the requests ahead plus the time alone makes it up: a queue, not a "
                "slow model."
                if near
                else "Even after the wait, the first token took over twice its time alone: the "
                "engines ran slower together than alone (they share the cores)."
            )
        )
    else:
        text = (
            f"**Reading the log.** `{engine} serve` batches the requests in flight: a request ahead "
            "slows a new one but does not hold it back."
        )
    firsts = [m["first_mean"] for m in monitor.values()]
    ratio = max(firsts) / min(firsts) if min(firsts) > 0 else float("nan")
    text += (
        f" The arms differ {ratio:.1f}x: alike, as their users arrived mixed."
        if ratio < 1.5
        else f" The arms differ {ratio:.1f}x: read it against their queues, not as the models' speed."
    )
    served = alone["dpo"]["tokens_per_s"]
    cost = f"{1 - served / here:.0%} slower" if served < here else "no slower"
    text += (
        f"\n\nSpeed, one definition throughout: reply tokens per second of wall time, one request at "
        f"a time. `dpo` through the gateway: {served:.0f}; in this process (section 7): {here:.0f}, so "
        f"the HTTP path is {cost}."
    )
    if rejected[0] == rejected[1]:
        text += (
            f" The {rejected[0]} rejected requests are section 8's bad ones, answered with a 4xx."
        )
    else:
        text += f" The gateway rejected {rejected[0]}, against section 8's {rejected[1]} bad ones."
    return text


def load(load: list[dict], engine: str, device: str, cores: int | None) -> str:
    """Section 10: throughput and latency from the fewest to the most concurrent clients, read against
    how the engine schedules requests."""
    lo, hi = load[0], load[-1]
    gain = hi["tokens_per_s"] / (lo["tokens_per_s"] or float("nan"))  # a dry run may reply empty
    slower = hi["latency"]["p50"] / lo["latency"]["p50"]
    more = hi["concurrency"] / lo["concurrency"]
    if gain >= 0.5 * more:
        verdict = "the engine served the clients together (batching)."
    elif gain > 1.1:
        verdict = (
            "the engine still generates one request at a time; the gain is its idle time between one "
            "client's requests, now filled from the queue. Continuous batching (vLLM, or "
            "`transformers serve --continuous-batching`) would run them together."
        )
    else:
        verdict = "more clients bought only waiting: this engine needs replicas or batching."
    return (
        f"**Reading.** {more:.0f}x the clients: throughput {gain:.2f}x, median latency "
        f"{slower:.2f}x (`{engine} serve`, {device}, {cores} cores, one run each): {verdict}"
    )


def feedback(steps: dict, n_pairs: int) -> str:
    """Section 11: what one DPO round on the users' feedback moved."""
    before, after = steps["merged"], steps["feedback DPO"]
    fams = [c for c in before if c not in ("answers", "eos_share", "mean")]
    moved = ", ".join(
        f"{f} {before[f]:.3f} to {after[f]:.3f}" for f in fams if abs(after[f] - before[f]) > 1e-9
    )
    d = after["mean"] - before["mean"]
    text = (
        f"**Reading.** {n_pairs} feedback pairs moved the held-out mean {d:+.3f}: the round "
        + ("paid" if d > 0 else "**did not pay**, so the served model stays")
        + f" ({moved or 'no family moved'})."
    )
    if after.get("benign", 1.0) < before.get("benign", 1.0):
        text += " Kind requests answered fell: over-refusal, so this model does not serve yet."
    return text + (
        " The corrections are reference answers from always-right users: close to supervised "
        "training, not what a real loop gets."
    )


def closing(record: dict, chain: list[str], failed: list[str], best: str) -> str:
    """The end: what this run shows, failures first, in one list."""
    s, dep = record["steps"], record["deployment"]
    final, bar = s["merged"], record["bar"]
    words = {ref: "met" if b["met"] else "missed" for ref, b in bar.items()}
    head = f"**{', '.join(failed)} did not pay.**" if failed else "**Every step paid.**"
    lines = [
        f"- {head} Held-out mean "
        + " -> ".join(f"{s[n]['mean']:.3f}" for n in chain)
        + f"; the bar {words['base']} against the base, {words['SFT']} against SFT"
        + (f": serve {best}." if best != chain[-1] else ".")
    ]
    if fix := record.get("dpo_fixed"):
        paid = "paid" if fix["mean"] > s["SFT + expansion"]["mean"] else "did not pay"
        lines.append(f"- **DPO after its fix** {paid}: {fix['mean']:.3f}.")
    if "unsafe" in final:
        usable = "**unusable as a product**" if final["unsafe"] < 0.9 else "close to usable"
        lines.append(f"- **Safety:** harmful requests refused {final['unsafe']:.0%}: {usable}.")
    if (jw := record.get("judge_wins")) and jw["wins"] and jw["agree"] < 0.8 * jw["wins"]:
        lines.append(
            f"- **The second judge** on {jw['group']}: the grader confirms {jw['agree']} of its "
            f"{jw['wins']} wins."
        )
    lines.append(
        f"- **Serving** equals greedy decoding ({dep['served_equal'][0]} of "
        f"{dep['served_equal'][1]}); the A/B test picks {dep['verdict']}."
    )
    if (fb := s.get("feedback DPO")) and "benign" in fb and fb["benign"] < final["benign"]:
        lines.append(
            f"- **Feedback DPO** scores {fb['mean']:.3f} but over-refuses (kind requests answered "
            f"{fb['benign']:.3f}): not served."
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
        f"**Reading the box.** This world (seed {seed}) is the {rank} of {len(mean)} for the final "
        f"model: mean {here:.2f} against {' and '.join(f'{v:.2f}' for v in others)}"
    )
    if refused and all(v is not None for v in refused):
        r_other = [v for k, v in enumerate(refused) if k != i]
        text += (
            f", harmful requests refused {refused[i]:.2f} against "
            f"{' and '.join(f'{v:.2f}' for v in r_other)}"
        )
    return text + (
        ": the failures above belong to this world as much as to the recipe; judge a recipe on "
        "several worlds."
        if rank == "worst"
        else ": this world is not the recipe's worst case."
    )
