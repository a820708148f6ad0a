"""The champion-challenger gate on the same held-out rows: figures, tolerances and the verdict (pure).

The command line (`python -m training.compare`) and the held-out rows are in `training.compare`, the report in
`training.gate_report`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from functions.monitoring.psi import drift_of
from functions.monitoring.stats import auc, brier
from functions.scoring.manifest_parts import REFERENCE_RECALL
from functions.scoring.reference import SCORE, reference_bins
from training import report
from training.metrics import expected_calibration_error, precision_at_recall

Vector = NDArray[np.float64]

# Tolerances, challenger against champion on the same rows. A change within them is accepted.
# AUC: 0.005 is below the spread of the shipped model's 5-fold CV AUC (std 0.006), so smaller drops are
# noise; a larger drop refuses only if it is real: the paired bootstrap interval of the difference excludes 0.
AUC_DROP: Final = 0.005
# Brier: 0.002 is about 1.5 % of the shipped test Brier (0.135), the size of a visible calibration shift.
BRIER_RISE: Final = 0.002
# ECE: one percentage point of average miscalibration over PD deciles (the shipped model's ECE is 0.011).
ECE_RISE: Final = 0.01
# Precision at the reference recall (0.68): 0.02 of 0.41 is ~5 % more false alarms for the same defaults caught.
PRECISION_DROP: Final = 0.02
BOOTSTRAP_ROUNDS: Final = 1000
BOOTSTRAP_LEVEL: Final = 0.95
SEED: Final = 42


@dataclass(frozen=True)
class Scored:
    """One model's answers on the held-out rows: version, threshold, PDs in [0, 1] and scorecard points."""

    version: str
    threshold: float
    probabilities: Vector
    points: Vector


@dataclass(frozen=True)
class Figures:
    """One model's figures on the held-out rows."""

    version: str
    threshold: float
    auc: float
    brier: float
    ece: float
    precision_at_recall: float
    selection_rate: float  # share of clients predicted to default at the model's own threshold


@dataclass(frozen=True)
class AucDifference:
    """Challenger AUC minus champion AUC, with its paired percentile bootstrap interval."""

    value: float
    interval: tuple[float, float]


@dataclass(frozen=True)
class Regression:
    """A broken tolerance: the `Figures` field it concerns and a sentence saying by how much."""

    metric: str
    sentence: str


@dataclass(frozen=True)
class GroupRates:
    """One fairness group's rates at each model's threshold, as (champion, challenger) pairs."""

    attribute: str
    group: str
    clients: int
    selection_rate: tuple[float | None, float | None]
    tpr: tuple[float | None, float | None]
    fpr: tuple[float | None, float | None]


@dataclass(frozen=True)
class Comparison:
    """The whole comparison: figures, AUC difference, PSI of scores, fairness, notes and failed tolerances."""

    rows: int
    defaults: int
    split: str
    champion: Figures
    challenger: Figures
    auc_difference: AucDifference
    score_psi: float
    fairness: tuple[GroupRates, ...]
    notes: tuple[str, ...]
    failures: tuple[Regression, ...]

    @property
    def acceptable(self) -> bool:
        """Return whether every tolerance holds."""
        return not self.failures


def paired_auc_difference(
    y: NDArray[Any],
    champion: Vector,
    challenger: Vector,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = BOOTSTRAP_LEVEL,
    seed: int = SEED,
) -> AucDifference:
    """Return challenger AUC - champion AUC and its percentile interval over resamples of the same rows.

    Both models are scored on each resample (paired bootstrap; Efron & Tibshirani 1993, ch. 13), so the
    interval reflects the difference, not each AUC's own spread. Resamples with one class are skipped;
    raises ValueError unless both classes occur in `y`.
    """
    y = np.asarray(y)
    value = auc(y, challenger) - auc(y, champion)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        rows = rng.integers(0, y.size, size=y.size)
        if y[rows].min() == y[rows].max():
            continue
        differences.append(auc(y[rows], challenger[rows]) - auc(y[rows], champion[rows]))
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(differences), [tail, 1 - tail])
    return AucDifference(value, (float(low), float(high)))


def figures_of(y: NDArray[Any], scored: Scored) -> Figures:
    """Return AUC, Brier, ECE, precision at the reference recall and selection rate of one model."""
    probabilities = scored.probabilities
    return Figures(
        version=scored.version,
        threshold=scored.threshold,
        auc=auc(y, probabilities),
        brier=brier(y, probabilities),
        ece=expected_calibration_error(y, probabilities),
        precision_at_recall=precision_at_recall(y, probabilities, recall=REFERENCE_RECALL),
        selection_rate=float(np.mean(probabilities >= scored.threshold)),
    )


def regressions(champion: Figures, challenger: Figures, difference: AucDifference) -> tuple[Regression, ...]:
    """Return one regression per tolerance the challenger breaks (empty when it is acceptable)."""
    found = []
    low, high = difference.interval
    if -difference.value > AUC_DROP and high < 0:
        found.append(
            Regression(
                "auc",
                f"AUC drops by {-difference.value:.4f} (> {AUC_DROP}) and its 95 % paired bootstrap "
                f"interval ({low:+.4f} to {high:+.4f}) excludes 0",
            )
        )
    checks = (
        ("brier", "Brier score rises", challenger.brier - champion.brier, BRIER_RISE),
        ("ece", "ECE rises", challenger.ece - champion.ece, ECE_RISE),
        (
            "precision_at_recall",
            f"precision at recall {REFERENCE_RECALL} drops",
            champion.precision_at_recall - challenger.precision_at_recall,
            PRECISION_DROP,
        ),
    )
    found += [
        Regression(metric, f"{what} by {change:.4f} (> {limit})")
        for metric, what, change, limit in checks
        if change > limit
    ]
    return tuple(found)


def score_psi(champion_points: Vector, challenger_points: Vector) -> float:
    """Return the PSI of the challenger's score points over the champion's score deciles."""
    reference = reference_bins(SCORE, champion_points)
    return drift_of(challenger_points, reference).psi


def fairness_pairs(
    X: Vector, y: NDArray[Any], champion: Scored, challenger: Scored
) -> tuple[GroupRates, ...]:
    """Return selection rate, TPR and FPR by group (sex, marriage, education, age band) for both models."""
    tables = [
        report.fairness_table(report.test_frame(X, y, s.probabilities), threshold=s.threshold)
        for s in (champion, challenger)
    ]
    return tuple(
        GroupRates(
            attribute=a.attribute,
            group=a.group,
            clients=a.n,
            selection_rate=(a.selection_rate, b.selection_rate),
            tpr=(a.tpr, b.tpr),
            fpr=(a.fpr, b.fpr),
        )
        for a, b in zip(*tables, strict=True)
    )


def compare_scores(
    X: Vector, y: NDArray[Any], champion: Scored, challenger: Scored, *, split: str, notes: Sequence[str] = ()
) -> Comparison:
    """Compare two models' answers on the same rows x 23 raw inputs with 0/1 outcomes `y`."""
    first, second = figures_of(y, champion), figures_of(y, challenger)
    difference = paired_auc_difference(y, champion.probabilities, challenger.probabilities)
    return Comparison(
        rows=int(y.size),
        defaults=int(np.sum(y == 1)),
        split=split,
        champion=first,
        challenger=second,
        auc_difference=difference,
        score_psi=score_psi(champion.points, challenger.points),
        fairness=fairness_pairs(X, y, champion, challenger),
        notes=tuple(notes),
        failures=regressions(first, second, difference),
    )
