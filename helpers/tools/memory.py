"""A static GPU memory plan of every heavy cell of every notebook on every preset (issue 37).

    python -m helpers.tools.memory

Arithmetic from the models' configs (`helpers.models`) and today's code, not a measurement. Per cell: the
models resident on the GPU (weights at their load dtype, NF4 where 4-bit), and what the cell's largest step
adds on top: the largest batch's KV cache, MLP activations and logits for inference; LoRA parameters,
gradients, AdamW state and checkpointed activations for training. A cell fits when its peak is at most 90 %
of the card's usable memory. Assumed lengths (not measured): a chat prompt is 64 tokens, a judge prompt
200 tokens plus its two answers at the preset's `max_new_tokens`, an hh-rlhf labelled pair 400 tokens.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from helpers import models, profiles, settings

# usable memory per card (issue 37): after the CUDA context
CARD_GB = {"t4": 15.0, "l4": 22.5, "a100": 40.0}
BUDGET = 0.9  # a cell's peak may use this share of the card
GB = 1e9
CHAT_PROMPT, JUDGE_OVERHEAD, HH_PAIR = 64, 200, 400  # tokens (assumptions, see the docstring)
JUDGE_BATCH = 32  # judge.letter_probs / judge_pairs / constitutional.feedback default
JUDGE_TOKENS = 16384  # judge.letter_probs' max_tokens: a batch's rows x its longest prompt
LORA_R = 16  # training.lora_config and rlaif.dpo_lora default


@dataclass(frozen=True)
class Load:
    """One model resident on the GPU: its registry id, bytes a weight (4, 2) and whether it is NF4."""

    label: str
    model: str
    dtype_bytes: int
    four_bit: bool = False

    def gb(self) -> float:
        return models.weight_bytes(models.get(self.model), self.dtype_bytes, self.four_bit) / GB


@dataclass(frozen=True)
class Cell:
    """A notebook cell: what stays resident through it and the transient parts of its largest step (GB)."""

    notebook: str
    cell: int
    what: str
    resident: tuple[Load, ...]
    transient: tuple[tuple[str, float], ...]

    @property
    def resident_gb(self) -> float:
        return sum(load.gb() for load in self.resident)

    @property
    def transient_gb(self) -> float:
        return sum(gb for _, gb in self.transient)

    @property
    def peak_gb(self) -> float:
        return self.resident_gb + self.transient_gb


# ---------------------------------------------------------------- transients of one step
class Parts(tuple):
    """A step's transient parts ((label, GB), ...) and the step itself (`step`: kind, model, dtype bytes, rows,
    tokens), which `helpers.tools.gpu_memory` runs on a lent GPU to measure what the plan estimates."""

    step: dict

    def __new__(cls, parts, **step):
        self = super().__new__(cls, parts)
        self.step = step
        return self


def judge_step(
    model: str, dtype_bytes: int, tokens: int, batch: int = JUDGE_BATCH, legacy: bool = False
) -> tuple[tuple[str, float], ...]:
    """`judge.letter_probs`: one batch of at most `JUDGE_TOKENS` padded tokens, without a KV cache, its output
    dropped before the next (MLP activations and one logit row per prompt). `legacy`: the code before the fix,
    where the config's use_cache=True built a full KV cache and the previous batch's stayed alive (two caches)."""
    m = models.get(model)
    logits = ("logits", 2 * batch * m.vocab * 4 / GB)
    if legacy:
        kv = models.kv_bytes_per_token(m, dtype_bytes) * batch * tokens
        mlp = 3 * batch * tokens * m.intermediate * dtype_bytes
        return Parts((("KV cache x2", 2 * kv / GB), ("MLP activations", mlp / GB), logits))
    rows = max(1, min(batch, JUDGE_TOKENS // tokens))
    mlp = ("MLP activations", 3 * rows * tokens * m.intermediate * dtype_bytes / GB)
    return Parts(
        (mlp, logits), kind="judge", model=model, dtype_bytes=dtype_bytes, rows=rows, tokens=tokens
    )


def generate_step(
    model: str, dtype_bytes: int, batch: int, prompt: int, new: int
) -> tuple[tuple[str, float], ...]:
    """`model.generate` over a batch: the KV cache at its full length, the prefill's MLP activations, and the
    last position's logits with their fp32 copy (generate keeps one logit row per sequence)."""
    m = models.get(model)
    kv = models.kv_bytes_per_token(m, dtype_bytes) * batch * (prompt + new)
    mlp = 3 * batch * prompt * m.intermediate * dtype_bytes
    parts = (
        ("KV cache", kv / GB),
        ("prefill MLP activations", mlp / GB),
        ("logits", 2 * batch * m.vocab * 4 / GB),
    )
    return Parts(
        parts,
        kind="generate",
        model=model,
        dtype_bytes=dtype_bytes,
        rows=batch,
        tokens=prompt,
        new=new,
    )


