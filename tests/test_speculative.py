import math

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from helpers import spec_batch, spec_costs, spec_exactness, spec_schedules
from helpers import speculative as spec
from helpers.generation import chat_prompt_ids


def random_lm(kind: str, vocab: int, layers: int, hidden: int, seed: int):
    """A random-init causal LM with peaked logits (large init), so argmax ties cannot occur."""
    torch.manual_seed(seed)
    common = dict(vocab_size=vocab, initializer_range=0.3)
    if kind == "llama":
        cfg = LlamaConfig(
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            **common,
        )
        return LlamaForCausalLM(cfg).eval()
    if kind == "qwen2":
        cfg = Qwen2Config(
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=4,
            **common,
        )
        return Qwen2ForCausalLM(cfg).eval()
    cfg = GPT2Config(n_embd=hidden, n_layer=layers, n_head=4, n_positions=256, **common)
    return GPT2LMHeadModel(cfg).eval()


def plain_greedy(model, ids, n, eos=None):
    out = model.generate(
        ids,
        max_new_tokens=n,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=0,
        attention_mask=torch.ones_like(ids),
    )
    return out


@pytest.mark.parametrize(
    "kind,vocab,seed",
    [("llama", 97, 0), ("qwen2", 131, 1), ("gpt2", 250, 2)],  # vocabularies unlike the tiny world's
)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_greedy_equals_generate_on_random_configs(kind, vocab, seed, k):
    target = random_lm(kind, vocab, layers=3, hidden=64, seed=seed)
    draft = random_lm(kind, vocab, layers=1, hidden=32, seed=seed + 100)
    ids = torch.randint(vocab, (1, 7), generator=torch.Generator().manual_seed(seed))
    ours, stats = spec.speculative_generate(target, draft, ids, k=k, max_new_tokens=40)
    assert torch.equal(ours, plain_greedy(target, ids, 40))
    assert stats.target_calls == stats.rounds and stats.new_tokens == 40


@pytest.mark.parametrize("stop", [0.3, 0.9])
@pytest.mark.parametrize("rule", ["stop_below", "stop_block_below"])
def test_confidence_stop_keeps_greedy_exact_and_shortens_rounds(tok, target, draft, stop, rule):
    ids = torch.tensor(
        [chat_prompt_ids(tok, "Tell a story about a fox named Liz who likes honey.")]
    )
    ours, st = spec.speculative_generate(
        target, draft, ids, k=12, max_new_tokens=50, **{rule: stop}
    )
    assert torch.equal(ours, plain_greedy(target, ids, 50))
    assert min(st.proposed) < 12  # some rounds stopped drafting early


def test_block_stop_drafts_no_more_than_the_per_token_stop(tok, target, draft):
    ids = torch.tensor([chat_prompt_ids(tok, "Count from 3 to 9.")])
    _, token = spec.speculative_generate(
        target, draft, ids, k=12, max_new_tokens=40, stop_below=0.6
    )
    _, block = spec.speculative_generate(
        target, draft, ids, k=12, max_new_tokens=40, stop_block_below=0.6
    )
    # a product of probabilities is at most each of them, so the block rule stops at least as early
    assert block.draft_calls / block.rounds <= token.draft_calls / token.rounds


@pytest.mark.slow
def test_confidence_stop_keeps_sampling_exact():
    target, draft = sharp_pair()
    ids = torch.tensor([[1, 2, 3]])
    pairs, law = spec_exactness.two_token_law(target, ids, 1.0, 0)
    # three new tokens and k=3: a round drafts two tokens, so the stop can end it after the first
    counts = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 2000, seed=5, new_tokens=3, temperature=1.0, stop_below=0.5
    )
    assert spec_exactness.chi_square_pvalue(counts, law)[0] > 1e-3
    counts = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 2000, seed=6, new_tokens=3, temperature=1.0, stop_block_below=0.5
    )
    assert spec_exactness.chi_square_pvalue(counts, law)[0] > 1e-3


def test_greedy_with_the_target_as_its_own_draft_accepts_everything():
    target = random_lm("llama", 97, layers=2, hidden=64, seed=3)
    ids = torch.tensor([[1, 2, 3]])
    ours, stats = spec.speculative_generate(target, target, ids, k=4, max_new_tokens=25)
    assert torch.equal(ours, plain_greedy(target, ids, 25))
    assert stats.rejections == 0 and stats.rounds == 5  # 5 rounds x (4 accepted + 1 bonus)


def test_tiny_pair_greedy_parity_on_chat_prompts(tok, target, draft):
    for prompt in [
        "Tell a story about a cat named Tom who likes fish.",
        "What is 12 + 30?",
        "Count from 5 to 11.",
    ]:
        ids = torch.tensor([chat_prompt_ids(tok, prompt)])
        ours, _ = spec.speculative_generate(
            target, draft, ids, k=4, max_new_tokens=60, eos_token_id=tok.eos_token_id
        )
        ref = plain_greedy(target, ids, 60, eos=tok.eos_token_id)
        assert torch.equal(ours, ref), prompt


def test_caches_roll_back_to_the_accepted_prefix(monkeypatch):
    target = random_lm("llama", 97, layers=2, hidden=64, seed=4)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=5)
    trace = []
    real_crop = spec._crop

    def spy(cache, length):
        real_crop(cache, length)
        trace.append((length, cache.get_seq_length()))

    monkeypatch.setattr(spec, "_crop", spy)
    ids = torch.tensor([[5, 6, 7, 8]])
    seq, stats = spec.speculative_generate(target, draft, ids, k=3, max_new_tokens=20)
    assert stats.rejections > 0  # random pair: rejections happen
    # After every round the target cache holds exactly the committed tokens except the newest one; the
    # draft cache holds the same, or one token fewer after a fully accepted round (it never saw x_k).
    target_trace, draft_trace = trace[0::2], trace[1::2]
    assert all(length == held for length, held in target_trace)
    assert all(held in (length, length - 1) for length, held in draft_trace)
    assert any(held == length for length, held in draft_trace)
    assert target_trace[-1][0] == seq.shape[1] - 1


