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


def test_shape_questions_are_scored_per_attribute_with_their_chance():
    data = vlm_data.shapes(3, 6)
    said = [e.target for e in data.held[:6]] + ["red", "circle", "left"] * 2
    scores = vlm_eval.score(data.held, said)
    answers = [k for k in scores if k.startswith("answers: ")]
    assert answers == [f"answers: {a}" for a in vlm_data.ATTRIBUTES]
    for a in vlm_data.ATTRIBUTES:
        asked = [e for e in data.held if e.group == a]
        right = [e.target == p for e, p in zip(data.held, said) if e.group == a]
        assert len(asked) == 2 and scores[f"answers: {a}"] == sum(right) / 2
        assert data.chance[f"answers: {a}"] == data.chance[a]


def test_the_results_table_has_a_line_per_score_and_a_column_per_model():
    rows = {
        "blind (text only)": {
            "colour": 0.1,
            "ROUGE-L": 0.65,
            "answers": 0.0,
            "answers: shape": 0.0,
        },
        "control: shuffled images": {"colour": 0.2, "ROUGE-L": 0.5, "answers": 0.3},
    }
    chance = {"colour": 1 / 6, "answers": 1 / 3, "answers: shape": 1 / 3}
    assert vlm_eval.table(rows, chance).splitlines() == [
        "score                chance    blind  shuffled 2",
        "caption: colour       0.167    0.100       0.200",
        "caption: ROUGE-L          -    0.650       0.500",
        "answers: all          0.333    0.000       0.300",
        "answers: shape        0.333    0.000           -",
    ]


def recorded_rows() -> dict[str, dict[str, float]]:
    """Stage 13's rows as a run on the shapes records them (values of one such run, rounded)."""
    keys = ["colour", "shape", "position", "exact", "ROUGE-L", "answers"]
    keys += [f"answers: {a}" for a in vlm_data.ATTRIBUTES]
    values = {
        "blind (text only)": [0.13, 0.31, 0.48, 0.02, 0.65, 0.0, 0.0, 0.0, 0.0],
        "stage 1: projector only": [0.98, 0.63, 0.89, 0.55, 0.92, 0.0, 0.0, 0.0, 0.0],
        "stage 2: projector + LoRA": [1.0, 0.71, 0.92, 0.65, 0.94, 0.82, 0.87, 0.77, 0.82],
        "control: shuffled images": [0.14, 0.29, 0.53, 0.02, 0.66, 0.32, 0.15, 0.33, 0.49],
    }
    return {name: dict(zip(keys, v)) for name, v in values.items()}


def test_the_questions_reading_splits_the_answers_by_attribute_against_chance():
    from helpers.readings import stage13

    text = stage13.questions(recorded_rows(), vlm_data.CHANCE)
    assert "its lead over the higher of the two floors runs from 0.70 on the colour to 0.32" in text
    assert "a miss" not in text
    majority = {"answers": 0.38, "answers: colour": 0.19, "answers: shape": 0.4}
    majority["answers: position"] = 0.55
    text = stage13.questions(recorded_rows(), vlm_data.CHANCE, majority)
    assert "(chance 0.33; always the commonest answer 0.38)" in text
    assert "runs from 0.68 on the colour to 0.27 on the side" in text


def test_stage1s_zero_on_questions_is_read_as_a_failure_of_form():
    from helpers.readings import stage13

    scenes = [vlm_data.Scene(c, "circle", "left", IMG) for c in ("red", "blue", "green")]
    held = [vlm_data.scene_question(s, a) for s, a in zip(scenes, ("colour", "colour", "shape"))]
    said = ["a red circlefq on", "a pink squar", "a green circ"]
    assert stage13.caption_form(held, said) == (3, 3, {"colour": (1, 2), "shape": (0, 1)})
    text = stage13.stage1_answers(recorded_rows(), held, said)
    assert "stage 1 replies to all 3 questions with the start of a caption" in text
    assert "names the right value in 1 of the 2 questions on the colour" in text
    assert "but none of the 3 replies are a whole caption: the words break into noise" in text
    whole = stage13.stage1_answers(recorded_rows(), held, ["a red circle on the left"] * 3)
    assert "and all 3 replies are a whole caption: it describes when asked" in whole
    assert stage13.well_formed("a red circle on the left")
    assert not stage13.well_formed("a green squarefffe ononiar")
    assert ": none of the 3 replies begin" in stage13.stage1_answers(
        recorded_rows(), held, ["red"] * 3
    )
    assert [stage13.some(k, n) for k, n in [(3, 3), (0, 3), (2, 3), (1, 1)]] == [
        "all 3",
        "none of the 3",
        "2 of the 3",
        "the one",
    ]


