"""Notebook 11b's helpers: repeated cost measurements, the second pair, and readings that follow the run."""

import random

import pytest

from helpers import profiles, settings, side_by_side_batched, spec_costs
from helpers.readings import stage11b


def batched_result(
    speedups,
    cs=(0.22, 0.19, 0.18),
    predicted=(1.30, 1.35, 1.34),
    width=0.04,
    vs=(1.3, 1.35, 1.4),
    slowest=(1.0, 0.85, 0.8),
) -> dict:
    """A `side_by_side_batched.run` result at batches 1, 4 and 8 with the given median speed-ups, each
    repeat within +-`width` of it, at k = 2 (the formula's k: k = 4 predicts less)."""
    rows, plain = [], {1: 264.4, 4: 595.0, 8: 857.2}
    for b, s, c, p, v, slow in zip((1, 4, 8), speedups, cs, predicted, vs, slowest):
        base = {"batch": b, "parity": 8, "rows": 8, "c": c, "target_ms": 4.0, "plain_step_ms": 4.2}
        rows.append(
            {**base, "method": "plain", "k": None, "tokens_per_s": plain[b], "speedup": 1.0}
        )
        for k, pred in ((2, p), (4, p - 0.1)):
            rows.append(
                {
                    **base,
                    "method": f"ours k={k}",
                    "k": k,
                    "tokens_per_s": plain[b] * s,
                    "speedup": s,
                    "speedups": [s - width, s, s + width, s],
                    "alpha_hat": 0.7,
                    "predicted": pred,
                    "v": v + 0.1 * (k == 4),
                    "rounds": 30,
                    "mean_row_rounds": 30 * slow,
                    "slowest": slow,
                    "bookkeeping": 0.05,
                    "slots_per_token": 1.5,
                    "pass_ms": 6.0,
                }
            )
    return {"prompts": 8, "new_tokens": 48, "repeats": 4, "threads": 1, "rows": rows}


COSTS = {
    "target_ms": 3.6,
    "draft_ms": 0.77,
    "c": 0.218,
    "verify": {k: 1.2 + 0.03 * k for k in range(1, 9)},
    "c_runs": [0.208, 0.21, 0.218, 0.22, 0.25, 0.3, 0.328],
    "target_ms_runs": [3.3, 3.5, 3.6, 4.0, 5.5, 3.4, 3.5],
}


@pytest.fixture(scope="module")
def alphas():
    rng = random.Random(0)
    a0 = [rng.uniform(0.2, 0.8) for _ in range(40)]
    a1 = [min(1.0, x + rng.uniform(0.1, 0.4)) for x in a0]  # clearly higher
    a2 = [x + rng.uniform(-0.05, 0.05) for x in a0]  # within noise
    return a0, a1, a2, list(range(40))


@pytest.mark.parametrize(
    "speedups,way,said",
    [
        ((1.04, 1.03, 1.19), "rose", "the speed-up rose from 1.04x at batch 1 to 1.19x at batch 8"),
        ((1.30, 1.10, 0.95), "fell", "the speed-up fell from 1.30x at batch 1 to 0.95x at batch 8"),
        ((1.10, 1.12, 1.13), "held", "the clock cannot tell them apart"),
    ],
)
def test_the_summary_and_the_colab_row_follow_the_measured_trend(speedups, way, said, alphas):
    """The previous render's summary said 'batching takes the gain away' on a run where it rose; a trend
    counts only where the two ends' ranges over the repeats do not overlap."""
    result = batched_result(speedups)
    assert stage11b.trend(result)["way"] == way
    summary = stage11b.summary(result, COSTS, *alphas, (2e-3, 1e-3))
    colab = stage11b.colab(result, *alphas, 0.76, None)
    assert said in colab
    assert ("slower than plain in every repeat at batch 8" in summary) == (speedups[-1] < 0.96)
    assert "takes away the gain" not in summary + colab
    assert "overhead among the rows" not in summary + colab  # the old account the numbers refuted


