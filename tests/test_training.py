import copy

import torch

from helpers import profiles, training
from helpers import self_instruct as si
from helpers.world import tiny


def _rows(n=64):
    return si.to_sft_rows(
        [
            {"instruction": "Is the number odd or even?", "input": str(i), "output": "odd" if i % 2 else "even"}
            for i in range(n)
        ]
    )


def test_sft_lora_trains_completion_only_and_keeps_the_base(tmp_path, tok, draft):
    model = copy.deepcopy(draft)
    probe = torch.tensor([tok("Is the number odd or even?\n\n7", add_special_tokens=False)["input_ids"]])
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
    assert tok.decode(supervised) == "even<|im_end|>\n"  # the answer and its end of turn, nothing else
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
