"""The scored book of `python -m functions.portfolio score`, read as a spreadsheet would: no live formulas."""

import csv
import io
from pathlib import Path

from functions.portfolio.cli import main
from training.synthetic import generate_rows, to_dataset_csv

HOSTILE_IDS = ('=HYPERLINK("http://x","y")', "+1+1", "@SUM(1,2)", "-1+2")
NUMERIC_IDS = ("-1200", "-2")


def hostile_book(path: Path) -> None:
    """Write a Kaggle-layout file whose IDs look like formulas or negative numbers; the last row is invalid."""
    rows = list(csv.reader(io.StringIO(to_dataset_csv(generate_rows(7, seed=5), with_id=True))))
    header = [cell.strip('"') for cell in rows[0]]
    for row, client_id in zip(rows[1:], HOSTILE_IDS + NUMERIC_IDS + ("=1+1",), strict=True):
        row[header.index("ID")] = client_id
    rows[-1][header.index("LIMIT_BAL")] = "=cmd|' /C calc'!A0"  # echoed in the row's error text
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_scored_book_neutralises_formula_ids_and_keeps_numbers(tmp_path: Path) -> None:
    book, out = tmp_path / "book.csv", tmp_path / "scored.csv"
    hostile_book(book)
    assert main(["score", str(book), str(out), "--workers", "1"]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert [row["ID"] for row in scored] == [*("'" + i for i in HOSTILE_IDS), *NUMERIC_IDS, "'=1+1"]
    assert scored[-1]["error"] and not scored[-1]["error"].startswith(("=", "+", "-", "@"))
    for row in scored[:-1]:
        assert float(row["probability_of_default"]) > 0
        impacts = [row[f"impact_{k}"] for k in range(1, 5) if row[f"impact_{k}"]]
        assert impacts and all(float(impact) for impact in impacts)  # plain numbers, no quote
    assert not any(cell.startswith(("=", "+", "@")) for row in scored for cell in row.values())
