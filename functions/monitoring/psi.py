"""Population stability: PSI per input and on the score against the reference bins, verdicts, bins that moved.

PSI = sum over bins of (actual - expected) * ln(actual / expected) (Siddiqi 2006, ch. 8; Yurdakul 2018).
Verdicts follow credit-risk practice: below 0.10 stable, 0.10 to 0.25 investigate, 0.25 and above shifted.
"""

from dataclasses import dataclass
from typing import Final

import numpy as np

from functions.scoring.bins import BinCounts
from functions.scoring.manifest_parts import ReferenceBins, ReferenceDistributions
from functions.scoring.reference import FLOOR, Vector, bin_labels, bin_shares

STABLE_BELOW: Final = 0.10
SHIFTED_FROM: Final = 0.25


@dataclass(frozen=True)
class BinShift:
    """One bin of a characteristic analysis: its label, both shares and its PSI contribution."""

    label: str
    expected: float
    actual: float
    contribution: float


@dataclass(frozen=True)
class Drift:
    """The PSI of one input (or the score) against its reference, its verdict and its bins."""

    name: str
    psi: float
    verdict: str
    bins: tuple[BinShift, ...]


def psi(expected: Vector, actual: Vector, *, floor: float = FLOOR) -> float:
    """Return the PSI of two share vectors over the same bins (Siddiqi 2006; Yurdakul 2018); raises ValueError.

    Shares below `floor` are raised to it (an empty bin), so the value is finite; PSI(a, b) = PSI(b, a) >= 0.
    """
    return float(np.sum(_contributions(expected, actual, floor=floor)))


def _contributions(expected: Vector, actual: Vector, *, floor: float) -> Vector:
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    if e.shape != a.shape or e.ndim != 1:
        raise ValueError(f"share vectors must have the same bins, got {e.shape} and {a.shape}")
    parts: Vector = (a - e) * np.log(a / e)
    return parts


def verdict(value: float) -> str:
    """Name a PSI: "stable" below 0.10, "investigate" below 0.25, else "shifted"."""
    if value < STABLE_BELOW:
        return "stable"
    return "investigate" if value < SHIFTED_FROM else "shifted"


def drift_of(values: Vector, reference: ReferenceBins, *, floor: float = FLOOR) -> Drift:
    """Compare one column of current values with its reference: PSI, verdict and per-bin shift."""
    return drift_of_shares(bin_shares(values, reference), reference, floor=floor)


def drift_of_shares(actual: Vector, reference: ReferenceBins, *, floor: float = FLOOR) -> Drift:
    """Compare current shares per reference bin (e.g. counted from stored bin indexes) with the reference."""
    expected = np.asarray(reference.shares, dtype=np.float64)
    parts = _contributions(expected, actual, floor=floor)
    value = float(parts.sum())
    bins = tuple(
        BinShift(label=label, expected=float(e), actual=float(a), contribution=float(c))
        for label, e, a, c in zip(bin_labels(reference), expected, actual, parts, strict=True)
    )
    return Drift(name=reference.name, psi=value, verdict=verdict(value), bins=bins)


def drifts_of_counts(counted: BinCounts, reference: ReferenceDistributions) -> tuple[Drift, ...]:
    """Turn rows counted per reference bin into one drift per input, then the score; raises ValueError with no rows."""
    return tuple(
        drift_of_shares(counted.shares(bins.name), bins, floor=reference.floor)
        for bins in (*reference.inputs, reference.score)
    )


def population_drift(
    raw_inputs: Vector, points: Vector, reference: ReferenceDistributions
) -> tuple[Drift, ...]:
    """Compute the drift of rows x 23 raw inputs and their score points: one per input, then the score.

    Raises ValueError on a wrong shape, no rows, or a missing or infinite value.
    """
    raw_inputs = np.asarray(raw_inputs, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    if raw_inputs.ndim != 2 or raw_inputs.shape[1] != len(reference.inputs):
        raise ValueError(f"expected rows x {len(reference.inputs)} inputs")
    if len(points) != raw_inputs.shape[0]:
        raise ValueError(f"expected one score per row, got {len(points)} for {raw_inputs.shape[0]} rows")
    for bins, column in zip((*reference.inputs, reference.score), (*raw_inputs.T, points), strict=True):
        if not np.all(np.isfinite(column)):
            raise ValueError(f"`{bins.name}`: missing or infinite values cannot be binned")
    return drifts_of_counts(BinCounts.of_rows(raw_inputs, points, reference), reference)


def moved_bins(drift: Drift, *, top: int = 3) -> tuple[BinShift, ...]:
    """Return the bins that contribute most to a PSI, largest first (characteristic analysis)."""
    return tuple(sorted(drift.bins, key=lambda b: -b.contribution)[:top])
