"""Expected, then realised: what calibrated PDs promise before any outcome, and what the joined outcomes show.

Before outcomes arrive, a window's expected default rate is its mean PD, and its expected AUC and KS follow
from treating each PD as the chance of its own default: the expected AUC is the Mann-Whitney pair count
(Hanley & McNeil 1982) with each ordered pair (i, j), i != j, weighted by the chance that i defaults and j does
not, sum p_i (1 - p_j) [s_i > s_j] / sum p_i (1 - p_j), ties counted one half (the confidence-based performance
estimation of NannyML's "how it works: performance estimation", applied to AUC and KS). Once outcomes are
joined, the realised default rate, AUC with its bootstrap interval and the Jeffreys lights per grade
(`functions.monitoring.backtest`) are set beside the expectation on the same rows; their gap is the metric.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.monitoring.backtest import grade_tests
from functions.monitoring.stats import auc, bootstrap_interval
from functions.scoring.manifest import GradeBand
from functions.scoring.manifest_parts import GradeLight

Vector = npt.NDArray[np.float64]
Labels = npt.NDArray[Any]
MISSING: Final = -1  # an outcome not (yet) joined, in the int8 outcome vectors this module reads


@dataclass(frozen=True)
class Expected:
    """What n calibrated PDs promise: default rate (mean PD), AUC and KS."""

    rows: int
    default_rate: float
    auc: float | None  # None below two rows, or when every PD is 0 or every PD is 1
    ks: float | None


@dataclass(frozen=True)
class Realised:
    """The joined rows' outcomes beside the expectation on those same rows, and the gaps."""

    rows: int
    defaults: int
    default_rate: float
    auc: float | None  # None unless both classes occur
    auc_interval: tuple[float, float] | None
    expected: Expected  # the same rows' expectation
    rate_gap: float  # realised minus expected default rate (positive: PDs too low)
    auc_gap: float | None  # realised minus expected AUC


@dataclass(frozen=True)
class GradeComparison:
    """One grade: decisions and mean PD over all of them; the joined rows' back-test (None before any)."""

    grade: str
    decisions: int
    expected_rate: float
    joined: GradeLight | None


@dataclass(frozen=True)
class Comparison:
    """Expected over a window's decisions, realised over those with an outcome, per grade."""

    window: str
    expected: Expected
    realised: Realised | None  # None before any outcome is joined
    grades: tuple[GradeComparison, ...]


def expected_auc(probabilities: Vector) -> float | None:
    """Return the expected AUC of n PDs in [0, 1] as their own outcomes' chances, in O(n log n) (see module)."""
    p = np.asarray(probabilities, dtype=np.float64)
    q = 1.0 - p
    denominator = float(p.sum() * q.sum() - np.dot(p, q))
    if p.size < 2 or denominator <= 0:
        return None
    order = np.argsort(p, kind="mergesort")
    ps, qs = p[order], q[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    group_q = np.add.reduceat(qs, starts)  # each run of tied PDs: its total chance of no default
    below = np.r_[0.0, np.cumsum(group_q)[:-1]]  # chance mass of non-defaults strictly below each run
    sizes = np.diff(np.r_[starts, ps.size])
    per_row_below = np.repeat(below, sizes)
    per_row_ties = np.repeat(group_q, sizes) - qs  # the run's other members, counted one half
    numerator = float(np.dot(ps, per_row_below + 0.5 * per_row_ties))
    return numerator / denominator


def expected_ks(probabilities: Vector) -> float | None:
    """Return the KS statistic between the expected PD distributions of defaults and non-defaults (n PDs)."""
    p = np.asarray(probabilities, dtype=np.float64)
    bad, good = float(p.sum()), float((1.0 - p).sum())
    if bad <= 0 or good <= 0:
        return None
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # the CDFs are read at the end of each run of ties
    cdf_bad = np.cumsum(ps)[last] / bad
    cdf_good = np.cumsum(1.0 - ps)[last] / good
    return float(np.max(np.abs(cdf_bad - cdf_good)))


def expect(probabilities: Vector) -> Expected:
    """Return what n PDs in [0, 1] promise; raises ValueError without rows or outside [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("expected figures need at least one PD, each in [0, 1]")
    return Expected(rows=int(p.size), default_rate=float(p.mean()), auc=expected_auc(p), ks=expected_ks(p))


def realise(y: Labels, probabilities: Vector, *, rounds: int = 1000, seed: int = 42) -> Realised:
    """Return the realised figures of n joined 0/1 outcomes beside their n PDs' expectation (bootstrap AUC)."""
    y = np.asarray(y)
    p = np.asarray(probabilities, dtype=np.float64)
    expected = expect(p)
    both = 0 < int(y.sum()) < y.size
    realised_auc = auc(y, p) if both else None
    interval = bootstrap_interval(y, p, metric="auc", rounds=rounds, seed=seed) if both else None
    rate = float(y.mean())
    return Realised(
        rows=int(y.size),
        defaults=int(y.sum()),
        default_rate=rate,
        auc=realised_auc,
        auc_interval=interval,
        expected=expected,
        rate_gap=rate - expected.default_rate,
        auc_gap=None if realised_auc is None or expected.auc is None else realised_auc - expected.auc,
    )


def grade_index(probabilities: Vector, bands: Sequence[GradeBand]) -> npt.NDArray[np.intp]:
    """Return each PD's grade position in `bands` (as `backtest.grade_tests` assigns them)."""
    limits = np.asarray([band.max_pd for band in bands])
    return np.searchsorted(limits, np.asarray(probabilities, dtype=np.float64), side="right")


def compare(
    probabilities: Vector,
    outcomes: Labels,
    *,
    bands: Sequence[GradeBand],
    window: str = "all",
    rounds: int = 1000,
) -> Comparison:
    """Compare n PDs with n outcomes (1, 0, or MISSING = -1 not joined): expected, realised, per grade."""
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes)
    if o.shape != p.shape or not np.isin(o, (0, 1, MISSING)).all():
        raise ValueError("outcomes need one flag per PD: 1 defaulted, 0 did not, -1 not joined")
    joined = o != MISSING
    realised = realise(o[joined], p[joined], rounds=rounds) if joined.any() else None
    tests = {t.grade: t for t in grade_tests(o[joined], p[joined], bands)} if joined.any() else {}
    index = grade_index(p, bands)
    grades = tuple(
        GradeComparison(
            grade=band.grade,
            decisions=int((index == i).sum()),
            expected_rate=float(p[index == i].mean()),
            joined=tests.get(band.grade),
        )
        for i, band in enumerate(bands)
        if (index == i).any()
    )
    return Comparison(window=window, expected=expect(p), realised=realised, grades=grades)


def by_window(
    windows: Sequence[str] | npt.NDArray[Any],
    probabilities: Vector,
    outcomes: Labels,
    *,
    bands: Sequence[GradeBand],
    rounds: int = 1000,
) -> tuple[Comparison, ...]:
    """Compare per window label (e.g. the decision month, `2026-03`), oldest label first; n labels, PDs, flags."""
    labels = np.asarray(windows)
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes)
    return tuple(
        compare(p[labels == label], o[labels == label], bands=bands, window=str(label), rounds=rounds)
        for label in np.unique(labels)
    )
