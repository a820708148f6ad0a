"""The validation pack: the ECB's validation tests (`functions.monitoring.validation.ecb`) over the decision log.

Over one model's decisions in the log and the outcomes joined to them: the one-sided Jeffreys test per grade
and for the portfolio (ECB 2019, 2.5.3.1; each grade's PD is the mean PD of its decisions with an outcome),
the current-versus-initial AUC test (2.5.4.1; the initial AUC is the test split's, `metrics.test.roc_auc` in
model.json), grade concentration (Herfindahl, 2.6.1) of the log's decisions and of each scored book, the
migration matrix between two scored books of the same accounts (2.6.2), and the score's PSI per decision month
against the manifest's reference, judged with the daily job's critical values at each month's size.
"""

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.audit.outcomes import JoinedLog
from functions.monitoring.loop.expected import grade_index
from functions.monitoring.noise import critical_psi, per_test_level, sized_verdict
from functions.monitoring.psi import drift_of
from functions.monitoring.tables import MIN_DRIFT_ROWS, shown_verdict
from functions.monitoring.validation.ecb import (
    AucTest,
    JeffreysTest,
    current_versus_initial_auc,
    herfindahl,
    jeffreys_one_sided,
    migration_matrix,
    migration_shares,
)
from functions.scoring.manifest import GradeBand, Manifest
from functions.scoring.model import points_of

PORTFOLIO: Final = "portfolio"
LEVEL: Final = 0.05  # a p-value below it rejects H0 (ECB 2019 reports the p-value; 5 % is the usual reading)


@dataclass(frozen=True)
class Concentration:
    """Clients per grade (in the scale's order) of one source, its Herfindahl index and sum of squared shares."""

    source: str
    counts: tuple[int, ...]
    index: float
    squares: float


@dataclass(frozen=True)
class Migration:
    """Accounts by grade in the first book (rows) and the second (columns), and the shares that stayed or moved."""

    accounts: int
    unscored: int  # accounts left out: unscored (an error row) in either book
    matrix: tuple[tuple[int, ...], ...]
    stayed: float
    riskier: float
    safer: float


@dataclass(frozen=True)
class PeriodDrift:
    """The score's PSI over one decision month against the training reference, and its verdict."""

    period: str
    rows: int
    psi: float
    critical: float  # the no-drift critical PSI at this size (the daily job's rule)
    verdict: str


@dataclass(frozen=True)
class ValidationPack:
    """Every figure of the validation report, for one model over one span of the decision log."""

    model_version: str
    since_day: str
    until_day: str
    decisions: int  # this model's decisions in the span
    other_versions: int  # decisions of other model versions in the span, left out
    joined: int  # of `decisions`, those with an outcome
    grades: tuple[str, ...]
    jeffreys: tuple[JeffreysTest, ...]  # the grades with an outcome, then the portfolio
    auc: AucTest | None
    auc_note: str  # why there is no AUC test, or ""
    concentration: tuple[Concentration, ...]
    migration: Migration | None
    drift: tuple[PeriodDrift, ...]


def jeffreys_tests(
    probabilities: npt.NDArray[np.float64], outcomes: npt.NDArray[np.int8], bands: Sequence[GradeBand]
) -> tuple[JeffreysTest, ...]:
    """Test each grade holding joined rows, then the portfolio: n PDs and n outcomes (1 or 0) (ECB 2.5.3.1)."""
    index = grade_index(probabilities, bands)
    tests = [
        jeffreys_one_sided(
            band.grade,
            int(outcomes[index == i].sum()),
            int((index == i).sum()),
            float(probabilities[index == i].mean()),
        )
        for i, band in enumerate(bands)
        if (index == i).any()
    ]
    portfolio = jeffreys_one_sided(
        PORTFOLIO, int(outcomes.sum()), int(outcomes.size), float(probabilities.mean())
    )
    return (*tests, portfolio)


def auc_test(
    initial: float, outcomes: npt.NDArray[np.int8], probabilities: npt.NDArray[np.float64]
) -> tuple[AucTest | None, str]:
    """Test the current AUC of joined rows against the initial one (ECB 2.5.4.1), or say why it cannot be run."""
    defaults = int(outcomes.sum())
    if defaults < 2 or outcomes.size - defaults < 2:
        return None, (
            f"the AUC test needs at least two defaults and two non-defaults among the joined decisions "
            f"(here {defaults:,} and {outcomes.size - defaults:,})"
        )
    return current_versus_initial_auc(initial, outcomes, probabilities), ""


