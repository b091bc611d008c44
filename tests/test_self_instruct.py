import json
import random
import subprocess
import sys
import textwrap
import types

import pytest
import torch
from rouge_score import rouge_scorer

from helpers import generation, instruct_prompts, rouge_pool
from helpers import self_instruct as si
from helpers.world import families as tasks
from helpers.world import self_instruct as tsi

SEEDS = "data/seed_tasks.jsonl"


# ---------------------------------------------------------------- filters
@pytest.mark.parametrize("word", si.BLACKLIST)
def test_each_blacklisted_word_is_rejected(word):
    assert (
        si.cheap_rejection(f"Please use the {word} to answer this question.") == "blacklisted word"
    )
    assert (
        si.cheap_rejection(f"Please use the {word.upper()} to answer this question.")
        == "blacklisted word"
    )


def test_blacklist_matches_whole_words_only():
    # "map" inside a word
    assert si.cheap_rejection("Explain how a mapping between two sets works.") is None
    # "file" inside a word
    assert si.cheap_rejection("Describe the profile of a good teacher.") is None


def test_length_bounds():
    assert si.cheap_rejection("Count the numbers.") == "3 words or fewer"
    assert si.cheap_rejection("Count the red apples.") is None  # 4 words pass
    assert si.cheap_rejection(" ".join(["word"] * 150) + ".") is None
    assert si.cheap_rejection(" ".join(["word"] * 151)) == "over 150 words"


def test_program_and_first_character_rules():
    assert si.cheap_rejection("Write a program that sorts a list.") == "'Write a program'"
    assert si.cheap_rejection("- What is 3 + 4 today?") == "starts with punctuation / non-ASCII"
    assert (
        si.cheap_rejection("¿Cuál es la capital de Francia?")
        == "starts with punctuation / non-ASCII"
    )
    assert (
        si.cheap_rejection("Éclairez the reasons for the war.")
        == "starts with punctuation / non-ASCII"
    )
    # the paper's rule
    for text in ('"Hello" is a greeting; explain why.', "(a) Name three rivers of Asia."):
        assert si.cheap_rejection(text) == "starts with punctuation / non-ASCII"


def test_near_duplicate_rejected_and_distinct_kept():
    pool = rouge_pool.RougePool(["Give three tips for staying healthy."])
    dup = si.judge_candidate("Give three tips for staying very healthy.", 0, pool, 0.7)
    assert dup.reason == "ROUGE-L > 0.7" and dup.max_rouge > 0.7
    new = si.judge_candidate("Translate the sentence into German.", 0, pool, 0.7)
    assert new.reason is None and len(pool) == 2  # kept, and later candidates are compared to it
    again = si.judge_candidate("Translate the sentence into German please.", 0, pool, 0.7)
    assert again.reason == "ROUGE-L > 0.7"


def _row(instruction, inp, out):
    return {"instruction": instruction, "input": inp, "output": out, "is_classification": False}


def test_decontamination_tests_the_prompt_the_student_trains_on():
    """The evaluated prompt is instruction + input: a bare instruction that matches is not a test question,
    an (instruction, input) row that matches is."""
    evaluated = {instruct_prompts.user_text("Does Pat have a pink cup?", "Pat has a pink cup.")}
    rows = [
        (_row("Does Pat have a pink cup?", "Pat has a pink cup.", "yes"), None),
        (_row("Does Pat have a pink cup?", "Pat has a red box.", "no"), None),
    ]
    fates = [reason for _, reason in si._filter_rows(rows, exclude=evaluated.__contains__)]
    assert fates == ["in the evaluation set", None]


def test_a_task_whose_same_input_got_different_outputs_is_dropped_whole():
    rows = [
        (_row("Is the number odd or even?", "7", "odd"), None),
        (_row("Is the number odd or even?", "7", "even"), None),
        (_row("Is the number odd or even?", "4", "even"), None),
        (_row("Count from 1 to 3.", "", "1, 2, 3"), None),
    ]
    fates = [reason for _, reason in si._filter_rows(rows)]
    assert fates == ["same input, different outputs"] * 3 + [None]


def test_no_cut_off_reply_or_answer_becomes_training_data(tmp_path, tok, draft, monkeypatch):
    """The paper drops the last instance of a reply that hit the token limit; an answer cut off is dropped
    too (the chat template would otherwise close it with an end-of-turn and teach the cut). A scripted
    writer says which replies were cut."""
    script = {  # prompt fragment -> (reply, finished)
        "regarded as a classification": lambda p: ("Yes" if "odd or even" in p else "No", True),
        "Task: Is the number odd or even?": lambda p: (
            "Class label: odd\nInput: 7\nClass label: even\nInput: 1",
            False,
        ),
        "Task: Count from 3 to 6.": lambda p: ("Output: 3, 4, 5, 6", True),
        "Task: Tell a story": lambda p: ("Output: Once", True),
        "Count from 3 to 6.": lambda p: ("3, 4, 5, 6. Done.", True),  # the answer call
        "Tell a story": lambda p: ("Once upon a time a cat named", False),
    }

    def scripted(model, tok, prompts, **kw):
        replies = [next(f(p) for k, f in script.items() if k in p) for p in prompts]
        return [r for r, _ in replies], [f for _, f in replies]

    monkeypatch.setattr(generation, "chat_generate", scripted)
    kept = [
        "Count from 3 to 6.",
        "Tell a story about a cat named Tom.",
        "Is the number odd or even?",
    ]
    run = si.Run(seeds=[], candidates=[si.Candidate(t, 0, None) for t in kept])
    run = si.generate_instances(draft, tok, run, tmp_path, batch_size=4)
    assert [(x["instruction"], x["input"], x["output"]) for x in run.instances] == [
        ("Count from 3 to 6.", "", "3, 4, 5, 6. Done."),
        ("Is the number odd or even?", "7", "odd"),
    ]
    assert sorted((x["instruction"][:12], x["reason"]) for x in run.rejected_instances) == [
        ("Is the numbe", "cut at the token limit"),
        ("Tell a story", "answer cut at the token limit"),
    ]


