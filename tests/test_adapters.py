"""Your checkpoint in both forms a phase-3 run leaves (helpers.adapters): a LoRA adapter folder loads as its
base with the adapter merged in; a folder that is neither form is refused, naming the role."""

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM

from helpers import adapters, profiles, training
from helpers.world import families


def test_an_adapter_folder_resolves_to_its_merged_model(tmp_path, monkeypatch, tok, draft):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    rows = training.chat_rows([(t.prompt, t.answer) for t in families.sample_tasks(16, "train", 3)])
    trainer = training.sft_lora(copy.deepcopy(draft), tok, rows, profiles.choose_profile(), steps=4,
                                lr=1e-2, batch_size=4, output_dir=str(tmp_path / "run"))  # fmt: skip
    trainer.save_model(
        str(tmp_path / "dpo_final")
    )  # what a phase-3 notebook leaves: the adapter only
    assert adapters.is_adapter_folder(tmp_path / "dpo_final")
    folder = profiles.resolve_model(str(tmp_path / "dpo_final"), "target")
    again = profiles.resolve_model(str(tmp_path / "dpo_final"), "target")
    assert folder == again and folder.startswith(
        str(tmp_path / "cache")
    )  # merged once, then reused
    merged = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.tensor([tok("What does the cat eat?")["input_ids"]])
    with torch.no_grad():
        gap = (
            (merged(input_ids=ids).logits - trainer.model.eval()(input_ids=ids).logits).abs().max()
        )
    assert gap < 1e-4
    assert profiles.resolve_model(folder, "target") == folder  # a merged folder is used as it is


def test_a_folder_that_is_no_checkpoint_is_refused_naming_the_role(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ValueError, match="the draft checkpoint .* neither a model folder"):
        profiles.resolve_model(str(tmp_path), "draft")
