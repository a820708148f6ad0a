"""Load and verify the serving artifact once; score, grade, decide and explain (pure after load)."""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.contract import BILLS, EDUCATION_CODES, FEATURE_NAMES, PAY_STATUS, PAY_STATUS_CODES, PAYMENTS
from functions.features import INPUTS_OF, MODEL_FEATURES, engineer
from functions.predictor import FORMAT, TreeEnsemble, load_ensemble

SERVING_FILES: Final = ("serving.npz",)
# Points-to-double-the-odds scaling: 600 points at 50:1 good:bad odds, 20 points double the odds.
SCORE_SCALING: Final = {
    "anchor_score": 600,
    "anchor_odds": 50.0,
    "points_to_double_odds": 20,
    "min": 300,
    "max": 900,
}
# Risk grades by PD band: a client is in the first grade whose `max_pd` exceeds its PD.
GRADE_BANDS: Final = [
    {"grade": "A", "max_pd": 0.10, "label": "low risk"},
    {"grade": "B", "max_pd": 0.20, "label": "moderate risk"},
    {"grade": "C", "max_pd": 0.35, "label": "elevated risk"},
    {"grade": "D", "max_pd": 0.55, "label": "high risk"},
    {"grade": "E", "max_pd": 1.01, "label": "very high risk"},
]
# Factor groups for reason codes: each is swapped for the reference profile to measure its impact.
REASON_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "latest_status": ("pay_0",),
    "status_history": PAY_STATUS[1:],
    "utilisation": BILLS,
    "payments": PAYMENTS,
    "credit_limit": ("limit_bal",),
    "age": ("age",),
    "education": ("education",),
}
MAX_REASONS: Final = 4
SMALL_BATCH: Final = 16  # up to this many rows, reasons are measured by one walk over all variants
IMPACT_DECIMALS: Final = 10  # impacts agree across batch sizes only to rounding; report them to 1e-10
_INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}

Matrix = npt.NDArray[np.float64]


class ModelUnavailable(RuntimeError):
    """The serving artifact is missing, tampered with or incompatible; the message names file and problem."""


@dataclass(frozen=True)
class Reason:
    """A factor that raises this client's PD, with its measured impact."""

    code: str
    text: str
    impact: float  # PD minus the PD with this factor group set to the reference profile


@dataclass(frozen=True)
class Decision:
    """The model's answer for one client."""

    probability_of_default: float
    predicted_default: bool
    threshold: float
    score: int
    risk_grade: str
    reasons: tuple[Reason, ...]


def sha256_file(path: Path) -> str:
    """Return the sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_score(pd: float, *, scaling: Mapping[str, float] = SCORE_SCALING) -> int:
    """Convert a PD to points: anchor score at anchor odds, fixed points to double the good:bad odds."""
    pd = min(max(pd, 1e-9), 1 - 1e-9)
    factor = scaling["points_to_double_odds"] / math.log(2)
    points = scaling["anchor_score"] + factor * math.log((1 - pd) / pd / scaling["anchor_odds"])
    return round(min(max(points, scaling["min"]), scaling["max"]))


def to_grade(pd: float, *, bands: Sequence[Mapping[str, Any]] = GRADE_BANDS) -> str:
    """Return the risk grade whose band holds this PD."""
    return next(str(band["grade"]) for band in bands if pd < band["max_pd"])


def decide(pd: float, *, threshold: float) -> bool:
    """Predict a default when PD reaches the threshold."""
    return pd >= threshold


def describe(code: str, value: Mapping[str, float]) -> str:
    """Phrase a factor group of one client's inputs in words a credit officer can quote."""
    if code == "latest_status":
        status = int(value["pay_0"])
        if status > 0:
            return f"{PAY_STATUS_CODES[status]} on the latest payment (September)"
        return f"latest payment status: {PAY_STATUS_CODES[status]}"
    if code == "status_history":
        history = [int(value[name]) for name in PAY_STATUS[1:]]
        late = sum(1 for status in history if status > 0)
        if late:
            return (
                f"late in {late} of the 5 months before September (worst: {PAY_STATUS_CODES[max(history)]})"
            )
        revolving = sum(1 for status in history if status == 0)
        return f"revolving credit (minimum paid) in {revolving} of the 5 months before September"
    if code == "utilisation":
        return f"bill at {value['bill_amt1'] / value['limit_bal']:.0%} of the credit limit"
    if code == "payments":
        paid = sum(value[name] for name in PAYMENTS)
        if paid == 0:
            return "no payment in the last 6 months"
        owed = value["bill_amt2"]
        if owed <= 0:
            return f"paid NT${value['pay_amt1']:,.0f} last month with no bill due"
        return f"paid {value['pay_amt1'] / owed:.0%} of the previous bill last month"
    if code == "credit_limit":
        return f"credit limit of NT${value['limit_bal']:,.0f}"
    if code == "age":
        return f"age {value['age']:.0f}"
    if code == "education":
        return f"education: {EDUCATION_CODES[int(value['education'])]}"
    raise ValueError(f"unknown reason code {code!r}")


