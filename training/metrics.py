"""Evaluation metrics and the threshold policy."""

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

# Published figures of the reference app (RandomForest), default class, at its own threshold.
REFERENCE_APP: Final = {"accuracy": 0.74, "precision": 0.38, "recall": 0.68, "f1": 0.49}
REFERENCE_RECALL: Final = 0.68


def expected_calibration_error(y: NDArray[Any], pd: NDArray[Any], *, bins: int = 10) -> float:
    """Return the ECE over `bins` equal-count (quantile) bins of predicted PD."""
    order = np.argsort(pd, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        error += abs(float(pd[chunk].mean()) - float(y[chunk].mean())) * len(chunk) / len(y)
    return error


def threshold_for_max_f1(y: NDArray[Any], pd: NDArray[Any]) -> float:
    """Return the PD threshold that maximises F1 for the default class."""
    precision, recall, thresholds = precision_recall_curve(y, pd)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )
    return float(thresholds[int(np.argmax(f1[:-1]))])


def precision_at_recall(y: NDArray[Any], pd: NDArray[Any], *, recall: float) -> float:
    """Return the best precision among thresholds whose recall is at least `recall`."""
    precisions, recalls, _ = precision_recall_curve(y, pd)
    return float(precisions[recalls >= recall].max())


def classification_metrics(y: NDArray[Any], pd: NDArray[Any], *, threshold: float) -> dict[str, float]:
    """Return ranking, calibration and thresholded metrics for the default class."""
    predicted = pd >= threshold
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "roc_auc": float(roc_auc_score(y, pd)),
        "pr_auc": float(average_precision_score(y, pd)),
        "brier": float(brier_score_loss(y, pd)),
        "log_loss": float(log_loss(y, pd, labels=[0, 1])),
        "ece": expected_calibration_error(y, pd),
        "threshold": float(threshold),
        "accuracy": (tp + tn) / len(y),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision_at_recall_0.68": precision_at_recall(y, pd, recall=REFERENCE_RECALL),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }
