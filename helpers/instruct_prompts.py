"""Self-Instruct's three prompts and their parsers (Wang et al. 2023, appendix A): new instructions from
8 in-context tasks, "is it a classification task?", and instances (input-first, or output-first for
classification). Each parser tolerates what small models write and says what it dropped.
"""

from __future__ import annotations

import re


def user_text(instruction: str, inp: str = "") -> str:
    """One chat turn from an (instruction, input) pair, as Alpaca formats its training data."""
    return f"{instruction}\n\n{inp}" if inp.strip() else instruction


# ---------------------------------------------------------------- the three prompts
def instruction_prompt(instructions: list[str]) -> str:
    """The paper's prompt: a numbered list of example tasks that the model continues."""
    lines = "".join(f"{i}. {text}\n" for i, text in enumerate(instructions, 1))
    return f"Come up with a series of tasks:\n{lines}{len(instructions) + 1}."


# the paper's stop sequences ("\n16", "16.", "16 ."): a reply ends where item 16 would begin
STOP_ITEM = 16
_STOP = re.compile(rf"(?:^|\n)\s*(?:[*_#]+\s*)?{STOP_ITEM}\s*\.")


def stop_at_item(text: str, finished: bool) -> tuple[str, bool]:
    """The reply as the paper's stop sequences would have ended it: cut where item 16 starts, and then
    finished. Cutting afterwards gives the same text as stopping there (generation is causal); the paper's
    blank-line stop ("\n\n") is left out, because a chat model writes one after its preamble."""
    match = _STOP.search(text)
    return (text[: match.start()], True) if match else (text, finished)


# "9. x", "10) x", "**11.** x"
_NUMBERED = re.compile(r"^\s*(?:[*_#]+\s*)?(\d+)\s*[.)]\s*(?:[*_]+)?\s*(.*)$")
# a chat model's "1. 1. x": the number written twice
_RENUMBERED = re.compile(r"^(\d+)\s*[.)](\s+|$)")


def parse_instructions(text: str, finished: bool = True) -> list[str]:
    """New instructions from a continued numbered list ("9. ...", "10) ...", "**9.** ..."). The first line may
    lack its number (the prompt ends in "9."), unless it is a chat model's preamble ending in ":"; an
    unnumbered line continues the item above it, unless a blank line came first (a closing remark). A reply
    that hit the token limit (`finished` False) gives nothing, as in the paper (bootstrap_instructions.py
    drops `finish_reason == "length"`; Alpaca keeps all but the cut-off last item)."""
    items: list[str] = []
    after_blank = False
    for line in text.strip().splitlines():
        match = _NUMBERED.match(line)
        if match:
            items.append(_RENUMBERED.sub("", match.group(2)))
        elif line.strip():
            # a closing remark after the list ("I hope these tasks help!")
            if items and after_blank:
                continue
            if items:
                items[-1] += " " + line.strip()
            # a chat model's preamble ("Sure! Here are more tasks:")
            elif not line.rstrip().endswith(":"):
                items.append(line)
        after_blank = not line.strip()
    if not finished:
        return []
    return [re.sub(r"\s+", " ", i.replace("**", "")).strip() for i in items if i.strip()]


CLF_SHOTS = [
    ("Sort the numbers from smallest to largest.", "No"),
    ("Is this email spam or not spam?", "Yes"),
    ("Write a haiku about autumn.", "No"),
    ("Tell whether the animal is a mammal or a bird.", "Yes"),
]


def clf_prompt(instruction: str, shots: int = 0) -> str:
    """Classification identification: zero-shot, or with `shots` worked examples (the paper gave base
    GPT-3 31 examples; the tiny writer was trained zero-shot)."""
    demos = "".join(f"Task: {task}\nAnswer: {answer}\n\n" for task, answer in CLF_SHOTS[:shots])
    return (
        "Can the following task be regarded as a classification task with finite output labels?\n"
        f"{demos}Task: {instruction}\nAnswer Yes or No."
    )


