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
        f"Its {w['losses']} losses are the judge's count too, not the grader's: the step table shows "
        "what the final model lost. The other groups' win rates are not audited here. Check a judge "
        "on the outputs of the model it scores."
    )


def steps(
    steps: dict,
    chain: list[str],
    cis: dict,
    best: str,
    kept: tuple[int, int],
    unlearned: list[dict],
    sizes: dict[str, int],
) -> str:
    """Section 7: each step against the one before, with its interval, and the families never learned.
    `cis`: step -> (gain, 95% cluster interval); `kept`: (kept answers the references mark wrong, kept
    answers); `sizes`: family -> held-out questions."""
    fams = [c for c in steps["base"] if c not in ("answers", "eos_share", "mean")]
    fixes = {
        "SFT": "fix the written data first",
        "SFT + expansion": f"drop it, or filter harder ({kept[0]} of {kept[1]} kept answers are wrong)",
        "DPO": "fix the pairs (below)",
    }

    def moved(a, b, sign):
        up = [f for f in fams if sign * (steps[b][f] - steps[a][f]) > 0]
        return (
            ", ".join(
                f"{f} {steps[a][f]:.3f} to {steps[b][f]:.3f} "
                f"({round((steps[b][f] - steps[a][f]) * sizes[f]):+d} of {sizes[f]})"
                for f in up
            )
            or "none"
        )

    def verdict(b):
        lo, hi = cis[b][1]
        if lo > 0:
            return "**paid**."
        if hi < 0:
            return f"**did not pay**, beyond noise; next: {fixes.get(b, 'drop or fix it')}."
        return "**within noise**: the interval holds zero; more held-out questions would tell."

    rows = [
        f"- **{b}**: {steps[a]['mean']:.3f} to {steps[b]['mean']:.3f} "
        f"(interval {cis[b][1][0]:+.3f} to {cis[b][1][1]:+.3f}), {verdict(b)}"
        + f" Up: {moved(a, b, 1)}; down: {moved(a, b, -1)}."
        for a, b in zip(chain, chain[1:])
    ]
    end = (
        f"**{best}** has the best mean; the bar below, with its safety floor, decides what serves."
    )
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


NAMES = {"unsafe": "harmful refused", "benign": "kind answered"}


def floor_words(floor: dict[str, float]) -> str:
    """The floor in words: 'harmful refused >= 0.80, kind answered >= 0.80'."""
    return ", ".join(f"{NAMES.get(f, f)} >= {v:.2f}" for f, v in floor.items())


def fix(
    steps: dict,
    fixed: dict,
    counts: tuple[int, int, float, float],
    ci: tuple[float, tuple[float, float]],
    short: list[str],
    floor: dict[str, float],
    sizes: dict[str, int],
) -> str:
    """Section 7: the DPO step rerun with the diagnosed fix, every family printed, its gain's interval
    and the floor. `counts`: (domain pairs, all pairs, passes per pair before, now); `short`: the
    families below the floor."""
    before, first = steps["SFT + expansion"], steps["DPO"]
    fams = [c for c in before if c not in ("answers", "eos_share", "mean")]
    figs = ", ".join(
        f"{NAMES.get(f, f)} {fixed[f]:.3f} ({round(fixed[f] * sizes[f])} of {sizes[f]})"
        for f in fams
    )
    lo, hi = ci[1]
    paid = "paid" if lo > 0 else "did not pay, beyond noise" if hi < 0 else "is within noise"
    text = (
        f"**After the fix** ({counts[0]} domain pairs among {counts[1]}, about {counts[3]:.0f} passes "
        f"instead of {counts[2]:.0f}): held-out mean {before['mean']:.3f} before DPO, "
        f"{first['mean']:.3f} after the first run, **{fixed['mean']:.3f}** now ({figs}). The "
        f"gain over the step before ({ci[0]:+.3f}, interval {lo:+.3f} to {hi:+.3f}) {paid}. "
    )
    if short:
        text += (
            f"It is **below the floor** ({floor_words(floor)}) on {', '.join(short)}: the fix brought "
            "answers back but lost what DPO was for here, refusing harm; next, more refusal pairs."
        )
    else:
        text += "It meets the floor: rerun the pipeline with it."
    return text + " The sections below keep the first run's model, as the pipeline ran it."


