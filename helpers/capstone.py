"""Stage 14, the capstone: one domain assistant through the whole stack, and the harness that measures it.

In the tiny profile the domain is a pet-care assistant with checkable answers (`helpers.world.capstone`);
on a GPU preset it is GSM8K, whose final numbers are checkable too. The harness measures what a model card needs: reference
accuracy per family, the share of answers that end with end-of-turn before the token limit, a pairwise
win rate with the shared judge, and speed (tokens/s, time to the first token, weight memory).
"""

from __future__ import annotations

import time

import torch

from helpers import generation, judge, tasks
from helpers.tasks import Family, Task


# ---------------------------------------------------------------- the evaluation harness
def evaluate(model, tok, items: list[Task], max_new_tokens: int = 48) -> dict:
    """Greedy answers to held-out items: accuracy per family, and the share that ended with end-of-turn."""
    answers, correct, finished = tasks.graded_answers(
        model, tok, items, max_new_tokens, batch_size=128
    )
    return {
        **tasks.accuracy_by_family(items, correct),
        "eos_share": sum(finished) / len(finished),
        "answers": answers,
    }


def max_logit_difference(a, b, tok, prompts: list[str]) -> float:
    """Largest absolute logit difference between two models over the prompts (the merge check)."""
    worst = 0.0
    with torch.no_grad():
        for p in prompts:
            # a GPU model needs GPU ids
            ids = torch.tensor([generation.chat_prompt_ids(tok, p)], device=a.device)
            worst = max(
                worst, (a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max().item()
            )
    return worst


def merge_adapter(peft_model, full_base, folder) -> torch.nn.Module:
    """Fold a trained LoRA adapter into an unquantized copy of its base: save the adapter, load it onto
    `full_base` (a full-precision model; with QLoRA the adapter was trained on a 4-bit copy, and merging into
    4-bit weights would round the sum back to 4 bits), merge. Serving then needs no PEFT."""
    import copy

    from peft import PeftModel

    peft_model.save_pretrained(folder)
    return PeftModel.from_pretrained(copy.deepcopy(full_base), folder).merge_and_unload().eval()


def weight_megabytes(model) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def speed(generate_one, prompts: list[str], tok) -> dict:
    """Tokens per second and median time to the first token of `generate_one(prompt) -> (text, first_s)`,
    one prompt at a time (the chat demo's regime), and the peak GPU memory on a GPU."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        # every model loaded so far: not this one's serving cost
        resident = torch.cuda.memory_allocated()
    firsts, tokens, t0 = [], 0, time.perf_counter()
    for p in prompts:
        text, first = generate_one(p)
        firsts.append(first)
        tokens += len(tok(text, add_special_tokens=False)["input_ids"])
    total = time.perf_counter() - t0
    firsts.sort()
    out = {
        "tokens_per_s": tokens / total,
        "first_token_s": firsts[len(firsts) // 2],
        "tokens": tokens,
    }
    if cuda:  # torch does not track CPU allocations, so peak memory is a GPU-only figure
        # above what was resident
        out["peak_gpu_mb"] = (torch.cuda.max_memory_allocated() - resident) / 2**20
    return out


def self_consistent(items: list[Task], greedy: list[str], sampled: list[str]) -> list[bool]:
    """Keep an answer for self-training only when a sampled answer agrees with the greedy one (a cheap
    confidence filter; disagreement marks questions the model is unsure about). Agreement is the family's:
    the same final number for GSM8K (`tasks.same_answer`), the same text otherwise."""
    return [tasks.same_answer(t, g, s) for t, g, s in zip(items, greedy, sampled, strict=True)]


def judged_by(profile):
    """12c's judge as `label_pairs` calls it, `(prompts, firsts, seconds) -> verdicts`: loaded on the
    call, freed once its labels are made (DPO needs the memory)."""
    from transformers import AutoTokenizer

    from helpers import rlaif, training

    def judged(prompts, firsts, seconds):
        path = profile.resolve("judge")
        model = training.load_causal_lm(path, profile, four_bit=False, dtype=profile.judge_dtype)
        jtok = AutoTokenizer.from_pretrained(path)
        out = judge.judge_pairs(model.eval(), jtok, prompts, firsts, seconds, rlaif.CRITERION)
        del model
        training.free_memory()
        return out

    return judged


def label_pairs(
    items: list[Task], pairs: list[tuple[str, str]], judge_verdicts
) -> list[judge.Verdict]:
    """A verdict per pair: by the reference grader where the task has one (GSM8K: right beats wrong; both
    right or both wrong is a tie, dropped), by `judge_verdicts(prompts, firsts, seconds)` for the rest. The
    judge is called only when some pair needs it, so a preset whose pairs are all graded never loads it."""
    graded = [tasks.reference_graded(t) for t in items]
    need = [i for i, g in enumerate(graded) if not g]
    judged = iter(
        judge_verdicts(
            [items[i].prompt for i in need],
            [pairs[i][0] for i in need],
            [pairs[i][1] for i in need],
        )
        if need
        else []
    )
    out = []
    for t, (a, b), g in zip(items, pairs, graded, strict=True):
        if not g:
            out.append(next(judged))
            continue
        # 1: only the first is right, 0: only the second
        p = 0.5 + (tasks.grade(t, a) - tasks.grade(t, b)) / 2
        out.append(judge.Verdict(p, 1.0 - p, 1.0))
    return out


# ---------------------------------------------------------------- GPU presets: grade-school math
def final_number(text: str) -> str | None:
    """The last number in a text, without thousands separators ("#### 1,234" -> "1234")."""
    import re

    found = re.findall(r"-?\d[\d,]*\.?\d*", text)
    return found[-1].replace(",", "").rstrip(".") if found else None


def gsm8k_tasks(split: str) -> list[Task]:
    """`openai/gsm8k` questions with their reference answers, graded by the final number. `split` is one
    datasets split spec, slice included ("train[256:512]"): datasets accepts one slice, not two."""
    from helpers.hub import load_dataset

    rows = load_dataset("openai/gsm8k", "main", split=split)
    return [
        Task(
            "gsm8k",
            r["question"],
            r["answer"].replace("####", "The answer is"),
            {"value": final_number(r["answer"])},
        )
        for r in rows
    ]


tasks.register_family(
    Family(
        "gsm8k",
        lambda rng: None,
        lambda t, a: final_number(a) == t.meta["value"],
        0.0,
        key=final_number,
    )
)


def model_card(name: str, facts: dict) -> str:
    """A short model card in Markdown from measured values (`facts`: section -> {label: value})."""
    lines = [f"# Model card: {name}", ""]
    for section, rows in facts.items():
        lines += [f"## {section}", ""]
        lines += [f"- **{k}**: {v}" for k, v in rows.items()]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- the notebook's steps, kept short there
def scores(result: dict, digits: int | None = 3) -> dict:
    """A step's figures without its answers, rounded to `digits` (None: as measured)."""
    return {
        k: v if digits is None else round(v, digits) for k, v in result.items() if k != "answers"
    }


def replay_answers(model, tok, prompts: list[str], max_new_tokens: int) -> list[tuple[str, str]]:
    """The model's own sampled answers (temperature 1, not greedy: they keep its habits, occasional refusals
    included) to general prompts, replayed in SFT as the usual guard against forgetting."""
    torch.manual_seed(0)
    replies = generation.chat_generate(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=128,
        do_sample=True,
        temperature=1.0,
    )
    return list(zip(prompts, replies))


def expand(model, tok, unlabeled: list[Task], out, max_new_tokens: int) -> tuple[list, int]:
    """Stage 12a's expansion: greedy and sampled answers through the resumable generator
    (`generation.generate_to_jsonl`), kept where the two agree (`self_consistent`), the greedy one ended and
    it passes 12a's instance checks. Prints the funnel and how many kept answers the references call right;
    returns (the kept (prompt, answer) pairs, that count)."""
    from helpers import self_instruct as si

    items = [{"id": f"u{i:03d}", "prompt": t.prompt} for i, t in enumerate(unlabeled)]
    kw = dict(batch_size=64, max_new_tokens=max_new_tokens)
    greedy = generation.generate_to_jsonl(
        out / "expand_greedy.jsonl", items, model, tok, seed=0, **kw
    )
    sampled = generation.generate_to_jsonl(
        out / "expand_sampled.jsonl",
        items,
        model,
        tok,
        seed=1,
        do_sample=True,
        temperature=0.7,
        **kw,
    )
    agree = self_consistent(
        unlabeled, [r["output"] for r in greedy], [r["output"] for r in sampled]
    )
    kept = [
        i
        for i, (r, ok) in enumerate(zip(greedy, agree))
        if ok and r["finished"] and si.instance_rejection("", r["output"]) is None
    ]
    right = sum(tasks.grade(unlabeled[i], greedy[i]["output"]) for i in kept)
    print(
        f"{len(items)} unlabeled questions -> {sum(agree)} self-consistent -> {len(kept)} kept after "
        f"12a's instance checks, {right} of them right by the references"
    )
    return [(greedy[i]["prompt"], greedy[i]["output"]) for i in kept], right


def sft(
    base, full_base, tok, pairs: list[tuple[str, str]], profile, cfg, folder
) -> torch.nn.Module:
    """SFT with LoRA on a copy of `base` (`training.sft_lora`, loss on the answers), merged into
    `full_base` (`merge_adapter`); prints the rows, steps, time and loss."""
    import copy

    from helpers import training

    t0 = time.time()
    trainer = training.sft_lora(
        copy.deepcopy(base).train(),
        tok,
        training.chat_rows(pairs),
        profile,
        steps=cfg.sft_steps,
        lr=cfg.sft_lr,
        batch_size=cfg.batch_size,
        output_dir=str(folder),
        max_length=cfg.max_length,
    )
    merged = merge_adapter(trainer.model, full_base, folder / "adapter")
    loss = training.losses(trainer)
    print(
        f"{folder.name}: {len(pairs)} rows, {cfg.sft_steps} steps in {time.time() - t0:.0f} s, "
        f"loss {loss[0][1]:.3f} -> {loss[-1][1]:.3f}"
    )
    return merged


def distilled_drafts(draft, target, tok, prompts: list[str], profile, cfg, vocab_size: int, out):
    """Two distilled copies of `draft` (stage 11's recipes): sequence-level on the target's greedy answers
    (`distill.distill_draft`) and DistillSpec's on-policy one (`distill.distill_on_policy`)."""
    from helpers import distill

    t0 = time.time()
    seq = distill.distill_draft(
        draft,
        target,
        tok,
        prompts,
        profile,
        steps=cfg.distill_steps,
        lr=cfg.distill_lr,
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        output_dir=out / "draft",
    )
    t_seq, t0 = time.time() - t0, time.time()
    on_policy, _ = distill.distill_on_policy(
        draft,
        target,
        tok,
        prompts,
        steps=cfg.distill_steps,
        lr=cfg.on_policy_lr,
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.on_policy_tokens,
        vocab_size=vocab_size,
        output_dir=out / "draft_on_policy",
    )
    print(
        f"the draft distilled for {cfg.distill_steps} steps on {len(prompts)} training prompts: "
        f"sequence-level in {t_seq:.0f} s, DistillSpec on-policy in {time.time() - t0:.0f} s"
    )
    return seq, on_policy


def streamed(model, tok, max_new_tokens: int):
    """One request through the streaming server path: `one(prompt) -> (reply, seconds to the first token)`."""
    from helpers import serving

    def one(p):
        stats = {}
        messages = [{"role": "user", "content": p}]
        text = list(serving.stream_reply(model, tok, messages, max_new_tokens, stats))[-1]
        return text, stats["first_token_s"]

    return one


def speculative_run(target, draft, tok, vocab_size: int, max_new_tokens: int, k: int = 4):
    """One request through stage 11's speculative decoder with `draft`: `one(prompt) -> (reply, seconds
    of a one-token call)`. That second figure times a bare call, not the streaming path of `streamed`,
    so the step table does not compare it with theirs."""
    from helpers import speculative

    def one(p):
        ids = torch.tensor([generation.chat_prompt_ids(tok, p)], device=target.device)
        kw = dict(k=k, vocab_size=vocab_size, eos_token_id=tok.eos_token_id)
        t0 = time.perf_counter()
        speculative.speculative_generate(target, draft, ids, max_new_tokens=1, **kw)
        first = time.perf_counter() - t0
        out, _ = speculative.speculative_generate(
            target, draft, ids, max_new_tokens=max_new_tokens, **kw
        )
        return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True), first

    return one


