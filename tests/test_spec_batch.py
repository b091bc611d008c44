"""Notebook 11b's helpers: repeated cost measurements, the second pair, and readings that follow the run."""

import random

import pytest

from helpers import profiles, settings, spec_costs
from helpers.readings import stage11b


def batched_result(speedups, cs=(0.22, 0.19, 0.18), predicted=(1.30, 1.35, 1.34)) -> dict:
    """A `side_by_side_batched.run` result at batches 1, 4 and 8 with the given best speed-ups."""
    rows, plain = [], {1: 264.4, 4: 595.0, 8: 857.2}
    for b, s, c, p in zip((1, 4, 8), speedups, cs, predicted):
        base = {"batch": b, "parity": 8, "rows": 8, "c": c}
        rows.append(
            {**base, "method": "plain", "k": None, "tokens_per_s": plain[b], "speedup": 1.0}
        )
        rows.append(
            {
                **base,
                "method": "ours k=2",
                "k": 2,
                "tokens_per_s": plain[b] * s,
                "speedup": s,
                "alpha_hat": 0.7,
                "predicted": p,
            }
        )
    return {"prompts": 8, "new_tokens": 48, "repeats": 2, "threads": 1, "rows": rows}


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
        ((1.04, 1.03, 1.19), "rose", "the gain rose from 1.04x at batch 1 to 1.19x at batch 8"),
        ((1.30, 1.10, 0.95), "fell", "the gain fell from 1.30x at batch 1 to 0.95x at batch 8"),
        ((1.10, 1.12, 1.13), "held", "the gain held level, 1.10x at batch 1 and 1.13x at batch 8"),
    ],
)
def test_the_summary_and_the_colab_row_follow_the_measured_trend(speedups, way, said, alphas):
    """The previous render's summary said 'batching takes the gain away' on a run where it rose."""
    result = batched_result(speedups)
    assert stage11b.trend(result)["way"] == way
    summary = stage11b.summary(result, COSTS, *alphas, (2e-3, 1e-3))
    colab = stage11b.colab(result, *alphas, 0.76, None)
    assert said in summary and said in colab
    assert ("slower than plain" in summary) == (speedups[-1] < 1)
    assert ("the same direction as expected on a GPU" in colab) == (way == "fell")
    assert "takes away the gain" not in summary + colab


def test_the_distillation_readings_name_the_recipe_and_follow_the_intervals(alphas):
    a0, a1, a2, known = alphas
    text = stage11b.distillation(a0, a1, a2, known, 25, 60, 0.76, (2e-3, 1e-3))
    assert "LoRA adapters at a learning rate of 0.002, DistillSpec every weight at 0.001" in text
    assert "does not separate the method from its recipe" in text
    assert "sequence-level draft accepts more" in text  # a1 is higher on every prompt
    summary = stage11b.summary(batched_result((1.0, 1.0, 1.0)), COSTS, a0, a1, a2, known, (1, 1))
    assert "sequence-level raised α" in summary and "DistillSpec left α within noise" in summary


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
    wide = dict.fromkeys(alpha, (0.0, 1.0))
    assert "every two intervals overlap" in stage11b.distill_plot(down, alpha, wide)


def test_the_cost_reading_states_the_spread_it_was_given():
    text = stage11b.cost_spread(COSTS)
    assert "ranged from 0.208 to 0.328" in text and "55% of the median" in text
    steady = {**COSTS, "c_runs": [0.21, 0.215, 0.218, 0.22]}
    assert "steady within this cell" in stage11b.cost_spread(steady)
    column = stage11b.speedup_column({"stock draft": 0.5, "sequence-level": 0.8}, COSTS)
    assert "(0.208 and 0.328)" in column


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
