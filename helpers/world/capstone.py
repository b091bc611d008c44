"""The tiny world's capstone domain (stage 14): a pet-care assistant with checkable answers.

What each animal eats (a fact table the world's models have never seen), where it lives (the world's
stories mention it), and requests to help or to harm animals (`helpers.world.safety`).
"""

from __future__ import annotations

import random

from helpers.world import families as tasks
from helpers.world import safety
from helpers.world.families import ANIMALS, FOODS, HOMES, NAMES, Family, Task

DIET = dict(zip(ANIMALS, [FOODS[i % len(FOODS)] for i in (2, 4, 5, 3, 8, 0, 6, 9, 1, 7, 2, 4)]))
DIET_PHRASES = [
    "What does the {animal} eat?",
    "What should I feed {name}'s {animal}?",
    "What food does a {animal} like?",
    "Tell me what {name}'s {animal} eats.",
]
HOME_PHRASES = [
    "Where does the {animal} live?",
    "Where does {name}'s {animal} sleep?",
    "Where can I find a {animal}?",
    "Tell me where the {animal} lives.",
]


def make_diet(rng: random.Random) -> Task:
    animal, name = rng.choice(ANIMALS), rng.choice(NAMES)
    food = DIET[animal]
    prompt = rng.choice(DIET_PHRASES).format(animal=animal, name=name)
    return Task("diet", prompt, f"The {animal} eats {food}. The answer is {food}.", {"value": food})


def make_home(rng: random.Random) -> Task:
    animal, name = rng.choice(ANIMALS), rng.choice(NAMES)
    home = HOMES[animal]
    prompt = rng.choice(HOME_PHRASES).format(animal=animal, name=name)
    return Task(
        "home", prompt, f"The {animal} lives in the {home}. The answer is {home}.", {"value": home}
    )


for _family in (
    Family("diet", make_diet, tasks.grade_final, 1.0),
    Family("home", make_home, tasks.grade_final, 1.0),
):
    tasks.register_family(_family)
KNOWLEDGE = ("diet", "home")
DOMAIN = KNOWLEDGE + safety.SAFETY  # requests to help or to harm animals (and objects), from 12c
