"""The A/B test's arithmetic against textbook values and simulations with fixed seeds."""

import math

from scipy import stats

from helpers import abtest


def test_assignment_is_stable_and_uniform():
    arms = ("a", "b")
    sessions = [f"user-{i}" for i in range(4000)]
    first = [abtest.arm_for(s, arms) for s in sessions]
    assert first == [abtest.arm_for(s, arms) for s in sessions]
    n_b = first.count("b")
    assert stats.binomtest(n_b, len(sessions), 0.5).pvalue > 0.01
    assert first != [abtest.arm_for(s, arms, experiment="other") for s in sessions]


def test_sample_size_matches_the_textbook():
    # 0.5 -> 0.6 at alpha 0.05, power 0.8: 388 per arm (Fleiss, Statistical Methods for Rates, no correction)
    assert abtest.sample_size(0.5, 0.1) == 388
    assert abtest.sample_size(0.5, 0.2) < abtest.sample_size(0.5, 0.1)


def test_compare_matches_scipy():
    r = abtest.compare(40, 100, 55, 100)
    table = [[55, 45], [40, 60]]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert math.isclose(
        r["p_value"], p, rel_tol=1e-9
    )  # the pooled z-test is the 2x2 chi-square test
    assert math.isclose(r["diff"], 0.15) and r["ci"][0] < 0.15 < r["ci"][1]


def test_peeking_inflates_false_positives():
    sim = abtest.peeking_false_positives(0.5, n_per_arm=400, looks=10, runs=4000, seed=0)
    assert abs(sim["once"] - 0.05) < 0.015  # a test run once keeps its level
    assert sim["peeking"] > 0.12  # ten looks: well over twice the level