def test_the_stage1_reading_says_what_stage0_did_only_where_it_ran():
    from helpers.readings import stage13

    rows, attrs = recorded_rows(), list(vlm_data.ATTRIBUTES)
    with_stage0 = stage13.stage1(rows, vlm_data.CHANCE, attrs, stage0=True)
    assert "Measured here: stage 1 after stage 0, not without it." in with_stage0
    assert "Stage 0" not in stage13.stage1(rows, vlm_data.CHANCE, attrs)
    assert "shuffled 1" not in with_stage0
    rows[stage13.SHUFFLED1] = {"colour": 0.2, "shape": 0.3, "position": 0.5}
    text = stage13.stage1(rows, vlm_data.CHANCE, attrs)  # (0.78 + 0.33 + 0.39) / 3 = 0.5
    assert (
        "they fall to 0.20, 0.30 and 0.50, on average 0.50 below the real images: stage 1" in text
    )
    rows[stage13.SHUFFLED1] = {"colour": 0.9, "shape": 0.6, "position": 0.85}
    assert "under the bar of 0.15" in stage13.stage1(rows, vlm_data.CHANCE, attrs)


def test_the_stability_reading_says_what_is_known_and_what_is_not(tmp_path):
    import json

    from helpers.readings import stage13

    figures = {"13 stage 2 exact": [0.65, 0.34, 0.16], "13 blind exact": [0.02, 0.04, 0.04]}
    seeds = {"seeds": [0, 1, 2], "figures": figures, "before_pin": [1, 2]}
    (tmp_path / "seeds.json").write_text(json.dumps(seeds))
    text = stage13.stability(recorded_rows(), path=tmp_path / "seeds.json")
    for part in [
        "the best stage-2 exact-caption share of the 3 worlds (0.65, against 0.34 on seed 1",
        "The blind floor is about the same everywhere (exact 0.02 to 0.04)",
        "But seeds 1 and 2 ran an earlier version of the course's code",
        "seed 2's 0.16 is what guessing the colour and naming the rest right gives (0.17)",
    ]:
        assert part in text
    assert "shorter run" not in text
    # once the seeds table has the per-attribute rows, they are read instead
    for a, v in zip(vlm_data.ATTRIBUTES, ([1.0, 0.2, 0.18], [0.7, 0.8, 0.9], [0.9, 0.9, 0.95])):
        figures[stage13.PER_ATTRIBUTE[a]] = v
    (tmp_path / "seeds.json").write_text(json.dumps(seeds))
    text = stage13.stability(recorded_rows(), path=tmp_path / "seeds.json")
    assert "What is not" not in text
    assert "seed 1: the colour 0.20, the shape 0.80, the side 0.90" in text
    assert "the weakest is the colour on seed 1 and the colour on seed 2" in text


def test_the_grid_reading_counts_what_each_wrong_panel_misses():
    from helpers.readings import stage13

    scenes = [vlm_data.Scene("red", s, "left", IMG) for s in ("circle", "circle", "square")]
    held = [vlm_data.scene_caption(s) for s in scenes]
    said = ["a red square on the left", "a red circle on the left", "a blue square on the right"]
    assert stage13.grid(held, said, [0, 1, 2]) == (
        "**Reading the grid.** 1 of the 3 held-out captions equal a reference (33%). Colours count "
        "wrong attributes, not ROUGE-L: every template caption shares 'a … on the' (3 of 6 words) "
        "with its reference, so even a caption wrong on all three scores 0.5, and one wrong word "
        "scores 5/6 = 0.83. Among the "
        "captions, fewer than three are right or fewer than three wrong, so the grid fills those "
        "panels from the other side. The 2 wrong panels miss the colour in 1, the "
        "shape in 1 and the side in 1: a few panels show that each miss occurs, not which "
        "dominates; the counts below do."
    )


