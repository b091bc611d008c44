"""Stage 13's scores on planted answers: a perfect, a blind and a shuffled model get the expected scores."""

import pytest
from PIL import Image

from helpers import vlm_data, vlm_eval
from helpers.vlm_data import Example

IMG = Image.new("RGB", (8, 8))
TEN = ("2", "2", "2", "two", "2", "3", "2", "2", "2", "2")  # nine humans say 2, one says 3


def question(target: str, references: tuple[str, ...], group: str) -> Example:
    return Example(IMG, "How many?", target, references, "answer", group)


def caption(text: str, *others: str) -> Example:
    return Example(IMG, vlm_data.CAPTION_PROMPT, text, (text, *others), "caption")


@pytest.mark.parametrize(
    "answer, text",
    [
        ("Two dogs.", "2 dogs"),
        ("The Frisbee!", "frisbee"),
        ("1,000", "1000"),
        ("3.5", "3.5"),
        ("yes.", "yes"),
        ("None", "0"),
    ],
)
def test_normalize_like_the_official_vqa_evaluation(answer, text):
    assert vlm_eval.normalize(answer) == text


def test_vqa_accuracy_is_the_leave_one_out_average_of_min_matches_over_three():
    assert vlm_eval.vqa_accuracy("2", TEN) == 1.0  # at least 3 of any 9 humans said it
    # "3": one human; left out, 0 matches (1 of 10 ways), else 1 match -> 1/3 (9 of 10 ways)
    assert vlm_eval.vqa_accuracy("three", TEN) == pytest.approx(0.9 * (1 / 3))
    two_of_ten = ("cat",) * 2 + ("dog",) * 8  # left out one of the two: 1/3; else 2/3
    assert vlm_eval.vqa_accuracy("Cat", two_of_ten) == pytest.approx(0.2 * (1 / 3) + 0.8 * (2 / 3))
    assert (
        vlm_eval.vqa_accuracy("red", ("red",)) == 1.0
        and vlm_eval.vqa_accuracy("blue", ("red",)) == 0.0
    )


def planted() -> list[Example]:
    return [
        caption("a dog runs on the grass", "a brown dog running"),
        caption("two people ride bikes", "cyclists on a road"),
        question("yes", ("yes",) * 10, "yes/no"),
        question("no", ("no",) * 7 + ("yes",) * 3, "yes/no"),
        question("2", TEN, "number"),
        question("red", ("red",) * 10, "other"),
    ]


def test_a_perfect_model_scores_one_everywhere():
    held = planted()
    scores = vlm_eval.score(held, [e.target for e in held])
    assert scores == {
        "exact": 1.0,
        "ROUGE-L": 1.0,
        "answers": 1.0,
        "answers: yes/no": 1.0,
        "answers: number": 1.0,
        "answers: other": 1.0,
    }


def test_a_blind_model_that_always_says_yes_gets_the_yes_share_only():
    held = planted()
    scores = vlm_eval.score(held, ["a dog"] * 2 + ["yes"] * 4)
    # the "no" question: 3 humans said yes
    yes_on_no = sum(min(1, m / 3) for m in [3] * 7 + [2] * 3) / 10
    assert scores["answers: yes/no"] == pytest.approx((1 + yes_on_no) / 2)
    assert scores["answers: number"] == scores["answers: other"] == 0.0
    assert scores["exact"] == 0.0 and 0 < scores["ROUGE-L"] < 0.6


def test_the_shuffled_control_shows_each_example_another_image_of_its_kind():
    images = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(6)]
    held = [
        Example(im, e.question, e.target, e.references, e.kind, e.group)
        for im, e in zip(images, planted())
    ]
    moved = vlm_eval.shuffled(held)
    # rotated within captions, questions
    assert [m.image.getpixel((0, 0))[0] for m in moved] == [1, 0, 3, 4, 5, 2]
    assert [(m.question, m.target) for m in moved] == [(e.question, e.target) for e in held]
    # a model that answers from the image it sees: on shuffled images it gives the neighbour's answer
    said = {m.image.getpixel((0, 0))[0]: e.target for m, e in zip(held, held)}
    scores = vlm_eval.score(held, [said[m.image.getpixel((0, 0))[0]] for m in moved])
    assert scores["exact"] == 0.0 and scores["answers: other"] == 0.0  # "red" became "yes"


