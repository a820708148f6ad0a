"""Candidates: described, fitted with rounds picked on validation, and the compliant one chosen."""

from dataclasses import replace

import numpy as np
import pytest

from functions.scoring.features import MODEL_FEATURES, RAW_INPUTS
from training import candidates
from training.candidates import BOOSTERS, BoosterSpec, Candidate
from training.data import Splits, split_dataset
from training.synthetic import generate_dataset

QUICK = BoosterSpec({"learning_rate": 0.1, "max_leaf_nodes": 7, "min_samples_leaf": 20}, candidates.RAW_SET)


@pytest.fixture(scope="module")
def splits() -> Splits:
    return split_dataset(generate_dataset(1200, seed=3))


def _candidate(
    name: str, *, compliant: bool = True, precision: float = 0.5, rounds: int | None = 10
) -> Candidate:
    return Candidate(
        name=name,
        description=name,
        compliant=compliant,
        features=candidates.RAW_SET,
        params={},
        rounds=rounds,
        validation_auc=0.7,
        validation_precision_at_recall=precision,
        cv_auc_mean=0.7,
        cv_auc_std=0.01,
    )


def test_feature_columns_index_the_model_matrix() -> None:
    assert candidates.feature_columns(("limit_bal", "max_delay")) == [0, MODEL_FEATURES.index("max_delay")]


def test_no_candidate_uses_sex_or_marriage() -> None:
    assert all({"sex", "marriage"}.isdisjoint(spec.features) for spec in BOOSTERS.values())


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (candidates.RAW_SET, "raw inputs, monotone"),
        (candidates.ENGINEERED_SET, "raw inputs + engineered features, monotone"),
        (tuple(n for n in RAW_INPUTS if n not in ("age", "education")), "raw inputs without education, age,"),
    ],
)
def test_describe_names_the_feature_set(features: tuple[str, ...], expected: str) -> None:
    description = candidates.describe(BoosterSpec({"learning_rate": 0.02}, features))
    assert description.startswith("HistGradientBoosting {'learning_rate': 0.02}, ")
    assert expected in description


def test_choose_takes_the_most_precise_compliant_candidate() -> None:
    pool = [
        _candidate("forest", compliant=False, precision=0.9),
        _candidate("a", precision=0.4),
        _candidate("b"),
    ]
    assert candidates.choose(pool).name == "b"


def test_choose_refuses_a_pool_without_a_compliant_candidate() -> None:
    with pytest.raises(ValueError, match="no compliant candidate"):
        candidates.choose([_candidate("forest", compliant=False)])


def test_make_pipeline_refuses_a_candidate_without_rounds() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        candidates.make_pipeline(_candidate("forest", rounds=None))


def test_fit_candidate_picks_rounds_on_validation(splits: Splits) -> None:
    fitted = candidates.fit_candidate("quick", QUICK, splits, max_rounds=15)
    assert fitted.rounds is not None and 1 <= fitted.rounds <= 15
    assert 0.5 < fitted.validation_auc <= 1 and 0 < fitted.cv_auc_mean <= 1
    assert fitted.compliant and fitted.features == candidates.RAW_SET


def test_fit_without_age_education_drops_both(splits: Splits) -> None:
    chosen = replace(_candidate("quick"), params=dict(QUICK.params))
    refit = candidates.fit_without_age_education(chosen, splits, max_rounds=5)
    assert refit.name == "quick_without_age_education"
    assert {"age", "education"}.isdisjoint(refit.features)


def test_pipeline_of_a_candidate_scores_raw_inputs(splits: Splits) -> None:
    fitted = candidates.fit_candidate("quick", QUICK, splits, max_rounds=10)
    pipeline = candidates.make_pipeline(fitted).fit(splits.X_train, splits.y_train)
    pod = pipeline.predict_proba(splits.X_test)[:, 1]
    assert pod.shape == (len(splits.y_test),) and np.all((pod > 0) & (pod < 1))


def test_reference_forest_is_deterministic(splits: Splits) -> None:
    assert candidates.make_forest().n_jobs == 1  # threads sum the trees in varying order: AUC ties drift
    first = candidates.make_forest(20).fit(splits.X_fit, splits.y_fit).predict_proba(splits.X_val)
    second = candidates.make_forest(20).fit(splits.X_fit, splits.y_fit).predict_proba(splits.X_val)
    assert np.array_equal(first, second)


def test_compare_candidates_puts_the_reference_first_then_each_booster(splits: Splits) -> None:
    search = candidates.Search(boosters={"quick": QUICK}, max_rounds=5, forest_trees=5)
    compared = candidates.compare_candidates(splits, search)
    assert [c.name for c in compared] == [candidates.REFERENCE_NAME, "quick"]
    assert compared[0].description == "RandomForest, 5 trees, balanced, all 23 raw inputs"
    assert not compared[0].compliant and compared[0].rounds is None
