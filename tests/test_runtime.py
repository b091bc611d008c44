"""The run-time estimates: the cost arithmetic, and the committed table against the presets' settings."""

import json
import subprocess
import sys

import pytest

from helpers import runtime
from helpers.runtime import Work


def test_a_decoding_step_costs_the_larger_of_the_weight_read_and_the_host_floor_at_both_ends():
    t4 = runtime.GPUS["t4"]
    # TinyLlama on a T4: reading 2.2 GB at 192 GB/s takes 11.5 ms, less than the floor of 22 layers x 0.6 ms
    # (the H200 host's, measured) or x 1.5 ms (Colab's 2-vCPU host, assumed): ceil(10 / 4) batches of 100 steps
    w = Work("generate", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "x", count=10, batch=4, tokens=100)
    assert runtime.seconds(w, t4, 0.6) == pytest.approx(3 * 100 * 22 * 0.6e-3)
    assert runtime.seconds(w, t4) == pytest.approx(3 * 100 * 22 * 1.5e-3)  # the high end by default
    big = Work("generate", "Qwen/Qwen2.5-7B-Instruct", "x", count=1, batch=1, tokens=1)
    # 15 GB of weights per step
    assert runtime.seconds(big, t4) == pytest.approx(2 * 7.62e9 / (320e9 * 0.6))


def test_an_fp32_model_reads_twice_the_bytes_and_computes_at_the_fp32_rate():
    """The T4's judges, writer and feedback model load in fp32: 4 bytes a weight, 8.1 TFLOPS, not 65."""
    t4 = runtime.GPUS["t4"]
    read = Work(
        "generate", "Qwen/Qwen2.5-1.5B-Instruct", "x", count=1, batch=1, tokens=1, dtype_bytes=4
    )
    # above 28 x 0.6 ms
    assert runtime.seconds(read, t4, 0.6) == pytest.approx(4 * 1.54e9 / (320e9 * 0.6))
    score = Work(
        "score", "Qwen/Qwen2.5-1.5B-Instruct", "x", count=32, batch=32, tokens=600, dtype_bytes=4
    )
    assert runtime.seconds(score, t4) == pytest.approx(2 * 1.54e9 * 32 * 600 / (8.1e12 * 0.3))


def test_an_estimate_is_a_range_and_a_long_one_offers_drive(monkeypatch):
    plan = [
        Work("generate", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "x", count=100, batch=1, tokens=1000)
    ]
    est = runtime.estimate(plan, "t4")
    assert (
        est["low"] == pytest.approx(0.4 * est["minutes"])
        and runtime.span(est) == f"{round(est['low'])}-{round(est['minutes'])} min"
    )
    table = {"stages": {"x": {p: {**est, "parts": [(1.0, "x")]} for p in runtime.GPUS}}}
    monkeypatch.setattr(
        runtime, "RESULTS", type("F", (), {"read_text": lambda self: json.dumps(table)})()
    )
    assert "USE_DRIVE = True" in runtime.line("x")


def test_a_training_step_costs_four_forward_passes_of_flops_and_dpo_three_sequences_per_row():
    a100 = runtime.GPUS["a100"]
    sft = Work("train", "Qwen/Qwen2.5-7B-Instruct", "x", count=10, batch=16, tokens=512)
    per_step = 4 * 7.62e9 * 16 * 512 / (312e12 * 0.3)
    assert runtime.seconds(sft, a100) == pytest.approx(10 * per_step)
    dpo = Work("train", "Qwen/Qwen2.5-7B-Instruct", "x", count=10, batch=16, tokens=512, passes=3)
    assert runtime.seconds(dpo, a100) == pytest.approx(3 * runtime.seconds(sft, a100))


@pytest.fixture(scope="module")
def fresh_table(tmp_path_factory):
    """The table recomputed in a fresh process (the hub libraries read the stand-in hub's paths at import)."""
    out = tmp_path_factory.mktemp("runtime") / "runtime.json"
    subprocess.run(
        [sys.executable, "-m", "helpers.tools.runtime", "--json", str(out)],
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text())["stages"]


def test_the_committed_run_time_table_is_the_presets_settings_of_today(fresh_table):
    """`data/results/runtime.json` is recomputed from the settings (a budget change shows here): run
    `python -m helpers.tools.runtime` and `python -m helpers.tools.report` after changing a budget."""
    committed = json.loads(runtime.RESULTS.read_text())["stages"]
    assert fresh_table == committed


def test_every_notebook_fits_an_hour_on_a_t4_by_the_estimate(fresh_table):
    minutes = {stage: rows["t4"]["minutes"] for stage, rows in fresh_table.items()}
    assert max(minutes.values()) <= 60, minutes
