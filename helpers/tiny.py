"""The tiny world: an offline tokenizer and small Llama models trained on the synthetic chat tasks.

`python -m helpers.tiny build` makes it once (deterministic, a few minutes on 2 CPU cores) and caches it
on disk under a hash of its recipe and code; later calls load it in seconds. Models are saved with
`save_pretrained`, so notebooks load tiny and hub models through the same `from_pretrained` path.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from helpers import generation, tasks

SPECIALS = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
# ChatML. `{% generation %}` marks assistant tokens (TRL's assistant-only loss); the end-of-turn token
# sits inside the span so that a fine-tuned model learns to stop.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

RECIPE: dict = {
    "version": 1,
    "seed": 0,
    "tokenizer": {"vocab_size": 2048, "corpus_docs": 20000},
    "train_docs": 40000,
    "models": {
        # Target: 4 layers x 256. Draft: 1 layer x 128, ~10x fewer parameters, trained for fewer steps.
        "target": {"hidden": 256, "layers": 4, "heads": 4, "mlp": 688, "steps": 400, "batch": 32, "lr": 2e-3},
        "draft": {"hidden": 128, "layers": 1, "heads": 2, "mlp": 384, "steps": 300, "batch": 16, "lr": 3e-3},
    },
    "eval_per_family": 40,
}

# Stage 11's benchmark pair: a target big enough that its compute, not Python overhead, sets its step
# time on a CPU (c = draft/target step time ~ 0.06), and a 1-layer draft distilled on the target's own
# greedy answers (DistillSpec) to raise the acceptance rate. Built only by the benchmark (~15 min).
BENCH_RECIPE: dict = {
    **RECIPE,
    "threads": 2,
    "models": {
        "target": {"hidden": 512, "layers": 8, "heads": 8, "mlp": 1376, "steps": 400, "batch": 24, "lr": 2e-3},
        "draft": {
            "hidden": 128,
            "layers": 1,
            "heads": 2,
            "mlp": 384,
            "steps": 1500,
            "batch": 32,
            "lr": 3e-3,
            "distill_from": "target",
            "distill_docs": 6000,
            "distill_tokens": 128,
        },
    },
    "eval_per_family": 20,
}


# ---------------------------------------------------------------- cache
def cache_root() -> Path:
    return Path(os.environ.get("COURSE_CACHE", Path.home() / ".cache" / "llm-course"))


def recipe_hash(recipe: dict) -> str:
    """Key of a build: the recipe, the code that turns it into models, and the library versions."""
    import transformers

    makers = (build_tokenizer, llama_config, new_model, encode_docs, train_lm, distill_docs, evaluate, build)
    code = inspect.getsource(tasks) + CHAT_TEMPLATE + "".join(inspect.getsource(f) for f in makers)
    blob = json.dumps(recipe, sort_keys=True) + code + torch.__version__ + transformers.__version__
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def world_dir(recipe: dict | None = None) -> Path:
    return cache_root() / "tiny" / recipe_hash(recipe or RECIPE)


# ---------------------------------------------------------------- tokenizer
def corpus_texts(n_docs: int, seed: int) -> list[str]:
    """Plain text for training the tokenizer: the chat docs plus role words."""
    docs = tasks.sample_tasks(n_docs, "train", seed)
    return [f"user assistant system\n{t.prompt}\n{t.answer}" for t in docs]


def build_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE trained offline with `tokenizers`, wrapped as an ordinary HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>", "<|endoftext|>", "<image>"],
        padding_side="left",
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


# ---------------------------------------------------------------- models
def llama_config(tok, hidden: int, layers: int, heads: int, mlp: int, **_) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )


def new_model(tok, spec: dict, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(tok, **spec))
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model


def encode_docs(tok, docs: list[tasks.Task]) -> list[list[int]]:
    out = []
    for t in docs:
        enc = tok.apply_chat_template(tasks.to_messages(t), tokenize=True, return_dict=True)
        out.append(list(enc["input_ids"]))
    return out


def train_lm(model, rows: list[list[int]], pad_id: int, steps: int, batch: int, lr: float, seed: int) -> list[float]:
    """Next-token training on whole chat docs (AdamW, warm-up then cosine decay). Returns the losses."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / steps)))
    )
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="train", mininterval=5):
        idx = torch.randint(len(rows), (batch,), generator=gen).tolist()
        width = max(len(rows[i]) for i in idx)
        ids = torch.full((batch, width), pad_id)
        for b, i in enumerate(idx):
            ids[b, : len(rows[i])] = torch.tensor(rows[i])
        mask = (ids != pad_id).long()
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def distill_docs(teacher, tok, n: int, seed: int, new_tokens: int = 128, batch: int = 128) -> list[list[int]]:
    """Train prompts followed by the teacher's greedy continuation of exactly `new_tokens` tokens, past
    its end-of-turn too: the regime the speed benchmark measures (DistillSpec: train on the target)."""
    rows = []
    prompts = [generation.chat_prompt_ids(tok, t.prompt) for t in tasks.sample_tasks(n, "train", seed)]
    for i in tqdm(range(0, n, batch), desc="distill", mininterval=5):
        ids, mask = generation.left_pad(prompts[i : i + batch], tok.pad_token_id)
        out = teacher.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=tok.pad_token_id,
        )
        rows += [p + out[j, ids.shape[1] :].tolist() for j, p in enumerate(prompts[i : i + batch])]
    return rows