def print_steps(steps: dict, speeds: dict, models: dict, drafts: dict) -> list[str]:
    """The step table (held-out accuracy per family, EOS share), then each served variant's speed and
    weight memory (a speculative pair counts the merged model plus its draft); returns the columns."""
    memory = {n: weight_megabytes(m) for n, m in models.items()}
    memory |= {f"merged + {n}": memory["merged"] + weight_megabytes(d) for n, d in drafts.items()}
    cols = [c for c in steps["base"] if c not in ("answers", "eos_share")]
    print(f"{'step':18}" + "".join(f"{c:>9}" for c in cols) + f"{'EOS':>7}")
    for name, r in steps.items():
        print(f"{name:18}" + "".join(f"{r[c]:9.3f}" for c in cols) + f"{r['eos_share']:7.2f}")
    gpu = all("peak_gpu_mb" in s for s in speeds.values())  # torch tracks no CPU allocations
    print(
        f"\n{'model':28}{'tokens/s':>10}{'first token ms':>16}{'weights MB':>12}"
        + (f"{'extra GPU MB':>13}" if gpu else "")
    )
    for name, s in speeds.items():
        # a speculative row's first token is timed on a bare call, not the streaming path: not comparable
        first = f"{s['first_token_s'] * 1000:16.1f}" if name in models else f"{'-':>16}"
        peak = f"{s['peak_gpu_mb']:13.0f}" if gpu else ""
        print(f"{name:28}{s['tokens_per_s']:10.1f}{first}{memory[name]:12.1f}{peak}")
    return cols


