"""Drift verdicts that know their sample size: critical PSI values per sample size, Bonferroni over the family.

Under no drift, the PSI of n decisions on B bins against the reference is about chi-square(B-1)/n (so about
0.09 for deciles at n = 100, and the fixed 0.10 "investigate" line is crossed by noise alone). The exact null
distribution is that of two multinomial samples of one population (n decisions, and the reference's rows),
which is what this module draws: for each
input and the score, the (1 - 0.05/m) quantile of PSI over DRAWS simulated no-drift samples of size n, with the
same floor as `functions.monitoring.psi`, where m is the number of tests (23 inputs + the score = 24). A PSI is
then "investigate" or "shifted" only if it reaches its critical value as well as the fixed line, so under no
drift the chance that the score, or any input, reads other than "stable" is at most the family level (4 %,
Bonferroni's inequality; Dunn 1961), within the 5 % the monitoring promises. Rare categories (a repayment code held by 0.1 % of clients) make chi-square a poor
approximation at small n, which is why the quantiles are simulated from the reference shares themselves.
"""

import dataclasses
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

import numpy as np

from functions.monitoring.psi import Drift, verdict
from functions.scoring.manifest_parts import ReferenceDistributions

# The promise is at most 5 % false "investigate" runs under no drift; the quantiles are set for 4 %, leaving a
# margin for what the simulation does not see (inputs nearly independent, so Bonferroni is almost exact, and
# the current decisions come from a finite book): measured 5.2 % on generated rows when set for 5 %.
FAMILY_LEVEL: Final = 0.04
DRAWS: Final = 20_000  # simulated no-drift samples per input; ~40 lie beyond the 99.8 % quantile
RULE: Final = (
    "critical values per sample size: a PSI reads investigate or shifted only when it also exceeds the "
    "{quantile:.2%} quantile of its no-drift distribution at n = {n:,} (simulated from the reference shares; "
    "Bonferroni over {tests} tests, family level {family:.0%})"
)


@lru_cache(maxsize=256)
def critical_psi(
    shares: tuple[float, ...], n: int, *, level: float, floor: float, reference_rows: int = 0, seed: int = 0
) -> float:
    """Return the (1 - level) quantile of PSI for n rows drawn from `shares` itself (no drift); raises ValueError.

    Monte Carlo over DRAWS multinomial samples of n rows, each compared as `psi.psi` does (both shares raised
    to `floor`) with a reference of `reference_rows` rows drawn from the same shares (0: the shares exactly),
    since the frozen reference is itself a sample; fixed `seed`, so the same inputs give the same value.
    """
    if n < 1 or not 0 < level < 1:
        raise ValueError(f"need n >= 1 and a level in (0, 1), got n={n}, level={level}")
    expected = np.asarray(shares, dtype=np.float64)
    total = expected.sum()
    if expected.ndim != 1 or total <= 0 or np.any(expected < 0):
        raise ValueError("reference shares must be a non-negative vector with a positive sum")
    rng = np.random.default_rng(seed)
    population = expected / total
    actual = rng.multinomial(n, population, size=DRAWS) / n
    if reference_rows > 0:
        expected = rng.multinomial(reference_rows, population, size=DRAWS) / reference_rows
    e = np.maximum(expected, floor)
    a = np.maximum(actual, floor)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    return float(np.quantile(values, 1 - level, method="higher"))


def per_test_level(reference: ReferenceDistributions, *, family: float = FAMILY_LEVEL) -> float:
    """Return the Bonferroni level of one test: the family level over the inputs and the score (24 tests)."""
    return family / (len(reference.inputs) + 1)


def critical_values(
    reference: ReferenceDistributions, n: int, *, family: float = FAMILY_LEVEL
) -> dict[str, float]:
    """Return each input's and the score's critical PSI for n decisions (name -> PSI); raises ValueError."""
    level = per_test_level(reference, family=family)
    return {
        bins.name: critical_psi(
            tuple(bins.shares),
            n,
            level=level,
            floor=reference.floor,
            reference_rows=reference.rows,
            seed=zlib.crc32(bins.name.encode()),
        )
        for bins in (*reference.inputs, reference.score)
    }


def sized_verdict(value: float, critical: float) -> str:
    """Name a PSI given its critical value: "stable" below it, else the fixed verdict (0.10 and 0.25 lines)."""
    return "stable" if value < critical else verdict(value)


def with_critical_values(drifts: Sequence[Drift], critical: dict[str, float]) -> tuple[Drift, ...]:
    """Return the drifts with verdicts that know the sample size (`critical` from `critical_values`)."""
    return tuple(dataclasses.replace(d, verdict=sized_verdict(d.psi, critical[d.name])) for d in drifts)


def sized_drifts(drifts: Sequence[Drift], reference: ReferenceDistributions, n: int) -> tuple[Drift, ...]:
    """Return the drifts of n decisions with their verdicts judged against the critical values at n."""
    return with_critical_values(drifts, critical_values(reference, n))


def rule_text(reference: ReferenceDistributions, n: int, *, family: float = FAMILY_LEVEL) -> str:
    """Say in one sentence how the verdicts at n decisions were reached (for the job's log and the reports)."""
    tests = len(reference.inputs) + 1
    quantile = 1 - per_test_level(reference, family=family)
    return RULE.format(quantile=quantile, n=n, tests=tests, family=family)
