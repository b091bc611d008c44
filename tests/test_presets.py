"""The GPU presets' code path, proven on a CPU: the stand-in hub, and one test per crash a review of the Colab
path found by reading (its findings F2-F9, named in the section headings below). Each fails on the code before
its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers import (
    capstone,
    distill,
    generation,
    hub_settings,
    judge,
    llava,
    models,
    profiles,
    settings,
    speculative,
    training,
)
from helpers.tools import memory, standin_hub

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def hub() -> Path:
    return standin_hub.build()


@pytest.fixture()
def hub_data(hub, monkeypatch):
    monkeypatch.setenv("COURSE_DATASETS", str(hub / "datasets"))
    return hub


def dry(name: str) -> profiles.Profile:
    return profiles.choose_profile(
        {"COURSE_PROFILE": name, "COURSE_DRY_RUN": "1"}, cuda_available=False
    )


def stand_in(repo: str):
    path = standin_hub.local_path(repo)
    return AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32
    ).eval(), AutoTokenizer.from_pretrained(path)


# ---------------------------------------------------------------- the stand-in hub is faithful
@pytest.mark.parametrize(
    "repo, arch, vocab, tokens, eos, pad",
    [
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen2ForCausalLM", 152064, 151665, 151645, 151643),
        ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen2ForCausalLM", 151936, 151665, 151645, 151643),
        ("Qwen/Qwen2.5-0.5B", "Qwen2ForCausalLM", 151936, 151665, 151643, 151643),
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "LlamaForCausalLM", 32000, 32000, 2, 2),
        ("microsoft/Phi-3.5-mini-instruct", "Phi3ForCausalLM", 32064, 32011, 32000, 32000),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "LlamaForCausalLM", 49152, 49152, 2, 2),
    ],
)
def test_stand_in_has_the_real_ids(hub, repo, arch, vocab, tokens, eos, pad):
    path = standin_hub.local_path(repo)
    config = json.loads((path / "config.json").read_text())
    tok = AutoTokenizer.from_pretrained(path)
    assert (config["architectures"], config["vocab_size"]) == ([arch], vocab)
    assert (len(tok), tok.eos_token_id, tok.pad_token_id) == (tokens, eos, pad)


def test_the_smollm2_stand_in_is_the_real_model(hub):
    model, tok = stand_in("HuggingFaceTB/SmolLM2-135M-Instruct")
    [answer] = generation.chat_generate(
        model, tok, ["What is the capital of France?"], max_new_tokens=12
    )
    assert "Paris" in answer


@pytest.mark.parametrize("size", ["360M", "1.7B"])
def test_larger_smollm2_stand_ins_share_the_real_tokenizer_and_are_small(hub, size):
    """The 360M and 1.7B ids: the real model's chat prompt ids and tied vocabulary, with small random weights
    (decoding the real 135M in their place made three dry runs take minutes each)."""
    real, tok_real = stand_in("HuggingFaceTB/SmolLM2-135M-Instruct")
    model, tok = stand_in(f"HuggingFaceTB/SmolLM2-{size}-Instruct")
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    assert tok.apply_chat_template(
        chat, add_generation_prompt=True
    ) == tok_real.apply_chat_template(chat, add_generation_prompt=True)
    assert (model.config.vocab_size, model.config.tie_word_embeddings) == (49152, True)
    assert (
        sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in real.parameters()) / 20
    )


# ---------------------------------------------------------------- F4: one slice per split spec
def test_gsm8k_split_with_an_offset(hub_data):
    cfg = settings.stage("14", dry("t4"))
    n = profiles.DRY_RUN_BUDGETS["samples"]
    assert len(cfg.unlabeled) == n and len(cfg.seed_tasks) == n
    assert {t.prompt for t in cfg.unlabeled}.isdisjoint(t.prompt for t in cfg.seed_tasks)
    assert all(capstone.final_number(t.answer) == t.meta["value"] for t in cfg.held)


# ---------------------------------------------------------------- F2: QLoRA adapters on an fp16 GPU
@pytest.mark.hub
def test_adapters_return_to_fp32_for_fp16_training():
    from peft import get_peft_model

    model = AutoModelForCausalLM.from_pretrained(
        standin_hub.local_path("Felladrin/Llama-68M-Chat-v1")
    )
    peft = get_peft_model(model, training.lora_config(r=4, alpha=8))
    for p in peft.parameters():  # what TRL 1.16 does to a QLoRA model's adapters
        if p.requires_grad:
            p.data = p.data.to(torch.bfloat16)
    t4 = profiles.Profile("t4", "cuda", torch.float16, True, {}, {})
    assert (
        training.keep_adapters_fp32(
            peft, profiles.Profile("l4", "cuda", torch.bfloat16, True, {}, {})
        )
        == 0
    )
    assert training.keep_adapters_fp32(peft, t4) > 0
    assert {p.dtype for p in peft.parameters() if p.requires_grad} == {torch.float32}


# ---------------------------------------------------------------- F3: the a100 pair's padded vocabulary
def test_padded_vocabulary_pair_decodes_exactly(hub):
    target, tok = stand_in("Qwen/Qwen2.5-7B-Instruct")
    draft, dtok = stand_in("Qwen/Qwen2.5-0.5B-Instruct")
    with pytest.raises(ValueError, match="pass both tokenizers"):
        speculative.shared_vocab_size(target, draft)
    V = speculative.shared_vocab_size(target, draft, tok, dtok)
    assert V == len(tok) == 151665
    ids = torch.tensor([generation.chat_prompt_ids(tok, "Count to five.")])
    out, _ = speculative.speculative_generate(
        target, draft, ids, k=3, max_new_tokens=8, vocab_size=V
    )
    plain = target.generate(
        input_ids=ids,
        max_new_tokens=8,
        do_sample=False,
        eos_token_id=None,
        repetition_penalty=1.0,
        logits_processor=[lambda _, s: s[:, :V]],
    )
    assert torch.equal(out, plain)


# ---------------------------------------------------------------- F7/F9: where a reply ends, where it starts
def test_generation_stops_at_the_templates_end_of_turn(hub):
    # 12a's base student
    tok = AutoTokenizer.from_pretrained(standin_hub.local_path("Qwen/Qwen2.5-0.5B"))
    assert tok.eos_token == "<|endoftext|>" and generation.stop_ids(tok) == [151643, 151645]
    seen = {}

    class Recorder(torch.nn.Module):
        device = torch.device("cpu")

        def generate(self, input_ids, **kw):
            seen.update(kw)
            return torch.cat([input_ids, torch.tensor([[151645, 151643]] * len(input_ids))], 1)

    _, finished = generation.chat_generate(Recorder(), tok, ["hi"], return_finished=True)
    assert seen["eos_token_id"] == [151643, 151645] and finished == [True]


def test_llama_prompts_start_with_bos(hub):
    tok = AutoTokenizer.from_pretrained(
        standin_hub.local_path("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    )
    assert generation.chat_prompt_ids(tok, "hi")[:2] == [
        tok.bos_token_id,
        tok("<|user|>", add_special_tokens=False)["input_ids"][0],
    ]


# ---------------------------------------------------------------- F8: the judge keeps one position, and says NaN
def test_judge_reads_only_the_last_position_and_refuses_nan(hub):
    model, tok = stand_in("Qwen/Qwen2.5-0.5B-Instruct")
    kept = []
    hook = model.register_forward_pre_hook(
        lambda m, a, kw: kept.append(kw.get("logits_to_keep")), with_kwargs=True
    )
    judge.letter_probs(model, tok, ["Which is better?"])
    hook.remove()
    assert kept == [1]
    with torch.no_grad():
        model.lm_head.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="fp16"):
        judge.letter_probs(model, tok, ["Which is better?"])


# ---------------------------------------------------------------- F6: stage 13 does not train in pure fp16
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_vlm_for_a_16_bit_gpu_trains_in_fp32(hub, dtype):
    """fp16: AdamW's eps rounds to 0 (NaN); bf16: small updates round away (no fp32 master weights)."""
    tok = AutoTokenizer.from_pretrained(
        standin_hub.local_path("HuggingFaceTB/SmolLM2-135M-Instruct")
    )
    llava.add_image_token(tok)
    model = llava.build_llava_from_pretrained(
        str(standin_hub.local_path("openai/clip-vit-base-patch16")),
        str(standin_hub.local_path("HuggingFaceTB/SmolLM2-135M-Instruct")),
        tok,
        dtype=dtype,
    )
    assert {p.dtype for p in model.parameters()} == {torch.float32}


