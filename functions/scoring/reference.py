"""Reference bins frozen at training: decile edges or contract codes per input and on the score, bin indexes.

Serving records each decision's bin indexes against these bins (audit), monitoring turns counts of them into PSI.
"""

import itertools
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_BY_NAME, FEATURE_NAMES
from functions.scoring.manifest_parts import ReferenceBins, ReferenceDistributions

Vector = npt.NDArray[np.float64]

SCORE: Final = "score"  # the name of the scorecard points in PSI results, beside the contract's input names
DECILES: Final = 10
# An empty bin would make ln(actual / expected) infinite; its share is raised to this floor before PSI
# (a bin's contribution is then bounded, e.g. 0.1 vs 0.0001 adds 0.69). Shares are not renormalised.
FLOOR: Final = 1e-4


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


def bin_labels(reference: ReferenceBins) -> tuple[str, ...]:
    """Return a readable label per bin: `<= e1`, `(e1, e2]`, `> ek`, or the code and `other`."""
    if reference.kind == "categorical":
        return (*(str(c) for c in reference.categories), "other")
    edges = [f"{e:g}" for e in reference.edges]
    if not edges:
        return ("all",)
    middle = [f"({lo}, {hi}]" for lo, hi in itertools.pairwise(edges)]
    return (f"<= {edges[0]}", *middle, f"> {edges[-1]}")
