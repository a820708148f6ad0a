"""Cells at the edges of a client file: a cell too long for the csv module, read without a traceback and marked,
and cells written to CSV files a person may open in a spreadsheet, neutralised against formula injection (OWASP).
"""

import csv
import io
import re
from typing import Final

# What a spreadsheet may read as the start of a formula.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
MAX_CELL: Final = csv.field_size_limit()  # 131,072 characters: the csv module's limit, kept as the product's
NEEDS_QUOTES: Final = re.compile(
    '[,"\r\n]'
)  # what makes csv.writer quote a field (delimiter, quote, line ends)
TOO_LONG: Final = "\x00too long\x00"  # stands in for a longer cell (NUL bytes: no value a file means)
TOO_LONG_PROBLEM: Final = (
    f"a cell of more than {MAX_CELL:,} characters (the most a client file's cell may hold); fix or delete it"
)


def neutralise(cell: str) -> str:
    """Return `cell` with a leading single quote when a spreadsheet could run it as a formula; numbers unchanged."""
    if cell.startswith(FORMULA_STARTS) and NUMBER.fullmatch(cell) is None:
        return "'" + cell
    return cell


def csv_field(cell: str) -> str:
    """Return one CSV field as csv.writer writes it (quoted when it holds a comma, a quote or a line break)."""
    if NEEDS_QUOTES.search(cell) is None:
        return cell
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow([cell, ""])  # two fields: a lone "" would be quoted
    return line.getvalue()[:-2]


def split_long_line(text: str, delimiter: str) -> list[str]:
    """Split a record the csv module refused (quotes honoured, `""` inside quotes is one quote) into its cells,
    each cell longer than MAX_CELL replaced by TOO_LONG; never raises."""
    cells: list[str] = []
    cell: list[str] = []
    length, quoted, closed = 0, False, False
    for char in text.rstrip("\r\n"):
        if quoted:
            if char == '"':
                quoted, closed = False, True
                continue
        elif char == '"':
            quoted = True
            if closed:  # `""` inside quotes: a literal quote
                char = '"'
            else:
                closed = False
                continue
        elif char == delimiter:
            cells.append(TOO_LONG if length > MAX_CELL else "".join(cell))
            cell, length, closed = [], 0, False
            continue
        closed = False
        length += 1
        if length <= MAX_CELL:
            cell.append(char)
    cells.append(TOO_LONG if length > MAX_CELL else "".join(cell))
    return cells