def test_eos_inside_a_draft_block_stops_there():
    target = random_lm("llama", 97, layers=2, hidden=64, seed=6)
    ids = torch.tensor([[9, 10, 11]])
    free = plain_greedy(target, ids, 30)[0, 3:].tolist()
    eos = free[6]  # a token the greedy text reaches at position 7 (inside the second block of k=5)
    first = free.index(eos)
    ours, stats = spec.speculative_generate(
        target, target, ids, k=5, max_new_tokens=30, eos_token_id=eos
    )
    assert ours[0, 3:].tolist() == free[: first + 1]
    assert torch.equal(ours, plain_greedy(target, ids, 30, eos=eos)[:, : ours.shape[1]])
    # the statistics stop at the end of turn too: the round that reached it kept its drafts up to the
    # eos draft and no further, and no verdict past it counts
    assert stats.rejections == 0 and stats.rejected == []
    if (
        first >= 6
    ):  # eos was a kept draft of the second round (the first wrote 5 drafts and a bonus)
        assert stats.accepted == [5, first - 5] and stats.proposed == [5, first - 5]
        assert sum(stats.accepted) + stats.rounds - 1 == stats.new_tokens == first + 1


def test_statistics_end_at_the_end_of_turn_on_a_random_pair():
    """A draft pair that rejects: every counted rejection lies inside the text, and the tokens add up:
    each round's kept drafts plus its target token, except a round that ended on a kept eos draft."""
    target = random_lm("llama", 97, layers=2, hidden=64, seed=4)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=5)
    ids = torch.tensor([[5, 6, 7, 8]])
    free = plain_greedy(target, ids, 30)[0, 4:].tolist()
    for eos in sorted(set(free))[:6]:
        seq, st = spec.speculative_generate(
            target, draft, ids, k=4, max_new_tokens=30, eos_token_id=eos
        )
        new = seq[0, 4:].tolist()
        assert new == free[: free.index(eos) + 1]
        assert all(i < len(new) for i, _ in st.rejected) and len(st.rejected) == st.rejections
        missing = sum(st.accepted) + st.rounds - len(new)  # 1: the last round had no target token
        assert missing in (0, 1)
        if missing:
            assert st.accepted[-1] == st.proposed[-1] >= 1


def test_split_at_end_counts_kept_and_rejected_drafts_on_each_side():
    # rounds: keep 2 of 3 (tokens 0-2, rejection at 2), keep 0 of 2 (token 3, rejection at 3),
    # keep 2 of 2 (tokens 4-6, bonus at 6), keep 1 of 3 (tokens 7-8, rejection at 8); eos at token 3
    st = spec.SpecStats(accepted=[2, 0, 2, 1], proposed=[3, 2, 2, 3])
    new = [1, 1, 1, 9, 1, 1, 1, 1, 1]
    got = spec.split_at_end(st, new, 9)
    assert got.tolist() == [[2.0, 2.0], [3.0, 1.0]]
    assert spec.split_at_end(st, new, 7).tolist() == [[5.0, 3.0], [0.0, 0.0]]  # no eos: all inside


@pytest.mark.parametrize("n", [1, 2, 5, 7, 13])
def test_exactly_max_new_tokens(n):
    target = random_lm("llama", 97, layers=2, hidden=64, seed=7)
    for k in (1, 4, 8):
        seq, stats = spec.speculative_generate(
            target, target, torch.tensor([[1, 2]]), k=k, max_new_tokens=n
        )
        assert seq.shape[1] - 2 == n == stats.new_tokens


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_invalid_k(bad):
    m = random_lm("llama", 97, layers=1, hidden=32, seed=0)
    with pytest.raises(ValueError, match="k .draft tokens per round. must be a positive integer"):
        spec.speculative_generate(m, m, torch.tensor([[1]]), k=bad, max_new_tokens=3)


def test_empty_prompt_and_batches_are_refused():
    m = random_lm("llama", 97, layers=1, hidden=32, seed=0)
    with pytest.raises(ValueError, match="empty prompt"):
        spec.speculative_generate(m, m, torch.zeros((1, 0), dtype=torch.long), k=2)
    with pytest.raises(ValueError, match="shape"):
        spec.speculative_generate(m, m, torch.zeros((2, 3), dtype=torch.long), k=2)


# ---------------------------------------------------------------- vocabulary guard
def test_vocab_guard_same_tokenizer(tok, target, draft):
    assert spec.shared_vocab_size(target, draft, tok, tok) == len(tok)


def test_vocab_guard_padded_vocabulary_is_sliced(tok):
    # padded like Qwen2.5-7B
    target = random_lm("llama", len(tok) + 64, layers=1, hidden=32, seed=1)
    draft = random_lm("llama", len(tok), layers=1, hidden=32, seed=2)
    assert spec.shared_vocab_size(target, draft, tok, tok) == len(tok)
    ids = torch.tensor([[3, 4, 5]])
    seq, _ = spec.speculative_generate(
        target, draft, ids, k=3, max_new_tokens=10, vocab_size=len(tok)
    )
    assert seq.shape[1] == 13 and int(seq.max()) < len(tok)
    with pytest.raises(ValueError, match="pass both tokenizers"):
        spec.speculative_generate(target, draft, ids, k=3, max_new_tokens=10)


def test_vocab_guard_true_mismatch_names_both_tokenizers(tok):
    from helpers.world import tiny

    other = tiny.build_tokenizer(["completely different text " * 50, "zebra quantum 123"], 300)
    target = random_lm("llama", len(tok), layers=1, hidden=32, seed=1)
    draft = random_lm("llama", len(other), layers=1, hidden=32, seed=2)
    with pytest.raises(
        ValueError, match=rf"\({len(tok)} tokens\).*\(unnamed, {len(other)} tokens\)"
    ):
        spec.shared_vocab_size(target, draft, tok, other)


# ---------------------------------------------------------------- exact sampling
def sharp_pair(vocab=12):
    target = random_lm("llama", vocab, layers=1, hidden=32, seed=11)
    draft = random_lm("llama", vocab, layers=1, hidden=32, seed=12)
    return target, draft


def pvalue(ids, n, seed, temperature=1.0, top_k=0, draft_argmax=False):
    target, draft = sharp_pair()
    pairs, law = spec_exactness.two_token_law(target, ids, temperature, top_k)
    counts = spec_exactness.sample_two_tokens(
        target,
        draft,
        ids,
        pairs,
        n,
        seed,
        temperature=temperature,
        top_k=top_k,
        draft_argmax=draft_argmax,
    )
    return spec_exactness.chi_square_pvalue(counts, law)


def test_sampling_follows_the_target_distribution():
    """Chi-square on the joint law of 2 tokens (accept, residual and bonus paths all used)."""
    p, dof = pvalue(torch.tensor([[1, 2, 3]]), 3000, seed=0)
    assert dof >= 10 and p > 1e-3


def test_sampling_with_top_k_and_temperature_is_exact():
    assert pvalue(torch.tensor([[4, 5]]), 2000, seed=1, temperature=0.7, top_k=5)[0] > 1e-3


