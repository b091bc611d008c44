import pytest

from helpers import serving


def test_flatten_history_reads_gradio_content_blocks():
    # no text: dropped
    history = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Spell the word "},
                {"type": "text", "text": "cat."},
            ],
        },
        {"role": "assistant", "content": "c-a-t"},
        {"role": "user", "content": [{"type": "file", "file": {"path": "x.png"}}]},
        {"role": "system", "content": "ignored"},
    ]
    assert serving.flatten_history(history, {"text": "Count from 1 to 3."}) == [
        {"role": "user", "content": "Spell the word cat."},
        {"role": "assistant", "content": "c-a-t"},
        {"role": "user", "content": "Count from 1 to 3."},
    ]


def test_empty_message_is_a_clear_error(tok):
    with pytest.raises(ValueError, match="empty message"):
        serving.prompt_ids(tok, [{"role": "user", "content": "  "}])


def test_stream_ends_with_the_direct_reply_and_fills_stats(tok, target):
    messages = [{"role": "user", "content": "What is 12 + 30?"}]
    stats: dict = {}
    chunks = list(serving.stream_reply(target, tok, messages, max_new_tokens=24, stats=stats))
    assert len(chunks) > 1 and chunks[-1] == serving.direct_reply(
        target, tok, messages, max_new_tokens=24
    )
    assert all(b.startswith(a) for a, b in zip(chunks, chunks[1:]))  # each chunk extends the last
    assert 0 < stats["first_token_s"] <= stats["latency_s"] and stats["reply_tokens"] > 0
