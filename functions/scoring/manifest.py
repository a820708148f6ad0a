"""The typed model manifest (`model/model.json`): the only reader and writer of its fields.

Training builds a `Manifest` and writes it with `write_manifest`; serving, the UI, the model card, scripts
and benchmarks read it with `read_manifest` (which also verifies the serving files' sha256). The score
scaling and grade bands live here once, as the policy training writes; everything else reads them back.
"""

import hashlib
import json
import math
from pathlib import Path
from typing import Final

import numpy as np
from pydantic import Field, ValidationError, model_validator

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.features import MODEL_FEATURES
from functions.scoring.manifest_parts import (
    Candidate,
    ElderlyRule,
    FairnessRow,
    GradeOutcome,
    Metrics,
    Probability,
    ReasonMethod,
    Record,
    ReferenceDistributions,
    ValidationEvidence,
)
from functions.scoring.trees import FORMAT

MANIFEST_FILE: Final = "model.json"
SERVING_FILES: Final = ("serving.npz",)


class ModelUnavailable(RuntimeError):
    """The serving artifact is missing, tampered with or incompatible; the message names file and problem."""


class DataSource(Record):
    """The training table: file name, content hash, size and default rate."""

    source: str
    table_sha256: str
    rows: int
    default_rate: Probability
    # Clients whose repayment status is 1 ("one month late") in each repayment column, pay_0 (September 2005)
    # to pay_6 (April): the model card's scope section quotes them. None in manifests written before.
    late_one_month: dict[str, int] | None = None


class ModelSummary(Record):
    """What was fitted: estimator, boosting rounds, calibration, tree count, node count, maximum depth."""

    estimator: str
    rounds: int
    calibration: str
    trees: int
    nodes: int
    depth: int


class ScoreScaling(Record):
    """Scorecard points from PD: `anchor_score` points at `anchor_odds`:1 good:bad odds, clipped to [min, max]."""

    anchor_score: int
    anchor_odds: float
    points_to_double_odds: int
    min: int
    max: int

    def points(self, probability_of_default: float) -> int:
        """Return the scorecard points (integer in [min, max]) of a PD in [0, 1] (Siddiqi 2006, ch. 6)."""
        p = min(max(probability_of_default, 1e-9), 1 - 1e-9)
        factor = self.points_to_double_odds / math.log(2)
        points = self.anchor_score + factor * math.log((1 - p) / p / self.anchor_odds)
        return round(min(max(points, self.min), self.max))


class GradeBand(Record):
    """A risk grade: clients whose PD is below `max_pd` (and above the previous band's) get it."""

    grade: str
    max_pd: float
    label: str


# The scoring policy training writes into every manifest; serving reads it back from the manifest.
SCORE_SCALING: Final = ScoreScaling(
    anchor_score=600, anchor_odds=50.0, points_to_double_odds=20, min=300, max=900
)
GRADE_BANDS: Final = (
    GradeBand(grade="A", max_pd=0.10, label="low risk"),
    GradeBand(grade="B", max_pd=0.20, label="moderate risk"),
    GradeBand(grade="C", max_pd=0.35, label="elevated risk"),
    GradeBand(grade="D", max_pd=0.55, label="high risk"),
    GradeBand(grade="E", max_pd=1.01, label="very high risk"),
)


class SplitPolicy(Record):
    """How the rows were split: test share, validation share of the rest, seed, stratification."""

    test_size: float
    validation_size_of_train: float
    random_state: int
    stratified: bool


