"""Measure a model the way VSI-Bench does: read questions, predict answers, score them."""

from vsi_data.eval.items import DataError, EvalItem, load_items
from vsi_data.eval.predictions import Predictions, PredictionsError, answers_for, read_predictions
from vsi_data.eval.scoring import EvalReport, compare, evaluate

__all__ = [
    "DataError",
    "EvalItem",
    "EvalReport",
    "Predictions",
    "PredictionsError",
    "answers_for",
    "compare",
    "evaluate",
    "load_items",
    "read_predictions",
]