def step_verdicts(steps: dict, chain: list[str]) -> tuple[list[str], str]:
    """(the steps of `chain` that did not raise the held-out mean over the step before, the best step:
    the earliest of equal means)."""
    failed = [b for a, b in zip(chain, chain[1:]) if steps[b]["mean"] <= steps[a]["mean"]]
    return failed, max(chain, key=lambda n: steps[n]["mean"])


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


def audit_pairs(items: list[Task], pairs, verdicts, margin: float) -> dict:
    """What the confident preference pairs hold (the rows `rlaif.preference_rows` keeps): counts by family
    and by the chosen answer's kind (a refusal or an answer), the labels a grader can check against the
    truth (`rlaif.true_preference`), the chosen answers the grader fails, and the wrong labels."""
    from helpers import constitutional, rlaif

    kinds, checked, right, fails, wrong = {}, 0, 0, 0, {}
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
        "checked": checked,
        "right": right,
        "chosen_fails": fails,
        # two wrong labels, from different families where there are two
        "wrong": ([w[0] for w in wrong.values()] + [x for w in wrong.values() for x in w[1:]])[:2],
        "n_wrong": sum(map(len, wrong.values())),
    }


def print_pair_audit(audit: dict, families: list[str]) -> None:
    """The pairs by family and chosen kind, the judge against the grader, and the wrong labels."""
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
    for prompt, chosen, rejected in audit["wrong"][:2]:
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
    examples += [w for w in kinds["final_fails"][1:] if len(examples) < 3]
    return {"wins": len(wins), "better": better, "worse": worse, "examples": examples[:3]} | {
        k: len(v) for k, v in kinds.items()
    }


