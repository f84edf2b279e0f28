"""VSI-Bench scoring primitives."""

from __future__ import annotations

import numpy as np

# VSI-Bench builds its thresholds with np.linspace(.5, .95, int((.95 - .5) / .05 + 2)); the float
# expression is 10.999..., so there are 10 of them: 0.50, 0.55, ..., 0.95.
MRA_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def mean_relative_accuracy(pred: float, gt: float) -> float:
    """Fraction of thresholds θ with |pred − gt| / gt ≤ 1 − θ (VSI-Bench's MRA; ≤ as in its code).

    A zero ground truth has no relative error: an exact prediction scores 1, anything else 0.
    """
    pred, gt = float(pred), float(gt)
    if not (np.isfinite(pred) and np.isfinite(gt)):
        return 0.0
    if gt == 0:
        return 1.0 if pred == 0 else 0.0
    relative_error = abs(pred - gt) / abs(gt)
    return float(np.mean(relative_error <= 1 - MRA_THRESHOLDS + 1e-12))
