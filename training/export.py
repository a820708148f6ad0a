"""Write everything in `model/`: the serving ensemble, the pipeline, plots, MODEL_CARD.md and model.json.

This module is the only writer of the model folder. A new model is written into a staging folder beside it
and swapped in whole, so a failed run leaves the served model (whose manifest hashes its files) untouched.
"""

import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import joblib
import numpy as np
import scipy
import sklearn
from numpy.typing import NDArray
from sklearn.pipeline import Pipeline

from functions.config import MODEL_DIR
from functions.scoring import manifest as mf
from functions.scoring import manifest_parts as records
from functions.scoring.contract import FEATURE_NAMES, PROTECTED
from functions.scoring.elderly import ELDERLY_RULE
from functions.scoring.features import ENGINEERED, MODEL_FEATURES, MONOTONE, engineer
from functions.scoring.manifest_parts import ReferenceDistributions
from functions.scoring.reference import build_reference
from functions.scoring.strategy.engine import DEFAULT_FILE as DEFAULT_STRATEGY
from functions.scoring.trees import FORMAT, TreeEnsemble, save_ensemble
from functions.scoring.version import decision_policy, model_version
from training import report
from training.candidates import CALIBRATION, SELECTION_POLICY, Candidate, feature_columns
from training.data import SPLIT_POLICY, DataError, Dataset, late_one_month
from training.evidence import validation_evidence
from training.flatten import export_ensemble
from training.metrics import REFERENCE_APP, threshold_policy
from training.plots import write_plots
from training.reason_method import reason_method, served

MODEL_NAME: Final = "credit-default"
Written = TypeVar("Written")
PARITY_TOLERANCE: Final = 1e-9  # max |ΔPD| between the numpy ensemble and scikit-learn, on every row


@dataclass(frozen=True)
class Evaluation:
    """The shipped pipeline on the held-out test rows: PD per row, metrics, fairness and grade tables."""

    probability_of_default: NDArray[Any]
    test: records.ClassificationMetrics
    baseline_test: records.ClassificationMetrics
    fairness: tuple[records.FairnessRow, ...]
    grades_observed: tuple[records.GradeOutcome, ...]


@dataclass(frozen=True)
class TrainingRun:
    """What the protocol produced and export writes: data, candidates, the fitted pipeline and its figures."""

    dataset: Dataset
    y_test: NDArray[Any]
    candidates: tuple[Candidate, ...]  # in the order compared; the without-AGE/EDUCATION refit last
    chosen: Candidate
    without_age_education: Candidate
    pipeline: Pipeline  # rows x 23 inputs -> PD, refitted on the whole training part
    threshold: float
    evaluation: Evaluation
    reference_profile: dict[str, float]
    X_train: NDArray[
        Any
    ]  # rows x 23 inputs the model was refitted on: the population monitoring compares with
    X_test: NDArray[Any]  # rows x 23 held-out inputs (y_test's rows): the validation evidence's population
    started: float  # time.perf_counter() when the protocol began


def serving_ensemble(run: TrainingRun) -> tuple[TreeEnsemble, float]:
    """Flatten the pipeline's booster and check it on every row; return it and the max |ΔPD|.

    Raises RuntimeError when the ensemble differs from scikit-learn by more than PARITY_TOLERANCE, and
    DataError when the fitted model cannot be served (it does not rank clients by risk).
    """
    try:
        ensemble = export_ensemble(
            run.pipeline.named_steps["model"],
            columns=feature_columns(run.chosen.features),
            n_features=len(MODEL_FEATURES),
        )
    except ValueError as err:  # e.g. a booster without a split on too few rows: PD cannot rise with risk
        rows = len(run.dataset.y)
        raise DataError(
            f"{run.dataset.source}: the model fitted on {rows:,} rows does not rank clients by risk ({err});"
            " add rows (each leaf needs tens of clients) or check the default flag"
        ) from err
    X = run.dataset.X
    parity = float(np.max(np.abs(ensemble.predict_proba(engineer(X)) - run.pipeline.predict_proba(X)[:, 1])))
    if parity > PARITY_TOLERANCE:
        raise RuntimeError(
            f"serving ensemble differs from scikit-learn by {parity:.3g} (> {PARITY_TOLERANCE:g}); not exported"
        )
    return ensemble, parity


def _metrics(run: TrainingRun, parity: float) -> records.Metrics:
    chosen, without = run.chosen, run.without_age_education
    return records.Metrics(
        test=run.evaluation.test,
        baseline_test=run.evaluation.baseline_test,
        reference_app_published=REFERENCE_APP,
        cv_auc_mean=chosen.cv_auc_mean,
        cv_auc_std=chosen.cv_auc_std,
        validation_auc=chosen.validation_auc,
        serving_parity_max_abs=parity,
        validation_precision_at_recall=chosen.validation_precision_at_recall,
        without_age_education_validation_auc=without.validation_auc,
        without_age_education_cv_auc=without.cv_auc_mean,
    )


def _candidate(candidate: Candidate) -> records.Candidate:
    return records.Candidate(
        name=candidate.name,
        description=candidate.description,
        compliant=candidate.compliant,
        rounds=candidate.rounds,
        validation_auc=candidate.validation_auc,
        validation_precision_at_recall=candidate.validation_precision_at_recall,
        cv_auc_mean=candidate.cv_auc_mean,
        cv_auc_std=candidate.cv_auc_std,
    )


def _model_summary(run: TrainingRun, ensemble: TreeEnsemble) -> mf.ModelSummary:
    if run.chosen.rounds is None:
        raise ValueError(f"{run.chosen.name} has no boosting rounds; only a booster can be exported")
    return mf.ModelSummary(
        estimator=run.chosen.description,
        rounds=run.chosen.rounds,
        calibration=CALIBRATION,
        trees=int(ensemble.roots.size),
        nodes=int(ensemble.value.size),
        depth=ensemble.depth,
    )


def reference_distributions(X_train: NDArray[Any], ensemble: TreeEnsemble) -> ReferenceDistributions:
    """Freeze the training population's bins per input and for the score the served model gives it (PSI)."""
    probabilities = ensemble.predict_proba(engineer(served(ensemble, X_train)))  # the elderly rule applied
    points = np.array([mf.SCORE_SCALING.points(p) for p in probabilities.tolist()], dtype=np.float64)
    return build_reference(X_train, points)


def build_manifest(run: TrainingRun, ensemble: TreeEnsemble, *, parity: float) -> mf.Manifest:
    """Return the manifest of this run; `artifacts` is empty and `training_seconds` 0 until the files exist."""
    y = run.dataset.y
    reference = reference_distributions(run.X_train, ensemble)
    evidence = validation_evidence(
        run.y_test,
        run.evaluation.probability_of_default,
        run.X_test,
        reference,
        scaling=mf.SCORE_SCALING,
        bands=mf.GRADE_BANDS,
    )
    manifest = mf.Manifest(
        name=MODEL_NAME,
        version="",  # set below, once the decision fields are in place
        format=FORMAT,
        data=mf.DataSource(
            source=run.dataset.source,
            table_sha256=run.dataset.table_sha256,
            rows=len(y),
            default_rate=float(y.mean()),
            late_one_month=late_one_month(run.dataset),
        ),
        libraries={
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "joblib": joblib.__version__,
            "scipy": scipy.__version__,  # its optimiser fits the calibration: PDs move in the 13th digit
        },
        inputs=FEATURE_NAMES,
        features=MODEL_FEATURES,
        features_used=run.chosen.features,
        engineered_features=ENGINEERED,
        monotone_increasing=tuple(n for n, m in zip(MODEL_FEATURES, MONOTONE, strict=True) if m == 1),
        excluded_inputs=PROTECTED,
        model=_model_summary(run, ensemble),
        threshold=run.threshold,
        threshold_policy=threshold_policy(SPLIT_POLICY),
        selection_policy=SELECTION_POLICY,
        score_scaling=mf.SCORE_SCALING,
        grade_bands=mf.GRADE_BANDS,
        reference_profile=run.reference_profile,
        elderly_rule=ELDERLY_RULE,
        metrics=_metrics(run, parity),
        candidates=tuple(_candidate(c) for c in run.candidates),
        split=SPLIT_POLICY,
        serving_files=mf.SERVING_FILES,
        fairness=run.evaluation.fairness,
        grades_observed=run.evaluation.grades_observed,
        reference=reference,
        evidence=evidence,
        reason_method=reason_method(
            ensemble, run.X_train, run.X_test, threshold=run.threshold, reference=run.reference_profile
        ),
        artifacts={},
        training_seconds=0.0,
    )
    return manifest.model_copy(update={"version": model_version(ensemble, decision_policy(manifest))})


def write_artifacts(run: TrainingRun, folder: Path) -> mf.Manifest:
    """Write every artifact of `run` into the empty `folder`, model.json last; return the manifest written.

    Raises RuntimeError when the serving ensemble does not reproduce scikit-learn's PD.
    """
    ensemble, parity = serving_ensemble(run)
    save_ensemble(ensemble, folder / "serving.npz")
    joblib.dump(run.pipeline, folder / "model.joblib")
    manifest = build_manifest(run, ensemble, parity=parity)
    write_plots(folder, run.y_test, run.evaluation.probability_of_default, manifest)
    (folder / "MODEL_CARD.md").write_text(report.model_card(manifest))
    artifacts = {
        path.name: mf.sha256_file(path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != mf.MANIFEST_FILE
    }
    seconds = round(time.perf_counter() - run.started, 1)
    manifest = manifest.model_copy(update={"artifacts": artifacts, "training_seconds": seconds})
    mf.write_manifest(manifest, folder)
    return manifest


def replace_folder(out: Path, write: Callable[[Path], Written]) -> Written:
    """Let `write` fill a staging folder beside `out`, then swap it in for `out` whole; return what it returned.

    If `write` raises, `out` is left untouched and the staging folder removed.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it 0700; the Lambda image's runtime user must read model/
    try:
        written = write(staging)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def export_model(run: TrainingRun, out: Path) -> mf.Manifest:
    """Replace the folder `out` whole with the artifacts of `run` and its strategy files; return the manifest."""

    def write(folder: Path) -> mf.Manifest:
        manifest = write_artifacts(run, folder)
        keep_strategies(out, folder)
        return manifest

    return replace_folder(out, write)


def keep_strategies(out: Path, folder: Path) -> None:
    """Copy the credit strategy files (`*.yaml`) of `out` into the new model `folder`, else the shipped default.

    A strategy is policy, not a training artifact: retraining keeps it (docs/strategy.md), outside the manifest.
    """
    kept = sorted(out.glob("*.yaml")) if out.is_dir() else []
    shipped = MODEL_DIR / DEFAULT_STRATEGY
    for path in kept or ([shipped] if shipped.is_file() else []):
        shutil.copyfile(path, folder / path.name)


def refresh_card(model_dir: Path, *, dataset: Dataset | None = None) -> mf.Manifest:
    """Re-render MODEL_CARD.md from the folder's manifest and re-hash it (card prose changed, model did not).

    With `dataset` (the training data, verified by its pinned hash), counts the card quotes from the data are
    recorded first. Raises ModelUnavailable when the folder's manifest or serving files do not verify.
    """
    manifest = mf.read_manifest(model_dir)
    if dataset is not None:
        data = manifest.data.model_copy(update={"late_one_month": late_one_month(dataset)})
        manifest = manifest.model_copy(update={"data": data})
    card = model_dir / "MODEL_CARD.md"
    card.write_text(report.model_card(manifest))
    manifest = manifest.model_copy(
        update={"artifacts": {**manifest.artifacts, card.name: mf.sha256_file(card)}}
    )
    mf.write_manifest(manifest, model_dir)
    return manifest