def evaluate(model, tok, heldout: list[tasks.Task], batch_size: int = 120) -> dict[str, float]:
    """Held-out accuracy per family (greedy answers, graded by the family's rule)."""
    answers = generation.chat_generate(
        model, tok, [t.prompt for t in heldout], max_new_tokens=72, batch_size=batch_size
    )
    scores: dict[str, list[bool]] = {}
    for t, a in zip(heldout, answers):
        scores.setdefault(t.family, []).append(tasks.grade(t, a))
    acc = {f: sum(v) / len(v) for f, v in scores.items()}
    acc["mean"] = sum(acc.values()) / len(acc)
    return acc


# ---------------------------------------------------------------- build / load
def build(recipe: dict | None = None, force: bool = False, verbose: bool = True) -> Path:
    """Build (or find in the cache) the tiny world; returns its directory."""
    recipe = recipe or RECIPE
    out = world_dir(recipe)
    if (out / "world.json").exists() and not force:
        if verbose:
            print(f"tiny world: cache hit {out}")
            print(world_table(json.loads((out / "world.json").read_text())))
        return out
    # One thread: deterministic and, on a shared 2-core machine, fastest for tiny models.
    torch.set_num_threads(recipe.get("threads", 1))
    seed = recipe["seed"]
    t0 = time.time()
    tok = build_tokenizer(corpus_texts(recipe["tokenizer"]["corpus_docs"], seed), recipe["tokenizer"]["vocab_size"])
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")  # concurrent builds never share a folder
    tok.save_pretrained(tmp / "tokenizer")
    rows = encode_docs(tok, tasks.sample_tasks(recipe["train_docs"], "train", seed + 1))
    heldout = tasks.heldout_by_family(recipe["eval_per_family"])
    info: dict = {"hash": out.name, "recipe": recipe, "vocab": len(tok), "models": {}}
    trained: dict = {}
    for role, spec in recipe["models"].items():
        t1 = time.time()
        model = new_model(tok, spec, seed)
        docs = rows
        if "distill_from" in spec:  # train on the teacher's own outputs: the draft learns to agree
            docs = distill_docs(
                trained[spec["distill_from"]], tok, spec["distill_docs"], seed + 2, spec["distill_tokens"]
            )
        losses = train_lm(model, docs, tok.pad_token_id, spec["steps"], spec["batch"], spec["lr"], seed)
        trained[role] = model
        train_s = time.time() - t1
        model.save_pretrained(tmp / role)
        tok.save_pretrained(tmp / role)  # so AutoTokenizer works on a model folder, as on the hub
        info["models"][role] = {
            "params": sum(p.numel() for p in model.parameters()),
            "train_s": round(train_s, 1),
            "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
            "heldout": {k: round(v, 4) for k, v in evaluate(model, tok, heldout).items()},
        }
    info["build_s"] = round(time.time() - t0, 1)
    (tmp / "world.json").write_text(json.dumps(info, indent=2))
    if force and out.exists():
        import shutil

        shutil.rmtree(out)
    try:
        tmp.rename(out)  # atomic: a world folder is complete or absent
    except OSError:  # another process finished the same build first; keep theirs
        import shutil

        shutil.rmtree(tmp)
    if verbose:
        print(world_table(info))
        print(f"tiny world built in {info['build_s']} s -> {out}")
    return out


def pack_rows(rows: list[list[int]], width: int) -> list[list[int]]:
    """Concatenate whole docs into rows of at most `width` tokens: batches of short and long docs then
    waste no compute on padding."""
    packed: list[list[int]] = [[]]
    for row in rows:
        if packed[-1] and len(packed[-1]) + len(row) > width:
            packed.append([])
        packed[-1] += row
    return packed


def cached(name: str, key: str, make, recipe: dict | None = None) -> Path:
    """A folder under the world's cache built once by `make(folder)`, keyed by a hash of `key` (the recipe
    and code of what is built); an interrupted build leaves no half-written folder behind."""
    out = world_dir(recipe) / "ext" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    if (out / "info.json").exists():
        return out
    torch.set_num_threads((recipe or RECIPE).get("threads", 1))
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    info = make(tmp)
    info["build_s"] = round(time.time() - t0, 1)
    (tmp / "info.json").write_text(json.dumps(info, indent=2))
    try:
        tmp.rename(out)
    except OSError:  # another process built it first
        import shutil

        shutil.rmtree(tmp)
    return out