def test_negative_control_argmax_draft_with_soft_q_fails():
    assert pvalue(torch.tensor([[1, 2, 3]]), 3000, seed=0, draft_argmax=True)[0] < 1e-6


def test_sampling_on_the_tiny_pair_is_exact(tok, target, draft):
    ids = torch.tensor([tok("<|im_start|>user\n")["input_ids"]])
    pairs, law = spec_exactness.two_token_law(target, ids, 1.0, top_k=20)
    ours = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 1500, seed=3, temperature=1.0, top_k=20
    )
    control = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 1500, seed=3, temperature=1.0, top_k=20, draft_argmax=True
    )
    assert spec_exactness.chi_square_pvalue(ours, law)[0] > 1e-3
    assert spec_exactness.chi_square_pvalue(control, law)[0] < 1e-6


def test_chi_square_pvalue_against_scipy_reference():
    counts = torch.tensor([18.0, 22, 30, 30])
    probs = torch.tensor([0.25, 0.25, 0.25, 0.25])
    pvalue, dof = spec_exactness.chi_square_pvalue(counts, probs)
    # scipy.stats.chisquare([18, 22, 30, 30]) -> statistic 4.32, pvalue 0.2289...
    assert dof == 3 and abs(pvalue - 0.22887) < 1e-4


# ---------------------------------------------------------------- theory and schedules
def test_theory_formulas():
    assert spec_schedules.expected_tokens(0.0, 4) == 1.0
    assert spec_schedules.expected_tokens(1.0, 4) == 5.0
    assert abs(spec_schedules.expected_tokens(0.8, 4) - (1 - 0.8**5) / 0.2) < 1e-12
    assert (
        abs(
            spec_schedules.predicted_speedup(0.8, 4, 0.1)
            - spec_schedules.expected_tokens(0.8, 4) / 1.4
        )
        < 1e-12
    )
    # Leviathan et al.'s optimal-k table values: alpha 0.8, c 0.1 -> k 6; alpha 0.9, c 0.05 -> k 13
    assert spec_schedules.optimal_k(0.8, 0.1, k_max=20) == 6
    assert spec_schedules.optimal_k(0.9, 0.05, k_max=20) == 13
    # a costly verify pass shortens the best k
    assert spec_schedules.optimal_k(0.9, 0.05, verify_cost=lambda k: 1 + 0.1 * k, k_max=20) < 13


def test_heuristic_schedule_matches_transformers():
    s = spec_schedules.HeuristicK(5)
    s.update(5, 5)
    assert s.next_k() == 7
    s.update(2, 7)
    assert s.next_k() == 6
    for _ in range(10):
        s.update(0, s.next_k())
    assert s.next_k() == 1


def test_alpha_schedule_grows_k_when_drafts_are_accepted():
    s = spec_schedules.AlphaK(c=0.05)
    start = s.next_k()
    for _ in range(30):
        s.update(s.next_k(), s.next_k())
    assert s.next_k() > start
    for _ in range(200):
        s.update(0, s.next_k())
    assert s.next_k() <= 2


def test_statistics_alpha_hat_vs_accepted_over_proposed():
    st = spec.SpecStats(accepted=[4, 1, 4], proposed=[4, 4, 4], rejections=1)
    assert st.alpha_hat == 9 / 10
    assert st.accepted_over_proposed == 9 / 12


# ---------------------------------------------------------------- a batch of prompts
def left_padded(prompts: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    from helpers.generation import left_pad

    return left_pad(prompts, pad)


@pytest.mark.parametrize("kind,vocab,seed", [("llama", 97, 0), ("qwen2", 131, 1), ("gpt2", 250, 2)])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_every_batched_greedy_row_equals_its_own_greedy_decoding(kind, vocab, seed, k):
    """Prompts of 2 to 11 tokens, left-padded; rows accept different numbers of drafts each round, and one
    row meets end-of-turn early and leaves the batch."""
    target = random_lm(kind, vocab, layers=3, hidden=64, seed=seed)
    # the target, perturbed: some drafts stand
    draft = random_lm(kind, vocab, layers=3, hidden=64, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in draft.parameters():
            w.add_(0.1 * torch.randn(w.shape, generator=g) * w.std().nan_to_num())
    prompts = [torch.randint(1, vocab, (n,), generator=g).tolist() for n in (7, 2, 11, 5)]
    # row 1 ends at its 5th token
    eos = plain_greedy(target, torch.tensor([prompts[1]]), 30)[0, 2 + 4].item()
    ids, mask = left_padded(prompts)
    ours, stats = spec_batch.speculative_generate_batch(
        target, draft, ids, mask, k=k, max_new_tokens=30, eos_token_id=eos
    )
    for row, p in zip(ours, prompts):
        assert row == plain_greedy(target, torch.tensor([p]), 30, eos=eos)[0, len(p) :].tolist()
    assert len(ours[1]) <= 5 and stats.new_tokens == sum(map(len, ours))
    assert len(set(stats.accepted)) > 1  # rows did accept different numbers of drafts


def test_batched_greedy_parity_on_the_tiny_pair(tok, target, draft):
    from helpers.world import families

    prompts = [chat_prompt_ids(tok, t.prompt) for t in families.heldout_by_family(2)][:8]
    ids, mask = left_padded(prompts, pad=tok.pad_token_id)
    ours, stats = spec_batch.speculative_generate_batch(
        target, draft, ids, mask, k=4, max_new_tokens=32
    )
    for row, p in zip(ours, prompts):
        assert row == plain_greedy(target, torch.tensor([p]), 32)[0, len(p) :].tolist()
    assert 0.5 < stats.alpha_hat < 1  # the tiny pair's drafts mostly stand, not always


@pytest.mark.slow
def test_batched_sampling_follows_the_target_distribution_in_every_row():
    """Chi-square on each row's first two tokens, 2,000 batched samples of three prompts of different
    lengths, two drafts a round (accept, correction after an accept, and bonus paths); the control (a row's
    counts against another row's law) must fail."""
    target, draft = sharp_pair()
    prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9]]
    ids, mask = left_padded(prompts)
    laws = [spec_exactness.two_token_law(target, torch.tensor([p]), 1.0, 0) for p in prompts]
    index = [{tuple(x): i for i, x in enumerate(pairs.tolist())} for pairs, _ in laws]
    counts = [torch.zeros(len(law), dtype=torch.float64) for _, law in laws]
    gen = torch.Generator().manual_seed(0)
    for _ in range(2000):
        rows, _ = spec_batch.speculative_generate_batch(
            target, draft, ids, mask, k=3, max_new_tokens=3, temperature=1.0, generator=gen
        )  # two drafts a round
        for r, row in enumerate(rows):
            counts[r][index[r][tuple(row[:2])]] += 1
    for c, (_, law) in zip(counts, laws):
        assert spec_exactness.chi_square_pvalue(c, law)[0] > 1e-3
    assert spec_exactness.chi_square_pvalue(counts[0], laws[2][1])[0] < 1e-6