def print_wins(audit: dict) -> None:
    """The examples of `audit_wins`: the request, then each answer with the grader's verdict."""
    for w in audit["examples"]:
        print(f"{w['family']}: {w['prompt']!r}")
        for who in ("final", "base"):
            print(f"  {who:5} ({'passes' if w[who + '_ok'] else 'fails'}) {w[who]!r}")


def rates_by_family(votes: dict[str, list[tuple[str, bool]]]) -> dict[str, tuple[float, float]]:
    """Thumbs-up rate per family and arm from (family, up) votes; prints a row per family and returns
    family -> (sft rate, dpo rate)."""
    rates = {}
    for f in sorted({f for v in votes.values() for f, _ in v}):
        x = {n: [up for g, up in v if g == f] for n, v in votes.items()}
        r = {n: sum(x[n]) / max(len(x[n]), 1) for n in x}
        rates[f] = (r["sft"], r["dpo"])
        print(f"  {f:8}" + "".join(f"  {n} {r[n]:.2f} of {len(x[n]):3}" for n in x))
    return rates


def enrol(arms, n_arm: int, questions: list[Task], seed: int = 0) -> dict[str, list]:
    """Sessions "user-00000", "user-00001", ... each routed to an arm by a hash of its id
    (`abtest.arm_for`: no lookup table, the same arm on every request), with a random question, until every
    arm has `n_arm`; a full arm enrols no one more. Returns arm -> [(session, question)]."""
    import random

    from helpers import abtest

    rng, enrolled, drawn = random.Random(seed), {name: [] for name in arms}, 0
    while min(map(len, enrolled.values())) < n_arm:
        session = f"user-{drawn:05d}"
        drawn += 1
        arm = abtest.arm_for(session, tuple(arms))
        if len(enrolled[arm]) < n_arm:
            enrolled[arm].append((session, rng.choice(questions)))
    return enrolled