def test_the_batched_reading_follows_the_ranges_and_the_measured_costs():
    """'Cannot tell' where a range straddles 1x; the formula's room, the slowest row and bookkeeping
    from the values; the GPU sentence from v(k)."""
    text = stage11b.batched(batched_result((1.15, 0.99, 1.01)), COSTS)
    assert "1.15x at batch 1 (1.11x to 1.19x)" in text
    assert "faster than plain in every repeat at batch 1" in text
    assert "straddled 1x at batch 4 and 8, where the clock cannot tell it from plain" in text
    assert "it predicts 1.30x, 1.35x, 1.34x" in text
    assert "c(1) = 0.22 and v(2) = 1.30" in text and "lies inside that range" in text
    assert "48 decodings (8 rows at 3 batch sizes and 2 k; 8 distinct prompts)" in text
    assert "ran 30 rounds where its mean row needed 24.0 (a factor of 0.80)" in text
    assert "took 5% of ours' time" in text
    # with both: 1.34 * 0.8 * 0.95 = 1.02 at batch 8, inside its repeats (0.97x to 1.05x)
    assert "With both, the formula gives 1.23x, 1.09x, 1.02x" in text
    assert "plain `generate`'s step took 1.1x, 1.1x, 1.1x a bare target step" in text
    assert (
        "lies above every repeat at batch 1 and 4; inside the range of the repeats at batch 8"
        in text
    )
    assert "not what limits the clock" in text and "x under the formula" not in text
    assert "noise" not in text.split("Plain's overhead")[1]
    assert (
        "v(2) at batch 1 was 1.30 and v(2) at batch 8 1.40 (second table): it did not rise" in text
    )
    risen = stage11b.batched(batched_result((1.15, 0.99, 1.01), vs=(1.3, 1.4, 1.9)), COSTS)
    assert "v(2) at batch 8 1.90 (second table): it rose" in risen
    paid = stage11b.batched(batched_result((1.3, 1.25, 1.2), predicted=(1.3, 1.3, 1.3)), COSTS)
    assert "faster than plain in every repeat at batch 1 and 4 and 8" in paid
    assert "cannot tell" not in paid


def test_the_formula_k_is_chosen_before_the_clock_and_the_tables_print_the_spread():
    result = batched_result((1.15, 0.99, 1.01))
    chosen = side_by_side_batched.chosen_per_batch(result)
    assert [chosen[b]["k"] for b in (1, 4, 8)] == [2, 2, 2]  # the higher prediction, not the clock
    assert side_by_side_batched.spread(chosen[4]) == (0.95, 1.03)
    assert side_by_side_batched.explained(chosen[8]) == pytest.approx(1.34 * 0.8 * 0.95)
    table = side_by_side_batched.format_table(result).splitlines()
    assert table[0].startswith("batch  k  plain tok/s") and "range (4 repeats)" in table[0]
    assert (
        table[3] == "    4  2        595.0       589.0     0.99x  0.95x to 1.03x         1.35x  8/8"
    )
    costs = side_by_side_batched.format_costs(result).splitlines()
    assert costs[3] == (
        "    8  2   0.70  0.18  1.40      1.34x         0.80           5%      1.02x     1.01x"
        "         1.50        1.1x"
    )


def test_the_distillation_readings_name_the_recipe_and_follow_the_intervals(alphas):
    a0, a1, a2, known = alphas
    text = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, (2e-3, 1e-3))
    assert "LoRA adapters at a learning rate of 0.002, DistillSpec every weight at 0.001" in text
    assert "does not separate the method from its recipe" in text
    assert "the sequence-level draft accepts more greedily" in text  # a1 is higher on every prompt
    assert (
        "For greedy serving, keep the sequence-level draft; sampled serving was not measured"
        in text
    )
    summary = stage11b.summary(batched_result((1.0, 1.0, 1.0)), COSTS, a0, a1, a2, known, (1, 1))
    assert "sequence-level raised α" in summary and "DistillSpec left α within noise" in summary
    # sampled: the same ranking, then the opposite one
    agree = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, sampled=(a0, a1, a2))
    assert "Both settings agree: keep the sequence-level draft, for greedy and sampled" in agree
    flip = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, sampled=(a0, a0, a1))
    assert (
        "for greedy serving keep the sequence-level draft; for sampled serving keep DistillSpec"
        in flip
    )
    section1 = batched_result((1.0, 1.0, 1.0))
    text = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, batched=section1)
    assert "Section 1's α̂ for that pair, 0.70, is lower: it decoded 8 other rows" in text
    text = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.6, batched=section1)
    assert "0.70, is higher" in text


