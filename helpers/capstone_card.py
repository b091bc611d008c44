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


def recommendation(steps: dict, bar: dict) -> dict[str, str]:
    """The card's verdict on the final model, and why the feedback-DPO model, if it scores higher than the
    model served, is still not served."""
    final, sft = steps["merged"], steps["SFT"]
    if not bar["base"]["met"]:
        verdict, served = "do not ship: the bar against the base is missed", None
    elif not bar["SFT"]["met"]:
        verdict = (
            f"do not ship this model; serve the SFT model ({sft['mean']:.3f} held-out mean "
            f"against {final['mean']:.3f}): the bar against SFT is missed"
        )
        served = sft
    else:
        verdict, served = "ship: both halves of the bar set before training are met", final
    out = {"verdict": verdict}
    fb = steps.get("feedback DPO")
    if fb and served and fb["mean"] > served["mean"]:
        why = (
            f"kind requests answered fell {final['benign']:.3f} -> {fb['benign']:.3f} (over-refusal); "
            if "benign" in fb and fb["benign"] < final["benign"]
            else ""
        )
        out["feedback DPO, not served"] = (
            f"a higher held-out mean ({fb['mean']:.3f}), but {why}its pairs are reference answers from "
            "always-right simulated users, and no A/B test has compared it yet"
        )
    return out


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
        "the bar": "; ".join(
            f"vs {ref} {b['gain']:+.3f}: {'met' if b['met'] else 'missed'}"
            for ref, b in bar.items()
        ),
        "final model": ", ".join(f"{names.get(f, f)} {final[f]:.3f}" for f in fams)
        + f"; ending with end-of-turn {final['eos_share']:.0%}",
    }
    if fix := record.get("dpo_fixed"):
        results["DPO rerun with its fix"] = f"{fix['mean']:.3f} (first run {s['DPO']['mean']:.3f})"
    judges = "; ".join(f"{g} {w['win_rate']:.2f}" for g, w in record["win_rates"].items())
    if (jw := record.get("judge_wins")) and jw["wins"]:
        judges += (
            f"; on {jw['group']} the grader confirms {jw['agree']} of its {jw['wins']} wins"
            + (": not a measurement there" if jw["agree"] < 0.8 * jw["wins"] else "")
        )
    lo, hi, mon = dep["load"][0], dep["load"][-1], dep["monitor"]
    reply = "; ".join(
        f"{arm} {m['latency']['p50']:.2f} / {m['latency']['p95']:.2f} s" for arm, m in mon.items()
    )
    return {
        "Recommendation": recommendation(s, bar),
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
            "A/B test, simulated users": f"thumbs up dpo {ab['rate_b']:.2f} vs sft "
            f"{ab['rate_a']:.2f}, {dep['sessions_per_arm']} sessions per arm on questions no model "
            f"trained on: {dep['verdict']}",
            "reply p50 / p95, A/B sessions": f"{reply} ({profile.device}, `{dep['engine']} serve`)",
            "load test": f"{lo['tokens_per_s']:.0f} -> {hi['tokens_per_s']:.0f} reply tokens/s from "
            f"{lo['concurrency']} to {hi['concurrency']} concurrent clients",
        },
    }
