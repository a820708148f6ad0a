"""The page's scored download, read as a spreadsheet would: formula-looking text quoted, numbers unchanged."""

import csv
import io

from tests.ui.test_batch import FakeClient
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch
from ui import results as ui_results

HOSTILE_IDS = ('=HYPERLINK("http://x","y")', "+1+1", "@SUM(1,2)", "-1+2")
NUMERIC_IDS = ("-1200", "-2")


def hostile_upload() -> tuple[bytes, list[list[str]]]:
    """Return an upload whose IDs look like formulas or negative numbers, with a text column `=note`, and its rows."""
    rows = list(csv.reader(io.StringIO(to_dataset_csv(generate_rows(6, seed=8), with_id=True))))
    at = [cell.strip('"') for cell in rows[0]].index("ID")
    for row, client_id in zip(rows[1:], HOSTILE_IDS + NUMERIC_IDS, strict=True):
        row[at] = client_id
    rows[0].append("=note")
    for row in rows[1:]:
        row.append("@cmd")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode(), rows


def test_download_neutralises_formula_cells_and_keeps_numbers() -> None:
    upload, rows = hostile_upload()
    parsed = batch.read_clients(upload)
    results = ui_results.results_table(
        parsed, batch.score_rows(FakeClient(), parsed, on_progress=lambda d, t: None)
    )
    download = list(csv.reader(io.StringIO(ui_results.scored_csv(parsed, results).decode())))
    header = download[0]
    assert "'=note" in header and "=note" not in header
    ids = [row[header.index("ID")] for row in download[1:]]
    assert ids == [*("'" + i for i in HOSTILE_IDS), *NUMERIC_IDS]
    assert {row[header.index("'=note")] for row in download[1:]} == {"'@cmd"}
    for column in ("PAY_0", "PAY_2", "BILL_AMT1", "LIMIT_BAL", "AGE"):  # contract numbers, -2 codes included
        source = [row[rows[0].index(column)] for row in rows[1:]]
        assert [row[header.index(column)] for row in download[1:]] == source
    assert all(float(row[header.index("probability_of_default")]) > 0 for row in download[1:])
    assert not any(cell.startswith(("=", "+", "@")) for row in download for cell in row)
