"""The vsGRPO training rewards and the number reader they share with `eval`, on hand-computed tables (no
model, no TRL)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsi_data.metrics import find_number, first_token, mean_relative_accuracy, parse_number, score_prediction
from vsi_data.prompts import PromptMode
from vsi_data.train.rewards import (
    NumericRule,
    accuracy_reward,
    configured_rewards,
    format_reward,
    parse_letter,
    relative_accuracy,
)

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


# (ground truth, prediction, the paper's relative rule max(0, 1 − |gt − pred| / min(gt, pred)))
RELATIVE = [
    (2, 1, 0.0),  # e = 1 / 1
    (2, 3, 0.5),  # e = 1 / 2
    (2, 2.2, 0.9),  # e = 0.2 / 2
    (2, 2, 1.0),
    (2, 1.8, 1 - 0.2 / 1.8),  # the smaller of the two divides: 0.888…, not MRA's 1 − 0.2 / 2
    (100, 400, 0.0),  # e = 3: clipped at 0
    (10, 0, 0.0),  # min(gt, pred) = 0: e undefined, inexact
    (0, 0, 1.0),  # exact zero
    (3, -3, 0.0),  # a negative prediction never earns more than nothing
    (2, math.inf, 0.0),
]


@pytest.mark.parametrize(("gt", "pred", "reward"), RELATIVE)
def test_relative_rule_is_the_papers(gt, pred, reward):
    assert relative_accuracy(pred, gt) == pytest.approx(reward)


def test_numeric_rule_picks_the_score_and_mra_stays_the_default():
    completions, answers, types = ["3", "2.2", "1"], ["2", "2", "2"], ["object_abs_distance"] * 3
    # MRA: errors 0.5, 0.1, 0.5 pass θ = 0.50 only, 0.50..0.90, 0.50 only
    assert accuracy_reward(completions, answer=answers, question_type=types) == pytest.approx([0.1, 0.9, 0.1])
    relative = accuracy_reward(completions, answer=answers, question_type=types, numeric="relative")
    assert relative == pytest.approx([0.5, 0.9, 0.0])
    # a recipe's rule reaches TRL through a partial that keeps the function's name (TRL logs rewards by it)
    bound = configured_rewards(["accuracy"], PromptMode.vanilla, NumericRule.relative)[0]
    assert bound(completions, answer=answers, question_type=types) == pytest.approx([0.5, 0.9, 0.0])
    assert bound.func.__name__ == "accuracy_reward"


# (answer text, the number training reads from it); None: no number
NUMBERS = [
    ("1e2", 100.0),  # eval reads float("1e2") = 100; training must agree
    ("1E+02 cm", 100.0),
    ("about 1.5e3 mm", 1500.0),  # the exponent belongs to the number even after a word
    ("2,5 m²", 2.5),  # decimal comma
    ("1,250 cm", 1250.0),  # thousands separator
    ("Twelve chairs", 12.0),
    ("twenty", 20.0),
    ("twenty-one", 21.0),  # not 20
    ("twenty one", 21.0),
    ("ninety-nine", 99.0),
    ("a hundred", 100.0),
    ("two hundred and five", 205.0),
    ("one thousand two hundred", 1200.0),
    ("one two", 1.0),  # two numbers, not one
    ("3 or four", 3.0),
    ("four or 3", 4.0),
    ("someone", None),  # "one" inside a word is not a number
    ("-1.5", -1.5),
    (".5", 0.5),
    ("4.", 4.0),
    ("inf", math.inf),  # float() reads it, so eval does: training reads it too (and scores it 0)
    ("no idea", None),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_number_reading(text, value):
    assert find_number(text) == value


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from(["{:g}", "{:e}", "{!r}", "{:.1f}", "{:.0f}", "{:E}"]),
    st.sampled_from(["", " meters", " m. Next", ". ", " or 3", ",", "\n"]),
)
def test_training_reads_the_number_eval_reads(value, style, tail):
    """Wherever `eval` (VSI-Bench: float() of the first token) reads a number, training reads the same."""
    text = style.format(value) + tail
    strict = parse_number(first_token(text))
    if strict is not None:
        assert find_number(text) == strict


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
        "twenty-one",  # 21 against 21
    ]
    answers = ["2", "2", "2", "2", "2", "2", "1000", "0", "0", "21"]
    types = ["object_abs_distance"] * 3 + ["object_counting"] * 3 + ["object_size_estimation"]
    types += ["object_counting"] * 3
    rewards = accuracy_reward(completions, answer=answers, question_type=types)
    assert rewards == pytest.approx([0.9, 0.9, 0.1, 1.0, 1.0, 0.0, 0.7, 1.0, 0.0, 1.0])


def test_training_and_eval_score_a_scientific_answer_alike():
    assert score_prediction("object_size_estimation", "1e2", "100") == 1.0
    assert accuracy_reward(["1e2"], answer=["100"], question_type=["object_size_estimation"]) == [1.0]


# (completion, the letter it names among OPTIONS); None: no letter
LETTERS = [
    ("B", "B"),
    ("B.", "B"),
    ("(B)", "B"),
    ("B. sofa", "B"),
    ("b", "B"),
    ("b)", "B"),
    ("sofa", "B"),
    ("The sofa.", "B"),
    ("a sofa", "B"),  # an article, not the letter A
    ("A sofa", "B"),
    ("an door", "D"),
    ("a", "A"),  # a letter alone is the letter
    ("A. chair", "A"),
    ("table lamp", "C"),
    ("lamp", None),
    ("Bed", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "letter"), LETTERS)
def test_letter_reading(text, letter):
    assert parse_letter(text, OPTIONS) == letter


def test_letters_score_the_right_option():
    completions = [text for text, _ in LETTERS] + ["<answer>b)</answer>"]
    rewards = accuracy_reward(
        completions,
        answer=["B"] * len(completions),
        question_type=["object_rel_distance"] * len(completions),
        options=[OPTIONS] * len(completions),
    )
    assert rewards == [float(letter == "B") for _, letter in LETTERS] + [1.0]


def test_words_compare_case_insensitively_but_not_loosely():
    completions = ["Left", " left. ", "<answer>the Door</answer>", "left or right", "right", "front-left", "office"]
    answers = ["left", "left", "door", "left", "left", "front-left", "office chair"]
    types = ["object_rel_direction_easy"] * 2 + ["object_rel_distance"] + ["object_rel_direction_easy"] * 2
    types += ["object_rel_direction_hard", "object_rel_distance"]
    # vsi100k rows carry no options: the answer is the word itself
    rewards = accuracy_reward(completions, answer=answers, question_type=types, options=[None] * 7)
    assert rewards == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]


def test_a_hyphen_and_a_space_join_words_alike():
    """vsi100k's hard directions answer "front-left"; a model writing "front left" (or "Back - right") names the
    same quadrant and must not score 0, while another quadrant or a partial answer still does."""
    completions = ["front left", "Back - right.", "<answer>front  left</answer>", "front right", "front"]
    rewards = accuracy_reward(
        completions,
        answer=["front-left", "back-right", "front-left", "front-left", "front-left"],
        question_type=["object_rel_direction_hard"] * 5,
    )
    assert rewards == [1.0, 1.0, 1.0, 0.0, 0.0]


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


# (completion, think-mode reward, observe-mode reward)
FORMATS = [
    ("<think>two chairs</think><answer>2</answer>", 1.0, 0.0),
    ("<think>\nlook\n</think>\n<answer>B</answer>\n", 1.0, 0.0),
    ("<observe>a sofa</observe> <answer>sofa</answer>", 0.0, 1.0),  # the other mode's tag
    ("<answer>2</answer>", 0.0, 0.0),  # no reasoning block
    ("<think>x</think><answer>2</answer> and more", 0.0, 0.0),  # trailing text
    ("<think>x</observe><answer>2</answer>", 0.0, 0.0),  # mismatched tags
    ("<think></think><answer>2</answer>", 0.0, 0.0),  # the hack the paper names: empty reasoning
    ("<think> </think> <answer>2</answer>", 0.0, 0.0),  # blank reasoning
    ("<think>x</think><answer></answer>", 0.0, 0.0),  # empty answer
    ("<think>x</think><answer> \n</answer>", 0.0, 0.0),
    ("<think>a<think>b</think></think><answer>2</answer>", 0.0, 0.0),  # nested
    ("<think>a</think><think>b</think><answer>2</answer>", 0.0, 0.0),  # repeated
    ("<think>a</think><answer>2</answer><answer>3</answer>", 0.0, 0.0),  # repeated answer
    ("<think>a <observe>b</observe></think><answer>2</answer>", 0.0, 0.0),  # the other mode's tag inside
    ("<think>a</think><answer><answer>2</answer></answer>", 0.0, 0.0),
    ("2", 0.0, 0.0),
]


@pytest.mark.parametrize(("completion", "think", "observe"), FORMATS)
def test_format_reward_refuses_the_hacks(completion, think, observe):
    assert format_reward([completion], mode=PromptMode.think) == [think]
    assert format_reward([_chat(completion)], mode="observe") == [observe]


def test_format_reward_logs_per_type_and_needs_a_tagged_mode():
    logged: dict[str, float] = {}
    completions = [completion for completion, *_ in FORMATS]
    rewards = format_reward(
        completions, mode="think", question_type=["object_counting"] * len(FORMATS), log_metric=logged.__setitem__
    )
    assert sum(rewards) == 2.0
    assert logged == pytest.approx({"rewards/format_reward/object_counting": 2 / len(FORMATS)})
    # without a mode (the public API as it was), either tag passes but the hacks still score 0
    assert format_reward(["<observe>x</observe><answer>1</answer>", "<think></think><answer>1</answer>"]) == [1, 0]
    with pytest.raises(ValueError, match="vanilla prompt asks for no tags"):
        format_reward(["2"], mode="vanilla")