@pytest.mark.parametrize("kind,vocab,seed", [("llama", 97, 0), ("qwen2", 131, 1)])
@pytest.mark.parametrize("k", [1, 4])
def test_static_caches_roll_back_by_position_and_stay_exact(kind, vocab, seed, k):
    """Preallocated caches (no copying, the shapes CUDA graphs need): greedy equals plain decoding, as with
    the growing cache, and end-of-turn inside a block stops there."""
    target = random_lm(kind, vocab, layers=3, hidden=64, seed=seed)
    draft = random_lm(kind, vocab, layers=3, hidden=64, seed=seed)
    with torch.no_grad():
        for w in draft.parameters():
            w.add_(
                0.1
                * torch.randn(w.shape, generator=torch.Generator().manual_seed(seed))
                * w.std().nan_to_num()
            )
    ids = torch.randint(1, vocab, (1, 7), generator=torch.Generator().manual_seed(seed))
    ours, stats = spec.speculative_generate(
        target, draft, ids, k=k, max_new_tokens=40, static_cache=True
    )
    assert torch.equal(ours, plain_greedy(target, ids, 40)) and 0 < stats.alpha_hat < 1
    eos = ours[0, 7 + 9].item()
    stopped, _ = spec.speculative_generate(
        target, draft, ids, k=k, max_new_tokens=40, static_cache=True, eos_token_id=eos
    )
    assert torch.equal(stopped, plain_greedy(target, ids, 40, eos=eos)[:, : stopped.shape[1]])


def test_static_caches_keep_sampling_exact():
    target, draft = sharp_pair()
    ids = torch.tensor([[1, 2, 3]])
    pairs, law = spec_exactness.two_token_law(target, ids, 1.0, 0)
    counts = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 2000, seed=5, temperature=1.0, static_cache=True
    )
    assert spec_exactness.chi_square_pvalue(counts, law)[0] > 1e-3


@pytest.mark.slow
def test_a_compiled_pair_with_static_caches_stays_exact():
    """The compiled path's loop under torch.compile (dynamo with the eager backend on a CPU: the graph capture
    without a GPU's CUDA graphs): greedy still equals plain decoding."""
    import copy

    target = random_lm("llama", 97, layers=2, hidden=64, seed=3)
    draft = copy.deepcopy(target)
    with torch.no_grad():
        for w in draft.parameters():
            w.add_(
                0.1
                * torch.randn(w.shape, generator=torch.Generator().manual_seed(3))
                * w.std().nan_to_num()
            )
    ids = torch.tensor([[5, 6, 7, 8]])
    reference = plain_greedy(target, ids, 24)
    t, d = (
        spec_costs.compile_for_decoding(copy.deepcopy(m), backend="eager", mode=None)
        for m in (target, draft)
    )
    ours, _ = spec.speculative_generate(t, d, ids, k=3, max_new_tokens=24, static_cache=True)
    assert torch.equal(ours, reference)


# ---------------------------------------------------------------- notebook 11's benchmark view and readings
def _bench_result(ks=(1, 2), zero=(1.3, [1.2, 1.4]), gains=None):
    """A benchmark result as `side_by_side.run` returns it, with hand-set figures. `gains`: k -> (gain,
    [lowest, highest]) of ours over the loop with no drafts."""
    from helpers import side_by_side

    gains = gains or {k: (1.0 + 0.1 * k, [0.9 + 0.1 * k, 1.2 + 0.1 * k]) for k in ks}
    rows = [{"method": "plain generate", "k": None, "speedup": 1.0, "tau": 1.0, "median_s": 0.96}]
    rows.append(
        {
            "method": side_by_side.NO_DRAFTS,
            "k": 0,
            "speedup": zero[0],
            "speedup_range": zero[1],
            "gain": 1.0,
            "gain_range": [0.95, 1.05],
            "tau": 1.0,
            "median_s": 0.72,
        }
    )
    for k in ks:
        hf = {"method": f"HF assisted k={k}", "k": k, "speedup": 0.8, "tau": 1.5}
        rows.append({**hf, "speedup_range": [0.7, 0.9]})
    look = {"method": "HF prompt lookup", "k": None, "speedup": 1.4, "tau": 2.0}
    rows.append({**look, "speedup_range": [1.3, 1.5]})
    for k in ks:
        rows.append(
            {
                "method": f"ours k={k}",
                "k": k,
                "speedup": 1.0 + 0.1 * k,
                "speedup_range": [0.9 + 0.1 * k, 1.2 + 0.1 * k],
                "gain": gains[k][0],
                "gain_range": gains[k][1],
                "alpha_hat": 0.7,
                "tau": 1.5,
                "predicted_textbook": 1.5,
                "predicted_with_verify": 1.25,
            }
        )
    heuristic = {"method": "ours heuristic (+2/-1)", "k": None, "speedup": 1.24, "tau": 2.5}
    rows.append({**heuristic, "speedup_range": [1.1, 1.3], "gain": 0.95, "gain_range": [0.9, 1.0]})
    costs = {"target_ms": 8.54, "c": 0.12, "verify": {1: 1.19, 2: 1.63, 3: 1.1}}
    return {"rows": rows, "repeats": 3, "prompts": 2, "new_tokens": 6, "costs": costs}


def test_compact_benchmark_table_is_exact():
    from helpers import side_by_side

    assert side_by_side.compact(_bench_result()).splitlines() == [
        " k /plain   /k=0 theory +verify tok/call alpha_hat  v(k) HF/plain HF tok/call",
        " 0  1.30x  1.00x  1.00x   1.00x     1.00         -     -        -           -",
        " 1  1.10x  1.10x  1.50x   1.25x     1.50      0.70  1.19    0.80x        1.50",
        " 2  1.20x  1.20x  1.50x   1.25x     1.50      0.70  1.63    0.80x        1.50",
        "",
        "no fixed k             /plain    spread   /k=0    spread tok/call",
        "HF prompt lookup        1.40x 1.30-1.50      -         -     2.00",
        "ours heuristic (+2/-1)  1.24x 1.10-1.30  0.95x 0.90-1.00     2.50",
        "",
        "median of 3 repeats (spread: slowest to fastest); /plain: over plain generate, /k=0: over "
        "ours at k = 0",
        "a token costs: plain generate 80.0 ms, our loop with no drafts 60.0 ms, a bare target step "
        "8.5 ms; c = 0.12",
    ]