def test_instance_checks():
    assert si.instance_rejection("", "") == "empty output"
    assert si.instance_rejection("odd", "odd") == "input == output"
    assert si.instance_rejection("", "10. Spell the word fox.") == "leaked list numbering"
    assert (
        si.instance_rejection("", "Fine.\nInstruction: add two numbers") == "leaked list numbering"
    )
    assert si.instance_rejection("Name:", "Bob") == "ends with ':'"
    assert si.instance_rejection("37", "odd") is None
    # an answer's own numbered list is kept, as in the paper (2 of the course's 121 seed outputs are lists)
    assert si.instance_rejection("", "1. Eat plenty of vegetables.\n2. Sleep eight hours.") is None
    seeds = si.load_seed_tasks(SEEDS)
    assert all(si.instance_rejection(s["input"], s["output"]) is None for s in seeds)


# ---------------------------------------------------------------- ROUGE-L, fast = reference
def _random_text(rng: random.Random) -> str:
    vocab = "the a cat dog what is count from to spell word tell story about 1 2 3 4 5 red blue it".split()
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14))) + rng.choice(
        ["", ".", "?"]
    )


def test_fast_rouge_equals_rouge_scorer_exactly():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(0)
    for _ in range(2000):
        a, b = _random_text(rng), _random_text(rng)
        ta, tb = rouge_pool.rouge_tokens(a), rouge_pool.rouge_tokens(b)
        ref = scorer.score(a, b)["rougeL"]
        lcs = rouge_pool.lcs_length(rouge_pool.position_masks(ta), tb) if ta and tb else 0
        assert lcs == rouge_scorer._lcs_table(ta, tb)[-1][-1] if ta and tb else True
        pool = rouge_pool.RougePool([a])
        assert pool.max_score(b)[0] == ref.fmeasure  # exact float equality, not approx


def test_pool_max_equals_pairwise_max_and_decisions_agree():
    rng = random.Random(1)
    texts = [_random_text(rng) for _ in range(300)]
    pool = rouge_pool.RougePool(texts[:200])
    for cand in texts[200:]:
        fast, _ = pool.max_score(cand)
        slow = rouge_pool.slow_max_score(texts[:200], cand)
        assert fast == slow
        assert (fast > 0.7) == (slow > 0.7)


# ---------------------------------------------------------------- parsing
def test_list_parser_on_clean_and_malformed_outputs():
    assert instruct_prompts.parse_instructions(
        "9. Spell the word fox.\n10. Count from 1 to 4."
    ) == [
        "Spell the word fox.",
        "Count from 1 to 4.",
    ]
    # no number on the first line (the prompt ended in "9."), ")" numbering, blank lines
    assert instruct_prompts.parse_instructions(
        " Spell the word fox.\n\n10) Count from 1 to 4.\n"
    ) == [
        "Spell the word fox.",
        "Count from 1 to 4.",
    ]
    # a continuation line joins its item; a reply that hit the token limit gives nothing (the paper's rule)
    text = "9. Tell a story about a cat\nnamed Tom who likes fish.\n10. What is 2 + 3?\n11. Which is lar"
    assert (
        instruct_prompts.parse_instructions(text)[0]
        == "Tell a story about a cat named Tom who likes fish."
    )
    assert instruct_prompts.parse_instructions(text, finished=False) == []
    assert (
        instruct_prompts.parse_instructions("") == []
        and instruct_prompts.parse_instructions("\n\n9.\n10.") == []
    )


def test_yes_no_and_instance_parsers():
    assert (
        instruct_prompts.parse_yes_no("Yes") is True
        and instruct_prompts.parse_yes_no(" no.") is False
    )
    assert (
        instruct_prompts.parse_yes_no("Yesterday") is None
        and instruct_prompts.parse_yes_no("Maybe") is None
    )
    out = "Class label: odd\nInput: 37\nClass label: even\nInput: 12"
    assert instruct_prompts.parse_instances(out, True) == [("37", "odd"), ("12", "even")]
    assert instruct_prompts.parse_instances("Input: 5\nOutput: odd", False) == [("5", "odd")]
    assert instruct_prompts.parse_instances("Output: 2 + 3 = 5. The answer is 5.", False) == [
        ("", "2 + 3 = 5. The answer is 5.")
    ]
    assert (
        instruct_prompts.parse_instances("garbage", False) == []
        and instruct_prompts.parse_instances("garbage", True) == []
    )


def test_prompt_rendering_is_the_papers_list():
    p = instruct_prompts.instruction_prompt(["A task.", "B task."])
    assert p == "Come up with a series of tasks:\n1. A task.\n2. B task.\n3."


def test_prompts_mix_six_seeds_and_two_machine_instructions():
    seeds = [{"instruction": f"Seed task number {i}."} for i in range(20)]
    machine = ["Machine task one here.", "Machine task two here.", "Machine task three here."]
    for prompt in si.build_prompts(seeds, machine, 5, random.Random(0)):
        lines = prompt.splitlines()[1:-1]
        assert len(lines) == 8 and sum("Machine" in x for x in lines) == 2
    assert all(
        "Machine" not in p for p in si.build_prompts(seeds, machine[:1], 3, random.Random(0))
    )


# ---------------------------------------------------------------- data files
def test_seed_file_is_valid_and_diverse():
    seeds = si.load_seed_tasks(SEEDS)
    assert len(seeds) >= 100
    assert 0.25 <= sum(s["is_classification"] for s in seeds) / len(seeds) <= 0.5
    assert len({s["instruction"] for s in seeds}) == len(seeds)
    assert all(si.cheap_rejection(s["instruction"]) is None for s in seeds)


