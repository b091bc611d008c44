"""Stage 14's model card, written from the run's results record: every line a measured value, every
verdict chosen by the values."""

from __future__ import annotations


def model_card(name: str, facts: dict) -> str:
    """A short model card in Markdown from measured values (`facts`: section -> {label: value})."""
    lines = [f"# Model card: {name}", ""]
    for section, rows in facts.items():
        lines += [f"## {section}", ""]
        lines += [f"- **{k}**: {v}" for k, v in rows.items()]
        lines.append("")
    return "\n".join(lines)


def recommendation(steps: dict, serve: str | None, floor: dict[str, float]) -> dict[str, str]:
    """The card's verdict: the model the bar serves (the best mean that meets the safety floor), or
    nothing; and the feedback-DPO model's figures against the floor."""
    from helpers import capstone

    if serve is None:
        below = {n: capstone.below_floor(r, floor) for n, r in steps.items()}
        short = "; ".join(f"{n} {', '.join(b)}" for n, b in below.items() if b)
        verdict = f"do not ship any model: no candidate meets the safety floor (below it: {short})"
    else:
        own = ", ".join(f"{f} {steps[serve][f]:.3f}" for f in floor if f in steps[serve])
        verdict = f"serve {serve} ({steps[serve]['mean']:.3f} held-out mean; {own})"
    out = {"verdict": verdict}
    if fb := steps.get("feedback DPO"):
        short = capstone.below_floor(fb, floor)
        out["feedback DPO"] = f"mean {fb['mean']:.3f}; " + (
            f"below the floor on {', '.join(short)}: not served"
            if short
            else "meets the floor; "
            "its pairs are reference answers from always-right users: A/B-test it first"
        )
    return out


def _gain_met(ref: str, b: dict, record: dict) -> bool:
    """The gain half of the bar: over the base by the margin with the interval above zero; over SFT."""
    if ref == "base":
        return b["gain"] >= record.get("margin", 0.0) and b["ci"][0] > 0
    return b["gain"] > 0


def model_card_facts(record: dict, cfg, profile) -> dict:
    """The model card's sections (section -> {label: value}) from the run's results record."""
    from helpers import tasks

    s, dep, bar = record["steps"], record["deployment"], record["bar"]
    final, ab = s["merged"], dep["ab"]
    names = {"unsafe": "harmful refused", "benign": "kind answered"}
    fams = [f for f in final if f not in ("mean", "eos_share")]
    graded = sum(tasks.reference_graded(t) for t in cfg.pref_tasks)
    results = {
        "held-out mean by step": ", ".join(
            f"{n} {r['mean']:.3f}" for n, r in s.items() if n != "merged"
        ),
        "the bar, the pipeline's model (merged)": "; ".join(
            f"vs {ref} {b['gain']:+.3f}: gain {'met' if _gain_met(ref, b, record) else 'missed'}"
            + ("" if b["met"] or not _gain_met(ref, b, record) else ", floor failed")
            for ref, b in bar.items()
        ),
        "the pipeline's model (merged)": ", ".join(
            f"{names.get(f, f)} {final[f]:.3f}" for f in fams
        )
        + f"; ending with end-of-turn {final['eos_share']:.0%}",
    }
    if (fix := record.get("refusal_fix")) and fix in s:
        results["SFT rerun with refusals in its rows"] = f"{fix} {s[fix]['mean']:.3f}" + (
            f", harmful refused {s[fix]['unsafe']:.3f}, kind answered {s[fix]['benign']:.3f}"
            if "unsafe" in s[fix]
            else ""
        )
    judges = "; ".join(f"{g} {w['win_rate']:.2f}" for g, w in record["win_rates"].items())
    if (jw := record.get("judge_wins")) and jw["wins"]:
        judges += (
            f"; on {jw['group']} the grader confirms {jw['agree']} of its {jw['wins']} wins"
            + (": not a measurement there" if jw["agree"] < 0.8 * jw["wins"] else "")
            + "; the other groups are not audited against the grader"
        )
    lo, hi, mon = dep["load"][0], dep["load"][-1], dep["monitor"]
    reply = "; ".join(
        f"{arm} {m['latency']['p50']:.2f} / {m['latency']['p95']:.2f} s" for arm, m in mon.items()
    )
    return {
        "Recommendation": recommendation(s, record["serve"], record["floor"]),
        "Data": {
            "held-out questions": f"{len(cfg.held)} in {record['clusters']} clusters of paraphrases",
            "training rows": f"{len(cfg.seed_tasks)} written answers, {len(cfg.general)} replayed, "
            f"{record['expanded']} from expansion",
            "training": f"LoRA SFT {cfg.sft_steps} steps, DPO {cfg.dpo_steps} steps with RPO, merged "
            f"(largest logit difference {record['merge_gap']:.1e})",
            "preference pairs": f"{record['pairs']} confident pairs from {len(cfg.pref_tasks)} prompts "
            f"({graded} graded by reference, the rest judged by {profile.model('judge')})",
        },
        "Results": results,
        "Limits": {"domain": cfg.limits, "win rate vs base, second judge": judges},
        "Deployment": {
            "A/B test, simulated users": f"thumbs up {dep.get('final', 'final')} "
            f"{ab['rate_b']:.2f} vs sft "
            f"{ab['rate_a']:.2f}, {dep['sessions_per_arm']} sessions per arm on questions no model "
            f"trained on: {dep['verdict']}",
            "reply p50 / p95, A/B sessions": f"{reply} ({profile.device}, `{dep['engine']} serve`)",
            "load test": f"{lo['tokens_per_s']:.0f} -> {hi['tokens_per_s']:.0f} reply tokens/s from "
            f"{lo['concurrency']} to {hi['concurrency']} concurrent clients",
        },
    }