def test_speed_plot_draws_with_labels(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import side_by_side

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))  # keep the figure to inspect
    side_by_side.plot_vs_k(_bench_result())
    ax = shown[0].axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and "c = 0.12" in ax.get_title()
    ours = ax.containers[0]  # the first errorbar: ours over the loop with no drafts
    assert list(ours.lines[0].get_ydata()) == [1.1, 1.2]
    plt.close("all")


def _fixed_costs(monkeypatch) -> dict:
    """Cost measurements fixed (target 1 ms, draft 0.1 ms, every verify pass 1.0), so timings are known."""
    costs = {
        "target_ms": 1.0,
        "draft_ms": 0.1,
        "c": 0.1,
        "verify": dict.fromkeys(range(1, 17), 1.0),
    }
    monkeypatch.setattr(spec_costs, "measure_costs", lambda *a, **k: costs)
    return costs


def test_benchmark_rows_carry_the_spread_of_their_repeats(monkeypatch):
    """The median speed-up lies inside the slowest-to-fastest range of the repeats, computed from the
    same times: each call's seconds are fixed here, so the range is known exactly. Our rows also carry
    their gain over our loop with no drafts, from the same times."""
    from helpers import side_by_side

    calls = iter(range(1, 10_000))
    _fixed_costs(monkeypatch)
    monkeypatch.setattr(spec_costs, "timed", lambda fn, *a, cuda=False: (next(calls), fn(*a)))
    target = random_lm("llama", 97, layers=2, hidden=32, seed=0)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=1)
    ids = torch.tensor([[5, 6, 7]])
    result = side_by_side.run(target, draft, [ids], 4, ks=[1], repeats=3, progress=False)
    n = len(result["rows"])  # methods per repeat: the i-th method's repeat r took i + r * n seconds
    names = [r["method"] for r in result["rows"]]
    zero = names.index(side_by_side.NO_DRAFTS) + 1
    for i, row in enumerate(result["rows"], start=1):
        base = 1 + n  # plain generate's median: its second repeat
        assert row["speedup_range"] == [round(base / (i + 2 * n), 3), round(base / i, 3)]
        assert row["speedup_range"][0] <= row["speedup"] <= row["speedup_range"][1]
        if row["method"].startswith("ours"):
            assert row["gain"] == round((zero + n) / (i + n), 3)
    by_name = {r["method"]: r for r in result["rows"]}
    assert by_name[side_by_side.NO_DRAFTS]["tau"] == 1.0 and by_name["plain generate"]["tau"] == 1.0


def test_no_drafts_is_plain_greedy_with_one_target_call_per_token():
    target = random_lm("llama", 97, layers=2, hidden=64, seed=3)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=4)
    ids = torch.tensor([[1, 2, 3]])
    ours, st = spec.speculative_generate(
        target, draft, ids, k=spec_schedules.NoDrafts(), max_new_tokens=9
    )
    assert torch.equal(ours, plain_greedy(target, ids, 9))
    assert st.target_calls == st.new_tokens == 9 and st.draft_calls == 0 and st.tau == 1.0


def test_rejections_are_recorded_where_the_target_replaced_a_draft():
    """Greedy: each recorded (index, draft token) is the draft's argmax at that place of the final text,
    which the target replaced with another token."""
    target = random_lm("llama", 97, layers=2, hidden=64, seed=4)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=5)
    ids = torch.tensor([[5, 6, 7, 8]])
    seq, st = spec.speculative_generate(target, draft, ids, k=3, max_new_tokens=20)
    assert len(st.rejected) == st.rejections > 0
    with torch.no_grad():
        guess = draft(seq).logits[0].argmax(-1)  # the draft's greedy token after each prefix
    for i, x in st.rejected:
        at = ids.shape[1] + i
        assert x == guess[at - 1].item() and x != seq[0, at].item()


def test_against_no_drafts_times_each_draft_beside_the_loop_without(monkeypatch):
    from helpers import side_by_side

    calls = iter(range(1, 10_000))
    monkeypatch.setattr(spec_costs, "timed", lambda fn, *a, cuda=False: (next(calls), fn(*a)))
    target = random_lm("llama", 97, layers=2, hidden=32, seed=0)
    drafts = {"self": target, "small": random_lm("llama", 97, layers=1, hidden=32, seed=1)}
    got = side_by_side.against_no_drafts(target, drafts, [torch.tensor([[5, 6]])], 6, k=2)
    # three methods a repeat: no drafts took 1, 4, 7 s (median 4); "small" 3, 6, 9 s (median 6)
    assert got["small"]["gain"] == 4 / 6 and got["small"]["gain_range"] == [4 / 9, 4 / 3]
    assert got["self"]["alpha_hat"] == 1.0 and got["self"]["tau"] == 3.0


def test_tutorial_tokens_per_call_follow_its_bugs():
    """alpha 0.5, k 2: none kept (p .5) 1 token for 2 calls; one kept (p .25) 2 tokens for 3 calls; both
    (p .25) 2 tokens for 1 call: 1.5 tokens for 2.0 calls."""
    from helpers.readings import stage11

    assert stage11.tutorial_tau(0.5, 2) == 0.75
    assert stage11.tutorial_tau(1.0, 4) == 4.0  # every draft kept, the bonus dropped


def test_accepted_lengths_against_the_geometric_model():
    hist, geo = spec_schedules.accepted_lengths([2, 0, 2, 1, 1], [2, 2, 2, 2, 1], 2, 0.5)
    assert hist.tolist() == [1.0, 1.0, 2.0]  # the round that drafted 1 token is left out
    assert geo.tolist() == [2.0, 1.0, 1.0]  # 4 rounds x (0.5, 0.25, 0.25)


def test_two_token_counts_from_another_sampler_and_the_first_token_share():
    pairs = torch.tensor([[1, 2], [1, 3], [4, 2]])
    answers = iter([[1, 3, 9], [4, 2], [1, 3]])
    counts = spec_exactness.sample_two_tokens(
        None, None, torch.tensor([[0]]), pairs, 3, seed=0, sampler=lambda ids, n, g: next(answers)
    )
    assert counts.tolist() == [0.0, 2.0, 1.0]
    assert spec_exactness.first_token_share(pairs, counts) == (1, 2 / 3)


