"""The numpy tree ensemble equals scikit-learn, loads without pickle and refuses broken arrays."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from functions.scoring.features import MODEL_FEATURES, MONOTONE, engineer
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.trees import TreeEnsemble, load_ensemble, save_ensemble
from training.flatten import export_ensemble
from training.synthetic import generate_rows


@pytest.fixture(scope="module")
def fitted() -> tuple[CalibratedClassifierCV, np.ndarray]:
    """A small calibrated booster fitted on generated clients with a synthetic, status-driven target."""
    X = engineer(to_matrix(generate_rows(1500, seed=11)))
    rng = np.random.default_rng(0)
    logit = (
        0.8 * X[:, MODEL_FEATURES.index("max_delay")] - 2 * X[:, MODEL_FEATURES.index("payment_ratio_latest")]
    )
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=8, monotonic_cst=list(MONOTONE), early_stopping=False, random_state=0
    )
    return CalibratedClassifierCV(booster, method="sigmoid", cv=3, ensemble=False).fit(X, y), X


def export(model: CalibratedClassifierCV) -> TreeEnsemble:
    return export_ensemble(model, columns=list(range(len(MODEL_FEATURES))), n_features=len(MODEL_FEATURES))


def test_export_matches_scikit_learn(fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    model, X = fitted
    assert np.max(np.abs(export(model).predict_proba(X) - model.predict_proba(X)[:, 1])) < 1e-12


def test_export_maps_selected_columns(fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    model, X = fitted
    wider = np.hstack([np.zeros((len(X), 2)), X])  # the booster's inputs now sit two columns to the right
    ensemble = export_ensemble(model, columns=list(range(2, 2 + X.shape[1])), n_features=wider.shape[1])
    assert np.max(np.abs(ensemble.predict_proba(wider) - model.predict_proba(X)[:, 1])) < 1e-12


def test_save_and_load_round_trip(tmp_path: Path, fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    model, X = fitted
    save_ensemble(export(model), tmp_path / "serving.npz")
    assert np.array_equal(
        load_ensemble(tmp_path / "serving.npz").predict_proba(X), export(model).predict_proba(X)
    )


def test_load_refuses_pickled_object_arrays(
    tmp_path: Path, fitted: tuple[CalibratedClassifierCV, np.ndarray]
) -> None:
    arrays = export(fitted[0]).to_arrays()
    arrays["value"] = np.array([object()], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_ensemble(tmp_path / "evil.npz")


@pytest.mark.parametrize(
    ("array", "change", "message"),
    [
        ("children", lambda a: a + 10**6, "points outside"),
        ("feature", lambda a: a + 100, "outside the"),
        ("threshold", lambda a: a[:-1], "differ in length"),
        ("value", lambda a: np.where(np.arange(a.size) == 0, np.nan, a), "non-finite"),
        ("scalars", lambda a: np.where(np.arange(a.size) == 2, 1.0, a), "slope must be negative"),
    ],
)
def test_load_refuses_inconsistent_arrays(
    tmp_path: Path,
    fitted: tuple[CalibratedClassifierCV, np.ndarray],
    array: str,
    change: object,
    message: str,
) -> None:
    arrays = export(fitted[0]).to_arrays()
    arrays[array] = change(arrays[array])  # type: ignore[operator]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_ensemble(tmp_path / "bad.npz")


def test_predict_refuses_non_finite_features(fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    X = fitted[1][:2].copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        export(fitted[0]).predict_proba(X)


def test_export_refuses_isotonic_calibration(fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    X = fitted[1]
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    booster = HistGradientBoostingClassifier(max_iter=5, early_stopping=False)
    isotonic = CalibratedClassifierCV(booster, method="isotonic", cv=3, ensemble=False).fit(X, y)
    with pytest.raises(ValueError, match="sigmoid"):
        export(isotonic)


def test_tree_layout_of_scikit_learn_is_what_export_reads(
    fitted: tuple[CalibratedClassifierCV, np.ndarray],
) -> None:
    booster = fitted[0].calibrated_classifiers_[0].estimator
    nodes = booster._predictors[0][0].nodes
    assert {"value", "feature_idx", "num_threshold", "left", "right", "is_leaf", "depth"} <= set(
        nodes.dtype.names
    )


@pytest.mark.parametrize("bit", range(3))
def test_rewalk_equals_a_full_walk_of_each_variant(
    fitted: tuple[CalibratedClassifierCV, np.ndarray], bit: int
) -> None:
    """Re-walking only tagged paths gives the same log-odds as walking the changed rows from the roots."""
    model, X = fitted
    ensemble = export(model)
    column = [MODEL_FEATURES.index(name) for name in ("max_delay", "payment_ratio_latest", "limit_bal")][bit]
    tags = np.where(ensemble.is_split & (ensemble.feature == column), np.uint8(1 << bit), np.uint8(0))
    variant = X[:200].copy()
    variant[:, column] = np.median(X[:, column])
    variants = [X[:200]] * bit + [variant]  # earlier bits: unchanged copies, never re-walked
    stacked = ensemble.rewalk(X[:200], variants, tags=tags.astype(np.uint8))
    assert stacked.shape == (bit + 2, 200)
    np.testing.assert_allclose(stacked[0], ensemble.raw_score(X[:200]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(stacked[-1], ensemble.raw_score(variant), rtol=0, atol=1e-12)


def test_rewalk_refuses_a_variant_of_another_shape(fitted: tuple[CalibratedClassifierCV, np.ndarray]) -> None:
    model, X = fitted
    ensemble = export(model)
    with pytest.raises(ValueError, match="shape of X"):
        ensemble.rewalk(X[:20], [X[:19]], tags=np.zeros(ensemble.value.size, dtype=np.uint8))


def test_one_row_gets_the_log_odds_it_gets_in_a_batch_bit_for_bit(model: ScoringModel) -> None:
    X = engineer(to_matrix(generate_rows(40, seed=5)))
    batch = model.ensemble.raw_score(X)
    alone = [model.ensemble.raw_score(X[i : i + 1])[0] for i in range(X.shape[0])]
    assert alone == batch.tolist()  # numpy would sum a lone column pairwise; `tree_sum` keeps tree order


def test_raw_score_at_is_the_log_odds_of_the_changed_rows(model: ScoringModel) -> None:
    X = engineer(to_matrix(generate_rows(60, seed=6)))
    age = MODEL_FEATURES.index("age")
    values = np.array([18.0, 30.0, 45.0, 61.0, 80.0])
    at = model.ensemble.raw_score_at(X, age, values)
    assert at.shape == (60, 5)
    for k, value in enumerate(values.tolist()):
        changed = X.copy()
        changed[:, age] = value
        np.testing.assert_allclose(at[:, k], model.ensemble.raw_score(changed), rtol=0, atol=1e-12)
    own = model.ensemble.raw_score_at(X[:1], age, X[:1, age])
    assert own[0, 0] == model.ensemble.raw_score(X[:1])[0]  # the row's own leaves: its own log-odds exactly