def parse_yes_no(text: str) -> bool | None:
    """True for Yes, False for No, None when the answer is neither."""
    first = re.match(r"\W*(yes|no)\b", text.strip(), flags=re.I)
    return None if first is None else first.group(1).lower() == "yes"


# Worked examples for `instance_prompt(..., shots=n)`: the paper's instance prompts are few-shot, and the
# examples show a chat model the labels `parse_instances` reads. The tiny writer was trained zero-shot.
INSTANCE_SHOTS = [
    (
        "Convert the temperature from Celsius to Fahrenheit.",
        "Input: 25 degrees Celsius\nOutput: 77 degrees Fahrenheit",
    ),
    ("Suggest a name for a new coffee shop.", "Output: The Daily Grind"),
    (
        "Summarize the sentence in three words.",
        "Input: The weather was cold and rainy all week.\nOutput: A wet week",
    ),
]
CLF_INSTANCE_SHOTS = [
    (
        "Classify the sentiment of the review as positive or negative.",
        "Class label: positive\nInput: I loved every minute of this film.\n"
        "Class label: negative\nInput: The food was cold and the waiter was rude.",
    ),
    ("Is the number even or odd?", "Class label: even\nInput: 14\nClass label: odd\nInput: 9"),
]


def instance_prompt(instruction: str, is_classification: bool, shots: int = 0) -> str:
    """Output-first for classification (label, then an input for it), so that labels are not all the
    majority class; input-first otherwise. `shots` worked examples go before the task."""
    if is_classification:
        head = (
            "Given the classification task definition and the class labels, generate an input that "
            "corresponds to each of the class labels.\n"
        )
        examples = CLF_INSTANCE_SHOTS[:shots]
    else:
        head = (
            "Come up with an example for the following task. If the task doesn't require additional input, "
            "you can generate the output directly.\n"
        )
        examples = INSTANCE_SHOTS[:shots]
    demos = "".join(f"Task: {task}\n{answer}\n\n" for task, answer in examples)
    return f"{head}{demos}Task: {instruction}"


def first_label(is_classification: bool) -> str:
    """The label an instance reply starts with (`generate_instances(prefill=True)` writes it for the model)."""
    return "Class label:" if is_classification else "Input:"


def _unmark(text: str) -> str:
    """Markdown emphasis off ("**Input:**" -> "Input:"), as chat models write their labels."""
    return re.sub(r"(\*\*|__)", "", text)


def parse_instances(text: str, is_classification: bool) -> list[tuple[str, str]]:
    """(input, output) pairs. Classification: "Class label: X / Input: Y" blocks; otherwise an optional
    "Input:" and an "Output:"."""
    text = _unmark(text)
    if is_classification:
        pattern = r"Class label:\s*(.*?)\s*\n\s*Input:\s*(.*?)\s*(?=\n\s*Class label:|\Z)"
        return [
            (inp.strip(), label.strip()) for label, inp in re.findall(pattern, text, re.S | re.I)
        ]
    # anywhere after a preamble line ("Sure! Here is an example:"), labels in any case
    match = re.search(r"(?:\A|\n)\s*(?:Input:\s*(.*?)\s*\n)?\s*Output:\s*(.*)\Z", text, re.S | re.I)
    if not match:
        return []
    return [((match.group(1) or "").strip(), match.group(2).strip())]


def parse_instance_reply(
    text: str, is_classification: bool, prefilled: bool = False
) -> list[tuple[str, str]]:
    """`parse_instances`; a prefilled "Input:" reply with no "Output:" still gives its input (the output of a
    non-classification task comes from a second call anyway)."""
    pairs = parse_instances(text, is_classification)
    if pairs or not prefilled or is_classification:
        return pairs
    match = re.match(r"\s*Input:\s*(.*\S)", _unmark(text), re.S | re.I)
    return [(match.group(1).strip(), "")] if match else []