def concentration(source: str, grades: Sequence[str], scale: Sequence[str]) -> Concentration:
    """Count n grade names over the scale and measure their concentration (ECB 2.6.1); raises ValueError."""
    position = {grade: i for i, grade in enumerate(scale)}
    counts = np.zeros(len(scale), dtype=np.int64)
    np.add.at(counts, [position[g] for g in grades], 1)
    try:
        index, squares = herfindahl(counts.tolist())
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from err
    return Concentration(source, tuple(int(c) for c in counts), index, squares)


def migration(
    before: Sequence[str], after: Sequence[str], scale: Sequence[str], *, unscored: int
) -> Migration:
    """Tabulate the grades of the same accounts in two books (ECB 2.6.2); raises ValueError."""
    matrix = migration_matrix(before, after, scale)
    stayed, riskier, safer = migration_shares(matrix)
    rows = tuple(tuple(int(c) for c in row) for row in matrix.tolist())
    return Migration(int(matrix.sum()), unscored, rows, stayed, riskier, safer)


def drift_by_period(
    months: npt.NDArray[np.str_], probabilities: npt.NDArray[np.float64], manifest: Manifest
) -> tuple[PeriodDrift, ...]:
    """Compute the score's PSI per decision month against the reference (none without one), oldest first."""
    reference = manifest.reference
    if reference is None:
        return ()
    points = points_of(probabilities, manifest.score_scaling)
    level = per_test_level(reference)
    periods = []
    for month in np.unique(months):
        rows = int((months == month).sum())
        drift = drift_of(points[months == month], reference.score, floor=reference.floor)
        critical = critical_psi(
            tuple(reference.score.shares),
            rows,
            level=level,
            floor=reference.floor,
            reference_rows=reference.rows,
            seed=zlib.crc32(reference.score.name.encode()),
        )
        shown = (
            shown_verdict(drift, rows=rows) if rows < MIN_DRIFT_ROWS else sized_verdict(drift.psi, critical)
        )
        periods.append(PeriodDrift(str(month), rows, drift.psi, critical, shown))
    return tuple(periods)


def validation_pack(
    joined: JoinedLog,
    manifest: Manifest,
    *,
    since_day: str,
    until_day: str,
    books: tuple[Sequence[str], Sequence[str], int] | None = None,
) -> ValidationPack:
    """Run every test over the manifest's model's decisions in `joined`; books are (first, second, unscored)
    grades of the same accounts. Raises ValueError when the log holds no decision or no outcome of the model."""
    mine = joined.model_version == manifest.version
    p, o = joined.probability_of_default[mine], joined.outcome[mine]
    if p.size == 0:
        raise ValueError(
            f"the log holds no decision of model {manifest.version} from {since_day} to {until_day}"
            + (
                f" (versions there: {', '.join(sorted(set(joined.model_version.tolist())))})"
                if joined.model_version.size
                else ""
            )
        )
    known = o >= 0
    if not known.any():
        raise ValueError(
            f"none of the {p.size:,} decisions of model {manifest.version} from {since_day} to {until_day} has an "
            "outcome yet; record outcomes with `make outcomes FILE=outcomes.csv`"
        )
    scale = tuple(band.grade for band in manifest.grade_bands)
    pd_known, o_known = p[known], o[known].astype(np.int8)
    auc, note = auc_test(manifest.metrics.test.roc_auc, o_known, pd_known)
    logged = [scale[i] for i in grade_index(p, manifest.grade_bands)]
    sources = [concentration("decision log", logged, scale)]
    moved = None
    if books is not None:
        first, second, unscored = books
        sources += [concentration("first book", first, scale), concentration("second book", second, scale)]
        moved = migration(first, second, scale, unscored=unscored)
    return ValidationPack(
        model_version=manifest.version,
        since_day=since_day,
        until_day=until_day,
        decisions=int(p.size),
        other_versions=int((~mine).sum()),
        joined=int(known.sum()),
        grades=scale,
        jeffreys=jeffreys_tests(pd_known, o_known, manifest.grade_bands),
        auc=auc,
        auc_note=note,
        concentration=tuple(sources),
        migration=moved,
        drift=drift_by_period(joined.month[mine], p, manifest),
    )
