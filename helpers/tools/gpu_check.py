"""GPU checks of stage 11's code paths with random-init models (the device machine reaches no hub).

    python -m helpers.tools.gpu_check --json data/results/gpu_check.json

1. Exactness under GPU numerics: the target as its own draft accepts every token in exact arithmetic, so
   any rejection is the verify pass (k+1 tokens at once) rounding differently from one-token decoding.
2. c and v(k) for the GPU presets' pair shapes in bf16: on a GPU a step costs kernel launches, so depth
   sets c more than parameter count does.
3. A 4-bit (bitsandbytes NF4) target: speculative output equals its own greedy `generate`.

    python -m helpers.tools.gpu_check --compiled --json data/results/gpu_compiled.json

4. The compiled path (static caches + `torch.compile(mode="reduce-overhead")`, CUDA graphs): c and v(k) of
   each preset pair's shapes eager and compiled, the predicted speed-up at the bench's alpha, and greedy
   parity of compiled speculative decoding in fp32. `--smoke` runs the same code on a CPU with small shapes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

from helpers import models, spec_costs, spec_schedules, speculative


def _shape(model_id: str) -> tuple[type, dict]:
    """A registered model's shape as (config class, kwargs), from its config.json facts (helpers/models.py)."""
    m = models.get(model_id)
    cls = Qwen2Config if m.family == "qwen" else LlamaConfig
    return cls, dict(
        hidden_size=m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        num_key_value_heads=m.kv_heads,
        intermediate_size=m.intermediate,
        vocab_size=m.vocab,
    )


SHAPES = {  # the presets' models as (config class, kwargs); weights random
    "SmolLM2-135M": _shape("HuggingFaceTB/SmolLM2-135M-Instruct"),
    "SmolLM2-1.7B": _shape("HuggingFaceTB/SmolLM2-1.7B-Instruct"),
    "Qwen2.5-0.5B": _shape("Qwen/Qwen2.5-0.5B-Instruct"),
    "Qwen2.5-7B": _shape("Qwen/Qwen2.5-7B-Instruct"),
    "TinyLlama-1.1B": _shape("TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    "Llama-68M": _shape("Felladrin/Llama-68M-Chat-v1"),
    "Qwen2.5-3B": _shape("Qwen/Qwen2.5-3B-Instruct"),
}
COMPILED_PAIRS = [
    ("TinyLlama-1.1B", "Llama-68M"),
    ("Qwen2.5-3B", "Qwen2.5-0.5B"),
    ("Qwen2.5-7B", "Qwen2.5-0.5B"),
]


def random_model(name: str, dtype, seed: int = 0, device: str = "cuda", small: bool = False):
    """A preset model's shape with random weights (`small`: 2 layers x 64, for the CPU smoke run)."""
    cls, kw = SHAPES[name]
    if small:
        kw = {
            **kw,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": min(2, kw["num_hidden_layers"]),
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 512,
        }
    torch.manual_seed(seed)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(cls(**kw), dtype=dtype).eval()


def greedy(model, ids, n):
    return model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=n,
        min_new_tokens=n,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )


def self_draft_check(model, n_prompts=5, n=64, k=4) -> dict:
    """alpha-hat with the model as its own draft, and how many outputs equal plain greedy."""
    g = torch.Generator().manual_seed(1)
    stats, equal = speculative.SpecStats(), 0
    for _ in range(n_prompts):
        ids = torch.randint(5, 1000, (1, 24), generator=g).cuda()
        seq, st = speculative.speculative_generate(model, model, ids, k=k, max_new_tokens=n)
        stats, equal = stats.merge(st), equal + int(torch.equal(seq, greedy(model, ids, n)))
    return {"alpha_hat_self": round(stats.alpha_hat, 4), "equal_to_greedy": f"{equal}/{n_prompts}"}


def pair_costs(target, draft) -> dict:
    ctx = torch.randint(5, 1000, (1, 128)).cuda()
    for _ in range(3):  # warm-up
        spec_costs.time_call(target, ctx, 1, 3), spec_costs.time_call(draft, ctx, 1, 3)
    c = spec_costs.measure_costs(target, draft, ctx, ks=range(1, 9), repeats=20)
    pred = {
        a: max(spec_schedules.predicted_speedup(a, k, c["c"], c["verify"][k]) for k in range(1, 9))
        for a in (0.6, 0.7, 0.8, 0.9)
    }
    return {
        "target_ms": round(c["target_ms"], 2),
        "draft_ms": round(c["draft_ms"], 2),
        "c": round(c["c"], 3),
        "verify": {k: round(v, 2) for k, v in c["verify"].items()},
        "best_predicted_speedup_at_alpha": {a: round(v, 2) for a, v in pred.items()},
    }


