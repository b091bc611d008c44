"""The tiny world's tokenizer and base models: a byte-level BPE and small Llama models trained on the
synthetic chat tasks (`helpers.world.families`).

Models are saved with `save_pretrained`, so notebooks load tiny and hub models through the same
`from_pretrained` path. Each model is cached on its own (`helpers.world.cache`) and built on demand;
`extend` registers a later stage's model: a world model trained further on a mix of families.
"""

from __future__ import annotations

import math
import os
import time
from functools import cache as memo
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from helpers import generation
from helpers import tasks as checks
from helpers.world import cache
from helpers.world import families as tasks

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

SEED = 0
# Another world, for checking that a figure is not one seed's luck: COURSE_WORLD_SEED=k moves every model's
# seed and its training data's seed by 1000 k (the tokenizer stays). Its models have keys of their own.
WORLD_SEED = int(os.environ.get("COURSE_WORLD_SEED", "0"))
TOKENIZER = {"vocab_size": 2048, "corpus_docs": 20000, "seed": SEED}
TRAIN_DOCS = {"docs": 40000, "seed": SEED + 1 + 1000 * WORLD_SEED}
EVAL_PER_FAMILY = 40
# Target: 4 layers x 256. Draft: 1 layer x 128, ~10x fewer parameters, trained for fewer steps.
TARGET = {
    "hidden": 256,
    "layers": 4,
    "heads": 4,
    "mlp": 688,
    "steps": 400,
    "batch": 32,
    "lr": 2e-3,
    "seed": SEED,
}
DRAFT = {
    "hidden": 128,
    "layers": 1,
    "heads": 2,
    "mlp": 384,
    "steps": 300,
    "batch": 16,
    "lr": 3e-3,
    "seed": SEED,
}


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


# Seconds a calibration step took on the machine whose build times the recipes' `expected_s` record (a 2.45 GHz
# AMD EPYC of the Zen 3 generation, AVX2, 2026-12-07: 2.09, 2.11 and 2.13 in three runs).
CALIBRATION_STEP_S = 2.11