# ---------------------------------------------------------------- F7: ids on the model's device
def test_merge_check_puts_ids_on_the_models_device():
    tok = AutoTokenizer.from_pretrained(standin_hub.local_path("Felladrin/Llama-68M-Chat-v1"))

    class OnMeta(torch.nn.Module):
        device = torch.device("meta")

        def forward(self, input_ids):
            assert input_ids.device.type == "meta"
            return type("Out", (), {"logits": torch.zeros(1, 1, 3, device="meta")})

    # .item() cannot run on meta: the forward passes did
    with pytest.raises(RuntimeError, match="meta tensors"):
        capstone.max_logit_difference(OnMeta(), OnMeta(), tok, ["hi"])


# ---------------------------------------------------------------- stage 14's draft
@pytest.mark.parametrize("preset", ["t4", "l4", "a100"])
def test_capstone_draft_is_a_quarter_of_the_policy_and_exact(hub_data, preset):
    """Issue 37: stage 14's draft is the policy's own first quarter of layers (its tokenizer, its head) and
    speculative decoding with it returns the policy's greedy output."""
    cfg = settings.stage("14", dry(preset))
    policy, tok = stand_in(cfg.policy)
    d = distill.early_exit_draft(policy, cfg.draft_depth)
    real, draft = models.get(cfg.policy), models.get(memory.capstone_draft(cfg.policy))
    # on the real model; the 2-layer stand-in keeps its first layer
    assert draft.layers * 4 <= real.layers
    assert (
        d.config.num_hidden_layers
        == distill.exit_layer(policy.config.num_hidden_layers, cfg.draft_depth)
        == 1
    )
    ids = torch.tensor([tok("What is 2 + 3?")["input_ids"]])
    V = speculative.shared_vocab_size(policy, d)
    out, _ = speculative.speculative_generate(policy, d, ids, k=3, max_new_tokens=8, vocab_size=V)
    plain = policy.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=8,
        do_sample=False,
        repetition_penalty=1.0,
        pad_token_id=tok.eos_token_id,
    )
    assert torch.equal(out[:, : plain.shape[1]], plain[:, : out.shape[1]])