def inference(
    spec: dict, clock: dict, even: float | None, c: float, v4: float, n: int, speeds: dict
) -> str:
    """Section 7: each draft's acceptance against the break-even rate, the formula against the clock; one
    rule for noise: a gap counts only beyond the larger spread of the two passes (their halves' gap)."""
    noise = max(s.get("spread", 0.0) for s in speeds.values())

    def read(x: float) -> str:
        return "within noise" if abs(x - 1) <= noise else "faster" if x > 1 else "slower"

    line = "; ".join(
        f"`{name}` {s['alpha']:.2f} (predicted {s['predicted']:.2f}x, clock {clock[name]:.2f}x: "
        f"{read(clock[name])})"
        for name, s in spec.items()
    )
    even_s = f"{even:.2f}" if even is not None else "none up to 1"
    base, merged = speeds["base"]["tokens_per_s"], speeds["merged"]["tokens_per_s"]
    gap = merged / base if base else float("nan")
    same = (
        "within it: clock noise"
        if read(gap) == "within noise"
        else "beyond it: a result of this pass (the two write different replies), not of their shapes"
    )
    return (
        f"**Reading the speeds.** Tokens/s means reply tokens per second of wall time, one request "
        f"at a time ({n} prompts, one pass); its noise is the largest spread, {noise:.0%}, between "
        f"a pass's two halves. Break-even acceptance {even_s} (c = {c:.2f}, v(4) = {v4:.2f}): {line}. "
        f"`base` and `merged`, identical shapes, ran {base:.0f} and {merged:.0f} tokens/s, a gap "
        f"{same}.{_recipes(spec)} A self-draft's weights MB are a copy of the first layers, "
        "embeddings and head: distilling changes them, so they cannot be shared as LayerSkip shares them."
    )


def _recipes(spec: dict) -> str:
    """One sentence on stage 11's two distillation recipes, chosen by their acceptance rates."""
    seq, on = spec.get("distilled draft"), spec.get("on-policy draft")
    if not (seq and on):
        return ""
    if on["alpha"] < seq["alpha"]:
        return (
            f" On-policy DistillSpec accepts {on['alpha']:.2f} against the sequence-level draft's "
            f"{seq['alpha']:.2f}: trained on its own samples, the draft saw less of the target's greedy "
            "path, which greedy verification checks, in the same steps."
        )
    return (
        f" On-policy DistillSpec accepts {on['alpha']:.2f}, at least the sequence-level draft's "
        f"{seq['alpha']:.2f}: training on its own samples paid here."
    )


def bar(bar: dict, margin: float, floor: dict, serve: str | None, short: dict) -> str:
    """Section 7: the two halves of the bar, each gain with its interval (the mean over families), the
    safety floor set with them, and what serves. `short`: model -> families below the floor."""
    vs_base, vs_sft = bar["base"], bar["SFT"]

    def half(name: str, b: dict) -> str:
        ok = b["gain"] >= margin and b["ci"][0] > 0 if name == "the base" else b["gain"] > 0
        return (
            f"against {name} {'above' if ok else 'below'} ({b['gain']:+.3f}, interval "
            f"{b['ci'][0]:+.3f} to {b['ci'][1]:+.3f})"
        )

    fails = "; ".join(f"{n} on {', '.join(f)}" for n, f in short.items() if f) or "none"
    text = (
        f"**Reading the bar** (gains in the mean over families, intervals over clusters): "
        f"{half('the base', vs_base)} with {margin:+.2f} required; {half('SFT', vs_sft)}. "
        f"The floor ({floor_words(floor)}) fails: {fails}. The bar is "
        f"**{'met' if vs_base['met'] and vs_sft['met'] else 'missed'}**. "
    )
    if serve is None:
        return text + (
            "**Nothing ships**: no model meets the floor, whatever its mean. Next: the safety data "
            "(more refusal pairs, a refusal in the SFT rows) before any other step."
        )
    return text + f"**Serve {serve}**, the best mean that meets the floor."


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
        text += "The steps after SFT did not pay with the users either."
    else:
        text += (
            f"A test sized for {min_effect:+.2f} cannot confirm {ab['diff']:+.2f}: neither arm is "
            "shown better; a smaller effect needs a larger test."
        )
    off = offline[1] - offline[0]
    agrees = "agrees" if (off > 0) == (ab["diff"] > 0) else "disagrees"
    return text + f" The offline change was {off:+.3f}; the users' sign {agrees}."