def static_step_ms(model, ctx, n_new: int, repeats: int = 20) -> float:
    """Median ms of one `n_new`-token pass after `ctx` with a static cache, rolled back by position after each
    (the compiled loop's own access pattern; the first calls compile and record, so they are not timed)."""
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=ctx.shape[1] + 32)
    model(input_ids=ctx, cache=cache, use_cache=True)
    new, times = ctx[:, -n_new:], []
    sync = torch.cuda.synchronize if ctx.is_cuda else (lambda: None)
    for _ in range(repeats + 3):
        sync()
        t0 = time.perf_counter()
        model(input_ids=new, cache=cache, use_cache=True, logits_to_keep=n_new)
        sync()
        times.append(time.perf_counter() - t0)
        speculative._crop(cache, ctx.shape[1])
    return 1e3 * sorted(times[3:])[repeats // 2]


def compiled_pair(
    t_name: str, d_name: str, alpha: float, device: str, small: bool, compile_kwargs: dict
) -> dict:
    """c and v(k) eager and compiled (static caches both), the predicted speed-up at `alpha`, and fp32 parity."""
    dtype = torch.float32 if small else torch.bfloat16
    out: dict = {}
    for label in ("eager", "compiled"):
        target, draft = (
            random_model(t_name, dtype, 0, device, small),
            random_model(d_name, dtype, 1, device, small),
        )
        if label == "compiled":
            target, draft = (
                spec_costs.compile_for_decoding(m, **compile_kwargs) for m in (target, draft)
            )
        ctx = torch.randint(5, 500, (1, 128), device=device)
        t1, d1 = static_step_ms(target, ctx, 1), static_step_ms(draft, ctx, 1)
        verify = {k: static_step_ms(target, ctx, k + 1) / t1 for k in range(1, 9)}
        best = max(
            spec_schedules.predicted_speedup(alpha, k, d1 / t1, v) for k, v in verify.items()
        )
        out[label] = {
            "target_ms": round(t1, 2),
            "draft_ms": round(d1, 2),
            "c": round(d1 / t1, 3),
            "verify": {k: round(v, 2) for k, v in verify.items()},
            "best_predicted_speedup": round(best, 2),
        }
        del target, draft
    target = random_model(t_name, torch.float32, 0, device, small)
    compiled = spec_costs.compile_for_decoding(
        random_model(t_name, torch.float32, 0, device, small), **compile_kwargs
    )
    ids = torch.randint(5, 500, (1, 24), device=device)
    seq, _ = speculative.speculative_generate(
        compiled, compiled, ids, k=4, max_new_tokens=32, static_cache=True
    )
    out["fp32_self_draft_equal_to_greedy"] = bool(torch.equal(seq, greedy(target, ids, 32)))
    out["alpha"] = alpha
    return out


def four_bit_check() -> dict:
    from transformers import BitsAndBytesConfig

    with tempfile.TemporaryDirectory() as tmp:
        random_model("TinyLlama-1.1B", torch.bfloat16).save_pretrained(tmp)
        q = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        model = AutoModelForCausalLM.from_pretrained(
            tmp, quantization_config=q, device_map="cuda"
        ).eval()
        # any draft: greedy output must still equal
        draft = random_model("SmolLM2-135M", torch.bfloat16)
        draft.resize_token_embeddings(32000)
        ids = torch.randint(5, 1000, (1, 24)).cuda()
        seq, st = speculative.speculative_generate(model, draft, ids, k=4, max_new_tokens=48)
        return {
            "memory_gb": round(model.get_memory_footprint() / 1e9, 2),
            "equal_to_greedy": bool(torch.equal(seq, greedy(model, ids, 48))),
            "self": self_draft_check(model, n_prompts=3, n=48),
        }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m helpers.tools.gpu_check", description=__doc__)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--compiled", action="store_true", help="only check 4: the compiled path per preset pair"
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="check 4 on this CPU with small shapes (dynamo, eager backend)",
    )
    args = ap.parse_args(argv)
    import transformers

    if args.compiled or args.smoke:
        bench = Path(__file__).resolve().parents[2] / "data" / "results" / "speculative_bench.json"
        rows = json.loads(bench.read_text())["rows"] if bench.exists() else []
        alpha = max(
            (r["alpha_hat"] or 0 for r in rows if r["method"].startswith("ours")), default=0.8
        )
        device, kw = ("cpu", {"backend": "eager", "mode": None}) if args.smoke else ("cuda", {})
        out = {
            "gpu": "cpu (smoke)" if args.smoke else torch.cuda.get_device_name(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "pairs": {},
        }
        for t, d in COMPILED_PAIRS:
            try:
                out["pairs"][f"{t} + {d}"] = compiled_pair(
                    t, d, round(alpha, 3), device, args.smoke, kw
                )
            # report, do not hide: a GPU run is too precious to lose to one pair
            except Exception as e:
                out["pairs"][f"{t} + {d}"] = {"error": f"{type(e).__name__}: {e}"[:300]}
            print(t, d, out["pairs"][f"{t} + {d}"], flush=True)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        return

    out: dict = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    out["self_draft"] = {}
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        out["self_draft"][str(dtype).split(".")[-1]] = self_draft_check(
            random_model("TinyLlama-1.1B", dtype)
        )
        print(out["self_draft"], flush=True)
    out["pairs"] = {}
    for t, d in (("SmolLM2-1.7B", "SmolLM2-135M"), ("Qwen2.5-7B", "Qwen2.5-0.5B")):
        out["pairs"][f"{t} + {d}"] = pair_costs(
            random_model(t, torch.bfloat16), random_model(d, torch.bfloat16)
        )
        print(t, d, out["pairs"][f"{t} + {d}"], flush=True)
        torch.cuda.empty_cache()
    try:
        out["four_bit"] = four_bit_check()
    except Exception as e:  # report, do not hide: bitsandbytes may be missing on the machine
        out["four_bit"] = {"error": f"{type(e).__name__}: {e}"[:300]}
    print(out["four_bit"], flush=True)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