def test_capstone_drafts_can_pay_where_the_old_ones_could_not():
    """The speed formula on the registry's shapes: the self-drafts break even at an acceptance a distilled
    draft can reach (below 0.75); the old same-family drafts, nearly as deep as their policies, above 0.8."""

    def break_even(policy: str, draft: str) -> float:
        return memory.break_even(memory.draft_cost(policy, draft), 4, 1.3) or 1.01

    for name, pol in hub_settings.CAPSTONE_POLICIES.items():
        assert break_even(pol, memory.capstone_draft(pol)) < 0.75
        assert break_even(pol, memory.LEGACY_CAPSTONE_DRAFTS[name]) > 0.8


def test_presets_decontaminate_against_their_evaluation_rows(hub_data):
    """F9: 12a's generated instructions are checked against the held-out seed rows on the presets too."""
    cfg = settings.stage("12a", dry("t4"))
    held_out = json.loads((ROOT / "data" / "seed_tasks.jsonl").read_text().splitlines()[-1])
    text = " ".join(held_out[k] for k in ("instruction", "input", "output") if k in held_out)
    assert cfg.exclude(text) and not cfg.exclude(
        "Name three rivers of South America and their lengths."
    )


def test_judges_load_in_fp32_where_the_preset_runs_fp16():
    """F8: Qwen2.5 overflows in fp16 on a T4, so judges, writers and feedback models load in fp32 there."""
    t4, l4 = (
        profiles.Profile(n, "cuda", d, True, {}, {})
        for n, d in (("t4", torch.float16), ("l4", torch.bfloat16))
    )
    assert (t4.judge_dtype, l4.judge_dtype) == (torch.float32, torch.bfloat16)


