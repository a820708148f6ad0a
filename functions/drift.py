"""Population stability: reference bins frozen at training, PSI per input and on the score, bins that moved.

PSI = sum over bins of (actual - expected) * ln(actual / expected) (Siddiqi 2006, ch. 8; Yurdakul 2018).
Verdicts follow credit-risk practice: below 0.10 stable, 0.10 to 0.25 investigate, 0.25 and above shifted.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.contract import FEATURE_BY_NAME, FEATURE_NAMES
from functions.records import ReferenceBins, ReferenceDistributions

Vector = npt.NDArray[np.float64]

SCORE: Final = "score"  # the name of the scorecard points in PSI results, beside the contract's input names
DECILES: Final = 10
# An empty bin would make ln(actual / expected) infinite; its share is raised to this floor before PSI
# (a bin's contribution is then bounded, e.g. 0.1 vs 0.0001 adds 0.69). Shares are not renormalised.
FLOOR: Final = 1e-4
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


def decile_edges(values: Vector, *, bins: int = DECILES) -> tuple[float, ...]:
    """Return the deduplicated interior quantile cut points of a 1-D sample (ties merge bins); raises ValueError."""
    finite = np.asarray(values, dtype=np.float64)
    if finite.size == 0 or not np.all(np.isfinite(finite)):
        raise ValueError("decile edges need at least one value, all finite")
    cuts = np.quantile(finite, np.arange(1, bins) / bins, method="inverted_cdf")
    edges = np.unique(cuts)
    return tuple(float(e) for e in edges if e < finite.max())  # a cut at the maximum leaves an empty top bin


def bin_index(values: Vector, reference: ReferenceBins) -> npt.NDArray[np.intp]:
    """Return each value's bin (0 .. bins-1) under a reference; coded values not in its categories go last."""
    values = np.asarray(values, dtype=np.float64)
    if reference.kind == "continuous":
        return np.searchsorted(np.asarray(reference.edges, dtype=np.float64), values, side="left")
    categories = np.asarray(reference.categories, dtype=np.float64)
    match = values[:, None] == categories[None, :]
    return np.where(match.any(axis=1), match.argmax(axis=1), len(categories)).astype(np.intp)


def bin_shares(values: Vector, reference: ReferenceBins) -> Vector:
    """Return the share of the values in each reference bin (sums to 1); raises ValueError if empty or not finite."""
    if len(values) == 0:
        raise ValueError(f"`{reference.name}`: no rows to bin")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"`{reference.name}`: missing or infinite values cannot be binned")
    counts = np.bincount(bin_index(values, reference), minlength=len(reference.shares))
    shares: Vector = counts / counts.sum()
    return shares


def reference_bins(name: str, values: Vector, *, categories: Sequence[int] | None = None) -> ReferenceBins:
    """Freeze one column's bins: categories when given (coded inputs), else deciles; raises ValueError."""
    if categories is not None:
        draft = ReferenceBins(
            name=name,
            kind="categorical",
            categories=tuple(categories),
            shares=(1.0,) + (0.0,) * len(categories),
        )
    else:
        edges = decile_edges(values)
        draft = ReferenceBins(name=name, kind="continuous", edges=edges, shares=(1.0,) + (0.0,) * len(edges))
    shares = tuple(float(s) for s in bin_shares(values, draft))
    return draft.model_copy(update={"shares": shares})


def build_reference(raw_inputs: Vector, points: Vector) -> ReferenceDistributions:
    """Freeze the training reference: rows x 23 raw inputs (contract order) and rows of score points.

    Coded inputs (repayment status, education, sex, marriage) get one bin per contract code; amounts, age
    and the score get deciles. Raises ValueError on a wrong shape or no rows.
    """
    raw_inputs = np.asarray(raw_inputs, dtype=np.float64)
    if (
        raw_inputs.ndim != 2
        or raw_inputs.shape[1] != len(FEATURE_NAMES)
        or len(points) != raw_inputs.shape[0]
    ):
        raise ValueError(f"expected rows x {len(FEATURE_NAMES)} inputs and one score per row")
    inputs = tuple(
        reference_bins(name, raw_inputs[:, i], categories=_codes(name))
        for i, name in enumerate(FEATURE_NAMES)
    )
    score = reference_bins(SCORE, np.asarray(points, dtype=np.float64))
    return ReferenceDistributions(rows=raw_inputs.shape[0], floor=FLOOR, inputs=inputs, score=score)


def _codes(name: str) -> tuple[int, ...] | None:
    codes = FEATURE_BY_NAME[name].codes
    return tuple(sorted(codes)) if codes else None


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


def bin_labels(reference: ReferenceBins) -> tuple[str, ...]:
    """Return a readable label per bin: `<= e1`, `(e1, e2]`, `> ek`, or the code and `other`."""
    if reference.kind == "categorical":
        return (*(str(c) for c in reference.categories), "other")
    edges = [f"{e:g}" for e in reference.edges]
    if not edges:
        return ("all",)
    middle = [f"({lo}, {hi}]" for lo, hi in itertools.pairwise(edges)]
    return (f"<= {edges[0]}", *middle, f"> {edges[-1]}")


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


def population_drift(
    raw_inputs: Vector, points: Vector, reference: ReferenceDistributions
) -> tuple[Drift, ...]:
    """Compute the drift of rows x 23 raw inputs and their score points: one per input, then the score."""
    raw_inputs = np.asarray(raw_inputs, dtype=np.float64)
    if raw_inputs.ndim != 2 or raw_inputs.shape[1] != len(reference.inputs):
        raise ValueError(f"expected rows x {len(reference.inputs)} inputs")
    per_input = tuple(
        drift_of(raw_inputs[:, i], bins, floor=reference.floor) for i, bins in enumerate(reference.inputs)
    )
    return (
        *per_input,
        drift_of(np.asarray(points, dtype=np.float64), reference.score, floor=reference.floor),
    )


def moved_bins(drift: Drift, *, top: int = 3) -> tuple[BinShift, ...]:
    """Return the bins that contribute most to a PSI, largest first (characteristic analysis)."""
    return tuple(sorted(drift.bins, key=lambda b: -b.contribution)[:top])
