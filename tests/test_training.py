import copy

import pytest
import torch

from helpers import profiles, training
from helpers import self_instruct as si
from helpers.world import tiny


def _rows(n=64):
    return si.to_sft_rows(
        [
            {
                "instruction": "Is the number odd or even?",
                "input": str(i),
                "output": "odd" if i % 2 else "even",
            }
            for i in range(n)
        ]
    )


def test_sft_lora_trains_completion_only_and_keeps_the_base(tmp_path, tok, draft):
    model = copy.deepcopy(draft)
    probe = torch.tensor(
        [tok("Is the number odd or even?\n\n7", add_special_tokens=False)["input_ids"]]
    )
    base_logits = model(input_ids=probe).logits
    trainer = training.sft_lora(
        model,
        tok,
        _rows(),
        profiles.choose_profile(),
        steps=30,
        lr=1e-2,
        batch_size=8,
        logging_steps=5,
        output_dir=str(tmp_path),
    )
    # the loss covers the completion (answer + end of turn) and nothing of the prompt
    row = trainer.train_dataset[0]
    supervised = [label for label in row["labels"] if label != -100]
    # the answer and its end of turn, nothing else
    assert tok.decode(supervised) == "even<|im_end|>\n"
    assert row["input_ids"][-len(supervised) :] == supervised
    # LoRA: few trainable parameters; the adapter changes the output, disabling it restores the base exactly
    trainable, total = training.trainable_share(trainer.model)
    assert 0 < trainable < 0.5 * total
    with torch.no_grad():
        adapted = trainer.model(input_ids=probe).logits
        with trainer.model.disable_adapter():
            restored = trainer.model(input_ids=probe).logits
    assert torch.equal(restored, base_logits)
    assert (adapted - base_logits).abs().max() > 1e-3
    losses = [loss for _, loss in training.losses(trainer)]
    assert losses[-1] < losses[0]
    # a merged copy runs its own weights (TRL's instance-level forward patch, whose closure calls the
    # original model, is removed after training)
    merged = copy.deepcopy(trainer.model).merge_and_unload()
    with torch.no_grad():
        assert (merged(input_ids=probe).logits - adapted).abs().max() < 1e-4
        merged.lm_head.weight.zero_()
        assert merged(input_ids=probe).logits.abs().max() == 0


def test_pack_rows_keeps_every_token_in_order():
    rows = [[1] * 5, [2] * 3, [3] * 7, [4] * 2, [5] * 9]
    packed = tiny.pack_rows(rows, 10)
    assert [t for r in packed for t in r] == [t for r in rows for t in r]
    assert all(len(r) <= 10 for r in packed[:-1] if len(r) > 0)
    assert packed == [[1] * 5 + [2] * 3, [3] * 7 + [4] * 2, [5] * 9]


class _Reset(Exception):
    """A Colab VM reset, mid-run."""


def _interrupted_at(step: int):
    """TimedCheckpoints that saves after every step and 'resets the VM' right after saving `step`."""

    class Interrupted(training.TimedCheckpoints):
        def __init__(self, minutes):
            super().__init__(0.0)

        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise _Reset
            return super().on_save(args, state, control, **kwargs)

    return Interrupted


def _lora(trainer) -> dict:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items() if "lora_" in k}


def _sft(tok, draft, out, steps=12):
    return training.sft_lora(
        copy.deepcopy(draft).train(),
        tok,
        _rows(),
        profiles.choose_profile(),
        steps=steps,
        lr=1e-2,
        batch_size=8,
        logging_steps=2,
        output_dir=str(out),
    )


