"""`python -m functions.portfolio whatif`: scores a file once in any accepted layout, on a pool or not, writes
JSON and a self-contained HTML report, and refuses a bad strategy file with the engine's message (exit 2)."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.portfolio.cli import main
from functions.portfolio.shard import serving_model
from functions.portfolio.whatif.run import run_whatif
from functions.scoring.model import to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, read_strategy
from training.synthetic import generate_rows

ROWS = generate_rows(80, seed=17)
TARGET = [i % 3 == 0 for i in range(80)]
BAD_AT = {4: ("LIMIT_BAL", "abc"), 40: ("AGE", "")}
SHIPPED = MODEL_DIR / DEFAULT_FILE


@pytest.fixture
def book(tmp_path: Path, book_text: Callable[..., str]) -> Path:
    """A Kaggle-layout client file with a target column and two invalid rows."""
    lines = book_text(ROWS, BAD_AT).splitlines()
    lines = [lines[0] + ',"default.payment.next.month"'] + [
        f"{line},{int(t)}" for line, t in zip(lines[1:], TARGET, strict=True)
    ]
    path = tmp_path / "book.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def challenger(tmp_path: Path) -> Path:
    path = tmp_path / "challenger.yaml"
    text = SHIPPED.read_text().replace("to: 0.2, decision: approve", "to: 0.1, decision: approve")
    path.write_text(text.replace("from: 0.2, to: model_threshold", "from: 0.1, to: model_threshold"))
    return path


def test_whatif_writes_json_and_html_matching_the_engine(
    book: Path, challenger: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "w.json", tmp_path / "w.html"
    code = main(["whatif", str(book), "--strategy", str(SHIPPED), "--challenger", str(challenger),
                 "--json", str(out), "--report", str(report), "--workers", "1"])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert (result["rows_read"], result["rows_invalid"], result["rows_with_target"]) == (80, 2, 78)
    valid = [row for i, row in enumerate(ROWS) if i not in BAD_AT]
    model = serving_model(MODEL_DIR)
    raw = to_matrix(valid)
    pd = model.probabilities(raw)
    decisions = read_strategy(SHIPPED, manifest=model.manifest).apply(raw, pd).decision
    champion = result["arms"]["champion"]
    assert {d: v["clients"] for d, v in champion["decisions"].items()} == {
        d: int((decisions == d).sum()) for d in ("approve", "refer", "decline")
    }
    assert sum(sum(row.values()) for row in result["swaps"]["matrix"].values()) == 78
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Swaps" in html
    assert "champion grey, challenger blue" in html and "Expected against realised bad rate" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in html


def test_a_pool_of_small_chunks_gives_the_same_what_if(book: Path, challenger: Path) -> None:
    manifest = serving_model(MODEL_DIR).manifest
    strategies = {"champion": read_strategy(SHIPPED, manifest=manifest),
                  "challenger": read_strategy(challenger, manifest=manifest)}  # fmt: skip
    one = run_whatif(book, strategies, model_dir=MODEL_DIR, workers=1)
    pooled = run_whatif(book, strategies, model_dir=MODEL_DIR, workers=2, chunk_rows=7)
    for result in (one, pooled):
        result.pop("duration_seconds")
    left, right = flat(one), flat(pooled)
    assert left.keys() == right.keys()
    for key, value in left.items():  # sums in another order: the last bits of a float may differ
        assert right[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key


def flat(value: Any, at: str = "") -> dict[str, Any]:
    """Return a nested JSON value as {path: leaf}."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{at}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{at}/{i}").items()}
    return {at: value}


def test_a_semicolon_file_without_target_or_id_is_simulated(tmp_path: Path) -> None:
    from training.synthetic import to_dataset_csv

    text = to_dataset_csv(ROWS[:20], with_id=False).replace(",", ";")
    path = tmp_path / "book.csv"
    path.write_text(text, encoding="cp1252")
    out = tmp_path / "w.json"
    assert main(["whatif", str(path), "--strategy", str(SHIPPED), "--json", str(out), "--workers", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["arms"]["champion"]["rows"] == 20 and "swaps" not in result
    assert "realised_by_decision" not in result["arms"]["champion"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("format: credit-strategy/1\nformat: credit-strategy/1\n", "duplicate"),
    ],
)
def test_a_bad_strategy_file_exits_2_with_the_engines_message(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["whatif", str(book), "--strategy", str(bad), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.yaml:") and says in err.lower()
    assert "Traceback" not in err


def test_a_missing_input_or_strategy_exits_2(
    book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["whatif", str(tmp_path / "none.csv"), "--strategy", str(SHIPPED)]) == 2
    assert main(["whatif", str(book), "--strategy", str(tmp_path / "none.yaml")]) == 2
    with pytest.raises(SystemExit, match="2"):  # argparse's usage error, as for score
        main(["whatif", str(book), "--strategy", str(SHIPPED), "--workers", "0"])
    err = capsys.readouterr().err
    assert "no input file" in err and "no strategy file at none.yaml" in err and "at least 1" in err


def test_a_file_of_only_invalid_rows_exits_2(tmp_path: Path, book_text: Callable[..., str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(book_text(ROWS[:2], {0: ("AGE", "x"), 1: ("AGE", "")}), encoding="utf-8")
    assert main(["whatif", str(path), "--strategy", str(SHIPPED), "--workers", "1"]) == 2


def test_a_strategy_naming_its_own_challenger_is_compared_with_it(
    book: Path, challenger: Path, tmp_path: Path
) -> None:
    champion = tmp_path / "champion.yaml"
    champion.write_text(SHIPPED.read_text() + f"\nchallenger: {{file: {challenger.name}, share: 0.1}}\n")
    out = tmp_path / "w.json"
    assert main(["whatif", str(book), "--strategy", str(champion), "--json", str(out), "--workers", "1"]) == 0
    result = json.loads(out.read_text())
    assert set(result["arms"]) == {"champion", "challenger"}
    assert np.isclose(sum(sum(r.values()) for r in result["swaps"]["matrix"].values()), 78)
