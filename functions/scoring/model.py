"""Load the verified serving model once; assess -> grade -> decide -> explain (pure after load)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.manifest import Manifest, ModelUnavailable, ScoreScaling, read_manifest
from functions.scoring.reasons import MIN_IMPACT, Reason, group_tags, measure, top_reasons
from functions.scoring.trees import TreeEnsemble, load_ensemble
from functions.scoring.version import verify_version

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Decision:
    """The model's answer for one client: PD in [0, 1], decision, scorecard points, risk grade, reasons."""

    probability_of_default: float
    predicted_default: bool
    threshold: float
    score: int  # scorecard points
    risk_grade: str
    reasons: tuple[Reason, ...]


def decide(probability_of_default: float, *, threshold: float) -> bool:
    """Predict a default when the PD (in [0, 1]) reaches the threshold."""
    return probability_of_default >= threshold


def to_matrix(records: Sequence[Mapping[str, Any]]) -> Matrix:
    """Stack records with the contract's field names into raw inputs (rows x 23); omitted codes become 0."""
    return np.array(
        [[float(record.get(name) or 0.0) for name in FEATURE_NAMES] for record in records], dtype=np.float64
    ).reshape(len(records), len(FEATURE_NAMES))


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
        """Return the PD in [0, 1] of each row of raw inputs (rows x 23)."""
        return self.ensemble.predict_proba(engineer(raw))

    @cached_property
    def node_tags(self) -> npt.NDArray[np.uint8]:
        """Return, per node, the bits of the reason groups its split reads (see `reasons.group_tags`)."""
        return group_tags(self.ensemble)

    def assess(self, raw: Matrix, *, explain: bool = True) -> list[Decision]:
        """Assess each row of raw inputs (rows x 23): PD, decision, points, grade and, with `explain`, reasons."""
        rows = raw.shape[0]
        impact_rows: list[list[float]] = [[] for _ in range(rows)]
        if explain:
            reference = self.manifest.reference_profile
            probabilities, impacts = measure(self.ensemble, raw, reference=reference, tags=self.node_tags)
            impact_rows, features, inputs = impacts.T.tolist(), engineer(raw).tolist(), raw.tolist()
        else:
            probabilities = self.probabilities(raw)
        scaling, threshold = self.manifest.score_scaling, self.threshold
        decisions = []
        for i, probability in enumerate(probabilities.tolist()):
            reasons = _reasons(inputs[i], features[i], impact_rows[i]) if explain else ()
            decisions.append(
                Decision(
                    probability_of_default=probability,
                    predicted_default=decide(probability, threshold=threshold),
                    threshold=threshold,
                    score=scaling.points(probability),
                    risk_grade=self.manifest.grade(probability).grade,
                    reasons=reasons,
                )
            )
        return decisions


def _reasons(inputs: list[float], features: list[float], impacts: list[float]) -> tuple[Reason, ...]:
    """Word one client's reasons from its 23 raw inputs, its model features and each group's impact."""
    if max(impacts, default=0.0) < MIN_IMPACT:
        return ()
    return top_reasons(
        impacts,
        dict(zip(FEATURE_NAMES, inputs, strict=True)),
        dict(zip(MODEL_FEATURES, features, strict=True)),
    )


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
    verify_version(manifest, ensemble)
    return ScoringModel(ensemble=ensemble, manifest=manifest)