def print_metrics(api_url: str) -> int:
    """The gateway's own counters at /metrics (Prometheus' text format, as a monitoring system scrapes
    them): the rejected requests and each arm's p95 latency. Returns the rejected count."""
    from helpers import client

    rejected = 0
    for line in client.get_text(api_url.removesuffix("/v1") + "/metrics").splitlines():
        if 'quantile="0.95"' in line or line.startswith("gateway_rejected"):
            name, value = line.rsplit(" ", 1)
            print(f"{name} {float(value):.3f}")
            rejected = int(float(value)) if name == "gateway_rejected_total" else rejected
    return rejected


def simulate(visit, enrolled: dict[str, list], concurrency: int, arms) -> list:
    """Every enrolled session's visit, `concurrency` at a time (users arrive together, not one by one),
    one arm's sessions after the other's; checks that each reply came from the arm its session id hashes
    to. Returns the visits."""
    from concurrent.futures import ThreadPoolExecutor

    from helpers import abtest

    t0, sessions = time.time(), [st for arm_sessions in enrolled.values() for st in arm_sessions]
    with ThreadPoolExecutor(concurrency) as pool:
        visits = list(pool.map(lambda st: visit(*st), sessions))
    routed = [abtest.arm_for(s, tuple(arms)) for s, _ in sessions]
    assert [v[0] for v in visits] == routed, "every session must reach its own arm"
    print(f"{len(visits)} simulated sessions, {concurrency} at a time, in {time.time() - t0:.0f} s")
    return visits