def test_malformed_seed_file_names_file_and_line(tmp_path):
    path = tmp_path / "seeds.jsonl"
    good = json.dumps(
        {
            "instruction": "Do it now please.",
            "input": "",
            "output": "ok",
            "is_classification": False,
        }
    )
    path.write_text(good + "\n" + good[:-5] + "\n")
    with pytest.raises(ValueError, match=r"seeds.jsonl:2: not valid JSON"):
        si.load_seed_tasks(path)
    path.write_text(good + "\n" + good.replace("false", '"no"') + "\n")
    with pytest.raises(
        ValueError, match=r"seeds.jsonl:2: field 'is_classification' must be a bool"
    ):
        si.load_seed_tasks(path)


# ---------------------------------------------------------------- crash-safe generation
def _items(n):
    return [{"id": f"q{i}", "prompt": f"What is {i} + {i + 1}?"} for i in range(n)]


def test_malformed_checkpoint_line_is_a_clear_error(tmp_path, tok, draft):
    path = tmp_path / "run.jsonl"
    path.write_text('{"id": "q0", "output": "x"}\n{"id": "q1", "outp\n')
    with pytest.raises(ValueError, match=r"run.jsonl:2: not valid JSON"):
        generation.generate_to_jsonl(path, _items(4), draft, tok)
    path.write_text('{"id": "q0", "output": "x"}\n{"id": "q0", "output": "y"}\n')
    with pytest.raises(ValueError, match=r"run.jsonl:2: .*duplicate id 'q0'"):
        generation.generate_to_jsonl(path, _items(4), draft, tok)