def to_matrix(records: Sequence[Mapping[str, Any]]) -> Matrix:
    """Stack records with the contract's field names into a raw input matrix (omitted codes become 0)."""
    return np.array(
        [[float(record.get(name) or 0.0) for name in FEATURE_NAMES] for record in records], dtype=np.float64
    ).reshape(len(records), len(FEATURE_NAMES))


@dataclass(frozen=True)
class ScoringModel:
    """A verified serving ensemble with its manifest: threshold, score scaling, grades, reference profile."""

    ensemble: TreeEnsemble
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])

    def probabilities(self, raw: Matrix) -> Matrix:
        """Return the PD of each row of a raw input matrix."""
        return self.ensemble.predict_proba(engineer(raw))

    @cached_property
    def node_tags(self) -> npt.NDArray[np.uint8]:
        """Tag each split node with a bit per reason group whose inputs its feature is computed from."""
        tags = np.zeros(self.ensemble.value.size, dtype=np.uint8)
        for bit, inputs in enumerate(REASON_GROUPS.values()):
            touched = [i for i, name in enumerate(MODEL_FEATURES) if set(INPUTS_OF[name]) & set(inputs)]
            reads = self.ensemble.is_split & np.isin(self.ensemble.feature, touched)
            tags |= np.where(reads, np.uint8(1 << bit), np.uint8(0)).astype(np.uint8)
        return tags

    def score(self, raw: Matrix, *, explain: bool = True) -> list[Decision]:
        """Score every row; with `explain`, measure each factor group's impact on PD.

        A group's impact is PD minus the PD with the group set to the reference profile. For larger
        batches only the (row, tree) paths that read the group are walked again; the rest keep their leaves.
        """
        groups = list(REASON_GROUPS) if explain else []
        reference = self.manifest["reference_profile"]
        variants = []
        for code in groups:
            variant = raw.copy()
            for name in REASON_GROUPS[code]:
                variant[:, _INDEX[name]] = reference[name]
            variants.append(variant)
        if raw.shape[0] <= SMALL_BATCH:  # few rows: one walk over every variant costs fewer numpy calls
            raws = self.ensemble.raw_score(engineer(np.vstack([raw, *variants]))).reshape(len(groups) + 1, -1)
        else:
            leaves, paths = self.ensemble.walk(engineer(raw), tags=self.node_tags)
            values = np.take(self.ensemble.value, leaves)  # (trees, rows), trees in walk order
            base = values.sum(axis=0) + self.ensemble.baseline
            stacked = [base]
            for bit, variant in enumerate(variants):
                touched = np.flatnonzero(paths & np.uint8(1 << bit))  # by tree slot: deepest trees first
                slots, rows = np.divmod(touched, raw.shape[0])
                moved = self.ensemble.walk_pairs(engineer(variant), slots, rows)
                change = np.take(self.ensemble.value, moved) - np.take(values, touched)
                stacked.append(base + np.bincount(rows, weights=change, minlength=raw.shape[0]))
            raws = np.vstack(stacked)
        pds = self.ensemble.calibrate(raws)
        impacts = np.round(pds[0] - pds[1:], IMPACT_DECIMALS)  # (groups, rows)
        ranked = np.argsort(-impacts, axis=0, kind="stable")[:MAX_REASONS].T.tolist()  # ties: group order
        impact_rows = impacts.T.tolist()
        scaling, bands = self.manifest["score_scaling"], self.manifest["grade_bands"]
        decisions = []
        for pd, top, row_impacts, row in zip(pds[0].tolist(), ranked, impact_rows, raw.tolist(), strict=True):
            inputs = dict(zip(FEATURE_NAMES, row, strict=True))
            reasons = tuple(
                Reason(code=groups[g], text=describe(groups[g], inputs), impact=row_impacts[g])
                for g in top
                if row_impacts[g] > 0
            )
            decisions.append(
                Decision(
                    probability_of_default=pd,
                    predicted_default=decide(pd, threshold=self.threshold),
                    threshold=self.threshold,
                    score=to_score(pd, scaling=scaling),
                    risk_grade=to_grade(pd, bands=bands),
                    reasons=reasons,
                )
            )
        return decisions


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """Name the first field that serving needs and the manifest lacks or has in the wrong shape."""
    for key, kind in (
        ("version", str),
        ("libraries", dict),
        ("artifacts", dict),
        ("score_scaling", dict),
        ("grade_bands", list),
        ("reference_profile", dict),
    ):
        if not isinstance(manifest.get(key), kind):
            return f"`{key}` is missing or not a {kind.__name__}"
    threshold = manifest.get("threshold")
    if not (_number(threshold) and 0 < threshold < 1):  # type: ignore[operator]
        return "`threshold` is missing or not a number between 0 and 1"
    if not all(_number(manifest["score_scaling"].get(k)) for k in SCORE_SCALING):
        return f"`score_scaling` needs the numbers {', '.join(SCORE_SCALING)}"
    bands = manifest["grade_bands"]
    if not bands or not all(
        isinstance(b, dict) and isinstance(b.get("grade"), str) and _number(b.get("max_pd")) for b in bands
    ):
        return "`grade_bands` needs a list of {grade, max_pd}"
    if [b["max_pd"] for b in bands] != sorted(b["max_pd"] for b in bands) or bands[-1]["max_pd"] <= 1:
        return "`grade_bands` must rise and end above PD 1"
    if not all(_number(manifest["reference_profile"].get(name)) for name in FEATURE_NAMES):
        return "`reference_profile` needs a number for every input"
    return None


