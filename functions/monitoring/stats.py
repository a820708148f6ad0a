"""Validation statistics in numpy and the standard library only (the Lambda image carries no scipy)."""

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Labels = npt.NDArray[Any]  # 0/1 default flags, any numeric dtype

_TINY: Final = 1e-300
_EPS: Final = 1e-15


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Evaluate the continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= d * c
        if abs(d * c - 1.0) < _EPS:
            return result
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def beta_cdf(x: float, a: float, b: float) -> float:
    """Return the regularised incomplete beta I_x(a, b), the Beta(a, b) CDF at x in [0, 1]; raises ValueError.

    Continued fraction with the symmetry I_x(a, b) = 1 - I_(1-x)(b, a); absolute error below 1e-11 for
    shapes up to 10^4 (math.lgamma's rounding dominates for large shapes).
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"Beta parameters must be positive, got a={a}, b={b}")
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):  # the fraction converges fast on this side; use symmetry on the other
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """Return the Beta(a, b) quantile at probability q in [0, 1] by bisection on beta_cdf (to ~1e-15)."""
    if not 0 <= q <= 1:
        raise ValueError(f"probability must be in [0, 1], got {q}")
    if q in (0, 1):
        return float(q)
    low, high = 0.0, 1.0
    for _ in range(200):  # 200 halvings reach double precision; stop once the bracket stops shrinking
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if beta_cdf(middle, a, b) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def jeffreys_interval(defaults: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """Return the equal-tailed Jeffreys interval for a default rate (Brown, Cai & DasGupta 2001).

    The Beta(defaults + 1/2, n - defaults + 1/2) quantiles at (1 - level)/2 and (1 + level)/2, with the
    lower end 0 when defaults = 0 and the upper end 1 when defaults = n. Raises ValueError for n < 1.
    """
    if n < 1 or not 0 <= defaults <= n:
        raise ValueError(f"need 0 <= defaults <= n and n >= 1, got {defaults} of {n}")
    a, b = defaults + 0.5, n - defaults + 0.5
    lower = 0.0 if defaults == 0 else beta_ppf((1 - level) / 2, a, b)
    upper = 1.0 if defaults == n else beta_ppf((1 + level) / 2, a, b)
    return lower, upper


def auc(y: Labels, scores: Vector) -> float:
    """Return the ROC AUC of 0/1 labels against scores (Mann-Whitney, tied scores get average ranks).

    Raises ValueError unless both classes occur.
    """
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(np.sum(y == 1))
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both defaults and non-defaults")
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    average = (starts + ends + 1) / 2.0  # 1-based average rank of each run of ties
    ranks = np.empty(ordered.size)
    ranks[order] = np.repeat(average, ends - starts)
    rank_sum = float(ranks[y == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def gini(y: Labels, scores: Vector) -> float:
    """Return the Gini coefficient (accuracy ratio) 2 * AUC - 1 of 0/1 labels against scores."""
    return 2 * auc(y, scores) - 1


def ks_statistic(y: Labels, scores: Vector) -> float:
    """Return the Kolmogorov-Smirnov statistic: the largest gap between the score CDFs of both classes."""
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    if not (np.any(y == 1) and np.any(y == 0)):
        raise ValueError("KS needs both defaults and non-defaults")
    cuts = np.unique(scores)
    bad = np.searchsorted(np.sort(scores[y == 1]), cuts, side="right") / np.sum(y == 1)
    good = np.searchsorted(np.sort(scores[y == 0]), cuts, side="right") / np.sum(y == 0)
    return float(np.max(np.abs(bad - good)))


def brier(y: Labels, probabilities: Vector) -> float:
    """Return the Brier score: the mean squared gap between PD in [0, 1] and the 0/1 outcome."""
    return float(np.mean((np.asarray(probabilities, dtype=np.float64) - np.asarray(y)) ** 2))


def bootstrap_interval(
    y: Labels, probabilities: Vector, *, metric: str, rounds: int = 1000, level: float = 0.95, seed: int = 42
) -> tuple[float, float]:
    """Return the percentile bootstrap interval of "auc" or "brier" over resampled rows (fixed seed)."""
    functions = {"auc": auc, "brier": brier}
    if metric not in functions:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(functions)}")
    y = np.asarray(y)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        rows = rng.integers(0, y.size, size=y.size)
        if metric == "auc" and y[rows].min() == y[rows].max():
            continue  # a resample with one class has no AUC
        values.append(functions[metric](y[rows], probabilities[rows]))
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(values), [tail, 1 - tail])
    return float(low), float(high)
