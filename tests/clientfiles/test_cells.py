"""The one rule for CSV cells a spreadsheet may open: formula-looking text gets a leading quote, numbers do not."""

import pytest

from functions.clientfiles.cells import neutralise

HOSTILE = (
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "@SUM(1,2)",
    "-1+2",
    "\t=1+1",
    "\r=1+1",
    "-",
    "=",
    "-inf",
    "-1 ",
)


@pytest.mark.parametrize("cell", HOSTILE)
def test_formula_looking_text_gets_a_leading_quote(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-1200", "-2", "+3", "-0.123456", "-1e-05", "-.5", "1", "0.25", "-3.", ""])
def test_numbers_and_empty_cells_are_unchanged(cell: str) -> None:
    assert neutralise(cell) == cell


@pytest.mark.parametrize("cell", ["A", "client 7", "x=1", "HYPERLINK", "'=1"])
def test_text_not_starting_a_formula_is_unchanged(cell: str) -> None:
    assert neutralise(cell) == cell