def planted_shapes() -> tuple[list[Example], list[str], list[str]]:
    """Ten circles, ten squares, ten triangles (half on each side), their captions and questions, with
    stage-2 replies that miss circles as squares and the right side as left, and a blind model that
    always says the same caption."""
    scenes = [
        vlm_data.Scene("red", shape, "left" if i % 2 else "right", IMG)
        for shape in vlm_data.SHAPES
        for i in range(10)
    ]
    held = [vlm_data.scene_caption(s) for s in scenes]
    held += [vlm_data.scene_question(s, vlm_data.ATTRIBUTES[i % 3]) for i, s in enumerate(scenes)]
    said = []
    for i, s in enumerate(scenes):
        shape = "square" if s.shape == "circle" and i % 10 < 7 else s.shape
        side = "left" if i < 4 else s.position
        said.append(f"a {s.colour} {shape} on the {side}")
    for i, s in enumerate(scenes):
        asked = vlm_data.ATTRIBUTES[i % 3]
        said.append("lefq" if asked == "position" and s.position == "left" else getattr(s, asked))
    blind = ["a green triangle on the left"] * 30 + [""] * 30
    return held, said, blind


def test_the_confusion_tables_count_what_the_replies_name():
    from helpers.readings import stage13

    held, said, _ = planted_shapes()
    c = stage13.confusion(held, said, "shape", "caption")
    assert c == {
        ("circle", "square"): 7,
        ("circle", "circle"): 3,
        ("square", "square"): 10,
        ("triangle", "triangle"): 10,
    }
    assert stage13.confusion(held, said, "position", "caption")[("right", "left")] == 2
    lines = stage13.confusions(held, said).splitlines()
    assert lines[1] == "captions: shape      circle   square triangle    other  correct"
    assert lines[2] == "  circle                  3        7        0        0      30%"
    assert "answers: colour  10 of 10 right, 0 another colour, 0 no single colour word" in lines


def test_the_failure_reading_follows_the_counts():
    from helpers.readings import stage13

    held, said, blind = planted_shapes()

    class Cfg:
        steps, batch = {"stage0": 100, "stage1": 250, "stage2": 350}, 16
        stage2_mix = ("caption",) * 3 + ("colour", "shape", "position")

    text = stage13.failures(held, said, blind, Cfg)
    assert "captions name circles 30%, squares 100% and triangles 100% right" in text
    assert "one failing class, circles (3 of 10), most often named square (7)" in text
    assert "the caption path loses it" in text or "miss them too" in text
    assert "All 2 side swaps in the captions go right → left: a bias" in text
    assert "The blind model writes 'left' in all 30 of its captions" in text
    assert "and 'triangle' in all" in text
    assert "The shape's go to 'square' (7 of the 7 captions that name another" in text
    assert "All 5 of the side's invalid answers come on left scenes (two of them: 'lefq'" in text
    assert "The answers lead on the shape (1.00 against 0.77), and trail on the side (0.50" in text
    assert "all 5 on the side are no valid word at all (such as 'lefq')" in text
    assert "got about 933 draws, the captions about 8,400" in text
    # no class fails, no side bias: the other branches
    right = [e.target if e.kind == "answer" else e.references[0] for e in held]
    text = stage13.failures(held, right, blind, Cfg)
    assert "no class stands out" in text and "never swap the side" in text
    assert "They trail on none." in text
    # swaps into one shape from two classes add up, as the table's columns do
    said2 = list(said)
    for i in (10, 12, 14, 16, 20, 22):  # squares, then triangles, named circle
        said2[i] = said2[i].replace(held[i].facts["shape"], "circle")
    sc = stage13.confusion(held, said2, "shape", "caption")
    assert sc[("square", "circle")] == 4 and sc[("triangle", "circle")] == 2
    text = stage13.failures(held, said2, blind, Cfg)
    assert "go to 'square' (7 of the 13 captions that name another shape" in text


def test_the_majority_floor_gives_every_group_its_commonest_answer():
    held, _, _ = planted_shapes()
    got = vlm_eval.majority(held)
    # captions: one colour (1.0); shapes 10 each (1/3); sides 15 each (1/2); commonest caption 5 of 30
    assert got["colour"] == 1.0 and got["shape"] == pytest.approx(1 / 3)
    assert got["position"] == 0.5 and got["exact"] == pytest.approx(5 / 30)
    # questions: colour always red (10 of 10); shape: 4 circles, 3 squares, 3 triangles asked
    assert got["answers: colour"] == 1.0 and got["answers: shape"] == pytest.approx(0.4)
    assert got["answers"] == pytest.approx(
        sum(got[f"answers: {a}"] for a in vlm_data.ATTRIBUTES) / 3
    )
    rows = {"stage 2: projector + LoRA": {"colour": 0.9}}
    assert vlm_eval.table(rows, {"colour": 0.5}, {"colour": 0.6}).splitlines() == [
        "score                chance  majority  stage 2",
        "caption: colour       0.500     0.600    0.900",
    ]


