"""Feature functions: finite for every valid client, zero and negative bills included."""

import numpy as np
import pytest

from functions.scoring.contract import BILLS, FEATURE_NAMES, PAYMENTS
from functions.scoring.features import MODEL_FEATURES, MONOTONE, engineer, safe_ratio
from functions.scoring.model import to_matrix
from training.synthetic import TYPICAL, generate_rows


def test_engineer_is_finite_for_generated_clients() -> None:
    X = engineer(to_matrix(generate_rows(500, seed=3)))
    assert X.shape == (500, len(MODEL_FEATURES))
    assert np.isfinite(X).all()


@pytest.mark.parametrize("bill", [0.0, -5000.0])
def test_engineer_handles_zero_and_negative_bills(bill: float) -> None:
    client = {**TYPICAL, **dict.fromkeys(BILLS, bill), **dict.fromkeys(PAYMENTS, 0.0)}
    X = engineer(to_matrix([client]))
    row = dict(zip(MODEL_FEATURES, X[0], strict=True))
    assert np.isfinite(X).all()
    assert row["payment_ratio_latest"] == 1.0  # nothing owed counts as paid
    assert row["utilisation_latest"] == pytest.approx(bill / TYPICAL["limit_bal"])


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(50.0, 100.0, 0.5), (500.0, 100.0, 2.0), (10.0, 0.0, 1.0), (10.0, -20.0, 1.0), (0.0, 100.0, 0.0)],
)
def test_safe_ratio_caps_and_handles_nothing_owed(
    numerator: float, denominator: float, expected: float
) -> None:
    assert safe_ratio(np.array([numerator]), np.array([denominator]), empty=1.0)[0] == expected


def test_engineer_counts_late_months_and_worst_delay() -> None:
    client = {**TYPICAL, "pay_0": 2, "pay_2": 1, "pay_3": -1, "pay_4": 0, "pay_5": 3, "pay_6": -2}
    row = dict(zip(MODEL_FEATURES, engineer(to_matrix([client]))[0], strict=True))
    assert (row["months_late"], row["max_delay"]) == (3, 3)


def test_engineer_never_uses_sex_or_marriage() -> None:
    base = to_matrix([TYPICAL])
    changed = base.copy()
    changed[0, FEATURE_NAMES.index("sex")] = 1
    changed[0, FEATURE_NAMES.index("marriage")] = 3
    assert (engineer(base) == engineer(changed)).all()
    assert "sex" not in MODEL_FEATURES and "marriage" not in MODEL_FEATURES


def test_monotone_flags_cover_every_status_feature() -> None:
    flagged = {name for name, flag in zip(MODEL_FEATURES, MONOTONE, strict=True) if flag}
    assert flagged == {"pay_0", "pay_2", "pay_3", "pay_4", "pay_5", "pay_6", "max_delay", "months_late"}


def test_engineer_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="23 columns"):
        engineer(np.zeros((2, 5)))