class Manifest(Record):
    """The model manifest: identity, data, features, policy, metrics and artifact hashes."""

    name: str
    version: str
    format: str
    data: DataSource
    libraries: dict[str, str]
    inputs: tuple[str, ...]
    features: tuple[str, ...]
    features_used: tuple[str, ...]
    engineered_features: tuple[str, ...]
    monotone_increasing: tuple[str, ...]
    excluded_inputs: tuple[str, ...]
    model: ModelSummary
    threshold: float = Field(gt=0, lt=1)
    threshold_policy: str
    selection_policy: str
    score_scaling: ScoreScaling
    grade_bands: tuple[GradeBand, ...] = Field(min_length=1)
    reference_profile: dict[str, float]
    elderly_rule: ElderlyRule
    metrics: Metrics
    candidates: tuple[Candidate, ...]
    split: SplitPolicy
    serving_files: tuple[str, ...]
    fairness: tuple[FairnessRow, ...]
    grades_observed: tuple[GradeOutcome, ...]
    artifacts: dict[str, str]
    training_seconds: float
    reference: "ReferenceDistributions | None" = None  # omitted from the JSON when None
    evidence: "ValidationEvidence | None" = None  # the test split's validation evidence; omitted when None
    reason_method: "ReasonMethod | None" = (
        None  # the reasons' reference compared and additivity; omitted when None
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Manifest":
        limits = [band.max_pd for band in self.grade_bands]
        if limits != sorted(limits) or limits[-1] <= 1:
            raise ValueError("`grade_bands` must rise and end above PD 1")
        missing = [name for name in FEATURE_NAMES if name not in self.reference_profile]
        if missing:
            raise ValueError(f"`reference_profile` needs a number for every input (missing: {missing[:3]})")
        return self

    def grade(self, probability_of_default: float) -> GradeBand:
        """Return the band whose PD range holds this PD in [0, 1]."""
        return next(band for band in self.grade_bands if probability_of_default < band.max_pd)

    def _fields(self) -> dict[str, object]:
        unset = {name for name in ("reference", "evidence", "reason_method") if getattr(self, name) is None}
        return self.model_dump(mode="json", by_alias=True, exclude=unset or None)

    def to_json(self) -> str:
        """Serialise with the JSON names, indented, as `model/model.json` holds it."""
        return json.dumps(self._fields(), indent=2) + "\n"

    def compact_json(self) -> str:
        """Serialise with the JSON names and no whitespace (the API's `/v1/model` answer)."""
        return json.dumps(self._fields(), separators=(",", ":"))


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file's bytes; raises OSError if it cannot be read."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(manifest: Manifest, model_dir: Path) -> Path:
    """Write `model_dir/model.json` (called only by training/export.py); returns its path."""
    path = model_dir / MANIFEST_FILE
    path.write_text(manifest.to_json())
    return path


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def parse_manifest(text: str, *, name: str = MANIFEST_FILE) -> Manifest:
    """Parse and check a manifest's JSON text; raises ModelUnavailable naming the first bad field."""
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "json_invalid":
            raise ModelUnavailable(f"{name}: unreadable manifest ({first['msg']}); run `make train`") from err
        where = ".".join(str(part) for part in first["loc"]) or "the manifest"
        raise ModelUnavailable(f"{name}: `{where}`: {first['msg']}; run `make train`") from err


def read_manifest(model_dir: Path) -> Manifest:
    """Read, check and verify `model_dir/model.json` and the serving files it hashes.

    Raises ModelUnavailable naming the file and the problem: missing, unreadable, a bad field, another
    format, another numpy major.minor, inputs or features that differ from this code, or a sha256 mismatch.
    """
    path = model_dir / MANIFEST_FILE
    if not path.is_file():
        raise ModelUnavailable(f"no manifest at {path}; run `make train`")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ModelUnavailable(f"{path.name}: unreadable manifest ({err}); run `make train`") from err
    manifest = parse_manifest(text, name=path.name)
    if manifest.format != FORMAT:
        raise ModelUnavailable(f"{path.name}: format {manifest.format!r}, this code serves {FORMAT!r}")
    built_with = manifest.libraries.get("numpy", "?")
    if _major_minor(built_with) != _major_minor(np.__version__):
        raise ModelUnavailable(
            f"{path.name}: built with numpy {built_with}, serving numpy {np.__version__}; retrain or repin"
        )
    if manifest.inputs != FEATURE_NAMES or manifest.features != MODEL_FEATURES:
        raise ModelUnavailable(f"{path.name}: inputs or features differ from this code's contract")
    verify_artifacts(manifest, model_dir, names=SERVING_FILES)
    return manifest


def verify_artifacts(manifest: Manifest, model_dir: Path, *, names: tuple[str, ...]) -> None:
    """Check each named file in `model_dir` against its manifest sha256; raises ModelUnavailable."""
    for name in names:
        path = model_dir / name
        if not path.is_file():
            raise ModelUnavailable(f"{name}: missing from {model_dir}; run `make train`")
        if name not in manifest.artifacts:
            raise ModelUnavailable(f"{name}: no sha256 in the manifest")
        actual = sha256_file(path)
        if actual != manifest.artifacts[name]:
            raise ModelUnavailable(
                f"{name}: sha256 {actual[:12]}... does not match the manifest ({manifest.artifacts[name][:12]}...)"
            )