def lora_step(
    model: str, dtype_bytes: int, batch: int, length: int, dpo: bool = False
) -> tuple[tuple[str, float], ...]:
    """A LoRA step of TRL's SFT or DPO trainer: fp32 adapters (`training.keep_adapters_fp32`), their gradients
    and AdamW's two moments; activations with gradient checkpointing (each layer's input kept, one layer
    recomputed); TRL 1.16's fused LM head projects in tiles, so full logits are never held. DPO: chosen and
    rejected rows in one batch."""
    m = models.get(model)
    rows = 2 * batch if dpo else batch
    adapters = models.lora_params(m, LORA_R) * 4
    kept = m.layers * rows * length * m.hidden * dtype_bytes
    layer = rows * length * (6 * m.hidden + 4 * m.intermediate) * dtype_bytes
    return (
        ("LoRA params", adapters / GB),
        ("LoRA grads", adapters / GB),
        ("AdamW state", 2 * adapters / GB),
        ("activations (checkpointed)", (kept + layer) / GB),
    )


def vlm_step(lm: str, batch: int, tokens: int) -> tuple[tuple[str, float], ...]:
    """A stage-13 step: fp32 weights under 16-bit autocast; activations of the LM without checkpointing
    (a rough upper bound: every layer's MLP and attention inputs kept), and the projector's fp32 AdamW state."""
    m = models.get(lm)
    acts = m.layers * batch * tokens * (6 * m.hidden + 3 * m.intermediate) * 2
    return (("LM activations", acts / GB), ("logits", batch * tokens * m.vocab * 6 / GB))


# ---------------------------------------------------------------- the notebooks, per preset
@dataclass(frozen=True)
class Preset:
    """What the plan needs of a preset: its models per role, dtype bytes, judges' bytes, 4-bit and budgets."""

    name: str
    roles: dict
    d: int  # bytes of the preset's dtype (fp16/bf16)
    j: int  # bytes of `profile.judge_dtype`: fp32 on a T4
    q4: bool
    batch: int
    new: int  # max_new_tokens
    legacy: bool = False  # the code before the memory fixes (for the test that the plan flags it)

    @classmethod
    def of(cls, name: str, legacy: bool = False) -> Preset:
        p = profiles.GPU_PRESETS[name]
        b = p["budgets"]
        j = 4 if name == "t4" else 2
        return cls(
            name, p["models"], 2, j, p["load_in_4bit"], b["batch_size"], b["max_new_tokens"], legacy
        )


def stage11(p: Preset) -> list[Cell]:
    t, d = p.roles["target"], p.roles["draft"]
    pair = (Load("target", t, p.d), Load("draft", d, p.d))
    with_untrained = pair + (Load("untrained draft", d, p.d),)
    new = min(128, p.new)
    return [
        Cell("11", 7, "load target + draft", pair, ()),
        Cell(
            "11",
            46,
            "untrained draft beside the pair",
            with_untrained,
            generate_step(t, p.d, 1, CHAT_PROMPT, new),
        ),
    ]


def stage11b(p: Preset) -> list[Cell]:
    from helpers import hub_settings  # here: it imports the hub libraries

    t, d = p.roles["target"], p.roles["draft"]
    pair = (Load("target", t, p.d), Load("draft", d, p.d))
    new = min(128, p.new)
    distilled = pair + (Load("draft copy (LoRA)", d, p.d),)
    cells = [
        Cell("11b", 6, "load target + draft", pair, ()),
        Cell(
            "11b", 9, "batched decoding, batch 8", pair, generate_step(t, p.d, 8, CHAT_PROMPT, new)
        ),
        Cell("11b", 14, "draft distillation (LoRA)", distilled, lora_step(d, p.d, p.batch, 256)),
    ]
    if p.name in hub_settings.SECOND_PAIRS:
        t2, d2 = hub_settings.SECOND_PAIRS[p.name]
        second = (Load("second target", t2, p.d), Load("second draft", d2, p.d))
        both = distilled + (Load("draft copy (on-policy)", d, p.d),) + second
        cells.append(
            Cell("11b", 23, "second pair", both, generate_step(t2, p.d, 1, CHAT_PROMPT, new))
        )
    return cells