def test_the_plot_reading_reads_the_curve_and_the_overlaps():
    up, down = [0.3] * 20, [0.4 - 0.01 * i for i in range(20)]
    alpha = {"stock draft": 0.5, "sequence-level": 0.8, "DistillSpec, on-policy TVD": 0.55}
    ci = {
        "stock draft": (0.4, 0.6),
        "sequence-level": (0.75, 0.85),
        "DistillSpec, on-policy TVD": (0.5, 0.6),
    }
    assert "did not fall" in stage11b.distill_plot(up, alpha, ci)
    text = stage11b.distill_plot(down, alpha, ci)
    assert "fell from 0.35 over the first 10 steps to 0.26 over the last 10" in text
    assert "stock draft and sequence-level do not overlap" in text
    assert "stock draft and DistillSpec" not in text  # those two overlap
    assert "No spike" in text
    wide = dict.fromkeys(alpha, (0.0, 1.0))
    assert "every two intervals overlap" in stage11b.distill_plot(down, alpha, wide)
    # a spike in the middle that comes back, and one that does not
    flat = [0.3] * 150
    spike = flat[:75] + [0.7] * 10 + flat[85:]
    text = stage11b.distill_plot(spike, alpha, ci)
    assert "the running mean climbs to 0.70 at step 84 (single steps to 0.70)" in text
    assert "is back by step 94: training did not diverge" in text
    stuck = flat[:100] + [0.7] * 50
    assert "had not come back by the last step" in stage11b.distill_plot(stuck, alpha, ci)
    sampled = {**alpha, "DistillSpec, on-policy TVD": 0.69}
    text = stage11b.distill_plot(flat, alpha, ci, sampled, ci)
    assert "greedy α 0.55 and sampled α 0.69, greedy lower; sampled about the same" in text


def test_the_cost_reading_states_the_spread_it_was_given():
    text = stage11b.cost_spread(COSTS)
    assert "ranged from 0.208 to 0.328" in text and "55% of the median" in text
    steady = {**COSTS, "c_runs": [0.21, 0.215, 0.218, 0.22]}
    assert "steady within this cell" in stage11b.cost_spread(steady)
    column = stage11b.speedup_column({"stock draft": 0.5, "sequence-level": 0.8}, COSTS)
    assert "(0.208 and 0.328)" in column
    run = {"rows": [{"k": 2, "batch": 1, "c": 0.43}, {"k": 2, "batch": 4, "c": 0.9}]}
    wide = stage11b.speedup_column({"stock draft": 0.5, "sequence-level": 0.8}, COSTS, run)
    assert "(0.208 and 0.430)" in wide  # batch 1's re-timed c widens the band; batch 4's does not


def test_costs_measured_several_times_report_their_median_and_every_run(target, draft):
    import torch

    context = torch.tensor([[1, 5, 9, 14, 3, 7]])
    costs = spec_costs.measure_costs_repeated(target, draft, context, ks=(1, 2), runs=3, repeats=3)
    assert len(costs["c_runs"]) == len(costs["target_ms_runs"]) == 3
    assert costs["c"] == sorted(costs["c_runs"])[1]
    assert costs["target_ms"] == sorted(costs["target_ms_runs"])[1]
    assert set(costs["verify"]) == {1, 2} and all(v > 0 for v in costs["verify"].values())


def test_a_second_pair_is_measured_and_exact(world):
    """The l4/a100 cell's helper, on the tiny pair: greedy stays exact, every figure is filled in."""
    profile = profiles.choose_profile()
    prompts = settings.stage("11", profile).prompts[:2]
    got = spec_costs.second_pair(("tiny:target", "tiny:draft"), prompts, profile, 16)
    assert got["equal"] == got["n"] == 2 and got["V"] == 863
    assert 0 < got["alpha"] <= 1 and got["c"] > 0