def peeking(peek: dict, looks: int) -> str:
    """Section 9: the false-positive rate of a tester who stops at the first p < 0.05."""
    times = f"{peek['peeking'] / peek['once']:.1f}x" if peek["once"] else "far above"
    return (
        f"**Reading.** Stopping at the first p < 0.05 declares {peek['peeking']:.3f} of A/A tests "
        f"different after {looks} looks (the curve's last point), {times} the {peek['once']:.3f} of "
        "one planned look at the full sample (near the test's level of 0.05, the grey line; the "
        "curve's first point is one look after the first batch, a smaller sample): so the plan fixes "
        "the sample size and looks once."
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
    slow = max(alone, key=lambda a: alone[a]["reply_mean"])
    fast = min(alone, key=lambda a: alone[a]["reply_mean"])
    if ratio >= 1.5 and slow != fast:
        text += (
            f" `{slow}` queues longer because its replies take longer even alone "
            f"({alone[slow]['reply_mean']:.2f} s against {alone[fast]['reply_mean']:.2f} s): a queue "
            "multiplies a difference in service time."
        )
    text += (
        "\n\nThe alone figures are timed through HTTP and the gateway, a different path from "
        f"section 7's in-process tokens/s ({here:.0f} for `dpo`): they are not compared here."
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


def feedback(steps: dict, n_pairs: int, fams: dict[str, dict[str, int]], short: list[str]) -> str:
    """Section 11: what one DPO round on the users' feedback moved, traced to the families its pairs
    hold. `fams`: `capstone_serve.pair_families`; `short`: the families below the floor."""
    before, after = steps["merged"], steps["feedback DPO"]
    moved = ", ".join(
        f"{NAMES.get(f, f)} {before[f]:.3f} to {after[f]:.3f}"
        for f in fams
        if f in after and abs(after[f] - before[f]) > 1e-9
    )
    held = ", ".join(f"{f} {c['pairs']} ({c['refusal']} choose a refusal)" for f, c in fams.items())
    none = [f for f, c in fams.items() if not c["pairs"]]
    d = after["mean"] - before["mean"]
    text = (
        f"**Reading.** {n_pairs} feedback pairs moved the held-out mean {d:+.3f} ({moved or 'nothing'})."
        f" The pairs by family: {held}."
    )
    if none:
        text += (
            f" No pair is a `{'`, `'.join(none)}` request (no reply there got a thumbs down): as in "
            "section 7, a family with no pairs is not held, and DPO pushed toward the refusals "
            "it was shown."
        )
    if short:
        return text + f" Below the floor on {', '.join(short)}: **not served**, whatever its mean."
    return text + (
        " It meets the floor; its corrections are reference answers from always-right users, "
        "close to supervised training: an A/B test must confirm it before it serves."
    )


def closing(record: dict, chain: list[str], failed: list[str]) -> str:
    """The end: what this run shows, failures first, in one list; what serves follows the bar's floor."""
    s, dep, serve = record["steps"], record["deployment"], record["serve"]
    head = f"**{', '.join(failed)} did not pay** (beyond noise)." if failed else "**No step lost.**"
    ship = f"serve {serve}." if serve else "**nothing ships**: no model meets the safety floor."
    lines = [
        f"- {head} Held-out mean " + " -> ".join(f"{s[n]['mean']:.3f}" for n in chain) + f"; {ship}"
    ]
    if fix := record.get("dpo_fixed"):
        refused = f", harmful refused {fix['unsafe']:.3f}" if "unsafe" in fix else ""
        lines.append(f"- **DPO after its fix**: {fix['mean']:.3f}{refused}.")
    if "unsafe" in s["merged"]:
        lines.append(
            "- **Harmful refused** by step: "
            + ", ".join(f"{n} {s[n]['unsafe']:.2f}" for n in chain)
            + f" (floor {record['floor']['unsafe']:.2f})."
        )
    if (jw := record.get("judge_wins")) and jw["wins"]:
        lines.append(
            f"- **The second judge** on {jw['group']}: the grader confirms {jw['agree']} of its "
            f"{jw['wins']} wins; its other win rates are not audited."
        )
    lines.append(
        f"- **Serving** equals greedy decoding ({dep['served_equal'][0]} of "
        f"{dep['served_equal'][1]}); the A/B test picks {dep['verdict']}."
    )
    if (fb := s.get("feedback DPO")) and "benign" in fb:
        lines.append(
            f"- **Feedback DPO** scores {fb['mean']:.3f}, kind requests answered {fb['benign']:.3f}"
            + (
                ": below the floor, not served."
                if fb["benign"] < record["floor"]["benign"]
                else "."
            )
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
