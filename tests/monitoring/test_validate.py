"""The validation pack command: its figures against `functions.monitoring.validation.ecb` run directly, its errors."""

import csv
import dataclasses
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.audit.decision import DecisionRecord
from functions.audit.outcomes import Outcome
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.monitoring.cli import main
from functions.monitoring.psi import drift_of
from functions.monitoring.validation.ecb import (
    current_versus_initial_auc,
    herfindahl,
    jeffreys_one_sided,
    migration_matrix,
)
from functions.portfolio.cli import main as portfolio
from functions.scoring.manifest import Manifest
from functions.scoring.model import points_of, to_matrix
from training.synthetic import generate_rows, to_dataset_csv

DAYS = "36500"  # the fixture's decisions are of March and April 2026: any later run reaches them


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """1,500 recorded decisions of generated clients, the second half in April."""
    made = make_records(to_matrix(generate_rows(1_500, seed=61)))
    return [
        dataclasses.replace(r, decided_at=r.decided_at.replace("-03-", "-04-")) if i >= 750 else r
        for i, r in enumerate(made)
    ]


@pytest.fixture(scope="module")
def outcomes(records: list[DecisionRecord]) -> list[Outcome]:
    """An outcome for 1,200 of the decisions, drawn from their PDs."""
    rng = np.random.default_rng(62)
    return [
        Outcome(r.key, bool(rng.random() < r.decision.probability_of_default), "2026-11-30")
        for r in records[:1_200]
    ]


@pytest.fixture
def log(
    records: list[DecisionRecord], outcomes: list[Outcome], tmp_path: Path, configure: Callable[..., None]
) -> Path:
    """The local decision log (DECISION_LOG) holding the decisions and the outcomes."""
    path = tmp_path / "decisions.sqlite"
    store = SqliteOutcomeLog(path)
    store.write(records, deadline=None)
    store.record_outcomes(outcomes)
    configure(DECISION_LOG=str(path))
    return path


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two books of the same 200 accounts scored by the portfolio command, the second with later arrears."""
    folder = tmp_path_factory.mktemp("books")
    rows = generate_rows(200, seed=63)
    (folder / "first.csv").write_text(to_dataset_csv(rows))
    for row in rows[::2]:
        row["pay_0"] = min(row["pay_0"] + 2, 8)
    (folder / "second.csv").write_text(to_dataset_csv(rows))
    for name in ("first", "second"):
        assert (
            portfolio(
                ["score", str(folder / f"{name}.csv"), str(folder / f"{name} scored.csv"), "--workers", "1"]
            )
            == 0
        )
    return folder / "first scored.csv", folder / "second scored.csv"


def grades_of(path: Path) -> dict[str, str]:
    """Read a scored book's grade per account id."""
    with path.open(encoding="utf-8") as handle:
        return {row["ID"]: row["risk_grade"] for row in csv.DictReader(handle)}


def run(*arguments: str) -> int:
    """Run the validate command with the test's span."""
    return main(["validate", "--days", DAYS, *arguments])


def test_the_report_figures_are_the_validation_functions_on_the_joined_log(
    log: Path,
    records: list[DecisionRecord],
    outcomes: list[Outcome],
    books: tuple[Path, Path],
    shipped_manifest: Manifest,
    tmp_path: Path,
) -> None:
    out = tmp_path / "pack.json"
    assert run("--format", "json", "--out", str(out), "--book1", str(books[0]), "--book2", str(books[1])) == 0
    pack: dict[str, Any] = json.loads(out.read_text())
    flags = {o.key: int(o.defaulted) for o in outcomes}
    joined = [r for r in records if r.key in flags]
    pd = np.array([r.decision.probability_of_default for r in joined])
    y = np.array([flags[r.key] for r in joined])
    grade = np.array([r.decision.risk_grade for r in joined])
    scale = [band.grade for band in shipped_manifest.grade_bands]
    expected = [
        jeffreys_one_sided(g, int(y[grade == g].sum()), int((grade == g).sum()), float(pd[grade == g].mean()))
        for g in scale
        if (grade == g).any()
    ] + [jeffreys_one_sided("portfolio", int(y.sum()), y.size, float(pd.mean()))]
    assert len(pack["jeffreys"]) == len(expected)
    for shown, direct in zip(pack["jeffreys"], expected, strict=True):
        numbers = {k: v for k, v in dataclasses.asdict(direct).items() if k != "name"}
        assert shown.pop("name") == direct.name and shown == pytest.approx(numbers, rel=1e-12)
    auc = current_versus_initial_auc(shipped_manifest.metrics.test.roc_auc, y, pd)
    assert pack["auc"] == pytest.approx(dataclasses.asdict(auc), rel=1e-12)
    assert (pack["decisions"], pack["joined"]) == (1_500, 1_200)
    every = [r.decision.risk_grade for r in records]
    index, squares = herfindahl([every.count(g) for g in scale])
    assert pack["concentration"][0]["index"] == pytest.approx(index, rel=1e-12)
    assert pack["concentration"][0]["squares"] == pytest.approx(squares, rel=1e-12)
    first, second = grades_of(books[0]), grades_of(books[1])
    matrix = migration_matrix([first[k] for k in first], [second[k] for k in first], scale)
    assert pack["migration"]["matrix"] == matrix.tolist() and pack["migration"]["accounts"] == 200
    assert pack["migration"]["riskier"] > 0.2  # half the accounts gained two months of arrears
    book_index, _ = herfindahl([list(second.values()).count(g) for g in scale])
    assert pack["concentration"][2]["index"] == pytest.approx(book_index, rel=1e-12)
    reference = shipped_manifest.reference
    assert reference is not None
    for period, month in zip(pack["drift"], ("2026-03", "2026-04"), strict=True):
        chosen = np.array(
            [r.decision.probability_of_default for r in records if r.decided_at.startswith(month)]
        )
        points = points_of(chosen, shipped_manifest.score_scaling)
        assert period["period"] == month and period["rows"] == 750
        assert period["psi"] == pytest.approx(drift_of(points, reference.score, floor=reference.floor).psi)


