"""Pure numpy feature functions, shared by training and serving.

Input: a float64 matrix whose columns are the contract's inputs in `FEATURE_NAMES` order.
Output: the model matrix whose columns are `MODEL_FEATURES`. Safe for zero and negative bills.
"""

from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import BILLS, FEATURE_NAMES, PAY_STATUS, PAYMENTS, PROTECTED

Matrix = npt.NDArray[np.float64]

RAW_INPUTS: Final = tuple(name for name in FEATURE_NAMES if name not in PROTECTED)
ENGINEERED: Final = (
    "utilisation_latest",  # latest bill / credit limit
    "utilisation_mean",  # mean of the six bills / credit limit
    "payment_ratio_latest",  # September payment / August bill
    "payment_ratio_mean",  # six months' payments / the bills they pay
    "max_delay",  # worst repayment status of the six months
    "months_late",  # months with a payment delay
)
MODEL_FEATURES: Final = RAW_INPUTS + ENGINEERED
# The contract inputs each model feature is computed from (reason codes recompute only what they touch).
INPUTS_OF: Final[dict[str, tuple[str, ...]]] = {
    **{name: (name,) for name in RAW_INPUTS},
    "utilisation_latest": ("bill_amt1", "limit_bal"),
    "utilisation_mean": (*BILLS, "limit_bal"),
    "payment_ratio_latest": ("pay_amt1", "bill_amt2"),
    "payment_ratio_mean": (*PAYMENTS, *BILLS),
    "max_delay": PAY_STATUS,
    "months_late": PAY_STATUS,
}
# Non-decreasing in every feature built from the repayment status, so a later payment never lowers PD.
MONOTONE: Final = tuple(
    1 if name in PAY_STATUS + ("max_delay", "months_late") else 0 for name in MODEL_FEATURES
)
RATIO_CAP: Final = 2.0  # payments above twice the bill say nothing more

_INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}


def columns(raw: Matrix, names: tuple[str, ...]) -> Matrix:
    """Return the named contract columns of a raw input matrix."""
    return raw[:, [_INDEX[name] for name in names]]


def safe_ratio(numerator: Matrix, denominator: Matrix, *, empty: float) -> Matrix:
    """Divide, capped to [0, RATIO_CAP]; where nothing is owed (denominator <= 0) return `empty`."""
    owed = denominator > 0
    with np.errstate(over="ignore"):  # a tiny bill (1e-300) overflows to inf, which the clip caps
        ratio = np.divide(numerator, denominator, out=np.full_like(numerator, empty), where=owed)
    return np.clip(ratio, 0.0, RATIO_CAP)


def engineer(raw: Matrix) -> Matrix:
    """Build the model matrix from raw contract inputs (rows x 23) without any NaN or infinity."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"expected a matrix of {len(FEATURE_NAMES)} columns, got shape {raw.shape}")
    limit = np.maximum(raw[:, _INDEX["limit_bal"]], 1.0)
    bills = columns(raw, BILLS)
    payments = columns(raw, PAYMENTS)
    status = columns(raw, PAY_STATUS)
    # PAY_AMT k pays the bill of the month before (BILL_AMT k+1).
    paid = payments[:, :5].sum(axis=1)
    owed = np.clip(bills[:, 1:], 0.0, None).sum(axis=1)
    engineered = np.column_stack(
        [
            bills[:, 0] / limit,
            bills.mean(axis=1) / limit,
            safe_ratio(payments[:, 0], bills[:, 1], empty=1.0),
            safe_ratio(paid, owed, empty=1.0),
            status.max(axis=1),
            (status > 0).sum(axis=1).astype(np.float64),
        ]
    )
    return np.hstack([columns(raw, RAW_INPUTS), engineered])