class _Words:
    """A tokenizer stand-in: id i decodes to words[i]; id 0 is special."""

    words = ["<end>", " a", " b", " c", " 7", " x"]

    def decode(self, ids, skip_special_tokens=False):
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        return "".join(self.words[i] for i in ids if i or not skip_special_tokens)


def test_marked_answer_shows_rounds_and_rejected_drafts():
    from helpers.readings import stage11

    # prompt [9]; round 1 keeps 2 drafts and adds ' c'; round 2 keeps none: ' 7' replaced draft ' x'
    # round 3 writes only the end of turn (id 0): shown as ⟨end⟩, so every round is seen
    st = spec.SpecStats(
        accepted=[2, 0, 0], proposed=[2, 2, 0], rejected=[(3, 5)], rounds=3, target_calls=3
    )
    seq = torch.tensor([[9, 1, 2, 3, 4, 0]])
    assert stage11.marked(_Words(), seq, st, 1, eos=0) == " a b c| [x→7]| ⟨end⟩"
    text = stage11.where_rejected(_Words(), [(seq, st)], [1])
    assert "3 rounds, one target call each, wrote the 5 tokens of 1 answer" in text
    assert "(1.67 per call): 2 kept drafts and 3 target tokens, one a round." in text
    assert "1 draft was rejected (in brackets), so α̂ = 2 / (2 + 1) = 0.67" in text
    # with the prompt: ' a' and ' 7' copy its words (2 of 5 tokens); the one rejection is at ' 7'
    text = stage11.where_rejected(_Words(), [(seq, st)], [1], ["a 7"])
    assert "1 of the 1 rejections (100%) came where the target copied a word" in text
    assert "such tokens are 40% of the answers: the draft fails most where" in text
    assert "The densest: 1 rejections in the 5 tokens of 'a 7'" in text
    assert "These prompts have no grading rule here" in text
    assert stage11.graded(["What is 5 + 37?"], ["5 + 37 = 49. The answer is 49."]) == [False]
    # an answer whose last round kept its eos draft: that round wrote no target token
    st = spec.SpecStats(accepted=[2, 2], proposed=[2, 2], rounds=2, target_calls=2)
    seq = torch.tensor([[9, 1, 2, 3, 4, 0]])
    assert stage11.marked(_Words(), seq, st, 1, eos=0) == " a b c| 7 ⟨end⟩"
    text = stage11.where_rejected(_Words(), [(seq, st)], [1])
    assert "4 kept drafts and 1 target token, one a round, except " in text
    assert "the 1 round that ended on a drafted ⟨end⟩" in text


def test_speed_readings_draw_verdicts_only_beyond_the_spread():
    from helpers.readings import stage11

    overlapping = _bench_result(gains={1: (1.1, [1.0, 1.3]), 2: (1.2, [0.98, 1.35])})
    text = stage11.speed_vs_theory(overlapping, {1: [0.7, 0.6], 2: [0.72, 0.6]}, 6)
    assert "overlaps that of k = 1: the clock cannot tell them apart" in text
    assert "cannot show that speculation paid" in text
    clear = _bench_result(gains={1: (1.1, [1.05, 1.15]), 2: (1.4, [1.3, 1.5])})
    text = stage11.speed_vs_theory(clear, {1: [0.7, 0.6], 2: [0.72, 0.6]}, 6)
    assert "clear of every other k's spread" in text and "every k's slowest repeat beat" in text
    text = stage11.baseline(clear, 100, 10, (4, 1))
    assert "head start" in text  # 1.2x to 1.4x: above 1x
    # prompt lookup at 1.30x to 1.50x: its win is read, beside ours' k = 2 (1.30x to 1.50x over k = 0)
    assert "Prompt lookup ran at 1.40x plain `generate` (1.30x to 1.50x): a win, beyond 1x" in text
    even = stage11.baseline(_bench_result(zero=(1.0, [0.9, 1.1])), 100, 10, (4, 1))
    assert "the clock cannot tell the two loops apart" in even
    text = stage11.schedules(clear, {"stop": [3, 1, 0]}, {0.5: (3, 1.06), 0.9: (10, 2.24)})
    assert "drafts k* = 3 at α = 0.5 and 10 at α = 0.9: the better the draft guesses" in text
    assert "`ours heuristic (+2/-1)` ran slower, beyond the repeats' spread" in text
    assert "stop: 1 to 3 drafts a round" in text
    # the heuristic made 2.50 tokens per call, more than either constant k (1.50)
    assert "made the most tokens per target call, 2.50, more than any constant k" in text
    text = stage11.schedules(overlapping, {"stop": [3]})
    assert "The clock cannot tell `ours heuristic (+2/-1)` from it" in text


def test_failure_cases_read_each_spread_against_1x():
    from helpers.readings import stage11

    cases = {
        "trained draft": {"alpha_hat": 0.7, "gain": 1.2, "gain_range": [1.1, 1.3]},
        "target as its own draft (c = 1)": {
            "alpha_hat": 1.0,
            "gain": 0.9,
            "gain_range": [0.8, 1.02],
        },
        "untrained draft (alpha ~ 0)": {"alpha_hat": 0.0, "gain": 0.4, "gain_range": [0.35, 0.45]},
    }
    costs = {"c": 0.2, "verify": {4: 1.5}}
    text = stage11.failure_cases(cases, costs, 0.7, 3)
    assert "the trained draft: a gain (formula 1.21x, inside the spread)" in text
    assert "the target as its own draft: not told apart from 1x (formula 0.91x, inside" in text
    assert "the untrained draft: a loss (formula 0.43x, inside the spread)" in text
    assert "which prompts are decoded" not in text  # the same alpha as section 3
    # the trained draft timed again beside section 7's k = 4 row: the spreads overlap, or not
    rows = [{"method": "ours k=4", "gain": 1.3, "gain_range": [1.2, 1.35]}]
    sec7 = {"rows": rows, "prompts": 4, "repeats": 3}
    text = stage11.failure_cases(cases, costs, 0.7, 3, section7=sec7)
    assert "There 1.30x (1.20x to 1.35x), here 1.20x (1.10x to 1.30x)" in text
    assert "Every repeat of both runs beat the loop with no drafts: on this CPU k = 4 paid" in text
    cases["trained draft"]["gain_range"] = [0.95, 1.3]
    text = stage11.failure_cases(cases, costs, 0.7, 3, section7=sec7)
    assert "The two runs disagree, or one crosses 1x" in text and "withdrawn" in text


