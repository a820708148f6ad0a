"""The strategy's columns and totals in a scored book."""

import csv
import io

import numpy as np

from functions.config import MODEL_DIR
from functions.portfolio.decisions import (
    STRATEGY_COLUMNS,
    add_totals,
    book_strategy,
    strategy_cells,
    strategy_labels,
    strategy_numbers,
    strategy_template,
    strategy_totals,
)
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import read_manifest
from functions.scoring.model import to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE
from training.synthetic import TYPICAL

LIMIT, BILL = FEATURE_NAMES.index("limit_bal"), FEATURE_NAMES.index("bill_amt1")


def test_cells_and_totals_of_a_chunk() -> None:
    manifest = read_manifest(MODEL_DIR)
    strategy = book_strategy(MODEL_DIR / DEFAULT_FILE, manifest)
    assert book_strategy(MODEL_DIR / DEFAULT_FILE, manifest) is strategy  # read once per process
    raw = to_matrix([TYPICAL] * 3)
    raw[:, LIMIT], raw[:, BILL] = 200_000, 20_000
    outcomes = strategy.apply(raw, np.array([0.05, 0.25, 0.5]))
    cells = strategy_cells(outcomes)
    assert [len(row) for row in cells] == [len(STRATEGY_COLUMNS)] * 3
    assert cells[0][:5] == ["approve", "approve_low_pd", "increase", "10", "220000"]
    assert cells[2][:5] == ["decline", "decline_at_cutoff", "freeze", "0", "20000"]
    assert cells[2][6] == f"{0.5 * 0.75 * 20_000:.2f}"
    assert [row[7] for row in cells] == ["not_applicable", "not_applicable", "required"]  # a current account
    totals = strategy_totals(outcomes, raw)
    assert totals["decisions"] == {"approve": 1, "refer": 1, "decline": 1}
    assert (totals["limit_added"], totals["limit_removed"]) == (20_000, 180_000)
    doubled = add_totals(add_totals({}, totals), totals)
    assert doubled["line_actions"]["freeze"] == 2 and doubled["expected_loss"] == 2 * totals["expected_loss"]


def test_strategy_templates_give_the_cells_as_csv_writer_writes_them() -> None:
    strategy = book_strategy(MODEL_DIR / DEFAULT_FILE, read_manifest(MODEL_DIR))
    raw = to_matrix([TYPICAL] * 6)
    raw[:, LIMIT], raw[:, BILL] = 200_000, np.linspace(0, 150_000, 6)
    outcomes = strategy.apply(raw, np.array([0.01, 0.05, 0.25, 0.5, 0.05, 0.9]))
    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerows(strategy_cells(outcomes))
    labels = zip(*(column.tolist() for column in strategy_labels(outcomes)), strict=True)
    rows = zip(labels, *strategy_numbers(outcomes), strict=True)
    text = [strategy_template(labels, first=1).format(None, *numbers) for labels, *numbers in rows]
    assert "\n".join(text) + "\n" == written.getvalue()
    template = strategy_template(("a,b", "{x}", "c", 'say "no"'))
    assert template.format(5.0, 1.0, 2.0, 3.0) == '"a,b",{x},c,5,1,2.00,3.00,"say ""no"""'