def break_even(c: float, v4: float, k: int = 4) -> float | None:
    """The lowest acceptance rate (in steps of 0.01) at which stage 11's formula predicts a speed-up."""
    from helpers import spec_schedules

    rates = (a / 100 for a in range(101))
    return next((a for a in rates if spec_schedules.predicted_speedup(a, k, c, v4) >= 1), None)


def monitor(rows: list[dict], arms) -> dict:
    """Per arm, from the gateway's request log: requests, first-token and whole-reply percentiles (s),
    and reply tokens per second of a request; prints a line per arm."""
    from helpers import loadtest

    out = {}
    for name in arms:
        mine = [r for r in rows if r["arm"] == name]
        out[name] = {
            "requests": len(mine),
            "ttft": loadtest.percentiles([r["first_token_s"] for r in mine]),
            "latency": loadtest.percentiles([r["latency_s"] for r in mine]),
            "tokens_per_s": sum(r["tokens_out"] for r in mine) / sum(r["latency_s"] for r in mine),
        }
        m = out[name]
        ms = {k: "/".join(f"{v * 1000:.0f}" for v in m[k].values()) for k in ("ttft", "latency")}
        print(
            f"{name}: {m['requests']} requests; TTFT ms p50/p95/p99 {ms['ttft']}; latency ms "
            f"{ms['latency']}; {m['tokens_per_s']:.0f} tokens/s per request"
        )
    return out


