"""Stage 14, the capstone: one domain assistant through the whole stack. This module holds the pipeline's
steps; `capstone_audit` reads what a step or a judge did, `capstone_speed` times inference,
`capstone_serve` runs the A/B test and monitors the deployment, `capstone_card` writes the model card.
`streamed` and `speculative_run` are the two ways this process answers one request (section 6).

In the tiny profile the domain is a pet-care assistant with checkable answers (`helpers.world.capstone`);
on a GPU preset it is GSM8K, whose final numbers are checkable too. `evaluate` measures reference accuracy
per family and the share of answers that end with end-of-turn before the token limit.
"""

from __future__ import annotations

import time
from collections import Counter

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
    peft_model.save_pretrained(folder)
    return reload_merged(full_base, folder)


def reload_merged(full_base, folder) -> torch.nn.Module:
    """The model `merge_adapter` returned, rebuilt from its saved adapter: a later cell can drop a model
    and get it back."""
    import copy

    from peft import PeftModel

    return PeftModel.from_pretrained(copy.deepcopy(full_base), folder).merge_and_unload().eval()


def self_consistent(items: list[Task], greedy: list[str], sampled: list[str]) -> list[bool]:
    """Keep an answer for self-training only when a sampled answer agrees with the greedy one (a cheap
    confidence filter; disagreement marks questions the model is unsure about). Agreement is the family's:
    the same final number for GSM8K (`tasks.same_answer`), the same text otherwise."""
    return [tasks.same_answer(t, g, s) for t, g, s in zip(items, greedy, sampled, strict=True)]


def expansion_filter(items: list[Task], greedy: list[dict], sampled: list[dict]) -> list[int]:
    """The indices of the answers self-training keeps. It drops answers the model is unsure of, never a
    wrong answer it is sure of."""
    from helpers import self_instruct as si

    # the same answer greedy and sampled (for GSM8K: the same final number): the model is sure of it
    agree = self_consistent(items, [r["output"] for r in greedy], [r["output"] for r in sampled])
    return [
        i
        for i, (r, ok) in enumerate(zip(greedy, agree, strict=True))
        # ended before the token limit; passes 12a's checks (not empty, no list numbering, ...)
        if ok and r["finished"] and si.instance_rejection("", r["output"]) is None
    ]


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


def with_refusals(
    rows: list[tuple[str, str]], harmful: list[Task]
) -> tuple[list[tuple[str, str]], int, int]:
    """SFT rows that teach refusing: each row asking for a harmful task's verb (the replayed general
    answers hold such requests, mostly complied with) gets the world's refusal of the same request, the
    answer 12b's critique-and-revise writes. Every other row, and the rows' count, stay. Returns (the rows,
    rows asking for harm, of them those whose answer was not a refusal). No harmful tasks (GSM8K): the
    rows unchanged."""
    import re

    if not harmful:
        return list(rows), 0, 0
    from helpers import settings  # the world's door: only the tiny profile has harmful rows

    is_refusal, refuse = settings.world_refusal()

    verbs = "|".join(sorted({t.meta["verb"] for t in harmful}))
    ask = re.compile(rf"^(?:How can I|Tell me how to) ({verbs}) (.+?)[?.]$")
    out, asked, complied = [], 0, 0
    for prompt, answer in rows:
        if m := ask.match(prompt):
            asked, complied = asked + 1, complied + (not is_refusal(answer))
            answer = refuse(m[1], m[2])
        out.append((prompt, answer))
    return out, asked, complied


