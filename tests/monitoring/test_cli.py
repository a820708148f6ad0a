"""The monitoring commands: drift and outcomes in table, JSON and HTML, and the acceptance on the real data."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pytest
from sklearn.model_selection import train_test_split

from functions.config import MODEL_DIR
from functions.monitoring.cli import main, score_rows
from functions.monitoring.psi import population_drift
from functions.scoring.contract import FEATURE_NAMES, FEATURES
from functions.scoring.manifest import read_manifest
from functions.scoring.reference import SCORE, build_reference
from scripts.local import ROOT
from training.synthetic import generate_rows, to_dataset_csv

PAY_0 = FEATURE_NAMES.index("pay_0")
Array = npt.NDArray[Any]


def _model_dir(target: Path, raw: Array) -> Path:
    """Copy the shipped model into `target` with a reference frozen from `raw` (rows x 23 inputs)."""
    target.mkdir()
    shutil.copy(MODEL_DIR / "serving.npz", target / "serving.npz")
    shutil.copy(MODEL_DIR / "model.json", target / "model.json")
    manifest, _, points = score_rows(raw, target)
    with_reference = manifest.model_copy(update={"reference": build_reference(raw, points)})
    (target / "model.json").write_text(with_reference.to_json())
    return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model folder with a reference from 1,500 generated clients, and files of other generated clients."""
    from functions.scoring.model import to_matrix

    base = tmp_path_factory.mktemp("monitoring")
    reference_rows = generate_rows(1500, seed=21)
    current = generate_rows(400, seed=22)
    target = [int(r["pay_0"] >= 1) for r in current]
    (base / "current.csv").write_text(to_dataset_csv(current, target=target))
    late = [r for r in generate_rows(1500, seed=23) if r["pay_0"] >= 2]
    (base / "late.csv").write_text(to_dataset_csv(late, with_id=False))
    return {"model": _model_dir(base / "model", to_matrix(reference_rows)), "base": base}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_drift_json_has_exactly_psi_verdict_and_rows(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "drift",
        str(workspace["base"] / "current.csv"),
        "--format",
        "json",
        "--model",
        str(workspace["model"]),
    )
    assert code == 0
    value = json.loads(out)
    assert list(value) == ["psi", "verdict", "rows"]
    assert list(value["psi"]) == [*FEATURE_NAMES, SCORE] == list(value["verdict"])
    assert value["rows"] == 400
    assert all(0 <= v < 0.25 for v in value["psi"].values())  # same generator, other seed