def extend(name: str, mix: dict[str, float], spec: dict, code: str, eval_families: tuple[str, ...] = ()) -> Path:
    """A world model trained further on a `mix` of task families (share of the docs per family; a later
    stage's formats plus core tasks against forgetting), cached like the world under a hash of the world,
    the spec and the `code` that defines those families."""

    def make(folder: Path) -> dict:
        t0 = time.time()
        tok = load_tokenizer()
        model = load_model(spec["base"])
        total = sum(mix.values())
        docs = [
            task
            for i, (family, share) in enumerate(mix.items())
            for task in tasks.sample_tasks(round(spec["docs"] * share / total), "train", spec["seed"] + i, (family,))
        ]
        rows = encode_docs(tok, docs)
        rows = pack_rows(rows, spec["pack"]) if spec.get("pack") else rows
        losses = train_lm(model, rows, tok.pad_token_id, spec["steps"], spec["batch"], spec["lr"], spec["seed"])
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        info = {"name": name, "spec": spec, "mix": mix, "train_s": round(time.time() - t0, 1)}
        info["final_loss"] = round(sum(losses[-20:]) / 20, 4)
        if eval_families:
            heldout = tasks.heldout_by_family(RECIPE["eval_per_family"], families=eval_families)
            info["heldout"] = {k: round(v, 4) for k, v in evaluate(model, tok, heldout).items()}
        return info

    return cached(name, json.dumps([spec, mix, eval_families], sort_keys=True) + code, make)


# Extensions by name, built on first use by the stage module that defines their families.
EXTENSIONS = {
    "generator": "helpers.tiny_self_instruct:generator_path",
    "policy": "helpers.tiny_safety:policy_path",
    "judge": "helpers.rlaif:labeler_path",
    "evaluator": "helpers.rlaif:evaluator_path",
    "helpful": "helpers.tiny_cai:helpful_path",
    "feedback": "helpers.tiny_cai:feedback_path",
}


def world_table(info: dict) -> str:
    """Parameters, training time and held-out accuracy per family, one row per model."""
    fams = list(next(iter(info["models"].values()))["heldout"])
    head = f"{'model':8} {'params':>9} {'train s':>8} " + " ".join(f"{f:>7}" for f in fams)
    lines = [f"tiny world {info['hash']}  (vocab {info['vocab']})", head, "-" * len(head)]
    for role, m in info["models"].items():
        accs = " ".join(f"{m['heldout'][f]:7.2f}" for f in fams)
        lines.append(f"{role:8} {m['params']:9,d} {m['train_s']:8.1f} {accs}")
    return "\n".join(lines)


def world_info(recipe: dict | None = None) -> dict:
    return json.loads((build(recipe, verbose=False) / "world.json").read_text())


def load_tokenizer(recipe: dict | None = None):
    return AutoTokenizer.from_pretrained(build(recipe, verbose=False) / "tokenizer")


def load_model(role: str, recipe: dict | None = None):
    """A tiny-world model by role ('target' or 'draft'), in eval mode."""
    path = build(recipe, verbose=False) / role
    if not path.exists():
        raise KeyError(f"the tiny world has no model {role!r}; it has {sorted(RECIPE['models'])}")
    return AutoModelForCausalLM.from_pretrained(path).eval()


def resolve(name: str) -> str:
    """'tiny:target' -> its directory on disk; anything else (hub id, local path) unchanged."""
    if not name.startswith("tiny:"):
        return name
    role = name.split(":", 1)[1]
    if role in EXTENSIONS:
        import importlib

        module, function = EXTENSIONS[role].split(":")
        return str(getattr(importlib.import_module(module), function)())
    return str(build(verbose=False) / role)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.tiny", description=__doc__)
    parser.add_argument("command", choices=["build", "path"])
    parser.add_argument("--force", action="store_true", help="rebuild even on a cache hit")
    parser.add_argument("--json", type=Path, help="also write the world's figures here")
    parser.add_argument("--recipe", choices=["tiny", "bench"], default="tiny", help="bench: stage 11's speed pair")
    args = parser.parse_args(argv)
    recipe = BENCH_RECIPE if args.recipe == "bench" else RECIPE
    from helpers.profiles import go_offline

    go_offline()
    if args.command == "path":
        print(world_dir(recipe))
    else:
        out = build(recipe, force=args.force)
        if recipe is RECIPE:  # the stages' extensions of the default world (cached like it)
            for name in EXTENSIONS:
                print(f"extension {name}: {resolve('tiny:' + name)}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text((out / "world.json").read_text())


if __name__ == "__main__":
    main()
