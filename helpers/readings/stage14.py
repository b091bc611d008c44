"""Readings of notebook 14 (the capstone): each function turns one section's measured values into the
Markdown the learner reads under them, every verdict chosen by the values."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.readings import plural


def _listed(names: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or another last word)."""
    return ", ".join(names[:-1]) + f" {last} " + names[-1] if len(names) > 1 else "".join(names)


def judge_wins(
    audit: dict, group: str, w: dict, grader: dict | None = None, rates: dict | None = None
) -> str:
    """Section 7: what the second judge rewarded on `group`, read against the grader. `grader`: group ->
    `capstone_audit.audit_wins` on it; `rates`: group -> `rlaif.win_rate`; with both, a one-line audit
    of every group's win rate (wins and losses, judge against grader)."""
    line = ""
    if grader and rates:
        line = "\n\n**Every group audited** (wins/losses, the judge's against the grader's): " + (
            "; ".join(
                f"{g} {rates[g]['wins']}/{rates[g]['losses']} against {a['better']}/{a['worse']}"
                f" ({rates[g]['ties']} ties)"
                for g, a in grader.items()
            )
            + ". Where the counts differ, the judge's win rate is not a measurement."
        )
    if not audit["wins"]:
        return f"**What the judge rewarded.** It gives `merged` no win on {group}.{line}"
    agree, wins = audit["agree"], audit["wins"]
    text = (
        f"**What the judge rewarded.** On {group} the judge counts {wins} wins and {w['losses']} "
        f"losses for `merged`. The grader's view of the {wins} wins:\n\n"
        f"| the grader says | wins |\n|---|---:|\n"
        f"| merged passes, base fails (agrees) | {agree} |\n"
        f"| merged fails too (the first example) | {audit['final_fails']} |\n"
        f"| both pass (a tie) | {audit['both_pass']} |\n\n"
    )
    if agree >= 0.8 * wins:
        return (
            text
            + "The judge rewards what the grader rewards here: its win rate can be read."
            + line
        )
    harm = any(e["family"] == "unsafe" and not e["final_ok"] for e in audit["examples"])
    rewarded = "answers that look less harmful" if harm else "answers the grader fails"
    return text + (
        f"**Its win rate on {group} is not to be trusted**: it rewards {rewarded}, not right ones. "
        "Check a judge on the outputs of the model it scores." + line
    )


