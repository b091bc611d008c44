"""Stage 14's audits: what a step or a judge did, read against the grader.

`unlearned_facts` finds the families no step taught although the written data hold their facts;
`audit_pairs` and `lost_answers` diagnose a DPO step (what its pairs held, how right their labels were, what
it lost); `win_rates` and `audit_wins` read the second judge's verdicts, the second against the grader.
"""

from __future__ import annotations

from helpers import tasks
from helpers.tasks import Task


def unlearned_facts(
    steps: dict, chain: list[str], written: list[Task], held: list[Task], after: str
):
    """For each family no step of `chain` brought to 0.5 although the written answers hold some of its
    held-out facts: how often each fact occurs there, and what the model said after step `after`."""
    from collections import Counter

    out = []
    for family in [c for c in steps["base"] if c not in ("answers", "eos_share", "mean")]:
        taught = Counter(t.answer for t in written if t.family == family)
        questions = [t for t in held if t.family == family]
        if not taught or not questions or max(steps[n][family] for n in chain) >= 0.5:
            continue
        facts = {t.answer for t in questions}
        if not any(f in taught for f in facts):  # nothing to learn from the written data
            continue
        said = Counter(
            tasks.final_answer(a)
            for t, a in zip(held, steps[after]["answers"])
            if t.family == family
        )
        top, top_n = said.most_common(1)[0]
        written_values = Counter(t.meta.get("value") for t in written if t.family == family)
        out.append(
            {
                "family": family,
                "facts": len(facts),
                "covered": sum(f in taught for f in facts),
                "times": (min(taught[f] for f in facts), max(taught[f] for f in facts)),
                "written": sum(taught.values()),
                "top": top,
                "top_n": top_n,
                "questions": len(questions),
                "top_written": written_values[top],
                "top_right": sum(t.meta.get("value") == top for t in questions),
                "after": after,
                "accuracy": steps[after][family],
            }
        )
    return out


def expansion_facts(
    unlabeled: list[Task],
    expanded: list[tuple[str, str]],
    rows: tuple[int, int],
    views: int,
    clusters,
) -> dict:
    """What the expansion step added, by family: its kept answers ("kept") and those the grader fails
    ("wrong"); the SFT rows before and after (`rows`), the passes over each row the same `views` (steps x
    batch) give, and the held-out clusters."""
    from collections import Counter

    task = {t.prompt: t for t in unlabeled}
    kept = [(task[p], a) for p, a in expanded if p in task]
    return {
        "kept": dict(Counter(t.family for t, _ in kept)),
        "wrong": dict(Counter(t.family for t, a in kept if not tasks.grade(t, a))),
        "rows": rows,
        "passes": tuple(views / n for n in rows),
        "clusters": len(set(clusters)),
    }


def audit_pairs(items: list[Task], pairs, verdicts, margin: float) -> dict:
    """What the confident preference pairs hold (the rows `rlaif.preference_rows` keeps): counts by family
    and by the chosen answer's kind (a refusal or an answer), the labels a grader can check against the
    truth (`rlaif.true_preference`), the chosen answers the grader fails, and the wrong labels."""
    from helpers import constitutional, rlaif

    kinds, checked, right, fails, wrong, gradable = {}, 0, 0, 0, {}, 0
    offered = {}  # family -> prompts with a refusal among the two samples, of all prompts
    for t, (a, b), v in zip(items, pairs, verdicts, strict=True):
        refused = constitutional.looks_like_refusal(a) or constitutional.looks_like_refusal(b)
        got = offered.setdefault(t.family, [0, 0])
        got[0], got[1] = got[0] + refused, got[1] + 1
        label = v.label(margin)
        if label is None or a == b:
            continue
        chosen, rejected = (a, b) if label == 0 else (b, a)
        kind = "refusal" if constitutional.looks_like_refusal(chosen) else "answer"
        kinds.setdefault(t.family, {"refusal": 0, "answer": 0})[kind] += 1
        if not tasks.gradable(t):
            continue
        gradable += 1
        fails += not tasks.grade(t, chosen)
        truth = rlaif.true_preference(t, a, b)
        if truth is not None:
            checked, right = checked + 1, right + (truth == label)
            if truth != label:
                wrong.setdefault(t.family, []).append((t.prompt, chosen, rejected))
    return {
        "pairs": sum(sum(k.values()) for k in kinds.values()),
        "prompts": len(items),
        "graded": sum(tasks.reference_graded(t) for t in items),
        "kinds": kinds,
        "offered": offered,
        "gradable": gradable,  # pairs a grader can score; it checks a label where one answer passes
        "checked": checked,
        "right": right,
        "chosen_fails": fails,
        # two wrong labels, from different families where there are two
        "wrong": ([w[0] for w in wrong.values()] + [x for w in wrong.values() for x in w[1:]])[:2],
        "n_wrong": sum(map(len, wrong.values())),
    }


