"""Load the verified serving model once; assess -> grade -> decide -> explain (pure after load)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES, ReasonCode, raw_values
from functions.scoring.elderly import Scores, by_walk, most_favourable_age, non_elderly_ages
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.manifest import Manifest, ModelUnavailable, ScoreScaling, read_manifest
from functions.scoring.reasons import (
    Ranked,
    explain_rows,
    gc_paused,
    group_tags,
    measure_impacts,
    rank_reasons,
)
from functions.scoring.trees import TreeEnsemble, load_ensemble
from functions.scoring.version import verify_version

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Decision:
    """The model's answer for one client: PD in [0, 1], decision, scorecard points, risk grade, reasons."""

    probability_of_default: float
    predicted_default: bool
    threshold: float
    score: int  # scorecard points
    risk_grade: str
    reasons: tuple[ReasonCode, ...]


def decide(probability_of_default: float, *, threshold: float) -> bool:
    """Predict a default when the PD (in [0, 1]) reaches the threshold."""
    return probability_of_default >= threshold


def to_matrix(records: Sequence[Mapping[str, Any]]) -> Matrix:
    """Stack records with the contract's field names into raw inputs (rows x 23); omitted codes become 0."""
    return np.array([raw_values(record) for record in records], dtype=np.float64).reshape(
        len(records), len(FEATURE_NAMES)
    )


@dataclass(frozen=True)
class ScoringModel:
    """A verified serving ensemble with its manifest: threshold, score scaling, grades, reference profile."""

    ensemble: TreeEnsemble
    manifest: Manifest

    @property
    def version(self) -> str:
        """Return the model version (12 hex digits of the sha256 of the serving arrays and decision fields)."""
        return self.manifest.version

    @property
    def threshold(self) -> float:
        """Return the PD threshold at which a default is predicted."""
        return self.manifest.threshold

    def probabilities(self, raw: Matrix) -> Matrix:
        """Return the served PD in [0, 1] of each row of raw inputs (rows x 23), the elderly rule applied."""
        return self.ensemble.predict_proba(engineer(self.served_inputs(raw)))

    @cached_property
    def non_elderly_ages(self) -> Matrix:
        """Return the ages in 18..61 that reach every PD the ensemble gives over 18..61 (see `elderly`)."""
        return non_elderly_ages(self.ensemble)

    def served_inputs(self, raw: Matrix) -> Matrix:
        """Return the raw inputs (rows x 23) the PD and reasons are measured on: an elderly row's age set to the
        most favourable non-elderly age when that lowers its PD (12 CFR 1002.6(b)(2)(ii); `functions.scoring.elderly`).
        """
        return most_favourable_age(raw, self.non_elderly_ages, scores=self.age_scores)

    @cached_property
    def age_scores(self) -> Scores:
        """Return the PD of rows at their own age and at each of some ages, as served (see `elderly.by_walk`)."""
        return by_walk(self.ensemble)

    @cached_property
    def node_tags(self) -> npt.NDArray[np.uint8]:
        """Return, per node, the bits of the reason groups its split reads (see `reasons.group_tags`)."""
        return group_tags(self.ensemble)

    def rank(self, raw: Matrix) -> tuple[Matrix, Ranked]:
        """Return each row's PD (rows) and its reasons as numbers (codes and impacts, no words) of raw inputs.

        The PDs and impacts are `assess`'s, bit for bit: a whole book's columns without building a Decision each.
        """
        raw = self.served_inputs(raw)
        features = engineer(raw)
        reference = self.manifest.reference_profile
        probabilities, impacts = measure_impacts(
            self.ensemble, raw, features, reference=reference, tags=self.node_tags
        )
        return probabilities, rank_reasons(impacts)

    def assess(self, raw: Matrix, *, explain: bool = True) -> list[Decision]:
        """Assess each row of raw inputs (rows x 23): PD, decision, points, grade and, with `explain`, reasons.

        The model features are engineered once; the reasons are measured and worded in the same pass. An elderly
        row is measured at its most favourable non-elderly age when that lowers its PD (`served_inputs`).
        """
        raw = self.served_inputs(raw)
        features = engineer(raw)
        with gc_paused():  # one deferred collection for the reasons and the answers, not one each
            return self._answers(raw, features, explain=explain)

    def _answers(self, raw: Matrix, features: Matrix, *, explain: bool) -> list[Decision]:
        reasons: list[tuple[ReasonCode, ...]]
        if explain:
            reference = self.manifest.reference_profile
            probabilities, reasons = explain_rows(
                self.ensemble, raw, features, reference=reference, tags=self.node_tags
            )
        else:
            probabilities, reasons = self.ensemble.predict_proba(features), [()] * raw.shape[0]
        threshold = self.threshold
        grades = grades_of(probabilities, self.manifest)
        points = points_of(probabilities, self.manifest.score_scaling).astype(np.int64)
        return [
            Decision(
                probability, decide(probability, threshold=threshold), threshold, score, grade, row_reasons
            )
            for probability, score, grade, row_reasons in zip(
                probabilities.tolist(), points.tolist(), grades, reasons, strict=True
            )
        ]


def points_of(probabilities: Matrix, scaling: ScoreScaling) -> Matrix:
    """Return the scorecard points of each PD in [0, 1] under the manifest's scaling (integers as floats); raises
    ValueError for a NaN PD (Siddiqi 2006, ch. 6, as `ScoreScaling.points`).

    Column by column, the arithmetic of `ScoreScaling.points` bit for bit: the log is math.log's (numpy's may
    differ in the last bit, which could move a point at a half), and np.rint rounds halves to even as `round`.
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-9, 1 - 1e-9)
    if np.isnan(p).any():  # `round` refuses NaN row by row; so does the column
        raise ValueError("a PD is NaN: it has no scorecard points")
    odds = (1 - p) / p / scaling.anchor_odds
    logs = np.fromiter(map(math.log, odds.tolist()), dtype=np.float64, count=odds.size).reshape(odds.shape)
    points = scaling.anchor_score + scaling.points_to_double_odds / math.log(2) * logs
    return np.asarray(np.rint(np.clip(points, scaling.min, scaling.max)), dtype=np.float64)


def grades_of(probabilities: Matrix, manifest: Manifest) -> list[str]:
    """Return the risk grade of each PD in [0, 1] (rows), as `Manifest.grade`; raises StopIteration beyond the bands."""
    below = np.asarray(probabilities)[:, None] < np.array([band.max_pd for band in manifest.grade_bands])
    if not below.any(axis=1).all():  # a PD no band holds: raise as row by row does
        manifest.grade(float(probabilities[~below.any(axis=1)][0]))
    names = np.array([band.grade for band in manifest.grade_bands], dtype=object)
    return list(names[np.argmax(below, axis=1)].tolist())  # the first band whose bound is above the PD


def load_model(model_dir: Path) -> ScoringModel:
    """Read and verify the manifest and serving files, then load the ensemble; raises ModelUnavailable."""
    manifest = read_manifest(model_dir)
    try:
        ensemble = load_ensemble(model_dir / "serving.npz")
    except (OSError, ValueError) as err:
        raise ModelUnavailable(f"serving.npz: cannot be loaded ({err})") from err
    if ensemble.n_features != len(MODEL_FEATURES):
        raise ModelUnavailable(
            f"serving.npz: {ensemble.n_features} features, the contract builds {len(MODEL_FEATURES)}"
        )
    verify_version(manifest, ensemble)
    return ScoringModel(ensemble=ensemble, manifest=manifest)
