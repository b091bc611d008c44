"""The notebooks' own claims (helpers.claims) bite: a cell broken on purpose stops with "claim failed"."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from helpers import claims, profiles

ROOT = Path(__file__).resolve().parents[1]


def cell_with(notebook: str, marker: str) -> str:
    """The source of the one code cell of `notebook` that contains `marker`."""
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    found = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and marker in "".join(c["source"])
    ]
    assert len(found) == 1, f"{notebook}: {len(found)} cells contain {marker!r}"
    return found[0]


def test_the_rules_say_where_claims_hold():
    tiny = profiles.choose_profile()
    assert claims.exact(tiny) and claims.full_counts(tiny)
    assert not claims.full_counts(SimpleNamespace(quick=True, dry_run=False))
    half = SimpleNamespace(dtype=torch.float16, load_in_4bit=False)
    assert not claims.exact(half)
    claims.check(False, "not checked here", where=False)  # skipped, said so
    with pytest.raises(AssertionError, match="claim failed: two equals three"):
        claims.check(2 == 3, "two equals three")


def _run_parity_cell(off_by_one: bool):
    ref = torch.tensor([[1, 2, 3, 4, 5]])

    class Target:
        def generate(self, ids, **kw):
            return ref

    def speculative_generate(target, draft, ids, k, **kw):
        out = ref.clone()
        if off_by_one and k == 4:
            out[0, -1] += 1  # one token off, in one of the k runs
        return out, None

    spec = SimpleNamespace(speculative_generate=speculative_generate)
    names = dict(torch=torch, target=Target(), draft=None, prompt_ids=[ref[:, :2]], N_NEW=3, V=10, EOS=0, GREEDY={},
                 tok=SimpleNamespace(pad_token_id=0), spec=spec, claims=claims,
                 profile=profiles.choose_profile())  # fmt: skip
    exec(cell_with("11_speculative", "greedy parity:"), names)


def test_notebook_11_stops_when_speculative_output_is_one_token_off():
    _run_parity_cell(off_by_one=False)
    with pytest.raises(AssertionError, match="claim failed: greedy speculative decoding"):
        _run_parity_cell(off_by_one=True)


def _run_rerun_cell(stale: bool):
    first = [SimpleNamespace(instruction=f"task {i}", reason=None) for i in range(3)]
    again = [SimpleNamespace(instruction=c.instruction, reason=c.reason) for c in first]
    if stale:  # a record from another run read back: its fate is not this run's
        again[1].reason = "rouge"
    si = SimpleNamespace(generate_instructions=lambda *a, **k: SimpleNamespace(candidates=again))
    generation = SimpleNamespace(read_jsonl=lambda path: [0, 0, 0])
    names = dict(time=__import__("time"), si=si, generation=generation, writer=None, tok=None, seeds=[],
                 OUT=Path("unused"), run_args={}, run=SimpleNamespace(candidates=first), claims=claims,
                 secs=1.0)  # fmt: skip
    exec(cell_with("12a_self_instruct", "a disconnect, simulated"), names)


def test_notebook_12a_stops_when_a_rerun_reads_a_stale_record():
    _run_rerun_cell(stale=False)
    with pytest.raises(AssertionError, match="rerun must match the checkpoint"):
        _run_rerun_cell(stale=True)


def test_stability_prints_one_stage_rows_from_the_seed_record(tmp_path, capsys):
    path = tmp_path / "seeds.json"
    figures = {"12b harmless": [1.0, 0.97, None], "13 exact": [0.65, 0.34, 0.16]}
    path.write_text(json.dumps({"seeds": [0, 1, 2], "figures": figures, "before_pin": [1, 2]}))
    claims.stability("12b", path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["12b", "harmless", "1.00", "0.97", "-"]
    assert len(lines) == 3 and "seed 0 (this page)" in lines[0]
    assert lines[2].endswith("seed 1 and 2: built once, by an earlier version of the world's build")
    claims.stability("11", path)
    assert capsys.readouterr().out == "no figure of stage 11 is recorded across world seeds yet\n"


def test_seed_record_takes_this_pages_column_from_this_runs_results(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("COURSE_WORLD_SEED", raising=False)
    path, live = tmp_path / "seeds.json", tmp_path / "results"
    name = "12b RL-CAI (pairs at T=1) confident pairs"
    figures = {name: [46, 50, None], "12b SL-CAI harmless": [1.0, 0.97, 0.96]}
    path.write_text(json.dumps({"seeds": [0, 1, 2], "figures": figures}))
    live.mkdir()
    (live / "constitutional.json").write_text(json.dumps({"pairs": 137}))
    record = claims.seed_record(path, live)
    assert record["figures"][name] == [137, 50, None]  # this run's figure, the others untouched
    assert record["figures"]["12b SL-CAI harmless"] == [1.0, 0.97, 0.96]  # not in this run's file
    monkeypatch.setenv("COURSE_WORLD_SEED", "1")
    assert claims.seed_record(path, live)["figures"][name] == [46, 50, None]  # another world