def stage12a(p: Preset) -> list[Cell]:
    g, s = p.roles["generator"], p.roles["student"]
    writer = (Load("writer", g, p.j),)
    student = writer + (Load("student", s, p.d, p.q4),)
    return [
        Cell("12a", 10, "load the writer", writer, ()),
        Cell("12a", 20, "instruction lists, batch 8", writer, generate_step(g, p.j, 8, 600, 512)),
        Cell("12a", 29, "instances, batch 8", writer, generate_step(g, p.j, 8, 700, 512)),
        Cell(
            "12a",
            34,
            "student SFT (LoRA), writer still resident",
            student,
            lora_step(s, p.d, p.batch, 1024),
        ),
    ]


def stage12b(p: Preset) -> list[Cell]:
    h, f = p.roles["helpful"], p.roles["feedback"]
    two = (Load("helpful", h, p.d), Load("feedback", f, p.j))
    sl = two + (Load("SL-CAI (merged)", h, p.d),)
    judge_len = JUDGE_OVERHEAD + 2 * p.new
    return [
        Cell("12b", 7, "load helpful + feedback", two, ()),
        Cell(
            "12b",
            12,
            f"critique chains, batch {4 * p.batch}",
            two,
            generate_step(h, p.d, 4 * p.batch, 800, p.new),
        ),
        Cell(
            "12b", 14, "feedback model judges", two, judge_step(f, p.j, judge_len, legacy=p.legacy)
        ),
        Cell(
            "12b",
            23,
            "SFT (LoRA) on a copy",
            two + (Load("copy in training", h, p.d),),
            lora_step(h, p.d, p.batch, 1024),
        ),
        Cell(
            "12b",
            26,
            "DPO (LoRA) on a copy of SL-CAI",
            sl + (Load("copy in training", h, p.d),),
            lora_step(h, p.d, p.batch, 1024, dpo=True),
        ),
        Cell(
            "12b",
            29,
            "answers, batch 128",
            sl + (Load("RL-CAI", h, p.d),),
            generate_step(h, p.d, 128, CHAT_PROMPT, p.new),
        ),
        Cell(
            "12b",
            39,
            "SFT (LoRA) without the helpful rows, beside RL-CAI",
            sl + (Load("RL-CAI", h, p.d), Load("copy in training", h, p.d)),
            lora_step(h, p.d, p.batch, 1024),
        ),
    ]


def stage12c(p: Preset) -> list[Cell]:
    """The judge from its load to its deletion after labelling; the evaluator from the cell that first needs it
    (legacy: loaded beside the judge)."""
    pol, j, e = p.roles["policy"], p.roles["judge"], p.roles["evaluator"]
    evaluator = (Load("evaluator", e, p.j),)
    judging = (Load("policy", pol, p.d), Load("judge", j, p.j)) + (evaluator if p.legacy else ())
    dpo = tuple(Load(f"DPO copy {k}", pol, p.d) for k in range(1, 5))
    training_ = (Load("policy", pol, p.d),) + (evaluator if p.legacy else ()) + dpo
    scoring = (Load("policy", pol, p.d),) + evaluator + dpo
    jl = JUDGE_OVERHEAD + 2 * p.new
    return [
        Cell("12c", 8, "load policy + judge" + (" + evaluator" if p.legacy else ""), judging, ()),
        Cell(
            "12c",
            13,
            "judge on labelled pairs, batch 32",
            judging,
            judge_step(j, p.j, HH_PAIR, legacy=p.legacy),
        ),
        Cell(
            "12c",
            18,
            "judge's free text, batch 64",
            judging,
            generate_step(j, p.j, 64, HH_PAIR, 12),
        ),
        Cell(
            "12c",
            20,
            "judge the sampled pairs",
            judging,
            judge_step(j, p.j, JUDGE_OVERHEAD + 2 * 72, legacy=p.legacy),
        ),
        Cell(
            "12c",
            23,
            "4th DPO run (LoRA); 3 earlier copies kept",
            training_,
            lora_step(pol, p.d, p.batch, 1024, dpo=True),
        ),
        Cell(
            "12c",
            26,
            "evaluator win rates, batch 32",
            scoring,
            judge_step(e, p.j, jl, legacy=p.legacy),
        ),
    ]


