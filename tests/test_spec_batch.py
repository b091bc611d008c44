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
    pass_ratio=(2.6, 2.4, 2.2),
) -> dict:
    """A `side_by_side_batched.run` result at batches 1, 4 and 8 with the given median speed-ups over
    k = 0, each repeat within +-`width` of it, at k = 2 (the formula's k: k = 4 predicts less)."""
    rows, base = [], {1: 264.4, 4: 595.0, 8: 857.2}
    for b, s, c, p, v, pr in zip((1, 4, 8), speedups, cs, predicted, vs, pass_ratio):
        common = {"batch": b, "parity": 8, "rows": 8, "c": c, "target_ms": 4.0}
        rows.append(
            {**common, "method": "ours k=0", "k": 0, "tokens_per_s": base[b], "speedup": 1.0}
            | {"speedups": [1.0] * 4, "tokens_per_pass": b * 0.6, "step_ms": 4.4, "rounds": 60}
        )
        for k, pred in ((2, p), (4, p - 0.1)):
            rows.append(
                {
                    **common,
                    "method": f"ours k={k}",
                    "k": k,
                    "tokens_per_s": base[b] * s,
                    "speedup": s,
                    "speedups": [s - width, s, s + width, s],
                    "tokens_per_pass": b * 0.6 * pr,
                    "alpha_hat": 0.7,
                    "predicted": pred,
                    "v": v + 0.1 * (k == 4),
                    "expected": 2.19 if k == 2 else 2.77,
                    "priced": round(k * c + v + 0.1 * (k == 4), 3),
                    "pass_ratio": pr,
                    "round_cost": round(pr / s, 3),
                    "rounds": 30,
                    "bookkeeping": 0.05,
                    "slots_per_token": 1.5,
                }
            )
        rows.append(
            {**common, "method": "generate", "k": None, "tokens_per_s": base[b] * 0.9}
            | {"speedup": 0.9, "speedups": [0.9] * 4, "tokens_per_pass": b * 0.6, "rounds": 60}
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
    """A trend counts only where the two ends' ranges over the repeats do not overlap."""
    result = batched_result(speedups)
    assert stage11b.trend(result)["way"] == way
    summary = stage11b.summary(result, COSTS, *alphas, (2e-3, 1e-3))
    colab = stage11b.colab(result, *alphas, 0.76, None)
    assert said in colab
    slower = "slower than our loop with no drafts in every repeat at batch 8"
    assert (slower in summary) == (speedups[-1] < 0.96)
    assert "takes away the gain" not in summary + colab


def test_the_batched_reading_reads_every_row_against_k0_and_the_formula_factor_by_factor():
    """Every row of the first table grouped by its repeats; the formula's k against the clock's; the
    formula's two factors beside the run's; v(k) compared at equal k across batches."""
    text = stage11b.batched(batched_result((1.15, 0.99, 1.01)), COSTS)
    assert "more than 28%, half c's spread" in text  # (0.328 - 0.208) / (2 * 0.218)
    assert "Thin: above 1x in every repeat, by less than the clock's noise: batch 1 k = 2" in text
    assert "batching alone gave 264, 595, 857 tok/s" in text
    assert "tokens 1.19 × price 0.77 = 0.91 (a round cost more than priced)" in text
    assert "the round's price carries the gap" in text
    assert "Both sides of 1x: the clock cannot tell it from k = 0: batch 4 k = 2" in text
    assert "No configuration was slower in every repeat." in text
    assert "`generate`, the reference, ran at 0.90x, 0.90x, 0.90x" in text
    assert "96 decodings (8 rows at 3 batch sizes and 4 decoders; 8 distinct prompts)" in text
    assert "needed 2.60, 2.40, 2.20 times as many target passes" in text
    assert "At batch 1 both pick k = 2" in text  # the formula's k is also the clock's (a tie)
    assert "The formula expects 2.19, 2.19, 2.19 tokens per round from α̂" in text
    assert "k·c(b) + v(k) = 1.74, 1.73, 1.76 bare target steps" in text
    # a round took pass_ratio / speed-up no-draft steps; a no-draft step 4.4 / 4.0 bare steps
    assert "a round took 2.26, 2.42, 2.18 no-draft steps" in text
    assert "One no-draft step took 1.10, 1.10, 1.10 bare target steps" in text
    assert "v(2) 1.30 → 1.35 → 1.40: it rose at every step" in text
    flat = stage11b.batched(batched_result((1.15, 0.99, 1.01), vs=(1.3, 1.4, 1.32)), COSTS)
    assert "v(2) 1.30 → 1.40 → 1.32: it showed no trend" in flat
    slow = stage11b.batched(batched_result((1.15, 0.8, 1.01)), COSTS)
    steady = {**COSTS, "c_runs": [0.21, 0.218, 0.22]}
    wide = stage11b.batched(batched_result((1.15, 0.99, 1.01)), steady)
    assert "Faster in every repeat, by more than the clock's noise: batch 1 k = 2" in wide
    assert "Slower in every repeat: batch 4 k = 2, batch 4 k = 4." in slow
    assert "speculation cost time" in slow
    assert "cancels" not in text and "paid k+1 times a round but once a no-draft step" in text
    assert "Section 1 timed the target step" not in text  # 4.0 against 3.6 ms: not much slower
    moved = batched_result((1.15, 0.99, 1.01), vs=(0.72, 1.35, 1.4))
    for r in moved["rows"]:
        r["target_ms"] = 8.7
    clock = stage11b.batched(moved, COSTS)
    assert "v(2) below 1 is a timing artefact" in clock
    assert "timed the target step 2.4x slower than the top cell (8.70 against 3.60 ms)" in clock


def test_the_formula_k_is_chosen_before_the_clock_and_the_tables_print_the_spread():
    result = batched_result((1.15, 0.99, 1.01))
    chosen = side_by_side_batched.chosen_per_batch(result)
    assert [chosen[b]["k"] for b in (1, 4, 8)] == [2, 2, 2]  # the higher prediction, not the clock
    assert side_by_side_batched.spread(chosen[4]) == (0.95, 1.03)
    assert side_by_side_batched.explained(chosen[8]) == pytest.approx(2.2 / chosen[8]["priced"])
    assert side_by_side_batched.loop_overhead(result, 4) == pytest.approx(1.1)
    table = side_by_side_batched.format_table(result).splitlines()
    assert table[0].startswith("batch  decoder   tok/s  speed-up") and "(4 repeats)" in table[0]
    assert table[1] == "    1  ours k=0  264.4     1.00x  (baseline)             0.60  8/8"
    assert table[6] == "    4  ours k=2  589.0     0.99x  0.95x to 1.03x         5.76  8/8"
    costs = side_by_side_batched.format_costs(result).splitlines()
    assert costs[5] == (
        "    8 *2   0.70       2.19             2.20  0.18  1.40  1.76            2.18      1.34x"
        "     1.01x           5%         1.50"
    )


def test_the_distillation_readings_name_the_recipe_and_follow_the_intervals(alphas):
    a0, a1, a2, known = alphas
    text = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, (2e-3, 1e-3))
    assert "LoRA at 0.002 against every weight at 0.001" in text
    assert "this compares recipes, not methods" in text
    assert "the sequence-level draft accepts more greedily" in text  # a1 is higher on every prompt
    assert (
        "For greedy serving, keep the sequence-level draft; sampled serving was not measured"
        in text
    )
    summary = stage11b.summary(batched_result((1.0, 1.0, 1.0)), COSTS, a0, a1, a2, known, (1, 1))
    assert "sequence-level raised α" in summary and "DistillSpec left α within noise" in summary
    # batch 8: tokens 2.2 / 2.19 (|1 - f| 0.005) against price 1.76 / 2.2 (0.2): the price is further
    assert "batch 8 the round price" in summary
    assert "open" not in summary  # no distilled alphas given: no untimed sentence
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
    assert "Section 1's α̂ for that pair, 0.70, is lower: other prompts" in text
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
    assert "steady here" in stage11b.cost_spread(steady)
    column = stage11b.speedup_column({"stock draft": 0.5, "sequence-level": 0.8}, COSTS)
    assert "(0.208 and 0.328)" in column
    run = batched_result((1.15, 0.99, 1.01), cs=(0.43, 0.9, 0.9))
    wide = stage11b.speedup_column({"stock draft": 0.5, "sequence-level": 0.8}, COSTS, run)
    assert "(0.208 and 0.430)" in wide  # batch 1's re-timed c widens the band; batch 4's does not
    # section 1's clock over formula at the formula's k: 0.99 / 1.35 to 1.15 / 1.30; no scaling
    assert "giving 0.73 to 0.88 of the formula's prediction" in wide
    assert "cannot say whether they would beat no drafts" in wide and "becomes about" not in wide
    assert stage11b.formula_misses(run) == (pytest.approx(0.99 / 1.35), pytest.approx(1.15 / 1.3))
    assert "the formula itself puts them below 1x" in stage11b.speedup_column(
        {"stock draft": 0.1, "sequence-level": 0.2}, COSTS, run
    )
    dips = {**COSTS, "verify": {1: 1.39, 2: 1.16, 4: 0.72, 8: 2.52}}
    text = stage11b.cost_spread(dips)
    assert "v(k) went from v(1) = 1.39 to v(8) = 2.52, not steadily: v(4) = 0.72 is below" in text
    assert "v(k) below 1 at k = 4 is a timing artefact" in text
    assert "It is a prediction, not a timing" in column and "k = " in column


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
    """A small `side_by_side_batched.run` with rows stopping at end-of-turn: every decoder exact, the
    no-draft baseline at 1x, the formula's factors beside the run's; the readings render from it."""
    from helpers import generation, spec_schedules

    prompts = settings.stage("11", profiles.choose_profile()).prompts[:4]
    rows = [generation.chat_prompt_ids(tok, p) for p in prompts]
    result = side_by_side_batched.run(
        target, draft, rows, 12, 0, (1, 4), (2,), 2, 863, eos_token_id=tok.eos_token_id
    )
    assert all(r["parity"] == 4 and len(r["speedups"]) == 2 for r in result["rows"])
    base = side_by_side_batched.no_drafts(result)
    assert all(r["speedup"] == 1.0 for r in base.values())
    ours = {r["batch"]: r for r in result["rows"] if r["k"]}
    for b, r in ours.items():
        assert r["predicted"] == round(
            spec_schedules.predicted_speedup(r["alpha_hat"], 2, r["c"], r["v"]), 3
        )
        assert r["pass_ratio"] == round(base[b]["rounds"] / r["rounds"], 3)
        assert r["tokens_per_pass"] == round(result["tokens"] / r["rounds"], 3)
    assert ours[1]["pass_ratio"] > 1  # drafts save target passes
    assert "**Formula against clock, factor by factor**" in stage11b.batched(result, COSTS)


def test_the_batched_loop_with_no_drafts_is_greedy_decoding(tok, target, draft):
    """k = 0: the draft never runs, one target step per round, every row its own greedy decoding up to
    its end-of-turn, token for token."""
    from helpers import generation, spec_batch

    prompts = settings.stage("11", profiles.choose_profile()).prompts[:4]
    ids = [generation.chat_prompt_ids(tok, p) for p in prompts]
    eos = tok.eos_token_id
    want = [
        side_by_side_batched.plain_batched(target, *generation.left_pad([p], 0), 24, 0, eos)[0]
        for p in ids
    ]
    rows, st = spec_batch.speculative_generate_batch(
        target, draft, *generation.left_pad(ids, 0), k=0, max_new_tokens=24, eos_token_id=eos
    )
    assert rows == want
    assert st.draft_calls == 0 and st.rounds == st.target_calls == max(map(len, want))
    assert st.row_rounds == [len(w) for w in want]
