"""The candidate models compared on validation, and the shipped pipeline built from the chosen one."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.features import MODEL_FEATURES, MONOTONE, RAW_INPUTS, engineer
from functions.scoring.manifest_parts import REFERENCE_RECALL
from training.data import SPLIT_POLICY, Splits
from training.metrics import precision_at_recall

log = logging.getLogger(__name__)

SEED: Final = SPLIT_POLICY.random_state
CV_FOLDS: Final = 5
ENGINEERED_SET: Final = tuple(MODEL_FEATURES)
RAW_SET: Final = tuple(RAW_INPUTS)
WITHOUT_AGE_EDUCATION: Final = ("age", "education")
REFERENCE_NAME: Final = "reference_random_forest"
CALIBRATION: Final = f"sigmoid (Platt), {CV_FOLDS}-fold"
SELECTION_POLICY: Final = (
    f"compliant booster with the highest validation precision at recall >= {REFERENCE_RECALL:g}"
    " (the reference app's operating point)"
)


@dataclass(frozen=True)
class BoosterSpec:
    """A booster to try: HistGradientBoosting parameters and the model features it reads."""

    params: Mapping[str, float]  # learning rate, leaves, L2, min samples per leaf
    features: tuple[str, ...]


# Candidate boosters; their boosting rounds are picked on validation.
BOOSTERS: Final[Mapping[str, BoosterSpec]] = {
    "hgb_engineered": BoosterSpec(
        {"learning_rate": 0.03, "max_leaf_nodes": 15, "l2_regularization": 1.0, "min_samples_leaf": 50},
        ENGINEERED_SET,
    ),
    "hgb_engineered_regularised": BoosterSpec(
        {"learning_rate": 0.02, "max_leaf_nodes": 15, "l2_regularization": 10.0, "min_samples_leaf": 20},
        ENGINEERED_SET,
    ),
    "hgb_raw": BoosterSpec(
        {"learning_rate": 0.02, "max_leaf_nodes": 15, "l2_regularization": 3.0, "min_samples_leaf": 100},
        RAW_SET,
    ),
    "hgb_raw_fast": BoosterSpec(
        {"learning_rate": 0.03, "max_leaf_nodes": 15, "l2_regularization": 1.0, "min_samples_leaf": 50},
        RAW_SET,
    ),
}


@dataclass(frozen=True)
class Search:
    """What the candidates stage tries: the boosters, their most boosting rounds, the reference forest's trees."""

    boosters: Mapping[str, BoosterSpec]
    max_rounds: int
    forest_trees: int


SEARCH: Final = Search(boosters=BOOSTERS, max_rounds=400, forest_trees=100)


@dataclass(frozen=True)
class Candidate:
    """One model compared on validation: AUCs in [0, 1], precision at the reference recall."""

    name: str
    description: str
    compliant: bool  # no SEX/MARRIAGE, monotone in repayment status
    features: tuple[str, ...]
    params: Mapping[str, float]
    rounds: int | None
    validation_auc: float
    validation_precision_at_recall: float
    cv_auc_mean: float
    cv_auc_std: float


def feature_columns(features: tuple[str, ...]) -> list[int]:
    """Return the model-matrix columns (indices into MODEL_FEATURES) of the named features."""
    return [MODEL_FEATURES.index(name) for name in features]


def make_booster(
    params: Mapping[str, float], *, rounds: int, features: tuple[str, ...]
) -> HistGradientBoostingClassifier:
    """Build a monotone HistGradientBoostingClassifier with fixed rounds and seed."""
    monotone = [MONOTONE[i] for i in feature_columns(features)]
    return HistGradientBoostingClassifier(
        **params, max_iter=rounds, monotonic_cst=monotone, early_stopping=False, random_state=SEED
    )


def make_forest(trees: int = SEARCH.forest_trees) -> RandomForestClassifier:
    """Build the reference app's approach: a balanced RandomForest (100 trees by default) on the 23 raw inputs."""
    # One job: with two, the trees' probabilities are summed in thread order and the last bits (so AUC ties)
    # change from run to run.
    return RandomForestClassifier(n_estimators=trees, class_weight="balanced", random_state=SEED, n_jobs=1)


def make_pipeline(candidate: Candidate) -> Pipeline:
    """Build the shipped pipeline (rows x 23 inputs → PD): features, column choice, calibrated booster.

    Raises ValueError for a candidate without boosting rounds (the reference forest).
    """
    if candidate.rounds is None:
        raise ValueError(f"{candidate.name} has no rounds picked yet")
    booster = make_booster(candidate.params, rounds=candidate.rounds, features=candidate.features)
    select = FunctionTransformer(np.take, kw_args={"indices": feature_columns(candidate.features), "axis": 1})
    return Pipeline(
        [
            ("features", FunctionTransformer(engineer)),
            ("select", select),
            ("model", CalibratedClassifierCV(booster, method="sigmoid", cv=CV_FOLDS, ensemble=False)),
        ]
    )