def calibration_step_s(steps: int = 3) -> float:
    """Seconds per training step of a target-shaped model on random rows, one thread: this machine's pace
    before anything is built (about 10 s), so that a fresh machine's first estimate is its own. The
    caller's random stream is left as it was."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            config = LlamaConfig(
                vocab_size=900,
                hidden_size=TARGET["hidden"],
                intermediate_size=TARGET["mlp"],
                num_hidden_layers=TARGET["layers"],
                num_attention_heads=TARGET["heads"],
                num_key_value_heads=TARGET["heads"],
                tie_word_embeddings=True,
            )
            model = LlamaForCausalLM(config).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            ids = torch.randint(900, (TARGET["batch"], 128))

            def train_step() -> None:
                model(input_ids=ids, labels=ids).loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            train_step()  # warm-up, not timed
            t0 = time.perf_counter()
            for _ in range(steps):
                train_step()
            return (time.perf_counter() - t0) / steps
    finally:
        torch.set_num_threads(threads)


def encode_docs(tok, docs: list[tasks.Task]) -> list[list[int]]:
    """Each doc as the chat template's token ids, in one batched call: the same ids as one call per doc, and
    every key of the world from scratch (its data made again, as after any source edit) in 37 s, not 56."""
    if not docs:
        return []
    enc = tok.apply_chat_template(
        [tasks.to_messages(t) for t in docs], tokenize=True, return_dict=True
    )
    return [list(ids) for ids in enc["input_ids"]]


def answer_masks(tok, docs: list[tasks.Task]) -> list[list[int]]:
    """1 on each doc's answer tokens (the template's `{% generation %}` span, end of turn included), else 0."""
    if not docs:
        return []
    enc = tok.apply_chat_template(
        [tasks.to_messages(t) for t in docs],
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    return [list(mask) for mask in enc["assistant_masks"]]


def train_lm(
    model,
    rows: list[list[int]],
    pad_id: int,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    targets: list[list[int]] | None = None,
) -> list[float]:
    """Next-token training on whole chat docs (AdamW, warm-up then cosine decay), or only on the tokens
    `targets` marks with 1 (answers, not prompts). Returns the losses."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / steps)))
        ),
    )
    model.train()
    losses = []
    quiet = os.environ.get("COURSE_PROGRESS") == "0"
    for done in tqdm(range(1, steps + 1), desc="train", mininterval=5, disable=quiet):
        idx = torch.randint(len(rows), (batch,), generator=gen).tolist()
        width = max(len(rows[i]) for i in idx)
        ids, trained = (
            torch.full((batch, width), pad_id),
            torch.zeros(batch, width, dtype=torch.bool),
        )
        for b, i in enumerate(idx):
            ids[b, : len(rows[i])] = torch.tensor(rows[i])
            trained[b, : len(rows[i])] = torch.tensor(targets[i]).bool() if targets else True
        mask = (ids != pad_id).long()
        labels = ids.masked_fill((mask == 0) | ~trained, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        cache.step(done, steps)
    model.eval()
    return losses


@torch.no_grad()
def continuations(
    model, tok, prompts: list[list[int]], new_tokens: int, batch: int = 128
) -> list[list[int]]:
    """Each prompt followed by the model's greedy continuation of exactly `new_tokens` tokens, past its
    end-of-turn too (DistillSpec's data: what the draft must agree with). Not `distill.target_answers`, which
    stops at end-of-turn and writes text: the bench draft is measured on fixed-length continuations."""
    rows = []
    for i in tqdm(
        range(0, len(prompts), batch),
        desc="distill",
        mininterval=10,
        disable=os.environ.get("COURSE_PROGRESS") == "0",
    ):
        ids, mask = generation.left_pad(prompts[i : i + batch], tok.pad_token_id)
        out = model.generate(
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


def pack_rows(rows: list[list[int]], width: int) -> list[list[int]]:
    """Concatenate whole docs into rows of at most `width` tokens: batches of short and long docs then
    waste no compute on padding."""
    packed: list[list[int]] = [[]]
    for row in rows:
        if packed[-1] and len(packed[-1]) + len(row) > width:
            packed.append([])
        packed[-1] += row
    return packed


def mean_tail(losses: list[float], n: int = 20) -> float:
    return round(sum(losses[-n:]) / len(losses[-n:]), 4)


# ---------------------------------------------------------------- the world's recipes
@memo
def corpus() -> list[str]:
    return corpus_texts(TOKENIZER["corpus_docs"], TOKENIZER["seed"])


def make_tokenizer(folder: Path) -> dict:
    tok = build_tokenizer(corpus(), TOKENIZER["vocab_size"])
    tok.save_pretrained(folder)
    return {"vocab": len(tok)}


def load_tokenizer():
    return AutoTokenizer.from_pretrained(cache.ensure("tokenizer"))


def load_model(name: str):
    """A world model by name ('target', 'draft', 'policy', ...), in eval mode."""
    from helpers.world import load_all

    load_all()
    return AutoModelForCausalLM.from_pretrained(cache.ensure(name)).eval()


@memo
def train_docs() -> list[list[int]]:
    """The base models' training data: chat docs of the core families, as token ids."""
    return encode_docs(
        load_tokenizer(), tasks.sample_tasks(TRAIN_DOCS["docs"], "train", TRAIN_DOCS["seed"])
    )


def save(model, tok, folder: Path) -> None:
    model.save_pretrained(folder)
    tok.save_pretrained(folder)  # so AutoTokenizer works on a model folder, as on the hub


def reseeded(spec: dict) -> dict:
    """`spec` with its seed moved by the world seed (unchanged in the default world)."""
    return {**spec, "seed": spec["seed"] + 1000 * WORLD_SEED} if WORLD_SEED else spec


def lm_recipe(
    name: str,
    about: str,
    spec: dict,
    data,
    parents: tuple[str, ...] = ("tokenizer",),
    eval_families: tuple[str, ...] | None = None,
    eval_per_family: int = EVAL_PER_FAMILY,
    expected_s: float = 60.0,
    version: int = 1,
) -> cache.Recipe:
    """Register a model trained from scratch by `train_lm` on `data()` (token-id rows)."""
    spec = reseeded(spec)

    def make(folder: Path) -> dict:
        tok = load_tokenizer()
        model = new_model(tok, spec, spec["seed"])
        t0 = time.time()
        losses = train_lm(
            model, data(), tok.pad_token_id, spec["steps"], spec["batch"], spec["lr"], spec["seed"]
        )
        train_s = time.time() - t0
        save(model, tok, folder)
        figures = {
            "params": sum(p.numel() for p in model.parameters()),
            "train_s": round(train_s, 1),
        }
        figures["final_loss"] = mean_tail(losses)
        heldout = tasks.heldout_by_family(eval_per_family, families=eval_families)
        figures["heldout"] = {
            k: round(v, 4) for k, v in checks.accuracy(model, tok, heldout).items()
        }
        return figures

    return cache.register(cache.Recipe(name, about, version, spec, parents, data, make, expected_s))


cache.register(
    cache.Recipe(
        "tokenizer",
        "byte-level BPE of the world's chat docs",
        1,
        TOKENIZER,
        (),
        corpus,
        make_tokenizer,
        expected_s=2,
    )
)
lm_recipe(
    "target",
    "the world's target model (every stage starts from it)",
    TARGET,
    train_docs,
    expected_s=377,
)
lm_recipe(
    "draft", "stage 11's draft, ~10x smaller than the target", DRAFT, train_docs, expected_s=28
)


def mixed_docs(mix: dict[str, float], n_docs: int, seed: int) -> list[tasks.Task]:
    """`n_docs` train docs split over families by `mix` (share of the docs per family)."""
    total = sum(mix.values())
    return [
        task
        for i, (family, share) in enumerate(mix.items())
        for task in tasks.sample_tasks(round(n_docs * share / total), "train", seed + i, (family,))
    ]


def extend(
    name: str,
    about: str,
    mix: dict[str, float],
    spec: dict,
    eval_families: tuple[str, ...] = (),
    expected_s: float = 120.0,
    version: int = 1,
) -> cache.Recipe:
    """Register a world model trained further on a `mix` of task families (a later stage's formats plus
    core tasks against forgetting); `answer_only` in the spec puts the loss on answers only. `version`
    covers the code that trains it: bump it when that code changes."""
    spec = reseeded(spec)

    @memo
    def data() -> list[list[int]] | dict[str, list[list[int]]]:
        """Token ids; with `answer_only` in the spec, also the answer masks that restrict the loss."""
        tok, docs = load_tokenizer(), mixed_docs(mix, spec["docs"], spec["seed"])
        pack = (
            (lambda rows: pack_rows(rows, spec["pack"]))
            if spec.get("pack")
            else (lambda rows: rows)
        )
        rows = pack(encode_docs(tok, docs))
        return (
            {"rows": rows, "targets": pack(answer_masks(tok, docs))}
            if spec.get("answer_only")
            else rows
        )

    def make(folder: Path) -> dict:
        tok, model = load_tokenizer(), load_model(spec["base"])
        t0 = time.time()
        rows, targets = (
            (data()["rows"], data()["targets"]) if spec.get("answer_only") else (data(), None)
        )
        losses = train_lm(
            model,
            rows,
            tok.pad_token_id,
            spec["steps"],
            spec["batch"],
            spec["lr"],
            spec["seed"],
            targets,
        )
        figures = {
            "mix": mix,
            "train_s": round(time.time() - t0, 1),
            "final_loss": mean_tail(losses),
        }
        save(model, tok, folder)
        if eval_families:
            heldout = tasks.heldout_by_family(EVAL_PER_FAMILY, families=eval_families)
            figures["heldout"] = {
                k: round(v, 4) for k, v in checks.accuracy(model, tok, heldout).items()
            }
        return figures

    return cache.register(
        cache.Recipe(name, about, version, spec, (spec["base"],), data, make, expected_s)
    )


# ---------------------------------------------------------------- the world's table
def world_info(models: tuple[str, ...] = ("target", "draft")) -> dict:
    """The base models' figures in one record (what `data/results/tiny_world.json` holds)."""
    infos = {name: cache.info(name) for name in models}
    keys = "params", "train_s", "final_loss", "heldout", "key", "spec"
    return {
        "tokenizer": cache.info("tokenizer"),
        "models": {n: {k: i[k] for k in keys} for n, i in infos.items()},
        "build_s": round(sum(i["build_s"] for i in infos.values()), 1),
    }


def world_table(info: dict) -> str:
    """Parameters, training time and held-out accuracy per family, one row per model."""
    fams = list(next(iter(info["models"].values()))["heldout"])
    head = f"{'model':8} {'params':>9} {'train s':>8} " + " ".join(f"{f:>7}" for f in fams)
    lines = [f"tiny world (vocab {info['tokenizer']['vocab']})", head, "-" * len(head)]
    for role, m in info["models"].items():
        accs = " ".join(f"{m['heldout'][f]:7.2f}" for f in fams)
        lines.append(f"{role:8} {m['params']:9,d} {m['train_s']:8.1f} {accs}")
    return "\n".join(lines)


def cache_table(names: list[str]) -> str:
    """Every model's key, build time and final loss (and held-out mean where it was evaluated)."""
    lines = [f"{'model':16} {'key':12} {'build':>9} {'loss':>7} {'held-out':>8}"]
    for name in names:
        i = cache.info(name)
        mean = f"{i['heldout']['mean']:8.3f}" if "heldout" in i else f"{'':8}"
        loss = f"{i['final_loss']:7.4f}" if "final_loss" in i else f"{'':7}"
        lines.append(f"{name:16} {i['key']:12} {cache._minutes(i['build_s']):>9} {loss} {mean}")
    return "\n".join(lines)