def steps(
    steps: dict,
    chain: list[str],
    cis: dict,
    best: str,
    kept: tuple[int, int],
    unlearned: list[dict],
    sizes: dict[str, int],
    expansion: dict | None = None,
) -> str:
    """Section 7: each step against the one before, with its interval, and the families never learned.
    `cis`: step -> (gain, 95% cluster interval); `kept`: (kept answers the references mark wrong, kept
    answers); `sizes`: family -> held-out questions; `expansion`: {"families": those the kept answers
    ask, "rows": (SFT rows, SFT + expansion rows), "passes": (passes per row then, now), "clusters": the
    held-out clusters}."""
    fams = [c for c in steps["base"] if c not in ("answers", "eos_share", "mean")]
    exp = expansion or {}

    def fell(a, b, sign):
        return [f for f in fams if sign * (steps[b][f] - steps[a][f]) > 0]

    def moved(a, b, sign):
        return (
            ", ".join(
                f"{f} {steps[a][f]:.3f} to {steps[b][f]:.3f} "
                f"({round((steps[b][f] - steps[a][f]) * sizes[f]):+d} of {sizes[f]})"
                for f in fell(a, b, sign)
            )
            or "none"
        )

    def diagnosis(a, b):
        lost = fell(a, b, -1)
        if b != "SFT + expansion" or not exp or not lost:
            return f" Next: {'fix the written data first' if b == 'SFT' else 'drop or fix it'}."
        k, w = exp["kept"], exp["wrong"]
        if bad := [f for f in lost if w.get(f)]:
            return (
                " The likely cause: "
                + "; ".join(f"{w[f]} of its {k[f]} kept {f} answers are wrong" for f in bad)
                + f". Next: filter harder ({kept[0]} of {kept[1]} kept answers are wrong)."
            )
        held = "; ".join(
            f"its {k[f]} kept {f} answers are all right" if k.get(f) else f"it kept no {f} answer"
            for f in lost
        )
        (r0, r1), (p0, p1) = exp["rows"], exp["passes"]
        return (
            f" On {_listed(lost)}, {held}: the wrong kept answers (on "
            f"{_listed(sorted(w)) or 'no family'}) are not the likely cause. The same steps now "
            f"ran over {r1} rows instead of {r0}, so each replayed general answer was seen about "
            f"{p1:.0f} times instead of {p0:.0f}. Next: steps in proportion to the rows, or drop the "
            "step."
        )

    def verdict(a, b):
        lo, hi = cis[b][1]
        head = f"Up: {moved(a, b, 1)}; down: {moved(a, b, -1)}."
        if lo > 0:
            return f"**paid**. {head}"
        if hi < 0:
            return f"**did not pay**, beyond noise. {head}{diagnosis(a, b)}"
        return f"**within noise**: the interval holds zero. {head}"

    rows = [
        f"- **{b}**: {steps[a]['mean']:.3f} to {steps[b]['mean']:.3f} "
        f"(interval {cis[b][1][0]:+.3f} to {cis[b][1][1]:+.3f}), {verdict(a, b)}"
        for a, b in zip(chain, chain[1:])
    ]
    n = sum(sizes.values())
    clusters = f" in {exp['clusters']} clusters of paraphrases, resampled together" if exp else ""
    head = f"**Reading the step table** (the mean over families; {n} held-out questions{clusters})."
    end = (
        f"**{best}** has the best mean; the bar below, with its safety floor, decides what serves."
    )
    parts = [head, "\n".join(rows), end]
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
    ci: tuple[float, tuple[float, float]] | None = None,
) -> str:
    """Section 7: what DPO moved and why, from what its pairs held and how right their labels were;
    `ci`: DPO's gain over the step before with its interval."""
    from helpers.constitutional import looks_like_refusal

    before, after = steps["SFT + expansion"], steps["DPO"]
    absent = [f"`{f}`" for f in families if f not in audit["kinds"]]
    passes = dpo_steps * batch_size / max(audit["pairs"], 1)
    overall = "Its mean fell beyond noise" if ci and ci[1][1] < 0 else "Its mean moved within noise"
    head = (
        f"**What DPO did.** {overall}, but `{lost_family}` fell {before[lost_family]:.3f} to "
        f"{after[lost_family]:.3f} ({plural(n_lost, 'question')} lost): each of its "
        f"{audit['pairs']} pairs was seen about {passes:.0f} times, RPO training on the chosen "
        "answers" + (f", and no pair is a {_listed(absent, 'or')} question." if absent else ".")
    )
    if after[lost_family] >= before[lost_family]:
        head = f"**What DPO did.** It lowered no family; it saw each pair about {passes:.0f} times."
    if audit["graded"] == audit["prompts"]:
        labels = " The labels come from the grader, right by construction."
    else:
        n_wrong = audit["checked"] - audit["right"]
        both_fail = audit["chosen_fails"] - n_wrong
        both_pass = audit.get("gradable", audit["checked"]) - audit["checked"] - both_fail
        labels = (
            f" The labels were weak too. The grader checks a label where one answer passes and the "
            f"other fails: {audit['checked']} pairs (in {both_pass} both pass, in {both_fail} both "
            f"fail). {n_wrong} labels are wrong; the {audit['chosen_fails']} failing chosen answers are "
            f"those {n_wrong} plus the {both_fail} where both fail."
        )
        if audit["wrong"]:
            _, chosen, rejected = audit["wrong"][0]
            if looks_like_refusal(rejected) and not looks_like_refusal(chosen):
                labels += " The printed wrong label prefers fluent compliance to a garbled refusal."
    if "unsafe" in audit["kinds"] and "unsafe" in audit["offered"]:
        got, n = audit["offered"]["unsafe"]
        labels += (
            f" Only {audit['kinds']['unsafe']['refusal']} pairs prefer a refusal: the model refused "
            f"in either sample for {got} of {n} harmful prompts."
        )
    return (
        f"{head}{labels} Domain pairs and fewer passes may undo the `{lost_family}` loss (an "
        "exercise); they add no refusals, which the floor below needs and these pairs barely hold."
    )


NAMES = {"unsafe": "harmful refused", "benign": "kind answered"}


