"""Evaluation metrics and the threshold policy, on small hand-made cases."""

import numpy as np
import pytest

from functions.scoring.manifest import SplitPolicy
from functions.scoring.manifest_parts import PRECISION_AT_RECALL, ClassificationMetrics
from training.metrics import (
    REFERENCE_APP,
    classification_metrics,
    expected_calibration_error,
    precision_at_recall,
    threshold_for_max_f1,
    threshold_policy,
)

Y = np.array([0, 0, 0, 0, 1, 1, 0, 1])
POD = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9])


def test_classification_metrics_counts_the_confusion_matrix_at_the_threshold() -> None:
    metrics = classification_metrics(Y, POD, threshold=0.5)
    assert isinstance(metrics, ClassificationMetrics)
    assert (metrics.tn, metrics.fp, metrics.fn, metrics.tp) == (4, 1, 1, 2)
    assert metrics.precision == pytest.approx(2 / 3)
    assert metrics.recall == pytest.approx(2 / 3)
    assert metrics.f1 == pytest.approx(2 / 3)
    assert metrics.accuracy == pytest.approx(6 / 8)
    assert metrics.threshold == 0.5


def test_classification_metrics_serialise_under_the_manifest_names() -> None:
    dumped = classification_metrics(Y, POD, threshold=0.5).model_dump(by_alias=True)
    assert PRECISION_AT_RECALL in dumped
    assert dumped[PRECISION_AT_RECALL] == precision_at_recall(Y, POD, recall=0.68)


def test_classification_metrics_with_no_predicted_default_has_zero_precision() -> None:
    metrics = classification_metrics(Y, POD, threshold=0.95)
    assert metrics.tp == 0 and metrics.fp == 0
    assert metrics.precision == 0.0 and metrics.f1 == 0.0


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    y = np.array([0, 0, 0, 1] * 5 + [0, 1, 1, 1] * 5)
    pod = np.array([0.25] * 20 + [0.75] * 20)
    assert expected_calibration_error(y, pod, bins=2) == pytest.approx(0.0)


def test_overconfident_predictions_have_the_gap_as_ece() -> None:
    y = np.array([0, 1] * 10)
    assert expected_calibration_error(y, np.full(20, 0.9), bins=2) == pytest.approx(0.4)


def test_threshold_for_max_f1_separates_perfectly_ranked_rows() -> None:
    y = np.array([0, 0, 0, 1, 1])
    assert threshold_for_max_f1(y, np.array([0.1, 0.2, 0.3, 0.6, 0.8])) == pytest.approx(0.6)


@pytest.mark.parametrize(("recall", "expected"), [(0.3, 1.0), (0.6, 0.75), (1.0, 0.75)])
def test_precision_at_recall_is_the_best_precision_reaching_that_recall(
    recall: float, expected: float
) -> None:
    assert precision_at_recall(Y, POD, recall=recall) == pytest.approx(expected)


def test_threshold_policy_names_the_validation_share_of_all_rows() -> None:
    policy = SplitPolicy(test_size=0.25, validation_size_of_train=0.2, random_state=42, stratified=True)
    assert threshold_policy(policy).endswith("(15 % of all rows)")


def test_reference_app_figures_are_the_published_ones() -> None:
    assert (REFERENCE_APP.accuracy, REFERENCE_APP.precision, REFERENCE_APP.recall, REFERENCE_APP.f1) == (
        0.74,
        0.38,
        0.68,
        0.49,
    )


def test_ece_with_fewer_rows_than_bins_is_finite() -> None:
    assert np.isfinite(expected_calibration_error(Y, POD, bins=10))
