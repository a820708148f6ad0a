"""Load the verified serving model once; assess -> grade -> decide -> explain (pure after load)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES, ReasonCode, raw_values
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.manifest import Manifest, ModelUnavailable, ScoreScaling, read_manifest
from functions.scoring.reasons import explain_rows, group_tags
from functions.scoring.trees import TreeEnsemble, load_ensemble

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
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
        """Return the model version (12 hex digits of the serving arrays' and threshold's sha256)."""
        return self.manifest.version

    @property
    def threshold(self) -> float:
        """Return the PD threshold at which a default is predicted."""
        return self.manifest.threshold

    def probabilities(self, raw: Matrix) -> Matrix:
        """Return the PD in [0, 1] of each row of raw inputs (rows x 23)."""
        return self.ensemble.predict_proba(engineer(raw))

    @cached_property
    def node_tags(self) -> npt.NDArray[np.uint8]:
        """Return, per node, the bits of the reason groups its split reads (see `reasons.group_tags`)."""
        return group_tags(self.ensemble)

    def assess(self, raw: Matrix, *, explain: bool = True) -> list[Decision]:
        """Assess each row of raw inputs (rows x 23): PD, decision, points, grade and, with `explain`, reasons.

        The model features are engineered once; the reasons are measured and worded in the same pass.
        """
        features = engineer(raw)
        reasons: list[tuple[ReasonCode, ...]]
        if explain:
            reference = self.manifest.reference_profile
            probabilities, reasons = explain_rows(
                self.ensemble, raw, features, reference=reference, tags=self.node_tags
            )
        else:
            probabilities, reasons = self.ensemble.predict_proba(features), [()] * raw.shape[0]
        scaling, threshold, grade = self.manifest.score_scaling, self.threshold, self.manifest.grade
        return [
            Decision(
                probability_of_default=probability,
                predicted_default=decide(probability, threshold=threshold),
                threshold=threshold,
                score=scaling.points(probability),
                risk_grade=grade(probability).grade,
                reasons=row_reasons,
            )
            for probability, row_reasons in zip(probabilities.tolist(), reasons, strict=True)
        ]


def points_of(probabilities: Matrix, scaling: ScoreScaling) -> Matrix:
    """Return the scorecard points of each PD in [0, 1] under the manifest's scaling (integers as floats)."""
    return np.asarray(
        [scaling.points(p) for p in np.asarray(probabilities, dtype=np.float64).tolist()], dtype=np.float64
    )


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
    return ScoringModel(ensemble=ensemble, manifest=manifest)
