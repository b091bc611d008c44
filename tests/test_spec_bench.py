import json

import torch

from helpers import generation, side_by_side, spec_costs
from helpers.tools import spec_bench
from helpers.world import tiny


def test_benchmark_code_path_on_the_tiny_pair(world, tmp_path, capsys):
    out = tmp_path / "bench.json"
    spec_bench.main(
        [
            "--pair",
            "tiny",
            "--prompts",
            "2",
            "--new-tokens",
            "6",
            "--ks",
            "1,3",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    methods = [r["method"] for r in result["rows"]]
    for m in (
        "plain generate",
        "HF assisted (default)",
        "HF prompt lookup",
        "HF assisted k=3",
        "ours k=1",
        "ours k=3",
        "ours heuristic (+2/-1)",
        "ours alpha-driven k*",
        "ours alpha-driven k*, block stop",
    ):
        assert m in methods
    assert all(r["exact"] for r in result["rows"])  # every method reproduces plain greedy
    ours = next(r for r in result["rows"] if r["method"] == "ours k=3")
    assert 0 <= ours["alpha_hat"] <= 1 and ours["tau"] >= 1
    assert ours["predicted_with_verify"] > 0 and set(ours["time_split"]) == {
        "draft",
        "verify",
        "overhead",
    }
    assert result["pair"]["target_params"] > result["pair"]["draft_params"]
    printed = capsys.readouterr().out
    assert "best ours" in printed and "c =" in printed


def test_a_first_draft_is_timed_beside_the_draft(target, draft, tok, monkeypatch):
    """The alpha-driven schedule picks k from the measured costs, so the costs are fixed here: timed twice,
    the same draft gave c and c_first a few percent apart under load, another k, and another alpha-hat."""

    def fixed_cost(model, context, n_new, repeats=20):
        return 1e-3 * (1 + 0.1 * n_new) * (4.0 if model is target else 1.0)

    monkeypatch.setattr(spec_costs, "time_call", fixed_cost)
    prompts = spec_bench.bench_prompts(tok, 2)
    result = side_by_side.run(
        target, draft, prompts, 6, ks=[2], repeats=1, progress=False, first_draft=draft
    )
    row = next(
        r for r in result["rows"] if r["method"] == "ours alpha-driven k*, block stop, first draft"
    )
    same = next(r for r in result["rows"] if r["method"] == "ours alpha-driven k*, block stop")
    # the same draft accepts the same tokens
    assert row["exact"] and row["alpha_hat"] == same["alpha_hat"]
    assert result["costs"]["c_first"] > 0


def test_batched_continuations_equal_each_prompt_alone(target, tok):
    prompts = [
        generation.chat_prompt_ids(tok, p)
        for p in ("What is 2 + 3?", "Spell the word cat.", "Count from 1 to 4.")
    ]
    rows = tiny.continuations(target, tok, prompts, new_tokens=12, batch=2)  # left-padded batches
    for p, row in zip(prompts, rows):
        alone = target.generate(torch.tensor([p]), **side_by_side._fixed(torch.tensor([p]), 12))
        assert row == alone[0].tolist() and len(row) == len(p) + 12


def test_reading_takes_best_hf_over_every_hf_method():
    rows = [
        {"method": "plain generate", "speedup": 1.0},
        {"method": "HF assisted k=2", "speedup": 0.79},
        {"method": "HF prompt lookup", "speedup": 1.17},
        {"method": "ours k=2", "speedup": 1.25},
    ]
    text = spec_bench.reading({"rows": rows, "costs": {"c": 0.5}, "pair": {"name": "tiny"}})
    first, *rest = text.splitlines()
    assert "best HF: HF prompt lookup 1.17x" in first and "ratio 1.07" in first
    assert len(rest) == 2 and "c = 0.50" in rest[0] and "README" in rest[1]
