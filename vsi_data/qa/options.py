"""Lettered options with balanced answer letters.

VSI-Bench puts each correct answer on the letter used least so far (ties at random) and shuffles the
other options into the remaining slots; some types keep a fixed option order (left, right, back). The
running counts here are per scene and question type, so scenes stay independent of each other and of
the build's schedule while letters stay close to uniform over a dataset.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

LETTERS = "ABCDEFGH"


class LetterBalancer:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: Counter[int] = Counter()

    def arrange(self, answer: str, choices: list[str], fixed_order: bool) -> tuple[list[str], int]:
        """The options in display order and the index of the answer among them."""
        if answer not in choices:
            raise ValueError(f"answer {answer!r} is not among the choices {choices}")
        if fixed_order:
            index = choices.index(answer)
            self.used[index] += 1
            return list(choices), index
        n = len(choices)
        least = min(self.used[i] for i in range(n))
        index = int(self.rng.choice([i for i in range(n) if self.used[i] == least]))
        self.used[index] += 1
        others = [c for c in choices if c != answer]
        others = [others[i] for i in self.rng.permutation(len(others))]
        ordered = [*others[:index], answer, *others[index:]]
        return ordered, index


def lettered(options: list[str]) -> list[str]:
    return [f"{LETTERS[i]}. {text}" for i, text in enumerate(options)]