# ---------------------------------------------------------------- stage 13 on photographs: the stand-in sets
def test_stand_in_photographs_load_in_the_real_sets_schemas(hub_data):
    """jxie/flickr8k (five captions per photo) and lmms-lab/VQAv2 (ten answers per question, held out by
    image_id), streamed through the presets' loader; no photograph is on both sides of the VQA split."""
    from helpers import hub as datasets_hub  # (`hub` is this file's fixture)
    from helpers import vlm_data

    row = next(iter(datasets_hub.load_dataset("jxie/flickr8k", split="train", streaming=True)))
    assert {f"caption_{i}" for i in range(5)} <= set(row) and row["image"].size[0] > 100
    data = vlm_data.photographs(16, 4, "jxie/flickr8k", "lmms-lab/VQAv2")
    assert [len(data.train["caption"]), len(data.train["answer"])] == [16, 16]
    assert all(len(e.references) == 5 for e in data.held if e.kind == "caption")
    assert all(
        len(e.references) == 10 and e.group in ("yes/no", "number", "other")
        for e in data.train["answer"]
    )
    held = [e for e in data.held if e.kind == "answer"]
    assert len(held) == 4 and held[0].question.endswith(vlm_data.SHORT_ANSWER)
    pixels = lambda examples: {e.image.tobytes() for e in examples}  # noqa: E731
    assert not pixels(held) & pixels(data.train["answer"])


# ---------------------------------------------------------------- QLoRA: the 4-bit load and training path on a CPU
def test_qlora_loads_an_nf4_base_and_trains_its_adapters_on_this_cpu(hub, tmp_path):
    """The t4 preset's QLoRA path (bitsandbytes NF4 base, LoRA adapters) runs here, as `make presets` runs it
    for t4:14_capstone: the base's linear layers are 4-bit, the adapters train and the base stays frozen."""
    import bitsandbytes as bnb

    env = {"COURSE_PROFILE": "t4", "COURSE_DRY_RUN": "1", "COURSE_DRY_RUN_4BIT": "1"}
    profile = profiles.choose_profile(env, cuda_available=False)
    path = standin_hub.local_path(profile.models["policy"])
    model, tok = training.load_causal_lm(path, profile), AutoTokenizer.from_pretrained(path)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    rows = training.chat_rows([("What is 2 + 3?", "2 + 3 = 5.")] * 8)
    trainer = training.sft_lora(
        model, tok, rows, profile, steps=2, lr=1e-2, batch_size=2, output_dir=str(tmp_path)
    )
    trained = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    # only the adapters train: the NF4 base is frozen TRL 1.16 casts a QLoRA model's adapters to
    # bf16; `keep_adapters_fp32` casts them back for fp16 runs (a T4, tested above), so this fp32
    # CPU run trains them in bf16, as a bf16 card would
    assert trained and all("lora_" in n for n in trained)
    assert {p.dtype for p in trained.values()} == {torch.bfloat16}
    # B starts at zero: it trained
    assert any(p.abs().sum() > 0 for n, p in trained.items() if "lora_B" in n)