def test_colab_table_is_section_1s_formula_at_the_configs_ratios():
    """The presets' pair: c from the depth and the parameter ratio of the registry's configs, each cell the
    formula's best speed-up over k = 1..8 (v = 1), recomputed here by brute force."""
    from helpers import models, profiles
    from helpers.readings import stage11

    t4 = profiles.GPU_PRESETS["t4"]["models"]
    t, d = models.get(t4["target"]), models.get(t4["draft"])
    text = stage11.on_colab(alphas=(0.6, 0.8))

    def best(a, c):
        return max((1 - a ** (k + 1)) / ((1 - a) * (k * c + 1)) for k in range(1, 9))

    c_depth = d.layers / t.layers
    row = f"| {c_depth:.2f}: depth ratio {d.layers}/{t.layers} (bound: launches per layer set c) | "
    assert row + f"{best(0.6, c_depth):.2f}x | {best(0.8, c_depth):.2f}x |" in text
    c_params = d.params / t.params
    assert f"{best(0.8, c_params):.2f}x |" in text
    assert f"from α ≈ {c_depth:.2f} for the shallow draft" in text
    assert "c from the models' recorded sizes" in text
    top = max(best(0.8, c) for c in (c_depth, c_params))  # the verdict's upper figure, at α = 0.8
    low = min(best(0.8, c) for c in (c_depth, c_params))
    assert f"At α = 0.8 they give {low:.2f}x to {top:.2f}x" in text
    assert ": a gain, if the draft guesses that well." in text
    assert "published 1.49x (above) sits below that" in text and "not carried over" in text


@pytest.mark.parametrize(
    "c,expected",
    [
        (0.1, "compute, not a per-layer"),
        (0.25, "a cost per layer"),
        (0.6, "a fixed cost per call"),
        (0.16, "cannot say"),
    ],
)
def test_step_cost_reads_c_against_both_ratios(c, expected):
    from helpers.readings import stage11

    assert expected in stage11.step_cost(c, c_params=0.094, c_depth=0.25)


def test_round_costs_and_the_clocks_factor_from_the_benchmark_rows():
    """ours k=2 took 0.96 s for 40 rounds (24 ms a round), split 0.5 / 0.25 / 0.25; the formula charges
    2 draft steps of 1 ms and v(2) = 1.63 target steps of 8.54 ms; k = 0 took 0.72 s for 60 rounds."""
    from helpers import side_by_side
    from helpers.readings import stage11

    result = _bench_result()
    rows = {r["method"]: r for r in result["rows"]}
    result["costs"]["draft_ms"] = 1.0
    rows[side_by_side.NO_DRAFTS]["rounds"] = 60
    rows["ours k=2"].update(
        median_s=0.96, rounds=40, time_split={"draft": 0.5, "verify": 0.25, "overhead": 0.25}
    )
    got = side_by_side.round_costs(result, 2)
    assert got["measured"] == {"draft": 12.0, "verify": 6.0, "rest": 6.0}
    assert got["formula"] == {"draft": 2.0, "verify": 1.63 * 8.54, "rest": 0.0}
    assert got["no_drafts_ms"] == 12.0 and got["target_ms"] == 8.54
    # gains 1.1 and 1.2 against 1.25 predicted: ratios 0.88 and 0.96, median 0.92
    assert abs(side_by_side.shortfall(result) - 0.92) < 1e-12
    # the three ratios: tokens 1.5 / 2.19 (alpha 0.7, k 2), round 15.86 / 24, baseline 12 / 8.54
    f3 = side_by_side.gain_factors(result, 2)
    assert f3["tau_formula"] == spec_schedules.expected_tokens(0.7, 2)
    assert f3["tokens"] == 1.5 / f3["tau_formula"] and f3["round"] == (2.0 + 1.63 * 8.54) / 24.0
    assert f3["baseline"] == 12.0 / 8.54
    assert f3["product"] == 1.25 * f3["tokens"] * f3["round"] * f3["baseline"]
    text = stage11.left_out(result, k=2)
    assert (
        "| 2 draft steps | 2.0 ms | 12.0 ms |" in text and "| total | 15.9 ms | 24.0 ms |" in text
    )
    assert "| tokens per round | 2.19 | 1.50 |" in text
    assert "The first is tokens per round, 1.50 made against the formula's 2.19 (0.68)" in text
    assert "the round against the formula's charge (0.66)" in text
    assert "against that bare step (1.41). Together 0.93: they nearly cancel" in text
    assert "1.25 × 0.68 × 0.93 = 0.80x" in text
    assert "each answer (about 6 tokens) ends part-way through a round" in text


def test_acceptance_reading_splits_alpha_at_the_end_of_turn():
    from helpers.readings import stage11

    class Tok(_Words):
        eos_token_id = 0

    texts = [[1, 2, 0, 3, 4], [1, 0, 5, 5, 5]]  # 3 + 2 tokens inside, 5 past the end
    split = {1: [0.8, 0.6], 4: [0.9, 0.7]}
    text = stage11.acceptance_rate({1: 0.7, 4: 0.72}, {1: 0.7, 4: 0.5}, split, Tok(), texts)
    assert "These runs force 5 tokens a prompt: 5 of the 10 (50%) come after the answer's" in text
    assert "(the first prompt: ` a b<end> c 7`…)" in text
    assert (
        "At k = 4, α̂ is 0.90 inside the answers and 0.70 past their end: the draft guesses" in text
    )
    done = stage11.acceptance_rate({1: 0.7}, {1: 0.7}, {1: [0.7, float("nan")]}, Tok(), [[1, 0]])
    assert "none was decoded past its end" in done


def test_tutorial_reading_states_every_round_of_its_model():
    from helpers.readings import stage11

    rows = {
        "plain generate (cached)": [2.5, 288, 6],
        "tutorial loop, k=4": [6.8, 226, 6],
        "ours, k=4": [1.5, 99, 6],
    }
    text = stage11.textbook_loop(rows, 6, 0.744)
    assert "n = 0 costs 2 calls for 1 token, n = k 1 call for k tokens (the bonus dropped)" in text
    assert "4.5 times ours' seconds" in text and "read no speed-up of ours over `generate`" in text


def test_two_token_reading_says_what_the_test_covers():
    from helpers.readings import stage11

    pairs = torch.tensor([[1, 2], [1, 3], [4, 2]])
    law = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    same = torch.tensor([50.0, 30, 20])
    counts = {"a": same, "b": same.clone(), "control": torch.tensor([90.0, 5, 5])}
    pvalues = {"a": (0.9, 1), "b": (0.9, 1), "control": (0.0, 1)}
    text = stage11.two_token_test(_Words(), pairs, law, counts, pvalues, torch.arange(3), 100, 0.62)
    assert "The 3 possible pairs are pooled into 2 bins" in text
    assert "`a` and `b` drew the very same pairs" in text
    assert "chance 0.62, so about 62 of 100 samples reach the second test" in text
    assert "Not covered: draft positions 3 and later" in text


