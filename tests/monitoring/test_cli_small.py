"""Monitoring knows when it cannot tell: drift on a handful of rows is not judged (command, report, book summary),
a one-class outcome file and a --report path that is a file are refused with exit 2 and a message."""

import json
from pathlib import Path

import pytest

from functions.monitoring.cli import main
from functions.monitoring.tables import MIN_DRIFT_ROWS
from functions.portfolio.cli import main as score_main
from functions.portfolio.files import summary_path
from training.synthetic import generate_rows, to_dataset_csv

TOO_FEW = "too few rows to judge ({rows} < 200)"


def clients(tmp_path: Path, rows: int, *, target: list[int] | None = None) -> Path:
    """Write `rows` late payers (PAY_0 = 2, far from the reference) as a client file."""
    late = [row | {"pay_0": 2} for row in generate_rows(rows, seed=31)]
    path = tmp_path / f"clients-{rows}.csv"
    path.write_text(to_dataset_csv(late, target=target))
    return path


@pytest.mark.parametrize("rows", [1, 3])
def test_drift_on_a_few_rows_judges_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: int
) -> None:
    path = clients(tmp_path, rows)
    assert main(["drift", str(path), "--format", "json", "--report", str(tmp_path / "report")]) == 0
    value = json.loads(capsys.readouterr().out)
    assert set(value["verdict"].values()) == {TOO_FEW.format(rows=rows)}
    assert value["psi"]["pay_0"] > 0.25  # the PSI is still computed and shown, for information
    assert main(["drift", str(path)]) == 0
    table = capsys.readouterr().out
    assert f"{rows} rows: too few rows to judge drift (at least {MIN_DRIFT_ROWS})" in table
    assert "shifted" not in table and "investigate" not in table
    html = (tmp_path / "report" / "drift.html").read_text()
    assert "too few to judge drift" in html and "(shifted)" not in html


def test_drift_at_the_minimum_is_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", str(clients(tmp_path, MIN_DRIFT_ROWS)), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"]["pay_0"] == "shifted"


def test_one_row_book_summary_judges_no_drift(tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    assert score_main(["score", str(clients(tmp_path, 1)), str(out), "--workers", "1"]) == 0
    drift = json.loads(summary_path(out).read_text())["drift"]
    assert drift["rows"] == 1
    assert set(drift["verdict"].values()) == {TOO_FEW.format(rows=1)}


@pytest.mark.parametrize("flag", [0, 1])
def test_one_class_outcome_file_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: int
) -> None:
    path = clients(tmp_path, 40, target=[flag] * 40)
    assert main(["outcomes", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"every client's default flag is {flag}" in err and "needs both" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["drift", "outcomes"])
def test_report_path_that_is_a_file_exits_2_and_keeps_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine\n")
    path = clients(tmp_path, 40, target=[k % 2 for k in range(40)])
    assert main([command, str(path), "--report", str(existing)]) == 2
    assert f"--report {existing} is a file; give a folder" in capsys.readouterr().err
    assert existing.read_text() == "mine\n"