def test_the_floor_reading_says_when_the_blind_model_sits_below_majority():
    from helpers.readings import stage13

    attrs, steps = list(vlm_data.ATTRIBUTES), {"blind": 60, "stage1": 250}
    majority = {"colour": 0.18, "shape": 0.37, "position": 0.52}
    text = stage13.floor(recorded_rows(), attrs, steps, majority)
    assert "The blind model sits below the majority floor (the colour 0.13 against 0.18" in text
    assert "So it floors the wording" in text
    assert "majority floor" not in stage13.floor(recorded_rows(), attrs, steps, {"colour": 0.1})
    held, _, _ = planted_shapes()  # red everywhere; half left, half right
    said0 = ["a green triangle on the left"] * 30 + [""] * 30
    text = stage13.floor(recorded_rows(), attrs, steps, majority, held, said0)
    assert "one caption, 'a green triangle on the left', for all 30 images" in text
    assert "Its words are 'green' where 'red' is commonest, 'triangle' where" in text
    ctl = stage13.controls(recorded_rows(), vlm_data.CHANCE, attrs, {"answers": 0.5}, majority)
    assert "shuffled and majority rows, stage 2's captions lead by the colour 0.82" in ctl


def test_the_draws_line_splits_stage2s_rows_by_the_mix():
    from helpers.readings import stage13

    class Cfg:
        steps, batch = {"stage2": 350}, 16
        stage2_mix = ("caption",) * 3 + ("colour", "shape", "position")

    train = {k: [None] * 3000 for k in ("caption", "colour", "shape", "position")}
    line = stage13.draws(Cfg, train)
    assert line.startswith(
        "stage 2 draws 350 steps × 16 rows = 5,600 rows, with repeats; expected values, "
    )
    # 2,800 draws of 3,000: (1 - 1/3000) ** 2800 = 0.393; 933.3 draws: 0.732
    assert "caption 2,800 of 3,000 (39% never drawn)" in line
    assert "side 933 of 3,000 (73% never drawn)" in line


def test_the_loss_reading_puts_stage0s_start_against_a_uniform_guess():
    from helpers.readings import stage13

    high = stage13.losses([9.0] * 10, [0.4] * 10, [0.6] * 10, vocab=863)
    assert "Stage 0's first loss, 9.0, is above ln 863 = 6.76" in high
    assert "confidently expects other words" in high
    assert "well below" in stage13.losses([1.0] * 10, [0.4] * 10, [0.6] * 10, vocab=863)


def test_the_bars_draw_a_bar_per_model_and_both_floors():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = recorded_rows()
    fig, ax = plt.subplots()
    vlm_eval.bars(ax, rows, {"colour": 1 / 6}, {"colour": 0.18, "shape": 0.37})
    assert len(ax.containers) == len(rows)
    floors = [c for c in ax.collections if c.get_label() in ("chance", "majority")]
    assert [c.get_label() for c in floors] == ["chance", "majority"]
    assert ax.get_yticklabels()[0].get_text() == "caption: colour"
    plt.close(fig)


def test_best_constant_caption_and_panel_colours():
    def cap(c, s, p):
        t = f"a {c} {s} on the {p}"
        return vlm_data.Example(
            None, "Describe.", t, (t,), "caption", None, dict(colour=c, shape=s, position=p)
        )

    caps = [
        cap("red", "circle", "left"),
        cap("red", "square", "left"),
        cap("blue", "circle", "right"),
    ]
    # 'a red circle on the left': 1, 5/6, 4/6 -> mean 0.8333; no other template caption beats it
    assert vlm_eval.best_constant(caps) == pytest.approx((1 + 5 / 6 + 4 / 6) / 3)
    assert vlm_eval.panel_colour(caps[0], "a red circle on the left") == "green"
    assert vlm_eval.panel_colour(caps[0], "a red square on the left") == "darkorange"
    assert vlm_eval.panel_colour(caps[0], "a blue square on the left") == "red"


def test_the_ablation_reading_follows_the_values():
    from helpers.readings import stage13

    attrs = ["colour", "shape", "position"]
    s1 = dict(colour=0.9, shape=0.6, position=0.9)
    blind = dict(colour=0.15, shape=0.3, position=0.5)
    near_blind = dict(colour=0.2, shape=0.3, position=0.5)
    assert "stage 0 carries" in stage13.without_stage0(s1, near_blind, blind, attrs)
    assert "stage 0 adds little" in stage13.without_stage0(s1, s1, blind, attrs)
    half = dict(colour=0.6, shape=0.4, position=0.7)
    assert "stage 0 adds the rest" in stage13.without_stage0(s1, half, blind, attrs)