def test_drift_of_late_clients_is_shifted_in_table_and_report(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    late = str(workspace["base"] / "late.csv")
    code, out, _ = _run(capsys, "drift", late, "--model", str(workspace["model"]), "--report", str(tmp_path))
    assert code == 0
    pay_0 = next(line for line in out.splitlines() if line.startswith("pay_0 "))
    assert "shifted" in pay_0
    assert "->" in pay_0  # the bins that moved, reference share -> current share
    html = (tmp_path / "drift.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<h2>pay_0: PSI" in html and "<svg" in html
    assert "<script" not in html and "src=" not in html and "https:" not in html


def test_outcomes_json_table_and_report(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    current, model = str(workspace["base"] / "current.csv"), str(workspace["model"])
    code, out, _ = _run(capsys, "outcomes", current, "--format", "json", "--model", model)
    assert code == 0
    value: dict[str, Any] = json.loads(out)
    assert value["rows"] == 400
    assert value["auc_interval"][0] < value["auc"] < value["auc_interval"][1]
    assert {g["light"] for g in value["grades"]} <= {"green", "amber", "red"}
    code, out, _ = _run(capsys, "outcomes", current, "--model", model, "--report", str(tmp_path))
    assert code == 0
    assert "AUC" in out and "Gini" in out and "captured" in out
    html = (tmp_path / "outcomes.html").read_text()
    assert "<h2>Grades</h2>" in html and "<svg" in html and "<script" not in html


def test_commands_refuse_unusable_input_with_exit_code_2(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    late, model = str(workspace["base"] / "late.csv"), str(workspace["model"])
    code, _, err = _run(capsys, "outcomes", late, "--model", model)
    assert code == 2
    assert "late.csv: no default flag" in err
    unreferenced = tmp_path / "unreferenced"
    shutil.copytree(MODEL_DIR, unreferenced)
    manifest = json.loads((unreferenced / "model.json").read_text())
    manifest.pop("reference")  # a model trained before reference distributions were frozen
    (unreferenced / "model.json").write_text(json.dumps(manifest))
    code, _, err = _run(capsys, "drift", late, "--model", str(unreferenced))
    assert code == 2
    assert "no reference distributions" in err
    code, _, err = _run(capsys, "drift", late, "--model", str(tmp_path))
    assert code == 2
    assert "no manifest" in err
    bad = tmp_path / "bad.csv"
    bad.write_text(to_dataset_csv(generate_rows(3, seed=1)).replace("\n1,", "\n1,-7", 1))
    code, _, err = _run(capsys, "drift", str(bad), "--model", model)
    assert code == 2
    assert "row 2, column LIMIT_BAL" in err


def test_module_runs_as_a_command(workspace: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "functions.monitoring", "drift", str(workspace["base"] / "late.csv"),
         "--format", "json", "--model", str(workspace["model"])],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"]["pay_0"] == "shifted"


@pytest.fixture(scope="module")
def real_splits(real_data_path: Path) -> dict[str, Array]:
    """The training protocol's 75/25 stratified split (random_state 42) of the real data."""
    from training.data import load_dataset

    dataset = load_dataset(real_data_path)
    manifest = read_manifest(MODEL_DIR)
    X_train, X_test, _, y_test = train_test_split(
        dataset.X,
        dataset.y,
        test_size=manifest.split.test_size,
        stratify=dataset.y,
        random_state=manifest.split.random_state,
    )
    return {"X_train": X_train, "X_test": X_test, "y_test": y_test, "X": dataset.X}


@pytest.mark.realdata
def test_test_split_is_stable_against_the_training_reference(real_splits: dict[str, Array]) -> None:
    _, _, train_points = score_rows(real_splits["X_train"], MODEL_DIR)
    reference = build_reference(real_splits["X_train"], train_points)
    _, _, test_points = score_rows(real_splits["X_test"], MODEL_DIR)
    drifts = population_drift(real_splits["X_test"], test_points, reference)
    assert [d.name for d in drifts] == [*FEATURE_NAMES, SCORE]
    assert {d.name: d.psi for d in drifts if d.psi >= 0.10} == {}
    assert {d.verdict for d in drifts} == {"stable"}


@pytest.mark.realdata
def test_late_clients_are_shifted_on_pay_0_and_the_score(real_splits: dict[str, Array]) -> None:
    _, _, train_points = score_rows(real_splits["X_train"], MODEL_DIR)
    reference = build_reference(real_splits["X_train"], train_points)
    late = real_splits["X"][real_splits["X"][:, PAY_0] >= 1]
    _, _, points = score_rows(late, MODEL_DIR)
    drifts = {d.name: d for d in population_drift(late, points, reference)}
    for name in ("pay_0", SCORE):
        assert drifts[name].psi >= 0.25
        assert drifts[name].verdict == "shifted"


@pytest.mark.realdata
def test_outcomes_on_the_test_split_reproduce_the_manifest(
    real_splits: dict[str, Array], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = ",".join(f'"{spec.column}"' for spec in FEATURES) + ',"default.payment.next.month"'
    lines = [
        ",".join(str(int(v)) for v in (*r, y))
        for r, y in zip(real_splits["X_test"], real_splits["y_test"], strict=True)
    ]
    path = tmp_path / "test_split.csv"  # whole numbers written in full (the generator's %g rounds amounts)
    path.write_text("\n".join([header, *lines]) + "\n")
    code, out, err = _run(capsys, "outcomes", str(path), "--format", "json", "--model", str(MODEL_DIR))
    assert code == 0, err
    value = json.loads(out)
    expected = read_manifest(MODEL_DIR).metrics.test
    assert value["auc"] == pytest.approx(expected.roc_auc, abs=1e-9)
    assert value["brier"] == pytest.approx(expected.brier, abs=1e-9)
    assert value["auc_interval"][0] < expected.roc_auc < value["auc_interval"][1]
    assert value["brier_interval"][0] < expected.brier < value["brier_interval"][1]
    assert value["rows"] == len(real_splits["y_test"])


def test_monitoring_imports_nothing_the_lambda_image_lacks() -> None:
    code = (
        "import sys, functions.monitoring.cli, functions.monitoring.stats, functions.clientfiles.rows; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'pandas', 'scipy', 'training'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