def test_the_html_report_is_one_self_contained_page_with_every_section(
    log: Path, books: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "validation.html"
    assert run("--out", str(out), "--book1", str(books[0]), "--book2", str(books[1])) == 0
    html = out.read_text()
    for section in (
        "Jeffreys test",
        "current against initial AUC",
        "Herfindahl",
        "migration matrix",
        "per decision month",
    ):
        assert section in html
    assert "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    summary = capsys.readouterr().out
    assert "1,500 decisions" in summary and "1,200 with an outcome" in summary and str(out) in summary


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing log", "No decision log at"),
        ("no outcomes", "has an outcome yet"),
        ("different accounts", "books of different accounts"),
        ("one book", "give both --book1 and --book2"),
        ("existing report", "exists; remove it"),
        ("not a book", "no `risk_grade` column"),
        ("grade outside the scale", "is not in the model's scale"),
        ("binary book", "cannot be read as a CSV text file"),
        ("unscored book", "first book: the Herfindahl index needs"),
    ],
)
def test_bad_input_is_named_and_exits_2_without_a_traceback(
    case: str,
    message: str,
    records: list[DecisionRecord],
    books: tuple[Path, Path],
    tmp_path: Path,
    configure: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "decisions.sqlite"
    SqliteOutcomeLog(path).write(records[:300], deadline=None)
    configure(DECISION_LOG=str(tmp_path / "none.sqlite" if case == "missing log" else path))
    out = tmp_path / "validation.html"
    arguments = ["--out", str(out)]
    if case == "different accounts":
        other = tmp_path / "other.csv"
        lines = books[1].read_text().splitlines()
        other.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # one account fewer
        arguments += ["--book1", str(books[0]), "--book2", str(other)]
    elif case == "one book":
        arguments += ["--book1", str(books[0])]
    elif case == "existing report":
        out.write_text("an earlier report")
    elif case in {"grade outside the scale", "binary book"}:
        other = tmp_path / "other.csv"
        if case == "binary book":
            other.write_bytes(b"\xff\xfe\x00risk_grade\x00\x9c")
        else:
            other.write_text(books[1].read_text().replace(",A,", ",Z,", 1))
        arguments += ["--book1", str(books[0]), "--book2", str(other)]
    elif case == "unscored book":
        with books[0].open(encoding="utf-8") as handle:
            rows = [{**row, "risk_grade": ""} for row in csv.DictReader(handle)]
        other = tmp_path / "unscored.csv"
        with other.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        arguments += ["--book1", str(other), "--book2", str(books[1])]
    elif case == "not a book":
        arguments += ["--book1", str(books[0]), "--book2", str(books[0].parent / "first.csv")]  # unscored
    if case not in {"no outcomes", "missing log"}:
        SqliteOutcomeLog(path).record_outcomes([Outcome(r.key, False, "2026-11-30") for r in records[:300]])
    assert run(*arguments) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert case == "existing report" or not out.exists()
    if case == "existing report":
        assert out.read_text() == "an earlier report"


def test_make_validate_passes_book_names_through_unexpanded(
    log: Path, books: tuple[Path, Path], tmp_path: Path, repo_root: Path
) -> None:
    odd = tmp_path / "book $(touch pwned).csv"
    odd.write_bytes(books[1].read_bytes())
    out = tmp_path / "pack $(touch pwned).json"
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {name: value for name, value in os.environ.items() if name not in outer}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-o", ".venv/bin/.installed", "validate", f"BOOK1={books[0]}",
         f"BOOK2={odd}", f"OUT={out}", "FORMAT=json", f"DECISION_LOG={log}"],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["migration"]["accounts"] == 200
    assert not (repo_root / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_a_corrupt_log_is_named_exits_1_and_writes_no_report(
    tmp_path: Path, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "decisions.sqlite"
    path.write_text("not a database")
    configure(DECISION_LOG=str(path))
    out = tmp_path / "validation.html"
    assert run("--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "cannot read the decision log" in err and "Traceback" not in err and not out.exists()
    assert path.read_text() == "not a database"