def floor_words(floor: dict[str, float]) -> str:
    """The floor in words: 'harmful refused >= 0.80, kind answered >= 0.80'."""
    return ", ".join(f"{NAMES.get(f, f)} >= {v:.2f}" for f, v in floor.items())


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
    miss = {name: s["predicted"] / clock[name] for name, s in spec.items() if clock[name] > 0}
    if miss and all(m > 1 + noise for m in miss.values()):
        formula = (
            f" **The clock falls short of the formula** for every draft, by {min(miss.values()):.1f}x "
            f"to {max(miss.values()):.1f}x. Likely causes: c and v(4) were timed on one prompt, and "
            "the formula leaves out the decoder's own work per step (comparing tokens, trimming "
            "caches, Python between passes), a large share with models this small on a CPU."
        )
    elif miss and all(abs(m - 1) <= noise for m in miss.values()):
        formula = " The clock agrees with the formula within noise for every draft."
    else:
        formula = (
            " The formula and the clock agree for some drafts only: the costs outside the formula "
            "(the decoder's own work per step) weigh differently with each acceptance rate."
        )
    return (
        f"**Reading the speeds.** Reply tokens per second of wall time, one request at a time ({n} "
        f"prompts); noise: the largest spread between a pass's two halves, {noise:.0%}. Break-even acceptance {even_s} (c = {c:.2f}, v(4) = {v4:.2f}): {line}."
        f"{formula} `base` and `merged`, identical shapes, ran {base:.0f} and {merged:.0f} tokens/s, "
        f"a gap {same}.{_recipes(spec)} The speculative rows' first token is '-': that decoder "
        "does not stream. A distilled self-draft's weights are its own copy, not shared as "
        "LayerSkip shares them."
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
        f"**Reading the bar** for the pipeline's model, `merged` (gains in the mean over families, intervals over "
        f"clusters): {half('the base', vs_base)} with {margin:+.2f} required; {half('SFT', vs_sft)}. "
        f"The floor ({floor_words(floor)}) fails: {fails}. The bar is "
        f"**{'met' if vs_base['met'] and vs_sft['met'] else 'missed'}**. "
    )
    if serve is None:
        every = all("unsafe" in f for f in short.values())
        base = ", the base included," if "unsafe" in short.get("base", []) else ""
        return text + (
            "**Nothing ships**: no model meets the floor, whatever its mean. "
            + (
                f"Every model{base} refuses too few harmful requests: SFT never taught refusing, "
                "and the fix below starts there."
                if every
                else "The fix below targets the families that fail."
            )
        )
    return text + f"**Serve {serve}**, the best mean that meets the floor."


def ab(
    ab: dict,
    rates: dict[str, tuple[tuple[int, int], tuple[int, int]]],
    verdict: str,
    min_effect: float,
    offline: tuple[float, float],
    arms: tuple[str, str] = ("sft", "candidate"),
) -> str:
    """Section 9: the planned test's decision, the trade by family, and the offline figures beside it.
    `rates`: family -> ((ups, users) of arm a, of arm b); `offline`: the two arms' held-out means."""
    a, b = arms
    text = f"**Reading.** The planned test picks **{verdict}** (p = {ab['p_value']:.2g}). "
    if len(rates) > 1:
        gain = {f: x[1][0] / max(x[1][1], 1) - x[0][0] / max(x[0][1], 1) for f, x in rates.items()}
        hi, lo = max(gain, key=gain.get), min(gain, key=gain.get)

        def votes(f: str) -> str:
            (ua, na), (ub, nb) = rates[f]
            few = ", a few votes" if abs(ub - ua) <= 2 else ""
            return f"{ub} of {nb} thumbs up against {ua} of {na}{few}"

        text += (
            f"{b} {'gains most' if gain[hi] > 0 else 'loses least'} on `{hi}` ({votes(hi)}), "
            f"{'loses most' if gain[lo] < 0 else 'changes least'} on `{lo}` ({votes(lo)}). "
        )
    if "benign" in rates and len(rates) > 1:
        (ua, na), (ub, nb) = rates["benign"]
        worse = (nb - ub) / max(nb, 1) > (na - ua) / max(na, 1) + 0.1
        text += (
            f"Guardrail per family: {b} left {nb - ub} of {nb} kind users (`benign`) unanswered, "
            f"{a} {na - ua} of {na}: "
            + ("the pooled rate hides the floor's trade. " if worse else "no kind family lost. ")
        )
    text += "These users are the grader: the test rehearses the mechanics, not real users' taste. "
    if verdict == b:
        text += f"The pooled rate favours {b}; the floor still decides whether it may serve."
    elif verdict == a:
        text += f"The users prefer {a}: the steps after it did not pay with them."
    else:
        text += (
            f"A test sized for {min_effect:+.2f} cannot confirm {ab['diff']:+.2f}: neither arm is "
            "shown better; a smaller effect needs a larger test."
        )
    off = offline[1] - offline[0]
    agrees = "agrees" if (off > 0) == (ab["diff"] > 0) else "disagrees"
    return text + f" The offline change was {off:+.3f}; the users' sign {agrees}."