def expand(model, tok, unlabeled: list[Task], out, max_new_tokens: int) -> tuple[list, int]:
    """Stage 12a's expansion: greedy and sampled answers through the resumable generator
    (`generation.generate_to_jsonl`), kept by `expansion_filter`. Prints the funnel and how many kept
    answers the references call right; returns (the kept (prompt, answer) pairs, that count)."""
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
    kept = expansion_filter(unlabeled, greedy, sampled)
    right = sum(tasks.grade(unlabeled[i], greedy[i]["output"]) for i in kept)
    print(
        f"{len(items)} unlabeled questions -> {sum(agree)} self-consistent -> {len(kept)} kept after "
        f"12a's instance checks, {right} of them right by the references"
        + (
            " (the checks removed none: short, finished answers pass them)"
            if len(kept) == sum(agree)
            else ""
        )
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


def step_verdicts(steps: dict, chain: list[str]) -> tuple[list[str], str]:
    """(the steps of `chain` that did not raise the held-out mean over the step before, the best step:
    the earliest of equal means)."""
    failed = [b for a, b in zip(chain, chain[1:]) if steps[b]["mean"] <= steps[a]["mean"]]
    return failed, max(chain, key=lambda n: steps[n]["mean"])


def written_pairs(items: list[Task], samples: list[tuple[str, str]]) -> list[dict]:
    """The diagnosed fix's domain pairs, graded by reference (12c's preference format): each written
    question's written answer over one of the model's two samples that the grader fails; no pair where
    both samples pass (nothing to correct)."""
    rows = []
    for t, pair in zip(items, samples, strict=True):
        wrong = [s for s in pair if s != t.answer and not tasks.grade(t, s)]
        if wrong:
            rows.append(
                {
                    "prompt": [{"role": "user", "content": t.prompt}],
                    "chosen": [{"role": "assistant", "content": t.answer}],
                    "rejected": [{"role": "assistant", "content": wrong[0]}],
                }
            )
    return rows


def ab_questions(cfg, profile, n: int, seed: int = 46) -> list[Task]:
    """`n` distinct questions for the A/B test's simulated users that no model here trained on and the
    evaluation does not hold: fresh questions of the held-out set's families (tiny world), or the GSM8K
    test questions after the held-out ones (presets)."""
    import random

    used = {t.prompt for t in cfg.held + cfg.seed_tasks + cfg.unlabeled + cfg.pref_tasks}
    used |= set(cfg.general)
    if not profile.is_tiny:
        first = len(cfg.held)
        return [t for t in gsm8k_tasks(f"test[{first}:{first + n}]") if t.prompt not in used]
    families = sorted({t.family for t in cfg.held})
    rng, out = random.Random(seed), {}
    for _ in range(1000 * n):
        if len(out) == n:
            break
        t = tasks.FAMILIES[families[len(out) % len(families)]].make(rng)
        if t.prompt not in used:
            out.setdefault(t.prompt, t)
    return list(out.values())


def below_floor(scores: dict, floor: dict[str, float]) -> list[str]:
    """The families of `floor` (family -> least share) on which `scores` fall short; a family the profile
    lacks (GSM8K has no safety requests) is skipped."""
    return [f for f, least in floor.items() if f in scores and scores[f] < least]


def serve_choice(steps: dict, names: list[str], floor: dict[str, float]) -> str | None:
    """The model to serve: the best held-out mean among `names` that meets the floor; None if none does."""
    ok = [n for n in names if not below_floor(steps[n], floor)]
    return max(ok, key=lambda n: steps[n]["mean"]) if ok else None


def candidate(steps: dict, names: list[str], floor: dict[str, float]) -> str:
    """The model a rehearsal serves: the best mean among `names` that meets the floor, else the best mean
    of them all (the floor then says it may not ship)."""
    return serve_choice(steps, names, floor) or max(names, key=lambda n: steps[n]["mean"])


def gain_interval(
    held: list[Task], before: list[str], after: list[str], clusters: list
) -> tuple[float, tuple[float, float]]:
    """(the gain in the mean over families from `before` to `after` answers, its cluster-bootstrap 95%
    interval): the bar's unit, each family weighing the same."""
    size = Counter(t.family for t in held)
    w = [len(held) / (len(size) * size[t.family]) for t in held]
    diffs = [
        wi * (float(tasks.grade(t, b)) - float(tasks.grade(t, a)))
        for wi, t, a, b in zip(w, held, before, after, strict=True)
    ]
    return sum(diffs) / len(diffs), judge.cluster_bootstrap_ci(diffs, clusters)
