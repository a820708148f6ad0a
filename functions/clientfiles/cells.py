"""Cells written to CSV files a person may open in a spreadsheet, neutralised against formula injection (OWASP)."""

import re
from typing import Final

# What a spreadsheet may read as the start of a formula.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """Return `cell` with a leading single quote when a spreadsheet could run it as a formula; numbers unchanged."""
    if cell.startswith(FORMULA_STARTS) and NUMBER.fullmatch(cell) is None:
        return "'" + cell
    return cell
