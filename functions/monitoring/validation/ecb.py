"""The ECB's validation tests for PD models, in numpy and the standard library (ECB, "Instructions for reporting
the validation results of internal models: IRB Pillar I models for credit risk", 2019).

- Predictive ability per grade and for the portfolio: the one-sided Jeffreys test (section 2.5.3.1). Under H0
  the PD is not below the true default rate; the p-value is the Beta(D + 1/2, N - D + 1/2) CDF at the PD.
  A small p-value (below 5 %) says the PD understates the observed defaults.
- Discriminatory power: the current-versus-initial AUC test (section 2.5.4.1): S = (AUC_initial -
  AUC_current) / s, s the standard error of the current AUC (the Mann-Whitney U-statistic variance of
  DeLong, DeLong & Clarke-Pearson 1988), p-value 1 - Phi(S): a small p-value says discrimination fell.
- Concentration of grades: the Herfindahl index (section 2.6.1) in the ECB's form HI = 1 + ln((CV^2 + 1)/K)
  / ln K, CV = sqrt(K * sum (R_i - 1/K)^2) over the K grades' shares R_i (0: even, 1: all in one grade), and the
  plain sum of squared shares.
- Stability of ratings: the migration matrix between two ratings of the same accounts (section 2.6.2).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.monitoring.stats import auc, beta_cdf

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class JeffreysTest:
    """One grade's (or the portfolio's) one-sided Jeffreys test: N, D, PD, observed rate, p-value."""

    name: str
    clients: int
    defaults: int
    pd: float  # the mean PD applied
    observed: float
    p_value: float


@dataclass(frozen=True)
class AucTest:
    """The current-versus-initial AUC test: both AUCs, the current AUC's standard error, S and the p-value."""

    initial: float
    current: float
    standard_error: float
    statistic: float
    p_value: float


def jeffreys_one_sided(name: str, defaults: int, clients: int, pd: float) -> JeffreysTest:
    """Test PD in [0, 1] against D defaults of N clients (ECB 2019, 2.5.3.1); raises ValueError for N < 1."""
    if clients < 1 or not 0 <= defaults <= clients:
        raise ValueError(f"need 0 <= defaults <= clients and clients >= 1, got {defaults} of {clients}")
    p_value = beta_cdf(pd, defaults + 0.5, clients - defaults + 0.5)
    return JeffreysTest(name, clients, defaults, pd, defaults / clients, p_value)


def auc_standard_error(y: npt.NDArray[Any], scores: Vector) -> float:
    """Return the standard error of the AUC of 0/1 labels against scores (DeLong et al. 1988), in O(n log n)."""
    y = np.asarray(y)
    s = np.asarray(scores, dtype=np.float64)
    bad, good = np.sort(s[y == 1]), np.sort(s[y == 0])
    if bad.size < 2 or good.size < 2:
        raise ValueError("the AUC's standard error needs at least two defaults and two non-defaults")
    # placement of each default among non-defaults (ties one half), and of each non-default among defaults
    v10 = (np.searchsorted(good, bad, side="left") + np.searchsorted(good, bad, side="right")) / (
        2 * good.size
    )
    v01 = 1 - (np.searchsorted(bad, good, side="left") + np.searchsorted(bad, good, side="right")) / (
        2 * bad.size
    )
    return math.sqrt(float(np.var(v10, ddof=1)) / bad.size + float(np.var(v01, ddof=1)) / good.size)


def current_versus_initial_auc(initial: float, y: npt.NDArray[Any], scores: Vector) -> AucTest:
    """Test the current AUC of labels y and scores against the initial AUC (ECB 2019, 2.5.4.1)."""
    current = auc(y, scores)
    error = auc_standard_error(y, scores)
    statistic = (initial - current) / error
    return AucTest(initial, current, error, statistic, 0.5 * math.erfc(statistic / math.sqrt(2)))


def herfindahl(counts: Sequence[int]) -> tuple[float, float]:
    """Return the ECB's Herfindahl index HI (0 even .. 1 one grade) and the sum of squared shares of K counts."""
    shares = np.asarray(counts, dtype=np.float64)
    k = shares.size
    if k < 2 or shares.sum() <= 0:
        raise ValueError("the Herfindahl index needs at least two grades and one client")
    shares = shares / shares.sum()
    cv = math.sqrt(k * float(np.sum((shares - 1 / k) ** 2)))
    return 1 + math.log((cv**2 + 1) / k) / math.log(k), float(np.sum(shares**2))


def migration_matrix(
    before: Sequence[str], after: Sequence[str], grades: Sequence[str]
) -> npt.NDArray[np.int64]:
    """Count accounts by grade before (rows) and after (columns), in `grades` order; raises ValueError."""
    if len(before) != len(after):
        raise ValueError(f"the two ratings must cover the same accounts: {len(before)} and {len(after)} rows")
    position = {grade: i for i, grade in enumerate(grades)}
    unknown = {g for g in (*before, *after) if g not in position}
    if unknown:
        raise ValueError(f"grades not in the scale: {sorted(unknown)}")
    matrix = np.zeros((len(grades), len(grades)), dtype=np.int64)
    np.add.at(matrix, ([position[g] for g in before], [position[g] for g in after]), 1)
    return matrix


def migration_shares(matrix: npt.NDArray[np.int64]) -> tuple[float, float, float]:
    """Return the shares of accounts that kept their grade, moved to a riskier one, and to a safer one."""
    total = max(int(matrix.sum()), 1)
    stayed = int(np.trace(matrix))
    riskier = int(np.triu(matrix, 1).sum())  # grades are ordered safest first: above the diagonal is riskier
    return stayed / total, riskier / total, (total - stayed - riskier) / total