def test_caption_facts_count_words_not_substrings():
    scene = vlm_data.Scene("red", "square", "left", IMG)
    held = [vlm_data.scene_caption(scene)] * 2
    scores = vlm_eval.score(held, ["a red square on the left", "a reddish squares on the right"])
    assert (scores["colour"], scores["shape"], scores["position"], scores["exact"]) == (
        0.5,
        0.5,
        0.5,
        0.5,
    )


def test_score_refuses_a_count_mismatch():
    with pytest.raises(ValueError, match="2 predictions for 6 examples"):
        vlm_eval.score(planted(), ["a", "b"])


def test_shapes_hold_out_each_scenes_caption_and_one_question_in_turn():
    data = vlm_data.shapes(30, 6)
    assert [len(v) for v in data.train.values()] == [30] * 4
    assert [e.kind for e in data.held] == ["caption"] * 6 + ["answer"] * 6
    assert [e.question for e in data.held[6:9]] == [
        vlm_data.QUESTIONS[a] for a in vlm_data.ATTRIBUTES
    ]
    assert data.held[0].target == data.held[0].references[0] and data.held[0].facts


def test_the_shuffled_control_never_shows_a_question_its_own_photograph():
    """VQAv2 asks several questions about one image in a row: the next row's image is often the same one."""
    photos = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(3)]
    held = [question("yes", ("yes",), "yes/no") for _ in range(6)]
    held = [
        Example(photos[i // 2].copy(), e.question, e.target, e.references, e.kind)
        for i, e in enumerate(held)
    ]
    moved = vlm_eval.shuffled(held)
    assert all(m.image.tobytes() != e.image.tobytes() for m, e in zip(moved, held))


def test_photographs_shrink_to_the_towers_side_and_keep_their_shape():
    wide, small = Image.new("RGBA", (600, 400)), Image.new("L", (100, 80))
    assert vlm_data.shrink(wide, 224).size == (336, 224) and vlm_data.shrink(wide).mode == "RGB"
    assert vlm_data.shrink(small, 224).size == (100, 80) and vlm_data.shrink(small).mode == "RGB"


def test_held_out_questions_span_many_photographs(monkeypatch):
    """Five questions per image, as VQAv2 asks: at most two per held-out image are kept, every train one is."""
    rows = [
        {
            "image_id": i // 5,
            "question": f"q{i}",
            "image": Image.new("RGB", (8, 8), (i // 5, 0, 0)),
            "answers": [{"answer": "yes"}] * 10,
            "multiple_choice_answer": "yes",
            "answer_type": "yes/no",
        }
        for i in range(200)
    ]
    monkeypatch.setattr(vlm_data.hub, "load_dataset", lambda *a, **k: iter(rows))
    train, held = vlm_data.vqa_split("lmms-lab/VQAv2", n_train=12, n_held=6, held_every=10)
    held_images = [e.image.getpixel((0, 0))[0] for e in held]
    assert held_images == [0, 0, 10, 10, 20, 20]
    assert [e.image.getpixel((0, 0))[0] for e in train] == [1] * 5 + [2] * 5 + [3] * 2


def test_the_gallery_shows_three_right_and_three_wrong_by_rule():
    held = [question("2", TEN, "number") for _ in range(8)]
    said = ["2", "5", "2", "7", "two", "2", "9", "2"]  # right: 0, 2, 4, 5, 7; wrong: 1, 3, 6
    assert vlm_eval.right_and_wrong(held, said) == [0, 2, 4, 1, 3, 6]
    # none wrong: topped up with right ones
    assert vlm_eval.right_and_wrong(held[:4], ["2"] * 4) == [0, 1, 2, 3]