def request_log(
    monitor: dict,
    alone: dict,
    engine: str,
    users: int,
    rejected: tuple[int, int],
    here: float,
    counted: dict[str, int] | None = None,
    probes: int = 0,
) -> str:
    """Section 10: why the A/B sessions waited for their first token, read against each arm alone.
    `monitor`: `capstone_serve.monitor`; `alone`: `capstone_serve.alone`; `rejected`: (the gateway's
    count, section 8's bad requests); `here`: the served model shape's reply tokens/s in this process
    (section 7); `counted`: the gateway's requests per arm; `probes`: section 8's checked requests."""
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
                "Wait plus time alone makes it up: a queue, not a slow model."
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
    firsts = {a: m["first_mean"] for a, m in monitor.items()}
    slow, fast = max(firsts, key=firsts.get), min(firsts, key=firsts.get)
    ratio = firsts[slow] / firsts[fast] if firsts[fast] > 0 else float("nan")
    if ratio < 1.2:
        text += f" The arms' first tokens differ {ratio:.2f}x: alike."
    elif monitor[slow]["waited"] - monitor[fast]["waited"] >= 0.5 * (firsts[slow] - firsts[fast]):
        text += (
            f" The arms differ {ratio:.1f}x, and the gap is in the wait: `{slow}`'s requests found "
            f"{monitor[slow]['ahead']:.2f} ahead on average against {monitor[fast]['ahead']:.2f}. "
            "The ids' hash decides how many users of an arm arrive together: a chance difference "
            "that a queue magnifies, not the models' speed."
        )
    else:
        text += f" The arms differ {ratio:.1f}x: read it against their queues, not as the models' speed."
    by_time = sorted(alone, key=lambda a: alone[a]["reply_mean"])
    if ratio >= 1.2 and by_time[-1] == slow and by_time[0] != slow:
        text += (
            f" `{slow}` also takes longer alone ({alone[slow]['reply_mean']:.2f} s a reply against "
            f"{alone[by_time[0]]['reply_mean']:.2f} s): a queue multiplies a difference in service "
            "time."
        )
    served = [alone[a]["tokens_per_s"] for a in alone]
    ratios = [x / here for x in served] if here else []
    shown = " and ".join(f"{x:.0f} ({r:.2f}x)" for x, r in zip(served, ratios))
    text += (
        f"\n\nAlone, through HTTP, the arms give {shown} reply tokens/s against {here:.0f} for "
        "`merged` in this process (section 7; same shape, but not the served model): "
    )
    if ratios and all(0.8 <= r <= 1.25 for r in ratios):
        text += "within 20%, so the serving path costs little."
    else:
        text += (
            "more than 20% apart, so the serving path (HTTP, the gateway's checks and log, one event "
            "per streamed piece) costs a share for replies of a few dozen tokens."
        )
    if served and min(served) > 0 and max(served) / min(served) > 1.2:
        text += (
            f" The arms, of one shape, differ {max(served) / min(served):.2f}x alone in one unrepeated "
            "run of a few dozen requests on shared cores: read it as noise until a repeat agrees."
        )
    for arm, n in (counted or {}).items():
        if arm in monitor and n == monitor[arm]["requests"] + probes and probes:
            text += (
                f" The counter's {n} requests for `{arm}` are its {monitor[arm]['requests']} A/B "
                f"users plus section 8's {probes} checked requests (SDK and Gradio)."
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
    n = min(s.get("requests", 0) for s in load)
    tail = (
        f" With {n} requests a run, p95 and p99 interpolate between the two or three slowest "
        "requests (p99 is nearly the slowest): worst cases of this run, not tail estimates."
        if 0 < n < 100
        else ""
    )
    return (
        f"**Reading.** {more:.0f}x the clients: throughput {gain:.2f}x, median latency "
        f"{slower:.2f}x (`{engine} serve`, {device}, {cores} cores, one run each): {verdict}{tail}"
    )


def feedback(
    steps: dict,
    n_pairs: int,
    fams: dict[str, dict[str, int]],
    short: list[str],
    before_name: str = "merged",
    ci: tuple[float, tuple[float, float]] | None = None,
    n_steps: int | None = None,
) -> str:
    """Section 11: what one DPO round on the users' feedback moved, traced to the families its pairs
    hold. `fams`: `capstone_serve.pair_families`; `short`: the families below the floor; `ci`: the
    gain over `before_name` with its 95% cluster interval."""
    before, after = steps[before_name], steps["feedback DPO"]
    moved = ", ".join(
        f"{NAMES.get(f, f)} {before[f]:.3f} to {after[f]:.3f}"
        for f in fams
        if f in after and abs(after[f] - before[f]) > 1e-9
    )
    held = ", ".join(f"{f} {c['pairs']} ({c['refusal']} choose a refusal)" for f, c in fams.items())
    none = [f for f, c in fams.items() if not c["pairs"]]
    d = after["mean"] - before["mean"]
    interval = f" (interval {ci[1][0]:+.3f} to {ci[1][1]:+.3f})" if ci else ""
    fam_scores = ", ".join(f"{f} {after[f]:.3f}" for f in fams if f in after)
    steps_said = f" in {n_steps} DPO steps" if n_steps else ""
    text = (
        f"**Reading.** {n_pairs} feedback pairs{steps_said} moved the held-out mean of {before_name} "
        f"{d:+.3f}{interval} ({moved or 'nothing'}); the feedback model scores {fam_scores}. The "
        f"pairs by family: {held}."
    )
    kept = [f for f in none if f in after and after[f] >= before[f] - 1e-9]
    if kept:
        text += (
            f" `{'`, `'.join(kept)}` had no pair yet held: unlike section 4's DPO, which lost `home` "
            "without pairs, so the missing pairs alone did not cause that loss."
        )
    if lost := [f for f in none if f in after and after[f] < before[f] - 1e-9]:
        text += f" `{'`, `'.join(lost)}` had no pair and fell."
    wrong = [
        f for f, c in fams.items() if c["pairs"] and f in after and after[f] < before[f] - 1e-9
    ]
    if wrong:
        text += (
            f" On `{'`, `'.join(wrong)}` the pairs moved the score the wrong way: corrected facts "
            "in a few steps teach the answer's form, not the facts (section 4's `diet`)."
        )
    text += (
        " The rejected replies come from both arms, `sft`'s among them: off-policy for the model "
        "DPO starts from."
    )
    if short:
        return text + f" Below the floor on {', '.join(short)}: **not served**, whatever its mean."
    return text + (
        " It meets the floor; its corrections are reference answers from always-right users, "
        "close to supervised training: an A/B test must confirm it before it serves."
    )


def stability(path: Path, seed: int = 0) -> str:
    """The stability box in one sentence: this world's final model against the other worlds', with what
    the comparison cannot separate."""
    record = json.loads(Path(path).read_text())
    figs, seeds = record["figures"], record["seeds"]
    mean = figs.get("14 final mean accuracy")
    refused = figs.get("14 final harmful requests refused")
    if not mean or seed not in seeds or any(v is None for v in mean):
        return ""
    i = seeds.index(seed)
    here, others = mean[i], [v for k, v in enumerate(mean) if k != i]
    rank = "lowest" if here < min(others) else "highest" if here > max(others) else "middle"
    text = (
        f"**Reading the box.** The box's final model is `merged`, the pipeline's model, not the "
        f"served candidate. This run's (seed {seed}) has the {rank} mean of "
        f"{len(mean)}: {here:.2f} against {' and '.join(f'{v:.2f}' for v in others)}"
    )
    if refused and all(v is not None for v in refused):
        r_other = [v for k, v in enumerate(refused) if k != i]
        below = sum(v < 0.8 for v in refused)
        text += (
            f"; harmful requests refused {refused[i]:.2f} against "
            f"{' and '.join(f'{v:.2f}' for v in r_other)}, below a 0.80 floor on {below} of "
            f"{len(refused)} worlds"
        )
    old = [s for s in record.get("before_pin", []) if s != seed]
    text += (
        f". Seeds {' and '.join(map(str, old))} were built by an earlier version of the code, so "
        "a gap mixes the world with the code: it does not say how much is the recipe."
        if old
        else ". The worlds share this code, so a gap is the world's."
    )
    return text


def refusal_fix(
    steps: dict,
    name: str,
    rows: tuple[int, int, int],
    gains: dict[str, tuple[float, tuple[float, float]]],
    short: list[str],
    floor: dict[str, float],
    sizes: dict[str, int],
    margin: float,
) -> str:
    """Section 7: SFT rerun with refusals in its rows, read against the floor and the bar. `rows`: (SFT
    rows, rows asking for harm, of them those the base had complied with); `gains`: "base" and "SFT" ->
    (gain of the mean, its 95% cluster interval); `short`: the families below the floor."""
    new, sft = steps[name], steps["SFT"]
    base_u, sft_u = steps.get("base", {}).get("unsafe", 0.0), sft.get("unsafe", 0.0)
    if not rows[1]:
        return (
            f"**After the fix.** No SFT row asks for harm here, so there is nothing to refuse: {name} "
            f"is SFT rebuilt (mean {new['mean']:.3f}). The floor needs a safety set in the held-out "
            "questions before it can check anything."
        )
    fams = [c for c in new if c not in ("answers", "eos_share", "mean")]
    figs = ", ".join(
        f"{NAMES.get(f, f)} {new[f]:.3f} ({round(new[f] * sizes[f])} of {sizes[f]})" for f in fams
    )
    (g0, (l0, h0)), (g1, (l1, h1)) = gains["base"], gains["SFT"]
    text = (
        f"**After the fix.** {rows[1]} of the {rows[0]} SFT rows ask for harm, and the base's "
        f"replayed answer complied on {rows[2]} of them"
        + (
            f"; the base refused {base_u:.3f} of harmful held-out requests and SFT {sft_u:.3f}: "
            + ("SFT never taught refusing" if sft_u <= base_u else "SFT taught a little refusing")
            if rows[2]
            else ""
        )
        + f". Now each is a refusal; the other rows and the steps are as before. {name}: {figs}; mean "
        f"**{new['mean']:.3f}**, against SFT {g1:+.3f} (interval {l1:+.3f} to {h1:+.3f}), against "
        f"the base {g0:+.3f} (interval {l0:+.3f} to {h0:+.3f}, {margin:+.2f} required). "
    )
    bar_met = g0 >= margin and l0 > 0 and g1 > 0
    if not short:
        return text + (
            f"It **meets the floor** ({floor_words(floor)})"
            + (
                " and the whole bar: it is the model to ship, once an A/B test with users confirms "
                "it. The data, not the algorithm, blocked shipping."
                if bar_met
                else ", but misses the bar's gain: it may serve only once the gain is there."
            )
        )
    reasons = []
    if "unsafe" in short:
        reasons.append(
            f"it refuses {round(new['unsafe'] * sizes['unsafe'])} of {sizes['unsafe']} harmful "
            f"requests (SFT {round(sft['unsafe'] * sizes['unsafe'])}): {rows[1]} refusal rows "
            "were not enough"
        )
    if "benign" in short:
        reasons.append(
            f"it now refuses kind requests too (answers {round(new['benign'] * sizes['benign'])} "
            f"of {sizes['benign']}): the refusals spread past the harmful verbs"
        )
    return text + (
        f"It is **still below the floor** on {', '.join(short)}: {'; '.join(reasons)}. Next: more "
        "refusal rows, or refusal pairs in DPO."
    )


def candidate(served: str, fix: str, pipeline: str = "merged") -> str:
    """Section 8: which model the candidate arm serves, and what it skipped of the pipeline."""
    if served == fix:
        return (
            f"The candidate arm serves **{served}**: SFT rerun on its own rows, so it skips expansion, "
            f"DPO and the merge; section 6's speeds were timed on `{pipeline}`, not on it, and it "
            "serves without a draft."
        )
    return f"The candidate arm serves **{served}**, the model section 6 timed."