def cv_auc(estimator: Any, X: NDArray[Any], y: NDArray[Any]) -> tuple[float, float]:
    """Return mean and standard deviation of the stratified k-fold CV AUC on rows x columns `X`."""
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    scores = cross_val_score(estimator, X, y, cv=folds, scoring="roc_auc", n_jobs=1)
    return float(scores.mean()), float(scores.std())


def describe(spec: BoosterSpec) -> str:
    """Return the one-line description of a booster candidate, as the model card shows it."""
    feature_set = "raw inputs" if set(spec.features) <= set(RAW_SET) else "raw inputs + engineered features"
    dropped = [n for n in RAW_INPUTS if n not in spec.features]
    without = f" without {', '.join(dropped)}" if dropped else ""
    return f"HistGradientBoosting {dict(spec.params)}, {feature_set}{without}, monotone in repayment status"


def fit_candidate(
    name: str, spec: BoosterSpec, splits: Splits, *, max_rounds: int = SEARCH.max_rounds
) -> Candidate:
    """Fit a booster on the fit split, pick its rounds by validation AUC, score it on validation and by CV."""
    cols = feature_columns(spec.features)
    E_fit, E_val, E_train = (engineer(X)[:, cols] for X in (splits.X_fit, splits.X_val, splits.X_train))
    booster = make_booster(spec.params, rounds=max_rounds, features=spec.features).fit(E_fit, splits.y_fit)
    staged = [p[:, 1] for p in booster.staged_predict_proba(E_val)]
    aucs = [roc_auc_score(splits.y_val, p) for p in staged]
    rounds = int(np.argmax(aucs)) + 1
    cv_mean, cv_std = cv_auc(
        make_booster(spec.params, rounds=rounds, features=spec.features), E_train, splits.y_train
    )
    candidate = Candidate(
        name=name,
        description=describe(spec),
        compliant=True,
        features=spec.features,
        params=dict(spec.params),
        rounds=rounds,
        validation_auc=float(aucs[rounds - 1]),
        validation_precision_at_recall=precision_at_recall(
            splits.y_val, staged[rounds - 1], recall=REFERENCE_RECALL
        ),
        cv_auc_mean=cv_mean,
        cv_auc_std=cv_std,
    )
    _report(candidate)
    return candidate


def fit_reference(splits: Splits, *, trees: int = SEARCH.forest_trees) -> Candidate:
    """Fit the reference approach on the fit split; score it on validation and by CV (not compliant)."""
    pod_val = make_forest(trees).fit(splits.X_fit, splits.y_fit).predict_proba(splits.X_val)[:, 1]
    cv_mean, cv_std = cv_auc(make_forest(trees), splits.X_train, splits.y_train)
    reference = Candidate(
        name=REFERENCE_NAME,
        description=f"RandomForest, {trees} trees, balanced, all {len(FEATURE_NAMES)} raw inputs",
        compliant=False,
        features=tuple(FEATURE_NAMES),
        params={},
        rounds=None,
        validation_auc=float(roc_auc_score(splits.y_val, pod_val)),
        validation_precision_at_recall=precision_at_recall(splits.y_val, pod_val, recall=REFERENCE_RECALL),
        cv_auc_mean=cv_mean,
        cv_auc_std=cv_std,
    )
    _report(reference)
    return reference


def compare_candidates(splits: Splits, search: Search = SEARCH) -> list[Candidate]:
    """Fit the reference approach and each booster on the fit split; score them on validation and by CV."""
    reference = fit_reference(splits, trees=search.forest_trees)
    max_rounds = search.max_rounds
    return [
        reference,
        *(fit_candidate(name, spec, splits, max_rounds=max_rounds) for name, spec in search.boosters.items()),
    ]


def choose(candidates: list[Candidate]) -> Candidate:
    """Return the compliant candidate most precise at the reference recall on validation.

    Raises ValueError when no candidate is compliant.
    """
    compliant = [c for c in candidates if c.compliant]
    if not compliant:
        raise ValueError("no compliant candidate to choose from")
    return max(compliant, key=lambda c: c.validation_precision_at_recall)


def fit_without_age_education(
    chosen: Candidate, splits: Splits, *, max_rounds: int = SEARCH.max_rounds
) -> Candidate:
    """Refit the chosen booster without AGE and EDUCATION, to report what they add."""
    features = tuple(n for n in chosen.features if n not in WITHOUT_AGE_EDUCATION)
    spec = BoosterSpec(chosen.params, features)
    return fit_candidate(f"{chosen.name}_without_age_education", spec, splits, max_rounds=max_rounds)


def _report(candidate: Candidate) -> None:
    rounds = f" ({candidate.rounds} rounds)" if candidate.rounds else ""
    log.info(
        "  %s: validation AUC %.4f, precision at recall %.0f %% %.4f%s; CV AUC %.4f ± %.4f",
        candidate.name,
        candidate.validation_auc,
        REFERENCE_RECALL * 100,
        candidate.validation_precision_at_recall,
        rounds,
        candidate.cv_auc_mean,
        candidate.cv_auc_std,
    )