def stage13(p: Preset) -> list[Cell]:
    lm, clip = p.roles["vlm_lm"], p.roles["vision_encoder"]
    # fp32 weights on every preset (llava)
    vlm = (Load("CLIP vision tower", clip, 4), Load("LM", lm, 4))
    blind = vlm + (Load("blind copy: tower", clip, 4), Load("blind copy: LM", lm, 4))
    return [
        Cell("13", 8, "load CLIP + LM (fp32)", vlm, ()),
        Cell("13", 18, "blind control beside the model", blind, vlm_step(lm, 16, 196 + 48)),
        Cell("13", 22, "stage 2: projector + LoRA", vlm, vlm_step(lm, 16, 196 + 48)),
    ]


# before issue 37: a smaller model of the policy's family, nearly as deep
LEGACY_CAPSTONE_DRAFTS = {
    "t4": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "l4": "Qwen/Qwen2.5-0.5B-Instruct",
    "a100": "Qwen/Qwen2.5-0.5B-Instruct",
}


def capstone_draft(policy: str) -> str:
    """The registry id of stage 14's self-draft of `policy`: its first layers (`distill.early_exit_draft`)."""
    from helpers.distill import exit_layer

    return f"{policy}[:{exit_layer(models.get(policy).layers, settings.CAPSTONE_DRAFT_DEPTH)}]"


def stage14(p: Preset) -> list[Cell]:
    """GSM8K pairs graded by their final number (no judge loaded); the evaluator freed before serving; the draft
    the policy's first quarter of layers (legacy: the judge loaded and kept through DPO, the evaluator through
    serving, a separate draft nearly as deep as the policy)."""
    from helpers import hub_settings  # here: it imports the hub libraries

    pol = hub_settings.CAPSTONE_POLICIES[p.name]
    dr = capstone_draft(pol) if not p.legacy else LEGACY_CAPSTONE_DRAFTS[p.name]
    j, e = p.roles["judge"], p.roles["evaluator"]
    base = (Load("base", pol, p.d, p.q4),) + ((Load("full_base", pol, p.d),) if p.q4 else ())
    copy_ = Load("copy in training", pol, p.d, p.q4)
    sft = base + (Load("sft_model (merged)", pol, p.d),)
    exp = base + (Load("exp_model (merged)", pol, p.d),)
    judged = exp + (Load("judge", j, p.j),)
    merged = base + (Load("merged", pol, p.d),)
    served = merged + (Load("draft", dr, p.d), Load("distilled draft", dr, p.d))
    jl = JUDGE_OVERHEAD + 2 * p.new
    dpo = (judged if p.legacy else exp) + (Load("DPO copy", pol, p.d),)
    cells = [
        Cell("14", 5, "load the policy", base, generate_step(pol, p.d, 64, CHAT_PROMPT, p.new)),
        Cell(
            "14",
            8,
            "SFT (LoRA) on a copy of base",
            base + (copy_,),
            lora_step(pol, p.d, p.batch, 1024),
        ),
        Cell(
            "14",
            10,
            "expansion, then SFT again",
            sft + (copy_, Load("exp_model (merged)", pol, p.d)),
            lora_step(pol, p.d, p.batch, 1024),
        ),
        Cell(
            "14",
            13,
            "DPO (LoRA) on a copy of exp_model",
            dpo,
            lora_step(pol, p.d, p.batch, 1024, dpo=True),
        ),
        Cell(
            "14",
            17,
            "distil the draft (LoRA)",
            served + (Load("draft copy", dr, p.d),),
            lora_step(dr, p.d, p.batch, 1024),
        ),
        Cell(
            "14",
            21,
            "evaluator win rates, batch 32",
            served + (Load("evaluator", e, p.j),),
            judge_step(e, p.j, jl, legacy=p.legacy),
        ),
    ]
    # the refusal fix (sec. 7): GSM8K has no harmful rows, so section 2's SFT is reloaded; it stays loaded
    fixed = served + (() if p.legacy else (Load("SFT + refusals (reloaded)", pol, p.d),))
    if not p.legacy:
        step = generate_step(pol, p.d, 64, CHAT_PROMPT, p.new)
        cells.append(Cell("14", 31, "the refusal fix, evaluated, batch 64", fixed, step))
    serving = fixed + ((Load("evaluator (not freed)", e, p.j),) if p.legacy else ())
    if p.name != "a100":  # serve_4bit on a GPU: the merged model reloaded in NF4
        serving += (Load("merged, 4-bit", pol, p.d, True),)
    # today GSM8K pairs are graded by their final number: no judge is loaded (capstone.label_pairs)
    if p.legacy:
        cells.insert(
            3,
            Cell(
                "14", 13, "judge the pairs, batch 32", judged, judge_step(j, p.j, jl, legacy=True)
            ),
        )
    cells.append(
        Cell(
            "14",
            24,
            "serving speeds, batch 1",
            serving,
            generate_step(pol, p.d, 1, CHAT_PROMPT, p.new),
        )
    )
    return cells