def _broken_accept_rows(drafts, qs, p_logits, greedy, probs_of, generator):
    """`accept_rows` with the tutorial bug of exercise 3: the correction drawn from p, not max(0, p - q)."""
    import torch

    B, kr = drafts.shape
    rows = torch.arange(B)
    p, q = probs_of(p_logits), torch.stack(qs, dim=1)
    idx = drafts.unsqueeze(-1)
    ratio = p[:, :kr].gather(-1, idx).squeeze(-1) / q.gather(-1, idx).squeeze(-1)
    n = (torch.rand(B, kr, generator=generator) < ratio).long().cumprod(1).sum(1)
    extra = torch.multinomial(p[rows, n], 1, generator=generator).squeeze(-1)
    return n, extra, torch.minimum(p[:, :kr], q).sum(-1)


def test_the_batched_two_token_test_passes_the_sampler_and_catches_the_bug(
    tok, target, draft, monkeypatch
):
    """Notebook 11b's chi-square cell on the tiny pair: three prompts of different lengths in one batch
    pass; with the correction drawn from p (exercise 3) the test rejects."""
    import torch

    from helpers import generation, spec_batch, spec_exactness

    prompts = settings.stage("11", profiles.choose_profile()).prompts
    by_len = {len(p): p for p in (generation.chat_prompt_ids(tok, x) for x in prompts)}
    three = [by_len[n] for n in sorted(by_len)[:3]]
    assert len({len(p) for p in three}) == 3
    kw = dict(temperature=1.0, top_k=20, vocab_size=target.config.vocab_size)
    laws = [spec_exactness.two_token_law(target, torch.tensor([p]), **kw) for p in three]
    supports = [pairs for pairs, _ in laws]

    def pvalues():
        counts = spec_batch.two_token_counts(target, draft, three, supports, 500, 0, **kw)
        assert [int(c.sum()) for c in counts] == [500, 500, 500]
        return [spec_exactness.chi_square_pvalue(c, law)[0] for c, (_, law) in zip(counts, laws)]

    assert min(pvalues()) > 1e-3
    monkeypatch.setattr(spec_batch, "accept_rows", _broken_accept_rows)
    assert min(pvalues()) < 1e-3  # the page's threshold


def test_batch_statistics_count_each_rows_rounds_and_the_caches_growth(tok, target, draft):
    """`row_rounds`: the batch runs as many rounds as its slowest row, and a row alone runs as many as the
    batch; `peak_slots`: every round writes k + 1 slots, accepted or not."""
    from helpers import generation, spec_batch

    prompts = settings.stage("11", profiles.choose_profile()).prompts[:4]
    ids, mask = generation.left_pad([generation.chat_prompt_ids(tok, p) for p in prompts], 0)
    rows, st = spec_batch.speculative_generate_batch(
        target, draft, ids, mask, k=4, max_new_tokens=24, eos_token_id=tok.eos_token_id
    )
    assert max(st.row_rounds) == st.rounds and len(st.row_rounds) == 4
    assert min(st.row_rounds) < st.rounds  # a row left at its end-of-turn
    # every token but a row's last was fed; a round writes at most k + 1 slots
    assert max(map(len, rows)) - 1 <= st.peak_slots <= 5 * st.rounds
    _, alone = spec_batch.speculative_generate_batch(target, draft, ids[:1], mask[:1], k=4)
    assert alone.row_rounds == [alone.rounds]


def test_the_batched_benchmark_keeps_what_the_readings_read(tok, target, draft):
    """A small `side_by_side_batched.run`: every repeat's speed-up, the formula's inputs at each batch and
    the two measured costs, taken from the timed runs; the readings render from it."""
    from helpers import generation, spec_schedules

    prompts = settings.stage("11", profiles.choose_profile()).prompts[:4]
    rows = [generation.chat_prompt_ids(tok, p) for p in prompts]
    result = side_by_side_batched.run(
        target, draft, rows, 12, 0, batches=(1, 4), ks=(2,), repeats=2, vocab_size=863
    )
    ours = {r["batch"]: r for r in result["rows"] if r["k"]}
    assert all(r["parity"] == 4 and len(r["speedups"]) == 2 for r in ours.values())
    assert ours[1]["slowest"] == 1.0 and 0 < ours[4]["slowest"] <= 1
    assert all(0 < r["bookkeeping"] < 1 and r["pass_ms"] > 0 for r in ours.values())
    for r in ours.values():
        assert r["predicted"] == round(
            spec_schedules.predicted_speedup(r["alpha_hat"], 2, r["c"], r["v"]), 3
        )
    assert "**What the formula leaves out.**" in stage11b.batched(result, COSTS)
