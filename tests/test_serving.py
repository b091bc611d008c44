import json

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


def test_gradio_headless_round_trip_and_request_log(tmp_path, tok, target):
    log = tmp_path / "requests.jsonl"
    demo = serving.chat_demo(target, tok, log, max_new_tokens=24)
    url = serving.launch_local(demo)
    try:
        assert url.startswith("http://127.0.0.1:")
        chunks = serving.query_streaming(url, "Count from 3 to 7.")
        chunks2 = serving.query_streaming(url, "Spell the word cat.")
    finally:
        demo.close()
    expected = serving.direct_reply(
        target, tok, [{"role": "user", "content": "Count from 3 to 7."}], 24
    )
    # streamed, and the last chunk is the direct call's output
    assert len(chunks) > 1 and chunks[-1] == expected
    assert chunks2[-1] == serving.direct_reply(
        target, tok, [{"role": "user", "content": "Spell the word cat."}], 24
    )
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 2 and all(r["latency_s"] >= r["first_token_s"] > 0 for r in rows)
    summary = serving.log_summary(log)
    assert summary["requests"] == 2 and summary["tokens_per_s"] > 0


def test_log_summary_on_planted_rows(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"latency_s": x, "first_token_s": x / 10, "reply_tokens": 10} for x in (1.0, 3.0, 2.0)]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = serving.log_summary(log)
    assert s == {
        "requests": 3,
        "median_latency_s": 2.0,
        "max_latency_s": 3.0,
        "median_first_token_s": 0.2,
        "tokens_per_s": 5.0,
    }
