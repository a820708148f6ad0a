"""The local portfolio command: one scored row per input row in order, the API's PDs, a pool, a summary."""

import csv
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from functions.clientfiles.rows import read_layout
from functions.monitoring.psi import population_drift
from functions.portfolio.cli import chunks, main, score_file, scored_chunks, summary_path
from functions.portfolio.shard import serving_model
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows, to_dataset_csv

ROWS = generate_rows(60, seed=21)
BAD_AT = {5: ("LIMIT_BAL", "abc"), 33: ("PAY_0", "12"), 59: ("AGE", "")}


@pytest.fixture
def book(tmp_path: Path, book_text: Callable[..., str]) -> Path:
    """A Kaggle-layout client file with three invalid rows (last one at the end of the file)."""
    path = tmp_path / "book.csv"
    path.write_text(book_text(ROWS, BAD_AT), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    """Read a scored CSV as dicts."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_score_keeps_every_row_in_order_with_the_api_pds(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    assert main(["score", str(book), str(out), "--workers", "1"]) == 0
    scored = read_rows(out)
    assert [row["ID"] for row in scored] == [str(i) for i in range(1, len(ROWS) + 1)]
    valid = [row for i, row in enumerate(ROWS) if i not in BAD_AT]
    expected = iter(serving_model().assess(to_matrix(valid)))
    for i, row in enumerate(scored):
        if i in BAD_AT:
            assert row["error"].startswith(BAD_AT[i][0]), row
            assert row["probability_of_default"] == ""
        else:
            assert abs(float(row["probability_of_default"]) - next(expected).probability_of_default) <= 1e-12
    summary = json.loads(summary_path(out).read_text())
    assert summary_path(out).name == "scored.csv.summary.json"
    assert (summary["rows"], summary["scored"], summary["invalid"]) == (60, 57, 3)
    assert sum(summary["grades"].values()) == 57
    assert summary["input_sha256"] == hashlib.sha256(book.read_bytes()).hexdigest()
    assert summary["model_version"] == serving_model().version
    assert 0 < summary["mean_probability_of_default"] < 1
    assert summary["drift"]["rows"] == 57  # PSI of the scored rows against the training reference
    assert not out.with_name("scored.csv.partial").exists()


def test_summary_psi_equals_population_drift_on_the_same_rows(book: Path, tmp_path: Path) -> None:
    summary = score_file(book, tmp_path / "scored.csv", workers=1, model_dir=Path("model"), chunk_rows=7)
    model = serving_model()
    assert model.manifest.reference is not None
    raw = to_matrix([row for i, row in enumerate(ROWS) if i not in BAD_AT])
    points = np.asarray([d.score for d in model.assess(raw, explain=False)], dtype=np.float64)
    expected = population_drift(raw, points, model.manifest.reference)
    assert summary["drift"] == {
        "psi": {d.name: d.psi for d in expected},  # exactly: the same counts, summed over 9 chunks
        "verdict": {d.name: "too few rows to judge (57 < 200)" for d in expected},  # MIN_DRIFT_ROWS
        "rows": 57,
    }


def test_summary_has_no_drift_without_a_reference(
    book: Path, tmp_path: Path, unreferenced_model_dir: Path
) -> None:
    serving_model.cache_clear()
    try:
        summary = score_file(book, tmp_path / "scored.csv", workers=1, model_dir=unreferenced_model_dir)
    finally:
        serving_model.cache_clear()
    assert summary["drift"] is None
    assert summary["scored"] == 57


def test_pool_of_workers_over_small_chunks_gives_the_same_file(book: Path, tmp_path: Path) -> None:
    model_dir = Path("model")
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    first = score_file(book, one, workers=1, model_dir=model_dir, chunk_rows=7)
    second = score_file(book, two, workers=2, model_dir=model_dir, chunk_rows=7)
    assert one.read_bytes() == two.read_bytes()
    assert first["grades"] == second["grades"]


def test_chunks_are_drawn_lazily_from_an_endless_stream() -> None:
    endless = ((line, ["x"]) for line in itertools.count(2))
    pieces = chunks(endless, 3)
    assert [line for line, _ in next(pieces)] == [2, 3, 4]
    assert [line for line, _ in next(pieces)] == [5, 6, 7]


def test_progress_goes_to_stderr_and_nothing_to_stdout(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", str(book), str(tmp_path / "s.csv"), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "scored 60 rows" in captured.err
    assert "60 rows (3 invalid)" in captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b'"ID","LIMIT_BAL"\n1,2000\n', "missing column(s)"),
        (b"\xff\xfe\x00\x01bad,file\n", "not UTF-8"),
        (to_dataset_csv(ROWS[:1]).splitlines()[0].encode() + b"\n", "no client rows"),
    ],
)
def test_unusable_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    out = tmp_path / "out.csv"
    assert main(["score", str(source), str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not out.with_name("out.csv.partial").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "{tmp}/missing.csv", "{tmp}/out.csv"], "no input file"),
        (["score", "{book}", "{tmp}/no/such/dir/out.csv"], "folder must exist"),
        (["score", "{book}", "{book}"], "must not be the input"),
        (["score", "{book}", "{tmp}/out.csv", "--model", "{tmp}"], "error:"),
    ],
)
def test_usage_mistakes_exit_2(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [arg.format(tmp=tmp_path, book=book) for arg in args]
    serving_model.cache_clear()
    try:
        assert main(argv) == 2
    finally:
        serving_model.cache_clear()
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["score", "a.csv"], ["score", "a.csv", "b.csv", "--workers", "0"], []])
def test_argument_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


@pytest.mark.realdata
def test_real_file_scores_30000_rows_in_order_as_the_api_does(
    real_data_path: Path, tmp_path: Path, client: TestClient
) -> None:
    out = tmp_path / "scored.csv"
    assert main(["score", str(real_data_path), str(out)]) == 0
    scored = read_rows(out)
    assert [row["ID"] for row in scored] == [str(i) for i in range(1, 30_001)]
    assert json.loads(summary_path(out).read_text())["invalid"] == 0
    with real_data_path.open(encoding="utf-8-sig", newline="") as handle:
        inputs = list(itertools.islice(csv.DictReader(handle), 0, 30_000, 97))  # every 97th client
    sample = [scored[int(row["ID"]) - 1] for row in inputs]
    applicants = [
        {
            name.lower(): float(value)
            for name, value in row.items()
            if name not in ("ID", "default.payment.next.month")
        }
        for row in inputs
    ]
    response = client.post("/v1/predict/batch", json={"applicants": applicants})
    assert response.status_code == 200, response.text[:300]
    for mine, api in zip(sample, response.json()["predictions"], strict=True):
        assert abs(float(mine["probability_of_default"]) - api["probability_of_default"]) <= 1e-12
        assert mine["risk_grade"] == api["risk_grade"]
        assert mine["reason_1"] == (api["reasons"][0]["code"] if api["reasons"] else "")


def test_pool_reads_at_most_two_chunks_per_worker_ahead(book: Path) -> None:
    header, *rows = list(csv.reader(book.read_text(encoding="utf-8").splitlines()))
    ten = rows[:10]
    drawn = 0

    def pieces() -> Iterator[list[tuple[int, list[str]]]]:
        nonlocal drawn
        for k in range(60):
            drawn += 1
            yield [(2 + 10 * k + i, cells) for i, cells in enumerate(ten)]

    layout = read_layout(iter([header]), name="book.csv")
    results = scored_chunks(layout, pieces(), workers=2, model_dir=Path("model"), delimiter=",")
    next(results)
    assert drawn <= 2 * 2  # the first answer comes with at most 2 x workers chunks read: memory stays flat
    assert sum(1 for _ in results) == 59
