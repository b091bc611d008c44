import json

from helpers import spec_bench


def test_benchmark_code_path_on_the_tiny_pair(world, tmp_path, capsys):
    out = tmp_path / "bench.json"
    spec_bench.main(
        ["--pair", "tiny", "--prompts", "2", "--new-tokens", "6", "--ks", "1,3", "--repeats", "1", "--json", str(out)]
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
    ):
        assert m in methods
    assert all(r["exact"] for r in result["rows"])  # every method reproduces plain greedy
    ours = next(r for r in result["rows"] if r["method"] == "ours k=3")
    assert 0 <= ours["alpha_hat"] <= 1 and ours["tau"] >= 1
    assert ours["predicted_with_verify"] > 0 and set(ours["time_split"]) == {"draft", "verify", "overhead"}
    assert result["pair"]["target_params"] > result["pair"]["draft_params"]
    printed = capsys.readouterr().out
    assert "best ours" in printed and "c =" in printed