def test_interrupted_then_resumed_run_writes_the_same_records(tmp_path, tok, draft, monkeypatch):
    kwargs = dict(seed=3, batch_size=4, max_new_tokens=12, do_sample=True, temperature=1.0)
    full = tmp_path / "full.jsonl"
    reference = generation.generate_to_jsonl(full, _items(14), draft, tok, **kwargs)

    part = tmp_path / "part.jsonl"
    real, calls = generation.chat_generate, []

    def crash_on_third_batch(*args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("disconnected")
        return real(*args, **kw)

    monkeypatch.setattr(generation, "chat_generate", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        generation.generate_to_jsonl(part, _items(14), draft, tok, **kwargs)
    monkeypatch.setattr(generation, "chat_generate", real)
    assert len(generation.read_jsonl(part)) == 8  # two batches survived
    resumed = generation.generate_to_jsonl(part, _items(14), draft, tok, **kwargs)
    assert resumed == reference
    assert part.read_text() == full.read_text()  # no duplicate, none lost, same order


@pytest.mark.parametrize("change", ["prompt", "reply prefix", "model", "sampling", "token budget"])
def test_a_changed_input_never_gets_the_old_record_back(tmp_path, tok, draft, change, monkeypatch):
    """Same ids, one thing changed: the rerun equals a fresh run, and only the batches it touches rerun."""
    import copy

    kwargs = dict(seed=3, batch_size=4, max_new_tokens=12, do_sample=True, temperature=1.0)
    path = tmp_path / "run.jsonl"
    generation.generate_to_jsonl(path, _items(6), draft, tok, **kwargs)
    items, model, batches = _items(6), draft, 2
    if change == "prompt":
        items[5]["prompt"], batches = "Count from 2 to 5.", 1
    elif change == "reply prefix":
        items[0]["reply_prefix"], batches = "The answer", 1
    elif change == "model":
        model = copy.deepcopy(draft)
        with torch.no_grad():
            model.get_output_embeddings().weight.mul_(3.0)
    elif change == "sampling":
        kwargs["temperature"] = 0.3
    else:
        kwargs["max_new_tokens"] = 5
    fresh = generation.generate_to_jsonl(tmp_path / "fresh.jsonl", items, model, tok, **kwargs)
    real, calls = generation.chat_generate, []
    monkeypatch.setattr(
        generation, "chat_generate", lambda *a, **kw: calls.append(1) or real(*a, **kw)
    )
    assert generation.generate_to_jsonl(path, items, model, tok, **kwargs) == fresh
    assert len(calls) == batches
    assert generation.generate_to_jsonl(path, items, model, tok, **kwargs) == fresh  # now reused
    assert len(calls) == batches


def test_the_model_fingerprint_sees_a_small_update_and_ignores_a_copy(draft):
    import copy

    twin = copy.deepcopy(draft)
    assert generation.model_fingerprint(twin) == generation.model_fingerprint(draft)
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(1e-4)
    assert generation.model_fingerprint(twin) != generation.model_fingerprint(draft)


def test_a_file_without_fingerprints_is_regenerated(tmp_path, tok, draft):
    path = tmp_path / "old.jsonl"
    path.write_text(
        "".join(
            json.dumps({**item, "output": "stale", "finished": True}) + "\n" for item in _items(3)
        )
    )
    records = generation.generate_to_jsonl(path, _items(3), draft, tok, max_new_tokens=6)
    assert all(r["output"] != "stale" for r in records)


def test_killed_process_resumes_with_identical_records(tmp_path, world):
    """A real SIGKILL half-way through, then a rerun: same file as an uninterrupted run."""
    script = textwrap.dedent(
        """
        import sys, time, torch
        torch.set_num_threads(1)
        from helpers import generation
        from helpers.world import tiny
        tok, model = tiny.load_tokenizer(), tiny.load_model("draft")
        real = generation.append_jsonl
        def slow_append(path, records):
            real(path, records)
            time.sleep(float(sys.argv[2]))
        generation.append_jsonl = slow_append
        items = [{"id": f"q{i}", "prompt": f"Count from {i} to {i + 3}."} for i in range(12)]
        generation.generate_to_jsonl(sys.argv[1], items, model, tok, seed=1, batch_size=3, max_new_tokens=10,
                                     do_sample=True, temperature=1.0)
        """
    )
    run = [sys.executable, "-c", script]
    subprocess.run([*run, str(tmp_path / "full.jsonl"), "0"], check=True, timeout=120)
    killed = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([*run, str(killed), "30"])
    import time

    for _ in range(600):  # wait for the first batch, then kill -9 while it sleeps
        if killed.exists() and killed.read_text().count("\n") >= 3:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert killed.read_text().count("\n") == 3
    subprocess.run([*run, str(killed), "0"], check=True, timeout=120)
    assert killed.read_text() == (tmp_path / "full.jsonl").read_text()


# ---------------------------------------------------------------- the tiny world's side
def test_world_task_reads_back_every_core_prompt():
    for task in tasks.sample_tasks(500, "train", 11, tsi.EVAL_FAMILIES):
        inp = task.meta.get("input", "")
        instruction = task.meta.get("instruction", task.prompt)
        assert tsi.check_instance(instruction, inp, task.answer) is True
        assert tsi.check_instance(instruction, inp, "wrong answer") is False
    assert tsi.check_instance("Explain the rules of chess.", "", "anything") is None


def test_tiny_format_families_render_the_pipelines_prompts():
    rng = random.Random(0)
    task = tsi.make_instruction_list(rng)
    assert task.prompt.startswith("Come up with a series of tasks:\n1. ") and task.prompt.endswith(
        "\n9."
    )
    assert len(instruct_prompts.parse_instructions(task.answer)) == 6
    clf = tsi.make_instance(random.Random(3))
    assert clf.prompt.startswith(("Given the classification", "Come up with an example"))
    seeds = tsi.tiny_seed_tasks(50)
    assert len({(s["instruction"], s["input"]) for s in seeds}) == 50
    assert not any(
        tasks.is_heldout(instruct_prompts.user_text(s["instruction"], s["input"])) for s in seeds
    )


def test_instance_generation_resumes_from_its_files(tmp_path, tok):
    from transformers import AutoModelForCausalLM

    writer = AutoModelForCausalLM.from_pretrained(tsi.generator_path()).eval()
    kept = [
        "Count from 3 to 6.",
        "Does Tom have a red ball?",
        "Which is larger, 12 or 40?",
        "Is the number odd or even?",
    ]
    run = si.Run(seeds=[], candidates=[si.Candidate(t, 0, None) for t in kept])
    first = si.generate_instances(writer, tok, run, tmp_path, batch_size=4, max_new_tokens=48)
    assert first.instances  # something was written, classification and not
    files = {p.name: p.read_text() for p in tmp_path.glob("*.jsonl")}
    assert set(files) == {"classification.jsonl", "instances.jsonl", "answers.jsonl"}
    again = si.generate_instances(
        writer,
        tok,
        si.Run(seeds=[], candidates=run.candidates),
        tmp_path,
        batch_size=4,
        max_new_tokens=48,
    )
    assert (
        again.instances == first.instances and again.rejected_instances == first.rejected_instances
    )
    # nothing generated twice
    assert {p.name: p.read_text() for p in tmp_path.glob("*.jsonl")} == files


def test_parsers_read_a_chat_models_replies():
    """Finding F5: what the real SmolLM2-135M-Instruct writes (helpers.tools.instruct_parse), parsed."""
    reply = "Sure! Here are more tasks:\n**9.** Write a poem about rain.\n10. 10. Name three colours.\n11. 11.\n\nI hope these help!"
    assert instruct_prompts.parse_instructions(reply) == [
        "Write a poem about rain.",
        "Name three colours.",
    ]
    assert instruct_prompts.parse_instances(
        "Here is one:\n**Input:** 5 apples\n**output:** five", False
    ) == [("5 apples", "five")]
    assert instruct_prompts.parse_instances("class label: odd\ninput: 7", True) == [("7", "odd")]
    assert instruct_prompts.parse_instance_reply(
        "Input: a long paragraph", False, prefilled=True
    ) == [("a long paragraph", "")]
    # the tiny path is unchanged
    assert instruct_prompts.parse_instance_reply("Input: a long paragraph", False) == []
    assert "Task: Suggest a name" in instruct_prompts.instance_prompt("Spell fox.", False, shots=2)
    assert instruct_prompts.instance_prompt(
        "Spell fox.", False
    ) == instruct_prompts.instance_prompt("Spell fox.", False, shots=0)


def test_fast_pool_decides_as_pairwise_rouge_at_float_boundaries():
    """Issue 16: a pool item whose upper bound 2*21/60 rounds to exactly the best score so far (0.7) can
    still score 0.7 + 1 ulp by rouge-score's own fmeasure; pruning on `bound <= best` kept such a candidate
    that pairwise rouge-score rejects (ROUGE-L > 0.7)."""
    w, x = [f"w{i}" for i in range(21)], [f"x{i}" for i in range(40)]
    cand = " ".join(w)
    at_threshold = " ".join(w[:14] + x[:5])  # LCS 14 of 21 and 19 tokens: F == 0.7 exactly
    # LCS 21 of 21 and 39 tokens: F == 0.7 + 1 ulp
    contains_all = " ".join(w[:10] + x[5:23] + w[10:])
    for pool_texts in ([at_threshold, contains_all], [contains_all, at_threshold]):
        fast, _ = rouge_pool.RougePool(pool_texts).max_score(cand)
        assert fast == rouge_pool.slow_max_score(pool_texts, cand) > 0.7
        assert (
            si.judge_candidate(cand, 0, rouge_pool.RougePool(pool_texts), 0.7).reason
            == "ROUGE-L > 0.7"
        )


def test_fast_pool_equals_pairwise_on_many_item_pools_in_every_order():
    """Random pools over a 6-word vocabulary (many ties and near-ties), each in three orders."""
    rng = random.Random(0)
    vocab = "a b c d e f".split()
    for _ in range(60):
        texts = [
            " ".join(rng.choices(vocab, k=rng.randint(1, 12))) for _ in range(rng.randint(2, 25))
        ]
        cand = " ".join(rng.choices(vocab, k=rng.randint(1, 12)))
        for order in range(3):
            pool_texts = texts if order == 0 else rng.sample(texts, len(texts))
            assert rouge_pool.RougePool(pool_texts).max_score(cand)[0] == rouge_pool.slow_max_score(
                pool_texts, cand
            )


def test_a_reply_ends_where_item_16_would_begin_as_the_papers_stop_sequences_end_it():
    text = "9. Spell the word fox.\n10. What is 16.5 + 2?\n15. Count to 3.\n16. Name a colour.\n17. Sing"
    reply, finished = instruct_prompts.stop_at_item(text, finished=False)
    assert finished and reply == "9. Spell the word fox.\n10. What is 16.5 + 2?\n15. Count to 3."
    assert instruct_prompts.parse_instructions(reply, finished)[-1] == "Count to 3."
    assert instruct_prompts.stop_at_item("9. Spell the word fox.\n10. Count", False) == (
        "9. Spell the word fox.\n10. Count",
        False,
    )


# ---------------------------------------------------------------- the verified set, grown by sampling
def test_without_the_task_filter_a_verifier_decides_between_conflicting_outputs():
    rows = [
        (_row("Is the number odd or even?", "7", "odd"), None),
        (_row("Is the number odd or even?", "7", "even"), None),
        (_row("Is the number odd or even?", "7", "odd"), None),
    ]
    fates = [reason for _, reason in si._filter_rows(rows, task_filter=False)]
    assert fates == [None, None, "duplicate"]
    kept = [row for row, reason in si._filter_rows(rows, task_filter=False) if reason is None]
    assert si.verified(kept, tsi.check_instance) == [_row("Is the number odd or even?", "7", "odd")]


def test_verified_keeps_each_right_instance_once_in_order():
    odd = "Is the number odd or even?"
    rows = [
        _row(odd, "7", "odd"),
        _row(odd, "7", "even"),
        _row("Write a poem.", "", "roses"),  # no grader: not verified
        _row("Does Tom have a red ball?", "Tom has a red ball and Ann has a blue cup.", "yes"),
        _row(odd, "7", "odd"),
    ]
    got = si.verified(rows, tsi.check_instance)
    assert got == [rows[0], rows[3]]


def test_the_tiny_worlds_family_names_the_two_classification_families():
    assert tsi.classification_family(tsi.PARITY[0]) == "parity"
    assert tsi.classification_family("Does Tom have a red ball?") == "owns"
    assert tsi.classification_family("Is it a question?") == "classification"  # neither family


def test_sampled_instances_resume_from_their_files_and_skip_the_task_filter(tmp_path, tok):
    from transformers import AutoModelForCausalLM

    writer = AutoModelForCausalLM.from_pretrained(tsi.generator_path()).eval()
    kept = ["Does Tom have a red ball?", "Which is larger, 12 or 40?"]
    run = si.Run(seeds=[], candidates=[si.Candidate(t, 0, None) for t in kept])
    args = dict(batch_size=4, max_new_tokens=48)
    run = si.generate_instances(writer, tok, run, tmp_path, **args)
    sampling = dict(do_sample=True, temperature=1.0, top_p=0.95)
    first = si.sample_instances(writer, tok, run, tmp_path, samples=2, **args, **sampling)
    assert first and all(x["reason"] is None for x in first)
    assert {x["instruction"] for x in first} <= set(kept)
    files = {p.name: p.read_text() for p in tmp_path.glob("*_samples.jsonl")}
    assert set(files) == {"instance_samples.jsonl", "answer_samples.jsonl"}
    again = si.sample_instances(writer, tok, run, tmp_path, samples=2, **args, **sampling)
    assert again == first
    assert {p.name: p.read_text() for p in tmp_path.glob("*_samples.jsonl")} == files
    # the paper's task filter would drop a classification task whose input got two labels; here the
    # rows are only deduplicated, so every (instruction, input, output) appears once
    keys = [(x["instruction"], x["input"], x["output"]) for x in first]
    assert len(keys) == len(set(keys))


# ---------------------------------------------------------------- scores, noise bars and readings
def _task(family: str, answer: str = "x"):
    from helpers.tasks import Task

    return Task(family, f"{family}?", answer)


def _sc(each: list[bool], items) -> si.Scores:
    from helpers.tasks import accuracy_by_family

    return si.Scores(accuracy_by_family(items, each), each)


ITEMS = [_task("add")] * 4 + [_task("owns", "no")] * 3 + [_task("owns", "yes")]


def test_change_bars_are_mcnemars_paired_bars():
    """Per family 2*sqrt(D)/n, D the prompts whose verdict flipped; the mean's 2*sqrt(sum D/n^2)/F."""
    first = _sc([True, False, False, False] + [False] * 4, ITEMS)
    other = _sc([True, True, False, False] + [True, True, True, False], ITEMS)
    bars = si.change_bars(first, other, ITEMS, {"add": 4, "owns": 4})
    assert bars == {
        "add": 2 * 1**0.5 / 4,
        "owns": 2 * 3**0.5 / 4,
        "mean": 2 * (1 / 16 + 3 / 16) ** 0.5 / 2,
    }
    assert si.change_bars(first, first, ITEMS, {})["owns"] == 0.0  # nothing flipped: no noise
    # without each prompt's verdict: the worst case of two independent scores, sqrt(2/n)
    loose = si.change_bars(si.Scores({"add": 0.5}), si.Scores({"add": 0.7}), [], {"add": 8})
    assert loose == {"add": (2 / 8) ** 0.5, "mean": (2 / 8) ** 0.5}
    assert si.change_bars(si.Scores({"rougeL": 0.2}), si.Scores({"rougeL": 0.3}), [], {}) == {}


def test_score_grades_each_prompt_once_and_equals_the_settings_score(tok, draft):
    from types import SimpleNamespace

    from helpers import tasks as graded

    items = tasks.heldout_by_family(2, families=("add", "compare", "parity"))
    cfg = SimpleNamespace(score=lambda m, t: graded.accuracy(m, t, items), heldout_tasks=items)
    got = si.score(draft, tok, cfg, si.heldout_tasks(cfg))
    assert dict(got) == cfg.score(draft, tok) and len(got.each) == len(items)
    assert graded.accuracy_by_family(items, got.each) == dict(got)
    assert got.answers == graded.graded_answers(draft, tok, items)[0]
    plain = si.score(draft, tok, SimpleNamespace(score=cfg.score), [])
    assert dict(plain) == dict(got) and plain.each is None
    assert si.heldout_tasks(SimpleNamespace()) == []


def test_commonest_and_rose_read_skill_against_the_baseline():
    assert si.commonest(ITEMS) == {"add": ("x", 1.0), "owns": ("no", 0.75)}
    before = {"add": 0.0, "owns": 0.0, "mean": 0.0}
    bars = {"add": 0.2, "owns": 0.2, "mean": 0.1}
    heldout = {"add": 25, "owns": 25}  # one score's bar: sqrt(1/25) = 0.2
    baseline = {"owns": 0.6}
    assert si.rose(before, {"add": 0.3, "owns": 0.8, "mean": 0.5}, bars, baseline, heldout) == (
        ["add", "owns"],
        [],
    )
    assert si.rose(before, {"add": 0.1, "owns": 0.7, "mean": 0.4}, bars, baseline, heldout) == (
        [],
        ["owns"],
    )


def _scores(**kw):
    return si.Scores({"compare": 0.3, "owns": 0.0, "spell": 0.0, "mean": 0.1} | kw)


HELD = {"compare": 25, "owns": 25, "spell": 4}
BASE = {"compare": 0.5, "owns": 0.56}


def test_family_table_shows_each_paired_bar_and_marks_changes_beyond_it():
    from helpers.readings import stage12a

    runs = {"before": _scores(), "grown": _scores(compare=0.45, owns=0.5, mean=0.3), "x": None}
    bars = {"grown": {"compare": 0.2, "owns": 0.3, "spell": 0.0, "mean": 0.1}}
    assert stage12a.family_table(runs, {"grown": 9}, bars, BASE) == (
        "| family | baseline | before | grown 9 |\n"
        "|---|---|---|---|\n"
        "| `compare` | 0.50 | 0.30 | 0.45 ±0.20 |\n"
        "| `owns` | 0.56 | 0.00 | 0.50 ↑ ±0.30 |\n"
        "| `spell` | 0 | 0.00 | 0.00 ±0.00 |\n"
        "| `mean` | - | 0.10 | 0.30 ↑ ±0.10 |\n\n"
        "After *before*: each score, then the paired noise bar of its change from *before* "
        "(±0.00: no prompt's verdict changed); ↑ / ↓ where the change exceeds it."
    )


def test_runs_reading_follows_the_matched_control():
    from collections import Counter

    from helpers.readings import stage12a

    before = _scores()
    fmt = _scores(owns=0.56, mean=0.27)  # `owns` at its baseline: the format only
    bar = {"compare": 0.2, "owns": 0.2, "spell": 0.0, "mean": 0.1}
    scores = {"before": before, "all": fmt, "verified": fmt, "grown": fmt, "control": fmt}
    sizes = {"all": 9, "verified": 4, "grown": 12, "control": 12}
    bars = dict.fromkeys(scores, bar)
    fam_v, kept = Counter(compare=2, owns=2), Counter(compare=3, owns=4)
    grown = [("compare", f"{k} is larger.", False, True) for k in range(4)]
    grown += [("owns", "No", True, False)] * 3 + [("owns", "No", True, True)] * 5
    ctrl = [("compare", "x", False)] * 4 + [("owns", "yes", True)] * 4 + [("owns", "no", True)] * 4
    args = (BASE, HELD, fam_v, grown, kept, ctrl, bar)
    null = stage12a.runs(scores, sizes, bars, *args)
    assert null.startswith(
        "**No run here judges the data.** **The control** (12 right rows, the grown rows' families and counts (`owns` 4 'no', "
        "4 'yes'); same student, steps and passes as the grown run) taught no family beyond its "
        "baseline: `owns` rose to the answer format only. Right rows of the same families"
    )
    assert "(`compare` 0.30 against 0.50)" in null
    assert "No run on generated rows taught a family beyond its baseline either." in null
    assert "All 8 grown `owns` rows say 'no'" in null and "`owns` 0.56 against 0.56" in null
    assert "3 of the 8 also never name whom the question asks about" in null
    assert "`spell` got no verified row: the funnel kept none of its instructions" in null
    assert "**Next:** a student that can learn (exercise 3); then rows of both labels" in null
    assert "Sampling grew the verified rows 4 -> 12." in null
    still = stage12a.runs(scores | {"control": before}, sizes, bars, *args)
    assert (
        "moved no family beyond its noise bar: the student does not learn even from right" in still
    )
    learns = scores | {"control": _scores(compare=0.9, mean=0.4)}
    works = stage12a.runs(learns, sizes, bars, *args)
    assert "taught `compare` beyond the baseline: this student can learn there." in works
    assert "The grown rows fell short on `compare` (0.30 against 0.90, ±0.20)" in works
    assert "exercise 3" not in works and "No run here judges" not in works
    same = stage12a.runs(learns | {"grown": _scores(compare=0.8)}, sizes, bars, *args)
    assert "The grown rows matched it on `compare` (0.80 against 0.90, ±0.20)" in same
    both = grown[:4] + [("owns", "yes", True, True)] * 4 + [("owns", "no", True, True)] * 4
    mixed = stage12a.runs(scores, sizes, bars, BASE, HELD, fam_v, both, kept, ctrl, bar)
    assert "The grown `owns` rows hold both labels (4 'yes', 4 'no')." in mixed
    assert "never name" not in mixed
    items = [types.SimpleNamespace(family=f) for f in ["owns"] * 3 + ["compare"]]
    said = si.Scores(fmt, None, ["No.", "no", "no", "5"])
    arrows = stage12a.runs(scores | {"all": said}, sizes, bars, *args, items)
    assert (
        "The ↑ on the mean of `all`, `verified`, `grown` and `control` rests on this (all: "
        in arrows
    )
    assert "all: 'no' on 3 of 3 `owns` prompts" in arrows
    assert "Grown against control, prompt by prompt: mean +0.000, ±0.10, inside the bar" in arrows
    assert " Verified rows alone (4): mean +0.170, beyond its bar (±0.10)" in arrows
    assert stage12a.runs({"before": before}, {}, {}, BASE, HELD, fam_v, [], kept).startswith(
        "**No grader, nothing verified.**"
    )


def test_matched_control_copies_the_family_mix_with_right_rows_of_both_labels():
    from collections import Counter

    from helpers.world import families
    from helpers.world import self_instruct as tsi

    mix = Counter(owns=60, compare=5, spell=0, nonsense=3)
    rows = si.matched_control(mix)
    fams = Counter("owns" if r["is_classification"] else "compare" for r in rows)
    assert fams == Counter(owns=60, compare=5) and rows == si.matched_control(mix)
    assert all(tsi.check_instance(r["instruction"], r["input"], r["output"]) for r in rows)
    assert not any(families.is_heldout(si.user_text(r["instruction"], r["input"])) for r in rows)
    labels = Counter(r["output"] for r in rows if r["is_classification"])
    assert set(labels) == {"yes", "no"} and min(labels.values()) >= 20
    assert si.matched_control(Counter()) == []


def test_mean_source_names_the_family_that_carries_the_mean():
    from helpers.readings import stage12a

    before = {"a": 0.0, "b": 0.1, "c": 0.2, "d": 0.1, "mean": 0.1}
    after = {"a": 0.52, "b": 0.1, "c": 0.2, "d": 0.1, "mean": 0.23}
    assert stage12a.mean_source(before, after) == (
        " The mean's change is `a` alone: its +0.52 over 4 families is +0.130; the other 3 "
        "together moved the mean +0.000."
    )
    spread = {"a": 0.2, "b": 0.3, "c": 0.4, "d": 0.1, "mean": 0.25}
    assert stage12a.mean_source(before, spread) == (
        " No one family carries the mean: the largest, `a` (+0.20), moved it +0.050, the others "
        "together +0.100."
    )
    assert stage12a.mean_source(before, before) == ""


def test_audit_and_funnel_readings_count_nonsense_rows_and_broken_colour_questions():
    from collections import Counter

    from helpers.readings import stage12a

    verdict = [True, True, False, None]
    fams = ["owns", "owns", "add", "not a valid task"]
    text = stage12a.audit([(True, True)], verdict, fams, nonsense=1)
    assert "Counting those, 2 of the 4 training rows (50%) teach no right answer (the paper" in text
    assert "3 (75%) teach nothing useful." in text
    fates = Counter({"kept": 2, "ROUGE-L > 0.7": 6})
    offered, kept_by = Counter({"facts": 3, "not a valid task": 5}), Counter(facts=1)
    bad = ["Bob has a red cup. What colour is Ann's cup?"] * 4 + ["Count the numbers."]
    text = stage12a.funnel(fates, offered, kept_by, [0.5], None, bad)
    assert "4 of those 5 are `facts` questions gone wrong" in text
    assert "against 3 well-formed `facts` candidates." in text
    fates = Counter({"kept": 2, "ROUGE-L > 0.7": 6})
    offered = Counter(story=4, facts=3)
    text = stage12a.funnel(fates, offered, Counter(facts=2), [0.5], None, [], {"story": 1.0})
    assert "These include the writer's best families (`story` 1.00): the filter threw" in text
    verdict = [True] * 3 + [False] * 2 + [None]
    fams = ["owns"] * 5 + ["not a valid task"]
    text = stage12a.audit([(True, True)], verdict, fams, 0, {"owns": 0.62})
    assert "Right share against the writer's held-out accuracy: `owns` 3/5 = 0.60 (0.62)." in text
    assert "3 of the 6 training rows (50%) teach no right answer (the paper, over all 200" in text


def test_result_reading_names_a_format_gain_and_the_first_logged_loss():
    from collections import Counter

    from helpers.readings import stage12a

    bar = {"compare": 0.2, "owns": 0.2, "spell": 0.0, "mean": 0.1}
    text = stage12a.result(
        _scores(),
        _scores(owns=0.56, mean=0.27),
        bar,
        BASE,
        HELD,
        Counter({True: 1, False: 1}),
        "accuracy",
        [(20, 0.7), (100, 0.4)],
    )
    assert "from 0.70 at step 20 (the first logged) to 0.40 at step 100" in text
    assert "moved +0.170, beyond its paired noise bar (±0.10)" in text
    assert "`owns` rose to its answer format only (0.00 -> 0.56, ±0.20; baseline 0.56)" in text
    assert "not worth keeping" in text and "fits" not in text


def test_families_table_gives_each_family_an_example_and_its_baseline():
    from helpers.readings import stage12a

    seeds = [
        {"instruction": "Which is larger, 3 or 9?", "input": "", "output": "9 is larger."},
        {
            "instruction": "Does Tom have a red ball?",
            "input": "Tom has a red ball.",
            "output": "yes",
        },
    ]
    common = {"compare": ("9 is larger.", 0.1), "owns": ("no", 0.56)}
    table = stage12a.families(seeds, ["compare", "owns"], HELD, BASE, common)
    assert "| `compare` | Which is larger, 3 or 9? | 9 is larger. | 25 | 0.50, a coin |" in table
    assert (
        "| `owns` | Does Tom have a red ball? / Tom has a red ball. | yes | 25 | 0.56, always 'no' |"
        in table
    )
    assert "| `spell` | - | - | 4 | 0, open answer |" in table


def test_results_record_the_control(tmp_path):
    from collections import Counter
    from types import SimpleNamespace

    cfg = SimpleNamespace(
        rounds=1, prompts_per_round=2, seeds=[{}], sft_steps=3, writer_reference={}
    )
    path = tmp_path / "r.json"
    run = si.Run(seeds=[], candidates=[si.Candidate("a b c d", 0, None)])
    si.save_results(
        path,
        cfg,
        run,
        Counter(),
        {},
        {"mean": 0.1},
        {"mean": 0.2},
        None,
        0,
        None,
        0,
        si.Scores({"mean": 0.3}, [True]),
        7,
    )
    record = json.loads(path.read_text())
    assert record["after_control"] == {"mean": 0.3} and record["control_instances"] == 7


def test_plots_return_the_kept_share_per_round_and_mark_each_baseline():
    from collections import Counter

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fates = [
        ("a", 0, None),
        ("b", 0, "ROUGE-L > 0.7"),
        ("c", 1, "blacklisted word"),
        ("d", 2, None),
    ]
    run = si.Run(seeds=[], candidates=[si.Candidate(t, r, why) for t, r, why in fates])
    offered, kept_by = Counter(add=3), Counter(add=2)
    assert si.plot_funnel(run, offered, kept_by, 3) == [0.5, 0.0, 1.0]
    plt.close("all")
    table = {"before": {"add": 0.1, "owns": 0.0, "mean": 0.05}}
    table["after"] = {"add": 0.2, "owns": 0.5, "mean": 0.35}
    bars = {"add": 0.1, "owns": 0.3, "mean": 0.05}
    si.plot_scores(table, {"owns": 0.56}, "accuracy", [(20, 0.7), (40, 0.5)], bars)
    left = plt.gcf().axes[0]
    whiskers = [c for c in left.collections if len(c.get_segments()) == 3]
    assert [round(s[1][1] - s[0][1], 2) for s in whiskers[0].get_segments()] == [0.2, 0.6, 0.1]
    dashed = [c for c in left.collections if c.get_linestyle()[0][1] is not None]
    assert left.get_ylabel() == "accuracy" and len(dashed) == 1
    assert dashed[0].get_segments()[0][0][1] == 0.56
    plt.close("all")


def test_summary_and_seed_readings_follow_the_values(tmp_path):
    from collections import Counter

    from helpers.readings import stage12a

    bar = {"compare": 0.2, "owns": 0.2, "spell": 0.0, "mean": 0.1}
    fmt = _scores(owns=0.56, mean=0.27)
    scores = {"before": _scores(), "all": fmt, "verified": fmt, "grown": fmt, "control": fmt}
    sizes = {"all": 9, "verified": 4, "grown": 12, "control": 9}
    args = (sizes, dict.fromkeys(scores, bar), BASE, HELD, {"speedup": 12.0})
    fates, verdicts = Counter({"kept": 2, "ROUGE-L > 0.7": 6}), Counter({True: 3, False: 1})
    text = stage12a.summary(fates, verdicts, scores, *args)
    assert "- **The student cannot learn these families in this budget:** the matched " in text
    assert "say nothing about data quality here. On all rows the mean moved +0.170 (±0.10)." in text
    assert len(text.splitlines()) == 4
    learns = stage12a.summary(fates, verdicts, scores | {"control": _scores(compare=0.9)}, *args)
    assert (
        "- **The student** learns `compare` from the control's 9 right rows, so section" in learns
    )
    hub = stage12a.summary(
        fates,
        Counter(),
        {"before": {"rougeL": 0.2}, "all": {"rougeL": 0.3}},
        {"all": 5},
        {},
        {},
        {},
        {"speedup": 3.0},
    )
    assert "rougeL +0.100, one run" in hub and "need a grader" in hub
    seeds = tmp_path / "seeds.json"
    figures = {
        "12a student mean accuracy before": [0.1, 0.1, 0.1],
        "12a student mean accuracy after": [0.2, 0.12, 0.3],
        "12a student 'owns' after (coin 0.5)": [0.5, 0.45, 0.0],
    }
    seeds.write_text(json.dumps({"seeds": [0, 1, 2], "figures": figures, "before_pin": [2]}))
    text = stage12a.stability(0.05, 0.16, seeds)
    assert "On seed 2 the student's mean moved by more than" in text
    assert "Seed 2 comes from an earlier build of the world" in text
    figures["12a student mean accuracy after"] = [0.2, 0.12, 0.11]
    seeds.write_text(json.dumps({"seeds": [0, 1, 2], "figures": figures}))
    text = stage12a.stability(0.05, 0.16, seeds)
    assert "moved less than this page's paired noise bar (±0.05" in text and "beyond it" in text
    assert (
        "(one score's noise bar ±0.16): seed 1 0.45 within it, the format gain recurred; " in text
    )
    assert "seed 2 0.00 beyond it, it did not." in text and "earlier build" not in text
    assert "chance 0.5" not in text
    based = stage12a.stability(0.05, 0.16, seeds, owns_base=0.57)
    assert based.endswith("this page's baseline is 0.57 (always the commonest answer).")


def test_sensible_flags_a_right_row_that_ignores_its_question():
    ask = "Does Pat have a pink cup?"
    assert not si.sensible(
        {"instruction": ask, "input": "Leo has a brown bag and Leo has a brown bag."}
    )
    assert not si.sensible(
        {"instruction": ask, "input": "Leo has a brown bag and Max has a red cup."}
    )
    assert si.sensible({"instruction": ask, "input": "Pat has a pink cup and Leo has a red bag."})
    assert si.sensible({"instruction": "Count from 3 to 8.", "input": ""})


def test_family_table_passes_row_and_answers_table():
    from types import SimpleNamespace

    from helpers.readings import stage12a

    runs = {"before": si.Scores({"owns": 0.0}), "all": si.Scores({"owns": 0.5})}
    table = stage12a.family_table(runs, {"all": 40}, {}, {"owns": 0.5}, steps_x_batch=1600)
    assert "| *passes over the rows* | | - | 40 |" in table
    items = [SimpleNamespace(family="compare", prompt="Which is larger, 5 or 2?", answer="5")]
    before = si.Scores({}, [True], ["5"])
    after = si.Scores({}, [False], ["a | b"])
    got = stage12a.answers(items, before, after, ("compare",))
    assert got.endswith("| Which is larger, 5 or 2? | 5 | 5 (right) | a / b (wrong) |")
    assert stage12a.answers(items, si.Scores({}), after) == ""
