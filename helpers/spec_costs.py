"""What a speculative step costs, measured: c (draft step / target step) and v(k) (a (k+1)-token target
pass / a 1-token one), and `torch.compile` for decoding with a static cache (CUDA graphs on a GPU).
"""

from __future__ import annotations

import time

import torch

from helpers.speculative import _crop


def timed(fn, *args, cuda: bool = False):
    """(seconds, result) of one call of `fn(*args)`: the course's one timing primitive. On a GPU the
    device is synchronized before and after, since kernels return before they finish."""
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    t0 = time.perf_counter()
    out = fn(*args)
    sync()
    return time.perf_counter() - t0, out


@torch.inference_mode()  # the mode speculative_generate runs in, so c and v(k) are its costs
def time_call(model, context: torch.Tensor, n_new: int, repeats: int = 20) -> float:
    """Median seconds of one cached forward over `n_new` new tokens after `context`."""
    cache, times = model(input_ids=context, use_cache=True).cache, []
    new = context[:, -n_new:]

    def step():
        return model(input_ids=new, cache=cache, use_cache=True, logits_to_keep=n_new)

    for _ in range(repeats):
        times.append(timed(step, cuda=context.is_cuda)[0])
        _crop(cache, context.shape[1])
    return sorted(times)[len(times) // 2]


def measure_costs(target, draft, context: torch.Tensor, ks=range(1, 9), repeats: int = 20) -> dict:
    """c = draft step / target step, and v(k) = target (k+1)-token pass / target 1-token pass."""
    t1 = time_call(target, context, 1, repeats)
    d1 = time_call(draft, context, 1, repeats)
    verify = {k: time_call(target, context, k + 1, repeats) / t1 for k in ks}
    return {"target_ms": t1 * 1e3, "draft_ms": d1 * 1e3, "c": d1 / t1, "verify": verify}


def compile_for_decoding(model, **compile_kwargs):
    """`torch.compile` a model's forward for decoding with `static_cache=True`. On a GPU the default
    `mode="reduce-overhead"` records CUDA graphs, so a step costs one graph launch instead of one launch per
    kernel: the per-layer floor that makes a deep draft cost what its target costs at batch 1 (section 10).
    Each new input shape compiles once (the draft's 1-token step, the target's (k+1)-token pass)."""
    import torch._dynamo

    # one graph per shape
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    model.forward = torch.compile(
        model.forward, **({"mode": "reduce-overhead", "dynamic": False} | compile_kwargs)
    )
    return model


def measure_costs_repeated(
    target, draft, context: torch.Tensor, ks=range(1, 9), runs: int = 7, repeats: int = 20
) -> dict:
    """`measure_costs` taken `runs` times in a row: the median over runs of the target step, of c and of each
    v(k), and every run's c and target step in `c_runs` and `target_ms_runs` (a clock ratio moves with the
    machine's load; they show how much)."""
    every = [measure_costs(target, draft, context, ks=ks, repeats=repeats) for _ in range(runs)]

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return {
        "target_ms": median([m["target_ms"] for m in every]),
        "draft_ms": median([m["draft_ms"] for m in every]),
        "c": median([m["c"] for m in every]),
        "verify": {k: median([m["verify"][k] for m in every]) for k in every[0]["verify"]},
        "c_runs": [m["c"] for m in every],
        "target_ms_runs": [m["target_ms"] for m in every],
    }


def second_pair(names: tuple[str, str], prompts: list[str], profile, max_new_tokens: int) -> dict:
    """Another same-tokenizer pair (target, draft names) measured the short way: its shared logits `V`, c on
    the first prompt, greedy acceptance `alpha` and the prompts `equal` to greedy `generate` of `n`. Frees both."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers import distill, generation, profiles, training
    from helpers.speculative import shared_vocab_size

    target, draft = (
        AutoModelForCausalLM.from_pretrained(profiles.resolve_model(m), dtype=profile.dtype)
        .to(profile.device)
        .eval()
        for m in names
    )
    tok, draft_tok = (AutoTokenizer.from_pretrained(profiles.resolve_model(m)) for m in names)
    V = shared_vocab_size(target, draft, tok, draft_tok)
    first = torch.tensor([generation.chat_prompt_ids(tok, prompts[0])], device=profile.device)
    c = measure_costs(target, draft, first, ks=(1,))["c"]
    equal, alpha = distill.acceptance(target, draft, tok, prompts, max_new_tokens, V)
    del target, draft
    training.free_memory()
    return {
        "names": tuple(names),
        "V": V,
        "c": c,
        "alpha": alpha,
        "equal": equal,
        "n": len(prompts),
    }