def test_a_run_reset_half_way_resumes_to_the_weights_of_an_uninterrupted_one(
    tmp_path, tok, draft, monkeypatch
):
    """Killed after step 10 of 12 (64 rows in batches of 8: inside the second epoch), the rerun resumes
    from the step-10 checkpoint (adapter, optimizer, scheduler, random states, data order) and ends on
    bit-identical weights and losses; a rerun of the finished run trains no step."""
    whole = _sft(tok, draft, tmp_path / "whole")
    with monkeypatch.context() as m:
        m.setattr(training, "TimedCheckpoints", _interrupted_at(10))
        try:
            _sft(tok, draft, tmp_path / "reset")
            raise AssertionError("the reset did not happen")
        except _Reset:
            pass
    assert sorted(p.name for p in (tmp_path / "reset").glob("checkpoint-*")) == ["checkpoint-10"]
    resumed = _sft(tok, draft, tmp_path / "reset")
    assert resumed.state.global_step == 12 and training.losses(resumed) == training.losses(whole)
    assert all(torch.equal(v, _lora(resumed)[k]) for k, v in _lora(whole).items())
    again = _sft(tok, draft, tmp_path / "reset")  # finished: its final checkpoint, no training step
    assert all(torch.equal(v, _lora(again)[k]) for k, v in _lora(whole).items())


def test_a_checkpoint_of_another_run_is_never_resumed(tmp_path, tok, draft, capsys):
    """Same folder, more steps or other rows: the old checkpoints are deleted and the run starts at step 0."""
    _sft(tok, draft, tmp_path, steps=4)
    longer = _sft(tok, draft, tmp_path, steps=6)
    assert "another settings" in capsys.readouterr().out
    fresh = _sft(tok, draft, tmp_path / "fresh", steps=6)
    assert all(torch.equal(v, _lora(longer)[k]) for k, v in _lora(fresh).items())


_KEY_IN_A_FRESH_PROCESS = """
import json
from peft import get_peft_model
from helpers import checkpoints, training
from helpers.world import tiny
cfg = get_peft_model(tiny.load_model("draft"), training.lora_config()).peft_config["default"].to_dict()
print(json.dumps({"raw": repr(cfg["target_modules"]), "key": checkpoints.digest(checkpoints.canonical(cfg))}))
"""


def test_the_run_key_is_the_same_in_every_python_process(world):
    """PEFT turns "all-linear" into a set of module names, whose order changes with each interpreter's string
    hashing: hashed as it comes, a Colab kernel restart gave another key and deleted the run's checkpoints."""
    import json
    import os
    import subprocess
    import sys

    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _KEY_IN_A_FRESH_PROCESS],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONHASHSEED": str(s)},
            ).stdout.splitlines()[-1]
        )
        for s in (1, 2, 3)
    ]
    assert len({r["raw"] for r in runs}) > 1  # the hazard is real: the set's order moved
    assert len({r["key"] for r in runs}) == 1


def test_a_half_written_checkpoint_is_skipped_for_the_complete_one(
    tmp_path, tok, draft, monkeypatch
):
    """A reset during a save leaves a checkpoint folder without trainer_state.json: the rerun deletes it and
    resumes from the complete checkpoint before it, ending on the uninterrupted run's weights."""
    import shutil

    whole = _sft(tok, draft, tmp_path / "whole")
    with monkeypatch.context() as m:
        m.setattr(training, "TimedCheckpoints", _interrupted_at(10))
        try:
            _sft(tok, draft, tmp_path / "reset")
        except _Reset:
            pass
    half = tmp_path / "reset" / "checkpoint-11"
    shutil.copytree(tmp_path / "reset" / "checkpoint-10", half)
    (half / "trainer_state.json").unlink()
    resumed = _sft(tok, draft, tmp_path / "reset")
    assert not half.exists() or (half / "trainer_state.json").exists()
    assert all(torch.equal(v, _lora(resumed)[k]) for k, v in _lora(whole).items())


def test_a_run_whose_loss_is_not_finite_stops_and_names_the_cause(tmp_path, tok, draft):
    """fp16 on a T4 can overflow (Qwen2.5): the loss scaler then skips every step and the run learns nothing,
    silently. A model with a NaN weight stands in for the overflow: the run must stop at its first log."""
    broken = copy.deepcopy(draft)
    with torch.no_grad():
        broken.model.norm.weight[0] = float("nan")
    with pytest.raises(FloatingPointError, match="16-bit overflow"):
        _sft(tok, broken, tmp_path / "nan", steps=4)
