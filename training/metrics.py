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

from functions.scoring.manifest import SplitPolicy
from functions.scoring.manifest_parts import REFERENCE_RECALL, ClassificationMetrics, PublishedMetrics

# Published figures of the reference app (RandomForest), default class, at its own threshold.
REFERENCE_APP: Final = PublishedMetrics(accuracy=0.74, precision=0.38, recall=0.68, f1=0.49)


def expected_calibration_error(
    y: NDArray[Any], probability_of_default: NDArray[Any], *, bins: int = 10
) -> float:
    """Return the ECE in [0, 1] of rows' PDs against 0/1 outcomes over `bins` equal-count (quantile) bins."""
    order = np.argsort(probability_of_default, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if not len(chunk):  # fewer rows than bins
            continue
        gap = float(probability_of_default[chunk].mean()) - float(y[chunk].mean())
        error += abs(gap) * len(chunk) / len(y)
    return error


def threshold_for_max_f1(y: NDArray[Any], probability_of_default: NDArray[Any]) -> float:
    """Return the PD threshold in [0, 1] that maximises F1 for the default class (rows of 0/1 and PD)."""
    precision, recall, thresholds = precision_recall_curve(y, probability_of_default)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )
    return float(thresholds[int(np.argmax(f1[:-1]))])


def threshold_policy(split: SplitPolicy) -> str:
    """Describe the threshold policy, naming the validation split's share of all rows."""
    share = (1 - split.test_size) * split.validation_size_of_train
    return f"maximum F1 for the default class on the validation split ({share * 100:.0f} % of all rows)"


def precision_at_recall(y: NDArray[Any], probability_of_default: NDArray[Any], *, recall: float) -> float:
    """Return the best precision among PD thresholds whose recall is at least `recall`."""
    precisions, recalls, _ = precision_recall_curve(y, probability_of_default)
    return float(precisions[recalls >= recall].max())


def classification_metrics(
    y: NDArray[Any], probability_of_default: NDArray[Any], *, threshold: float
) -> ClassificationMetrics:
    """Return ranking, calibration and thresholded metrics for the default class of rows of 0/1 and PD.

    Raises ValueError (from scikit-learn) when `y` holds a single class.
    """
    predicted = probability_of_default >= threshold
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return ClassificationMetrics(
        roc_auc=float(roc_auc_score(y, probability_of_default)),
        pr_auc=float(average_precision_score(y, probability_of_default)),
        brier=float(brier_score_loss(y, probability_of_default)),
        log_loss=float(log_loss(y, probability_of_default, labels=[0, 1])),
        ece=expected_calibration_error(y, probability_of_default),
        threshold=float(threshold),
        accuracy=(tp + tn) / len(y),
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        precision_at_recall=precision_at_recall(y, probability_of_default, recall=REFERENCE_RECALL),
        tn=tn,
        fp=fp,
        fn=fn,
        tp=tp,
    )