NOTEBOOKS = {
    "11": stage11,
    "11b": stage11b,
    "12a": stage12a,
    "12b": stage12b,
    "12c": stage12c,
    "13": stage13,
    "14": stage14,
}


def plan(legacy: bool = False) -> dict[str, list[Cell]]:
    """Every heavy cell of every notebook, per preset (`legacy`: as the code was before the memory fixes)."""
    return {
        name: [c for build in NOTEBOOKS.values() for c in build(Preset.of(name, legacy))]
        for name in CARD_GB
    }


def over_budget(legacy: bool = False) -> list[tuple[str, str, int, str]]:
    """(preset, notebook, cell, what) of every cell whose peak passes 90 % of its card's usable memory."""
    return [
        (name, c.notebook, c.cell, c.what)
        for name, cells in plan(legacy).items()
        for c in cells
        if c.peak_gb > BUDGET * CARD_GB[name]
    ]


def table() -> str:
    """The plan as a text table, one row per (preset, cell)."""
    head = f"{'preset':7}{'nb':>4}{'cell':>5}  {'what':46}{'resident':>9}{'transient':>10}{'peak':>7}{'card':>6}{'%':>5}  fit"
    lines = [
        "GPU memory plan: arithmetic from the models' configs (helpers/models.py) and today's code, "
        "not a measurement. GB = 1e9 bytes.",
        head,
        "-" * len(head),
    ]
    for name, cells in plan().items():
        card = CARD_GB[name]
        for c in cells:
            share = c.peak_gb / card
            fit = "OK" if share <= BUDGET else "OVER"
            lines.append(
                f"{name:7}{c.notebook:>4}{c.cell:>5}  {c.what[:45]:46}{c.resident_gb:9.1f}{c.transient_gb:10.1f}"
                f"{c.peak_gb:7.1f}{card:6.1f}{share:5.0%}  {fit}"
            )
    return "\n".join(lines)


def draft_cost(policy: str, draft: str) -> float:
    """A draft step's cost as a share of a policy step at batch 1: the larger of its share of the kernels-deep
    steps when launch-bound, (n + 1) / (L + 1), and its share of the weights when bandwidth-bound."""
    m, d = models.get(policy), models.get(draft)
    return max((d.layers + 1) / (m.layers + 1), d.params / m.params)


def break_even(c: float, k: int = 4, verify: float = 1.3) -> float | None:
    """The acceptance rate from which k drafts a round pay (stage 11's formula); None if none does."""
    from helpers.spec_schedules import predicted_speedup

    return next(
        (a / 100 for a in range(101) if predicted_speedup(a / 100, k, c, verify) >= 1), None
    )


def draft_table(k: int = 4, verify=(1.0, 1.3)) -> str:
    """Stage 14's self-draft per preset: its depth, weights, cost c and the acceptance rate from which k = 4
    pays, for a verify cost v(4) between 1.0 and 1.3, beside the separate drafts it replaced."""
    from helpers import hub_settings  # here: it imports the hub libraries

    def pays_from(policy: str, draft: str) -> str:
        c = draft_cost(policy, draft)
        even = [break_even(c, k, v) for v in verify]
        return f"c <= {c:.2f}: pays from alpha " + "-".join(
            "never" if e is None else f"{e:.2f}" for e in even
        )

    lines = [
        f"Stage 14's self-draft (first {settings.CAPSTONE_DRAFT_DEPTH:.0%} of the policy's layers): arithmetic, "
        f"not a measurement; pays (k = {k}) from acceptance alpha",
        "",
    ]
    for name, pol in hub_settings.CAPSTONE_POLICIES.items():
        m, d, old = models.get(pol), models.get(capstone_draft(pol)), LEGACY_CAPSTONE_DRAFTS[name]
        lines.append(
            f"{name:5} {pol:36} {d.layers:2} of {m.layers} layers, {d.params / GB:.2f}B parameters, "
            f"{pays_from(pol, d.id)}  (before, {old.split('/')[1]}: {pays_from(pol, old)})"
        )
    return "\n".join(lines)


def main() -> None:
    print(table())
    print()
    print(draft_table())
    over, before = over_budget(), over_budget(legacy=True)
    print(
        f"\n{len(over)} cells over {BUDGET:.0%} of their card:", *(f"  {o}" for o in over), sep="\n"
    )
    print(
        f"(before the judge ran without a KV cache and the judges were loaded where first needed: {len(before)})"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
