"""Real-data acceptance: the shipped model beats the reference, is reproducible, monotone and served exactly."""

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from functions.contract import FEATURE_NAMES, PAY_STATUS
from functions.scoring import ScoringModel, load_model
from training import train
from training.data import PINNED_TABLE_SHA256, Dataset, load_dataset

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


@pytest.fixture(scope="module")
def dataset(real_data_path: Path) -> Dataset:
    return load_dataset(real_data_path)


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return json.loads((MODEL_DIR / "model.json").read_text())


@pytest.fixture(scope="module")
def serving() -> ScoringModel:
    return load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def retrained(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Train again from scratch into a temporary folder (the whole protocol, about a minute)."""
    return train.train(dataset, tmp_path_factory.mktemp("model"))


def test_real_data_matches_the_pin(dataset: Dataset) -> None:
    assert dataset.table_sha256 == PINNED_TABLE_SHA256
    assert len(dataset.frame) == 30_000 and int(dataset.y.sum()) == 6_636


def test_training_is_reproducible_and_matches_the_shipped_model(
    retrained: dict[str, Any], shipped: dict[str, Any]
) -> None:
    assert retrained["metrics"] == shipped["metrics"]
    assert retrained["version"] == shipped["version"]
    assert retrained["threshold"] == shipped["threshold"]


def test_shipped_model_meets_the_acceptance_bar(shipped: dict[str, Any]) -> None:
    test = shipped["metrics"]["test"]
    assert test["roc_auc"] >= 0.778
    assert test["brier"] <= 0.136
    assert test["ece"] <= 0.02
    assert test["f1"] >= 0.53
    assert test["precision_at_recall_0.68"] >= 0.41
    assert shipped["metrics"]["cv_auc_mean"] > 0.77
    assert test["roc_auc"] > shipped["metrics"]["baseline_test"]["roc_auc"]


def test_shipped_model_excludes_sex_and_marriage(shipped: dict[str, Any]) -> None:
    assert "sex" not in shipped["features_used"] and "marriage" not in shipped["features_used"]
    assert set(PAY_STATUS) <= set(shipped["monotone_increasing"])


def test_serving_equals_scikit_learn_on_every_row(dataset: Dataset, serving: ScoringModel) -> None:
    pipeline = joblib.load(MODEL_DIR / "model.joblib")  # trusted: our own artifact, in a test only
    expected = pipeline.predict_proba(dataset.X)[:, 1]
    assert np.max(np.abs(serving.probabilities(dataset.X) - expected)) <= 1e-9


@pytest.mark.parametrize("field", PAY_STATUS)
def test_raising_a_repayment_status_never_lowers_pd(
    dataset: Dataset, serving: ScoringModel, field: str
) -> None:
    X = dataset.X
    column = FEATURE_NAMES.index(field)
    base = serving.probabilities(X)
    for step in (1, 3):
        raised = X.copy()
        raised[:, column] = np.minimum(raised[:, column] + step, 9)
        assert np.all(serving.probabilities(raised) >= base - 1e-12)


@pytest.mark.parametrize(("field", "values"), [("sex", (1, 2)), ("marriage", (0, 1, 2, 3))])
def test_sex_and_marriage_never_change_pd(
    dataset: Dataset, serving: ScoringModel, field: str, values: tuple[int, ...]
) -> None:
    X = dataset.X
    base = serving.probabilities(X)
    for value in values:
        changed = X.copy()
        changed[:, FEATURE_NAMES.index(field)] = value
        assert np.array_equal(serving.probabilities(changed), base)


def test_train_cli_reports_bad_data_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('"ID","LIMIT_BAL"\n1,2\n')
    assert train.main(["--data", str(bad), "--out", str(tmp_path / "out")]) == 2
    out = capsys.readouterr().out
    assert "missing column(s)" in out and "Traceback" not in out