def test_sampling_with_two_drafts_in_the_first_round_is_exact():
    """Three new tokens, k = 3: the first round drafts two, so the second draft's test and residual shape
    the first two tokens; their law is still the target's. The control fails the same way."""
    target, draft = sharp_pair()
    ids = torch.tensor([[1, 2, 3]])
    pairs, law = spec_exactness.two_token_law(target, ids, 1.0, 0)
    kw = dict(new_tokens=3, temperature=1.0)
    ours = spec_exactness.sample_two_tokens(target, draft, ids, pairs, 3000, seed=2, **kw)
    assert spec_exactness.chi_square_pvalue(ours, law)[0] > 1e-3
    bad = spec_exactness.sample_two_tokens(
        target, draft, ids, pairs, 3000, seed=2, draft_argmax=True, **kw
    )
    assert spec_exactness.chi_square_pvalue(bad, law)[0] < 1e-6
    with torch.no_grad():
        p = spec.to_probs(target(ids).logits[0, -1].float(), 1.0)
        q = spec.to_probs(draft(ids).logits[0, -1].float(), 1.0)
    kept = spec_exactness.first_acceptance(target, draft, ids, 1.0, 0)
    assert kept == float(torch.minimum(p, q).sum()) and 0 < kept < 1


def test_the_benchmark_to_the_end_of_turn_decodes_each_answer_once(monkeypatch):
    """With eos, every method stops after it: the same tokens as plain greedy to its end of turn, counted
    in `tokens`, and tokens per call counted on them."""
    from helpers import side_by_side

    _fixed_costs(monkeypatch)
    target = random_lm("llama", 97, layers=2, hidden=32, seed=0)
    draft = random_lm("llama", 97, layers=1, hidden=32, seed=1)
    ids = torch.tensor([[5, 6, 7]])
    free = plain_greedy(target, ids, 20)[0, 3:].tolist()
    eos = free[5]
    result = side_by_side.run(
        target, draft, [ids], 20, ks=[2], repeats=1, progress=False, eos_token_id=eos
    )
    n = free.index(eos) + 1
    assert result["tokens"] == n and result["to_end_of_turn"]
    rows = {r["method"]: r for r in result["rows"]}
    assert all(r["exact"] for r in result["rows"])
    assert rows["plain generate"]["tau"] == 1.0 and rows[side_by_side.NO_DRAFTS]["rounds"] == n
    assert rows["ours k=2"]["rounds"] * rows["ours k=2"]["tau"] == pytest.approx(n, abs=0.01)


def test_speed_reading_names_the_k_that_paid_and_why_a_schedule_drafted_less():
    from helpers.readings import stage11

    mixed = _bench_result(gains={1: (1.1, [1.05, 1.15]), 2: (1.2, [0.98, 1.35])})
    text = stage11.speed_vs_theory(mixed, {1: [0.7, 0.6], 2: [0.72, 0.6]}, 6)
    assert (
        "On this draw of the clock, at k = 1 even the slowest repeat beat the loop with no "
        "drafts; at k = 2 the spread reaches below 1x (section 9 times k = 4 again)." in text
    )
    # one alpha 0.7, c 0.12: 1.52x at k = 1, 1.77x at k = 2, so the formula itself peaks at k = 2
    assert "also peaks at one k, 2" in text
    result = _bench_result(ks=(1, 2, 4))
    result["costs"]["verify"] = dict.fromkeys(range(1, 17), 1.0)
    rows = {r["method"]: r for r in result["rows"]}
    rows["ours k=4"]["tau"] = 3.0
    result["rows"].append(
        {
            "method": "ours alpha-driven k*",
            "k": None,
            "tau": 2.0,
            "gain": 1.0,
            "gain_range": [0.9, 1.1],
        }
    )
    running = [[0.8, 0.5], [0.8, 0.9]]
    text = stage11.schedules(result, {"alpha-driven k*": [[3, 2], [3, 4]]}, running=running)
    k0 = spec_schedules.optimal_k(0.8, 0.12, lambda k: 1.0)
    assert "made 2.00 tokens per call against constant k = 4's 3.00" in text
    assert (
        "Replayed on the 2 benchmarked prompts, it drafted 3.0 a round over 2 to 2 rounds" in text
    )
    assert f"gives a first round of k* = {k0}, and its running α̂ spanned 0.50 to 0.90" in text
    assert "its start below k = 4 weighs on every answer" in text
    assert "stops let the text" not in text  # no stop rule was run


def test_two_runs_of_k4_are_read_together():
    from helpers.readings import stage11

    sec7 = {"rows": [{"method": "ours k=4", "gain": 1.33, "gain_range": [1.25, 1.65]}]}
    sec7 |= {"prompts": 4, "repeats": 3}
    crossing = {"alpha_hat": 0.88, "gain": 1.23, "gain_range": [0.96, 1.25]}
    assert stage11.two_runs(crossing, sec7) == (
        "unsettled",
        "1.33x and 1.23x, every repeat of both runs within 0.96x to 1.65x",
    )
    line = stage11.speed_found(crossing, sec7)
    assert "the two runs disagree, so this CPU cannot settle whether k = 4 pays" in line
    assert "withdrawn for k = 4" in stage11._again(crossing, sec7, 4)
    above = {"alpha_hat": 0.88, "gain": 1.3, "gain_range": [1.1, 1.4]}
    assert stage11.two_runs(above, sec7)[0] == "paid"
    assert "beat our loop with no drafts in both runs" in stage11.speed_found(above, sec7)


def test_detectable_shift_and_copied_letters():
    from helpers.readings import stage11

    law = torch.tensor([0.5, 0.5])
    # dof 1 at 1e-3: noncentrality at power 0.5 is about 10.83; shift = sqrt(lam / (n * 4))
    got = stage11.detectable_shift(law, 1000, 1)
    assert abs(got - (10.8276 / 4000) ** 0.5) < 1e-4
    assert math.isnan(stage11.detectable_shift(torch.tensor([1.0]), 1000, 0))  # one bin: no test
    assert stage11.copies_prompt(" o", "Spell the word soup.")
    assert not stage11.copies_prompt(" e", "Spell the word soup.")
    assert stage11.copies_prompt(" the", "Spell the word soup.")
