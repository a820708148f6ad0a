"""The comparison command: held-out rows as training draws them, refusals (exit 2), and issue 12's acceptance."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from functions.config import MODEL_DIR
from functions.scoring.contract import FEATURES, TARGET
from functions.scoring.manifest import SplitPolicy, read_manifest
from scripts.local import ROOT
from training.compare import main, same_split, split_rows
from training.data import load_dataset
from training.synthetic import generate_rows, to_dataset_csv

POLICY = SplitPolicy(test_size=0.25, validation_size_of_train=0.2, random_state=42, stratified=True)


def copy_with_manifest(tmp_path: Path, **changes: object) -> Path:
    """Copy the shipped model folder and overwrite top-level parts of its manifest (model.json is not hashed)."""
    folder = tmp_path / "challenger"
    shutil.copytree(MODEL_DIR, folder)
    manifest = json.loads((folder / "model.json").read_text())
    for path, value in changes.items():
        section, key = path.split("__")
        manifest[section][key] = value
    (folder / "model.json").write_text(json.dumps(manifest, indent=2))
    return folder


def test_split_rows_draws_the_test_rows_training_draws() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (rng.random(400) < 0.22).astype(np.int64)
    _, X_test, _, _ = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=42
    )  # as training/train.py
    _, test_rows = split_rows(y, POLICY)
    np.testing.assert_array_equal(X[test_rows], X_test)


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({}, True),
        ({"validation_size_of_train": 0.3}, True),  # the validation share does not move the test rows
        ({"test_size": 0.2}, False),
        ({"random_state": 7}, False),
        ({"stratified": False}, False),
    ],
)
def test_same_split_compares_what_draws_the_test_rows(change: dict[str, object], same: bool) -> None:
    assert same_split(POLICY, POLICY.model_copy(update=change)) is same


def test_a_missing_challenger_folder_exits_2_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(MODEL_DIR), str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: challenger ") and "nowhere" in err and "Traceback" not in err


def test_a_challenger_with_another_split_policy_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    challenger = copy_with_manifest(tmp_path, split__random_state=7)
    assert main([str(MODEL_DIR), str(challenger)]) == 2
    err = capsys.readouterr().err
    assert "split (test 25%, seed 7, stratified) is not the champion's (test 25%, seed 42" in err


def test_data_that_is_not_the_champions_table_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = generate_rows(50, seed=1)
    data = tmp_path / "other.csv"
    data.write_text(to_dataset_csv(rows, target=[i % 2 for i in range(len(rows))]))
    assert main([str(MODEL_DIR), str(MODEL_DIR), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "other.csv: table sha256" in err and "is not the champion's" in err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(MODEL_DIR)])
    assert exit_info.value.code == 2
    assert "challenger" in capsys.readouterr().err


@pytest.mark.realdata
def test_a_challenger_from_another_table_needs_its_data(
    real_data_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    challenger = copy_with_manifest(tmp_path, data__table_sha256="0" * 64)
    assert main([str(MODEL_DIR), str(challenger), "--data", str(real_data_path)]) == 2
    assert "pass --challenger-data PATH" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.slow
def test_the_shipped_model_against_its_retrain_is_accepted(
    real_data_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Training is reproducible (tests/test_training.py retrains and finds the same version), so a copy of
    the shipped folder is the retrain on the same data."""
    retrain = tmp_path / "retrain"
    shutil.copytree(MODEL_DIR, retrain)
    report = tmp_path / "comparison.md"
    argv = [str(MODEL_DIR), str(retrain), "--data", str(real_data_path), "--format", "json"]
    assert main([*argv, "--report", str(report)]) == 0
    value = json.loads(capsys.readouterr().out)
    manifest = read_manifest(MODEL_DIR)
    # The same held-out rows as training's: the manifest's test AUC and Brier are reproduced.
    assert value["champion"]["auc"] == pytest.approx(manifest.metrics.test.roc_auc, abs=1e-9)
    assert value["champion"]["brier"] == pytest.approx(manifest.metrics.test.brier, abs=1e-9)
    assert value["acceptable"] is True and value["failures"] == []
    assert value["auc_difference"] == {"value": 0.0, "interval": [0.0, 0.0]}
    assert value["score_psi"] == 0.0
    assert value["rows"] == round(manifest.data.rows * manifest.split.test_size)
    assert "**Verdict: acceptable**" in report.read_text()


def tenth_of(source: Path, target: Path) -> None:
    """Write every tenth client of the real data (any layout it comes in) as a CSV with the csv module."""
    frame = load_dataset(source).frame
    with target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ID", *(spec.column for spec in FEATURES), TARGET])
        for client_id, row in zip(frame.index[::10], frame.to_numpy()[::10], strict=True):
            writer.writerow([client_id, *row.tolist()])


@pytest.mark.realdata
@pytest.mark.slow
def test_a_challenger_trained_on_a_tenth_of_the_rows_is_refused(
    real_data_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "tenth.csv"
    tenth_of(real_data_path, small)
    challenger = tmp_path / "tenth_model"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "training.train",
            "--data",
            str(small),
            "--out",
            str(challenger),
            "--allow-other-data",
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        timeout=600,
    )
    report = tmp_path / "comparison.md"
    argv = [str(MODEL_DIR), str(challenger), "--data", str(real_data_path), "--challenger-data", str(small)]
    assert main([*argv, "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert out == report.read_text() + "\n"
    assert "**Verdict: refused**" in out
    assert "- AUC drops by" in out
    # About a quarter of the tenth's training part lies in the champion's held-out rows: the report says so.
    assert "of the 7,500 held-out rows" in out and "its figures here are optimistic" in out
