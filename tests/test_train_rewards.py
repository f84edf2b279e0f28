"""The vsGRPO training rewards, with hand-computed values (no model, no TRL)."""

from __future__ import annotations

import pytest

from vsi_data.metrics import mean_relative_accuracy
from vsi_data.train.rewards import accuracy_reward, format_reward, parse_letter, parse_number

OPTIONS = ["A. chair", "B. sofa", "C. table lamp", "D. door"]


def _chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_mra_hand_values():
    # values keep clear of threshold edges, where float rounding decides (VSI-Bench adds no tolerance)
    # relative error 0.075 passes thresholds θ with 0.075 <= 1 − θ, i.e. θ in 0.50..0.90: 9 of 10
    assert mean_relative_accuracy(2.15, 2.0) == pytest.approx(0.9)
    # relative error 0.5 passes θ = 0.50 only (0.5 <= 0.5)
    assert mean_relative_accuracy(3.0, 2.0) == pytest.approx(0.1)
    assert mean_relative_accuracy(4.0, 2.0) == 0.0
    assert mean_relative_accuracy(2.0, 2.0) == 1.0
    # relative error 0.22 passes 0.50..0.75: 6 of 10
    assert mean_relative_accuracy(78, 100) == pytest.approx(0.6)
    # zero ground truth: only an exact zero scores
    assert mean_relative_accuracy(0, 0) == 1.0
    assert mean_relative_accuracy(0.1, 0) == 0.0


def test_numeric_answers_units_words_and_tags():
    completions = [
        "2.15",  # relative error 0.075: MRA 0.9 against 2
        "<answer>about 2.15 meters</answer>",  # units and extra words are ignored
        _chat("<think>the bed is long</think><answer>2.95 m</answer>"),  # error 0.475: θ = 0.50 only, 0.1
        "two",  # number word: exact
        "I see 2 chairs and 3 tables",  # the first number counts
        "no idea",  # unparsable
        "1,180 cm",  # thousands separator: 1180 vs 1000 → error 0.18 → θ 0.50..0.80 → 0.7
        "0",  # zero ground truth, exact
        "0.5",  # zero ground truth, not exact
    ]
    answers = ["2", "2", "2", "2", "2", "2", "1000", "0", "0"]
    types = ["object_abs_distance"] * 3 + ["object_counting"] * 3 + ["object_size_estimation"] + ["object_counting"] * 2
    rewards = accuracy_reward(completions, answer=answers, question_type=types)
    assert rewards == pytest.approx([0.9, 0.9, 0.1, 1.0, 1.0, 0.0, 0.7, 1.0, 0.0])


def test_number_parsing_edge_cases():
    assert parse_number("2,5 m²") == 2.5  # decimal comma
    assert parse_number("Twelve chairs") == 12.0
    assert parse_number("3 or four") == 3.0
    assert parse_number("someone") is None  # "one" inside a word is not a number
    assert parse_number("-1.5") == -1.5
    assert parse_number(".5") == 0.5


def test_letters_accept_the_usual_forms():
    completions = ["B", "B.", "(B)", "B. sofa", "b", "<answer>b)</answer>", "sofa", "The sofa.", "C", "Bed", ""]
    rewards = accuracy_reward(
        completions, answer=["B"] * 11, question_type=["object_rel_distance"] * 11, options=[OPTIONS] * 11
    )
    assert rewards == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert parse_letter("table lamp", OPTIONS) == "C"
    assert parse_letter("lamp", OPTIONS) is None


def test_words_compare_case_insensitively_but_not_loosely():
    completions = ["Left", " left. ", "<answer>the Door</answer>", "left or right", "right", "front-left", "office"]
    answers = ["left", "left", "door", "left", "left", "front-left", "office chair"]
    types = ["object_rel_direction_easy"] * 2 + ["object_rel_distance"] + ["object_rel_direction_easy"] * 2
    types += ["object_rel_direction_hard", "object_rel_distance"]
    # vsi100k rows carry no options: the answer is the word itself
    rewards = accuracy_reward(completions, answer=answers, question_type=types, options=[None] * 7)
    assert rewards == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]


def test_rewards_are_per_row_and_logged_per_type():
    logged: dict[str, float] = {}
    rewards = accuracy_reward(
        ["3", "A", "7", "B"],
        answer=["3", "A", "8", "A"],
        question_type=["object_counting", "route_planning", "object_counting", "route_planning"],
        options=[None, ["A. go", "B. stop"], None, ["A. go", "B. stop"]],
        log_metric=logged.__setitem__,
    )
    # 7 vs 8: relative error 0.125 → θ 0.50..0.85 → 0.8
    assert rewards == pytest.approx([1.0, 1.0, 0.8, 0.0])
    assert logged == pytest.approx(
        {"rewards/accuracy_reward/object_counting": 0.9, "rewards/accuracy_reward/route_planning": 0.5}
    )


def test_bad_ground_truth_and_length_mismatch_are_errors():
    with pytest.raises(ValueError, match="'many' of a object_counting question is not a number"):
        accuracy_reward(["3"], answer=["many"], question_type=["object_counting"])
    with pytest.raises(ValueError, match="one answer"):
        accuracy_reward(["3", "4"], answer=["3"], question_type=["object_counting"])


def test_format_reward():
    completions = [
        "<think>two chairs</think><answer>2</answer>",
        "<think>\nlook\n</think>\n<answer>B</answer>\n",
        _chat("<observe>a sofa</observe> <answer>sofa</answer>"),
        "<answer>2</answer>",  # no reasoning block
        "<think>x</think><answer>2</answer> and more",  # trailing text
        "<think>x</observe><answer>2</answer>",  # mismatched tags
        "2",
    ]
    logged: dict[str, float] = {}
    rewards = format_reward(completions, question_type=["object_counting"] * 7, log_metric=logged.__setitem__)
    assert rewards == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert logged == pytest.approx({"rewards/format_reward/object_counting": 3 / 7})