def print_pair_audit(audit: dict, families: list[str]) -> None:
    """The pairs by family and chosen kind, the judge against the grader, and one wrong label."""
    print(f"{audit['pairs']} confident pairs from {audit['prompts']} prompts:")
    for f, k in audit["kinds"].items():
        print(f"  {f:8} chosen a refusal {k['refusal']:3}, chosen an answer {k['answer']:3}")
    absent = [f for f in families if f not in audit["kinds"]]
    if absent:
        print(f"  no pair asks a question of: {', '.join(absent)}")
    share = audit["right"] / max(audit["checked"], 1)
    print(
        f"a grader can check {audit['checked']} pairs: the label is right on {audit['right']} "
        f"({share:.0%}); the grader fails {audit['chosen_fails']} of the chosen answers"
    )
    for prompt, chosen, rejected in audit["wrong"][:1]:
        print(f"wrong label: {prompt!r}\n  chosen   {chosen!r}\n  rejected {rejected!r}")


def lost_answers(held: list[Task], before: dict, after: dict, families: list[str]):
    """The family a step lowered most, and (prompt, answer before, answer after) for each of its questions
    the step lost; prints one."""
    family = min(families, key=lambda f: after[f] - before[f])
    lost = [
        (t.prompt, b, a)
        for t, b, a in zip(held, before["answers"], after["answers"], strict=True)
        if t.family == family and tasks.grade(t, b) and not tasks.grade(t, a)
    ]
    for prompt, was, now in lost[:1]:
        print(f"{family}, lost: {prompt!r}\n  before {was!r}\n  after  {now!r}")
    return family, lost


def audit_wins(items: list[Task], verdicts, final: list[str], base: list[str], idx: list[int]):
    """The judge's wins for the final model over the base on the items `idx` (ties within 0.05, as
    `rlaif.win_rate`), each with the grader's view of both answers; and the grader's own count of the
    items where only the final model passes (better) or only the base does (worse)."""
    wins, better, worse = [], 0, 0
    for i in idx:
        t = items[i]
        if not tasks.gradable(t):
            continue
        ok_f, ok_b = tasks.grade(t, final[i]), tasks.grade(t, base[i])
        better, worse = better + (ok_f and not ok_b), worse + (ok_b and not ok_f)
        if verdicts[i].label(0.05) == 0:
            wins.append(
                {"family": t.family, "prompt": t.prompt, "final": final[i], "base": base[i]}
                | {"final_ok": ok_f, "base_ok": ok_b}
            )
    kinds = {
        "agree": [w for w in wins if w["final_ok"] and not w["base_ok"]],
        "final_fails": [w for w in wins if not w["final_ok"]],
        "both_pass": [w for w in wins if w["final_ok"] and w["base_ok"]],
    }
    examples = [ws[0] for ws in (kinds["final_fails"], kinds["agree"], kinds["both_pass"]) if ws]
    return {"wins": len(wins), "better": better, "worse": worse, "examples": examples[:2]} | {
        k: len(v) for k, v in kinds.items()
    }


def print_wins(audit: dict) -> None:
    """The examples of `audit_wins`: the request, then each answer with the grader's verdict."""
    for w in audit["examples"]:
        print(f"{w['family']}: {w['prompt']!r}")
        for who, name in (("final", "merged"), ("base", "base")):
            print(f"  {name:6} ({'passes' if w[who + '_ok'] else 'fails'}) {w[who]!r}")


def win_rates(verdicts, clusters: list, groups: dict[str, list[int]]) -> dict[str, dict]:
    """12c's win rate of the final model over the base per group of items (`rlaif.win_rate`: ties within
    0.05 count half, the interval resamples clusters of paraphrases); prints a row per group."""
    from helpers import rlaif

    out = {}
    for g, idx in groups.items():
        w = out[g] = rlaif.win_rate([verdicts[i] for i in idx], clusters=[clusters[i] for i in idx])
        ci = f"{w['ci'][0]:.2f}-{w['ci'][1]:.2f}"
        print(
            f"{g:20}: win rate {w['win_rate']:.2f} ({ci}), W{w['wins']}/T{w['ties']}/L{w['losses']}"
        )
    return out