def load_model(model_dir: Path) -> ScoringModel:
    """Read the manifest, verify every serving file's sha256 and compatibility, then load the ensemble."""
    manifest_path = model_dir / "model.json"
    if not manifest_path.is_file():
        raise ModelUnavailable(f"no manifest at {manifest_path}; run `make train`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelUnavailable(
            f"{manifest_path.name}: unreadable manifest ({err}); run `make train`"
        ) from err
    if not isinstance(manifest, dict):
        raise ModelUnavailable(f"{manifest_path.name}: the manifest is not a JSON object; run `make train`")
    problem = manifest_problem(manifest)
    if problem:
        raise ModelUnavailable(f"{manifest_path.name}: {problem}; run `make train`")
    if manifest.get("format") != FORMAT:
        raise ModelUnavailable(
            f"{manifest_path.name}: format {manifest.get('format')!r}, this code serves {FORMAT!r}"
        )
    built_with = str(manifest["libraries"].get("numpy", "?"))
    if _major_minor(built_with) != _major_minor(np.__version__):
        raise ModelUnavailable(
            f"{manifest_path.name}: built with numpy {built_with}, serving numpy {np.__version__}; retrain or repin"
        )
    if manifest.get("inputs") != list(FEATURE_NAMES) or manifest.get("features") != list(MODEL_FEATURES):
        raise ModelUnavailable(f"{manifest_path.name}: inputs or features differ from this code's contract")
    hashes = manifest["artifacts"]
    for name in SERVING_FILES:
        path = model_dir / name
        if not path.is_file():
            raise ModelUnavailable(f"{name}: missing from {model_dir}; run `make train`")
        if name not in hashes:
            raise ModelUnavailable(f"{name}: no sha256 in the manifest")
        actual = sha256_file(path)
        if actual != hashes[name]:
            raise ModelUnavailable(
                f"{name}: sha256 {actual[:12]}... does not match the manifest ({hashes[name][:12]}...)"
            )
    try:
        ensemble = load_ensemble(model_dir / "serving.npz")
    except (OSError, ValueError) as err:
        raise ModelUnavailable(f"serving.npz: cannot be loaded ({err})") from err
    if ensemble.n_features != len(MODEL_FEATURES):
        raise ModelUnavailable(
            f"serving.npz: {ensemble.n_features} features, the contract builds {len(MODEL_FEATURES)}"
        )
    return ScoringModel(ensemble=ensemble, manifest=manifest)