def waits(rows: list[dict]) -> dict:
    """From the gateway's log: the A/B sessions' mean first-token time and mean generation after it (s),
    section 8's requests sent one at a time (no session): their mean first-token time; and the median
    seconds per reply token after the first, for each of the two."""

    def mean(xs):
        return sum(xs) / len(xs) if xs else float("nan")

    def per_token(rs):
        xs = sorted((r["latency_s"] - r["first_token_s"]) / (r["tokens_out"] - 1) for r in rs)
        return xs[len(xs) // 2] if xs else float("nan")

    ab = [r for r in rows if r["session"]]
    alone = [r for r in rows if not r["session"]]
    return {
        "first": mean([r["first_token_s"] for r in ab]),
        "own": mean([r["latency_s"] - r["first_token_s"] for r in ab]),
        "first_alone": mean([r["first_token_s"] for r in alone]),
        "token": per_token([r for r in ab if r["tokens_out"] > 1]),
        "token_alone": per_token([r for r in alone if r["tokens_out"] > 1]),
    }


def slow_requests(rows: list[dict], monitor: dict, factor: float = 3.0) -> dict[str, list[int]]:
    """Per arm, the arrival positions (1 = the arm's first request) of the requests whose first token
    took over `factor` times the arm's median."""
    out = {}
    for name, m in monitor.items():
        firsts = [r["first_token_s"] for r in rows if r["arm"] == name]
        out[name] = [i + 1 for i, s in enumerate(firsts) if s > factor * m["ttft"]["p50"]]
    return out


def bad_requests(context: int) -> dict[str, str]:
    """Request bodies with a client's mistakes, each of which the gateway must answer with a 4xx: an empty
    message, a prompt over the context, a malformed body, a body that is not JSON, an unknown model."""
    import json

    ask = {"model": "dpo", "max_tokens": 8}

    def said(text):
        return [{"role": "user", "content": text}]

    return {
        "empty message": json.dumps({**ask, "messages": said("  ")}),
        "over-long prompt": json.dumps({**ask, "messages": said("a b " * context)}),
        "malformed body": json.dumps({**ask, "messages": "hello"}),
        "not JSON": "{oops",
        "unknown model": json.dumps({**ask, "model": "gpt-9", "messages": said("hi")}),
    }


def print_load(load: list[dict]) -> None:
    """The load test as a table: one row per number of concurrent clients."""
    print(
        f"{'clients':>8}{'done':>6}{'req/s':>8}{'tokens/s':>10}{'latency p50':>13}{'p95':>8}{'p99':>8}"
        f"{'TTFT p50':>10}"
    )
    for s in load:
        lat, first = s["latency"], s["first_token"]
        print(
            f"{s['concurrency']:8}{s['requests']:6}{s['requests_per_s']:8.2f}{s['tokens_per_s']:10.0f}"
            f"{lat['p50'] * 1000:11.0f}ms{lat['p95'] * 1000:6.0f}ms{lat['p99'] * 1000:6.0f}ms"
            f"{first['p50'] * 1000:8.0f}ms"
        )


def model_card_facts(record: dict, cfg, profile) -> dict:
    """The model card's sections (section -> {label: value}) from the run's results record."""
    s, d, dep, bar, spec = (
        record[k] for k in ("steps", "data", "deployment", "bar", "speculative")
    )
    final, ab = s["merged"], dep["ab"]
    names = {"unsafe": "harmful refused", "benign": "kind answered"}
    fams = [f for f in final if f not in ("mean", "eos_share")]
    exact = sum(x["same"] == x["prompts"] for x in spec.values())
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
        "win rate vs base (second judge)": "; ".join(
            f"{g} {w['win_rate']:.2f}" for g, w in record["win_rates"].items()
        ),
        "speculative decoding": f"equal to greedy with {exact} of {len(spec)} drafts; acceptance "
        + ", ".join(f"{n} {x['alpha']:.2f}" for n, x in spec.items()),
    }
    judges = "the second judge learned the same criterion as the first"
    if (jw := record.get("judge_wins")) and jw["wins"]:
        judges += (
            f"; on {jw['group']} the grader confirms {jw['agree']} of its {jw['wins']} wins"
            + (
                ", so its win rate there is not a measurement"
                if jw["agree"] < 0.8 * jw["wins"]
                else ""
            )
        )
    lo, hi, lat = dep["load"][0], dep["load"][-1], dep["monitor"]["dpo"]["latency"]
    ms = ", ".join(f"{q} {lat[q] * 1000:.0f} ms" for q in ("p50", "p95", "p99"))
    if not bar["base"]["met"]:
        verdict = "do not ship: the bar against the base is missed"
    elif not bar["SFT"]["met"]:
        verdict = (
            f"do not ship this model; serve the SFT model ({s['SFT']['mean']:.3f} held-out mean "
            f"against {final['mean']:.3f}): the bar against SFT is missed"
        )
    else:
        verdict = "ship: both halves of the bar set before training are met"
    return {
        "Recommendation": {"verdict": verdict},
        "Data": {
            "held-out questions": f"{d['held']} in {record['clusters']} clusters of paraphrases",
            "training data": f"{d['seed']} written answers, {d['replay']} replayed, "
            f"{record['expanded']} from expansion",
            "preference pairs": f"{record['pairs']} confident pairs from {d['pref_prompts']} prompts "
            f"({d['graded']} graded by reference, the rest judged by {profile.model('judge')})",
        },
        "Steps": {
            "base": cfg.policy,
            "training": f"LoRA SFT {cfg.sft_steps} steps, DPO {cfg.dpo_steps} steps with RPO",
            "merge": f"largest logit difference {record['merge_gap']:.1e}",
        },
        "Results": results,
        "Limits": {"domain": cfg.limits, "judge": judges},
        "Deployment": {
            "A/B test, simulated users": f"thumbs up dpo {ab['rate_b']:.2f} vs sft "
            f"{ab['rate_a']:.2f}, {dep['sessions_per_arm']} sessions per arm: {dep['verdict']}",
            "latency, dpo arm": f"{ms} ({profile.device}, `{dep['engine']} serve`)",
            "load test": f"{lo['tokens_per_s']:.0f} -> {hi['tokens_per_s']:.0f} reply tokens/s from "
            f"{lo['concurrency']} to {hi['concurrency']} concurrent clients",
            "feedback loop": f"{dep['feedback_pairs']} pairs; held-out mean "
            f"{s['merged']['mean']:.3f} -> {s['feedback DPO']['mean']:.3f} after one DPO round",
        },
    }
