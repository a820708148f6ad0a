"""Outcomes analysis (back-testing): discrimination, calibration per grade, and a gains table by score band."""

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.monitoring.stats import auc, bootstrap_interval, brier, gini, jeffreys_interval, ks_statistic
from functions.scoring.manifest import GradeBand, ScoreScaling
from functions.scoring.manifest_parts import BackTest, Direction, GainsBand, GradeLight, Light

Vector = npt.NDArray[np.float64]
Labels = npt.NDArray[Any]  # 0/1 default flags, any numeric dtype

# Traffic light of a grade's mean PD against the Jeffreys interval of its observed default rate (two-sided,
# as validators use it, e.g. the ECB's annual validation reporting): green inside the 95 % interval,
# amber outside it but inside the 99.9 % interval, red outside the 99.9 % interval.
GREEN_LEVEL: Final = 0.95
AMBER_LEVEL: Final = 0.999


def traffic_light(defaults: int, clients: int, predicted: float) -> tuple[Light, Direction]:
    """Colour a grade's mean PD against the Jeffreys intervals of its observed rate; return (light, direction)."""
    low95, high95 = jeffreys_interval(defaults, clients, level=GREEN_LEVEL)
    low999, high999 = jeffreys_interval(defaults, clients, level=AMBER_LEVEL)
    direction: Direction = "under" if predicted < low95 else "over" if predicted > high95 else ""
    if not direction:
        return "green", ""
    return ("amber" if low999 <= predicted <= high999 else "red"), direction


def grade_tests(y: Labels, probabilities: Vector, bands: Sequence[GradeBand]) -> tuple[GradeLight, ...]:
    """Back-test each grade holding clients: n rows of 0/1 outcomes and PD in [0, 1]; empty grades skipped."""
    y = np.asarray(y)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    limits = np.asarray([band.max_pd for band in bands])
    index = np.searchsorted(limits, probabilities, side="right")  # first band with PD < max_pd
    tests = []
    for i, band in enumerate(bands):
        members = index == i
        clients = int(members.sum())
        if clients == 0:
            continue
        defaults = int(y[members].sum())
        predicted = float(probabilities[members].mean())
        light, direction = traffic_light(defaults, clients, predicted)
        tests.append(
            GradeLight(
                grade=band.grade,
                clients=clients,
                defaults=defaults,
                mean_pd=predicted,
                observed_default_rate=defaults / clients,
                interval_95=jeffreys_interval(defaults, clients, level=GREEN_LEVEL),
                interval_999=jeffreys_interval(defaults, clients, level=AMBER_LEVEL),
                light=light,
                direction=direction,
            )
        )
    return tuple(tests)


def score_bands(scaling: ScoreScaling) -> tuple[float, ...]:
    """Return the band edges of the scaling: the anchor score plus whole multiples of points to double the odds."""
    step = scaling.points_to_double_odds
    below = int((scaling.anchor_score - scaling.min) // step)
    above = int((scaling.max - scaling.anchor_score) // step)
    return tuple(float(scaling.anchor_score + k * step) for k in range(-below, above + 1))


def gains_table(y: Labels, points: Vector, edges: Sequence[float]) -> tuple[GainsBand, ...]:
    """Tabulate defaults by score band [edge_i, edge_i+1), riskiest first; bands without clients are skipped."""
    y = np.asarray(y)
    points = np.asarray(points, dtype=np.float64)
    cuts = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(cuts, points, side="right")  # 0: below the first edge
    total = max(int(y.sum()), 1)
    rows, captured = [], 0
    for i in range(len(cuts) + 1):
        members = index == i
        clients = int(members.sum())
        if clients == 0:
            continue
        defaults = int(y[members].sum())
        captured += defaults
        low = f"{cuts[i - 1]:g}" if i > 0 else ""
        high = f"{cuts[i]:g}" if i < len(cuts) else ""
        band = f"< {high}" if not low else f">= {low}" if not high else f"{low}-{high}"
        rows.append(
            GainsBand(
                band=band,
                clients=clients,
                defaults=defaults,
                default_rate=defaults / clients,
                odds=(clients - defaults) / defaults if defaults else None,
                captured=captured / total,
            )
        )
    return tuple(rows)


def back_test(
    y: Labels,
    probabilities: Vector,
    points: Vector,
    *,
    bands: Sequence[GradeBand],
    scaling: ScoreScaling,
    rounds: int = 1000,
    seed: int = 42,
) -> BackTest:
    """Back-test n PDs in [0, 1] (and their points) against n realised 0/1 defaults; raises ValueError.

    AUC and Brier carry percentile bootstrap 95 % intervals (`rounds` resamples, fixed `seed`); Gini is
    2 * AUC - 1; KS is the largest gap between the classes' score distributions.
    """
    y = np.asarray(y)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y.shape != probabilities.shape or y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("outcomes need one 0/1 default flag per PD")
    mean_pd, rate = float(probabilities.mean()), float(y.mean())
    return BackTest(
        rows=int(y.size),
        defaults=int(y.sum()),
        auc=auc(y, probabilities),
        auc_interval=bootstrap_interval(y, probabilities, metric="auc", rounds=rounds, seed=seed),
        gini=gini(y, probabilities),
        ks=ks_statistic(y, probabilities),
        brier=brier(y, probabilities),
        brier_interval=bootstrap_interval(y, probabilities, metric="brier", rounds=rounds, seed=seed),
        mean_pd=mean_pd,
        default_rate=rate,
        bootstrap_rounds=rounds,
        seed=seed,
        level=GREEN_LEVEL,
        gains=gains_table(y, points, score_bands(scaling)),
        grades=grade_tests(y, probabilities, bands),
    )
