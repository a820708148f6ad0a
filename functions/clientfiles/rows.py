"""Read client rows with the csv module, checking every row against the contract (no pandas: the Lambda image).

The layout rules (encoding, delimiter, header rows, column names) live in `functions.clientfiles.layout`. Bad rows are
reported with row, column and problem; none is dropped silently; rows of only delimiters are ignored and
counted. `stream_cells` and `stream_clients` yield every row, valid or not, one at a time (the portfolio command and
its Step Functions steps, with `text_lines` decoding a binary stream); `read_table`
gives a whole file's cells (training, the UI); `parse_clients` refuses a file with bad rows.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from functions.clientfiles.cells import TOO_LONG, TOO_LONG_PROBLEM
from functions.clientfiles.layout import (
    SAVE_AS,
    TARGET_NAMES,
    ClientFileError,
    Layout,
    MissingColumnsError,
    decode,
    read_layout,
    split_lines,
    text_lines,
)
from functions.scoring.contract import FEATURES, Applicant, raw_values

__all__ = [
    "ClientFileError",
    "ClientRow",
    "ClientRows",
    "ClientTable",
    "Layout",
    "MissingColumnsError",
    "Problem",
    "check_cells",
    "data_rows",
    "parse_cell",
    "parse_clients",
    "read_client_file",
    "read_layout",
    "read_table",
    "read_target",
    "stream_cells",
    "stream_clients",
    "table_of",
    "text_lines",
]

MAX_SHOWN: Final = 10


@dataclass(frozen=True)
class Problem:
    """One bad cell: the file's 1-based row, the column, what is wrong, and the contract field and error type.

    `field` and `kind` are pydantic's location and error type, so a reader (the UI) can word it its own way.
    """

    row: int
    column: str
    problem: str
    field: str = ""
    kind: str = ""

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.problem}"


@dataclass(frozen=True)
class ClientRows:
    """Valid clients: rows x 23 raw inputs in contract order (a missing optional code is 0) and the target."""

    raw: npt.NDArray[np.float64]
    target: npt.NDArray[np.int64] | None
    blank_rows: int = 0  # rows of only delimiters, ignored


def parse_cell(text: str) -> float | int | str | None:
    """Read one cell: blank is None, a number is an int when whole (below 2**53) else a float, other text stays."""
    text = text.strip()
    if not text:
        return None
    try:  # most cells are whole numbers: int() reads them in one step, as float() then int() would
        whole = int(text)
    except ValueError:
        pass
    else:
        if abs(whole) < 2**53:
            return whole
    try:
        value = float(text)
    except ValueError:
        return text  # the contract names it as the wrong type
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass(frozen=True)
class ClientRow:
    """One data row: its 1-based line, ID cell, 23 raw inputs (empty when invalid), target and problems."""

    line: int
    client_id: str | None
    values: tuple[float, ...]
    target: int | None
    problems: tuple[Problem, ...]  # the inputs' problems: a row with any is not scored
    target_problem: Problem | None = None
    applicant: Applicant | None = None  # the checked inputs as the API takes them; None when invalid

    @property
    def valid(self) -> bool:
        """Whether every input passed the contract."""
        return not self.problems

    @property
    def error(self) -> str:
        """Return the problems as one line: `COLUMN: problem; ...` (empty when valid)."""
        return "; ".join(f"{p.column}: {p.problem}" for p in self.problems)


def _cell(cells: list[str], at: int | None) -> str | None:
    return cells[at].strip() if at is not None and at < len(cells) else None


def check_cells(cells: list[str], layout: Layout, line: int) -> ClientRow:
    """Check one row's cells against the contract; problems name the line, the column and what is wrong."""
    if TOO_LONG in cells:  # a cell the reader could not hold: the row keeps its place with this error
        long_at = cells.index(TOO_LONG)
        column = layout.header[long_at] if long_at < len(layout.header) else f"column {long_at + 1}"
        client_id = _cell(cells, layout.id_at) if layout.id_at != long_at else None
        return ClientRow(
            line, client_id, (), None, (Problem(line, column, TOO_LONG_PROBLEM, kind="too_long"),)
        )
    record = {}
    for field, index in layout.where.items():
        value = parse_cell(cells[index]) if index < len(cells) else None
        if value is not None:
            record[field] = value
    values: tuple[float, ...] = ()
    problems: tuple[Problem, ...] = ()
    applicant: Applicant | None = None
    try:
        applicant = Applicant.model_validate(record)
    except ValidationError as err:
        problems = tuple(_problem(line, e["loc"], e["msg"], e["type"]) for e in err.errors())
    else:
        values = tuple(raw_values(vars(applicant)))
    target, target_problem = read_target(cells, layout, line)
    return ClientRow(line, _cell(cells, layout.id_at), values, target, problems, target_problem, applicant)


def read_target(cells: list[str], layout: Layout, line: int) -> tuple[int | None, Problem | None]:
    """Return a row's default flag (0 or 1; None without a target column) and the problem of any other value."""
    if (at := layout.target_at) is None:
        return None, None
    flag = parse_cell(cells[at]) if at < len(cells) else None
    if flag in (0, 1):
        return int(flag), None
    return None, Problem(line, layout.header[at], f"default flag {flag!r} is not 0 or 1")


def _problem(line: int, loc: tuple[int | str, ...], message: str, kind: str) -> Problem:
    field = str(loc[0]) if loc else ""
    return Problem(line, field.upper() or "-", message, field=field, kind=kind)


def data_rows(
    lines: Iterator[list[str]], layout: Layout, *, start: int | None = None, blank: list[int] | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield each non-blank data row after the header with its 1-based line (numbered from `start` if given);
    append the lines of blank rows (empty or only delimiters, as Excel leaves) to `blank` if given."""
    for line, cells in enumerate(lines, start=layout.first_line if start is None else start):
        if "".join(cells).strip():  # some cell holds more than whitespace: one join, not a strip per cell
            yield line, cells
        elif blank is not None:
            blank.append(line)


@dataclass(frozen=True)
class ClientTable:
    """A whole file as cells: its layout, each non-blank data row (1-based line, cells), the blank rows ignored."""

    layout: Layout
    rows: list[tuple[int, list[str]]]
    blank_rows: int

    @property
    def note(self) -> str:
        """Say how many blank rows were ignored ("3 blank rows ignored"; empty when none)."""
        if not self.blank_rows:
            return ""
        return f"{self.blank_rows:,} blank row{'s' if self.blank_rows != 1 else ''} ignored"


def table_of(cells: Iterable[list[str]], *, name: str) -> ClientTable:
    """Read the layout and every data row of a file's cell rows; raises ClientFileError on a bad header."""
    lines = iter(cells)
    blank: list[int] = []
    try:
        layout = read_layout(lines, name=name)
        rows = list(data_rows(lines, layout, blank=blank))
    except csv.Error as err:  # e.g. a cell past the csv module's field size limit
        raise ClientFileError(f"{name}: not a readable CSV ({err}); {SAVE_AS}") from err
    return ClientTable(layout, rows, len(blank))


def read_table(data: bytes, *, name: str) -> ClientTable:
    """Decode a CSV file's bytes, find its delimiter and layout, and return its cells; raises ClientFileError."""
    text = decode(data, name=name)
    return table_of(split_lines(io.StringIO(text, newline=""), name=name), name=name)


def readable(cells: Iterator[list[str]], *, name: str) -> Iterator[list[str]]:
    """Yield the cells of each record; a csv.Error becomes ClientFileError saying how to save the file."""
    try:
        yield from cells
    except csv.Error as err:  # e.g. a cell past the csv module's field size limit
        raise ClientFileError(f"{name}: not a readable CSV ({err}); {SAVE_AS}") from err


def stream_cells(text_lines: Iterable[str], *, name: str) -> tuple[Layout, Iterator[list[str]]]:
    """Read the layout now (any accepted delimiter), then yield the cells of each line after the header."""
    reader = readable(split_lines(text_lines, name=name), name=name)
    return read_layout(reader, name=name), reader


def stream_clients(text_lines: Iterable[str], *, name: str) -> tuple[Layout, Iterator[ClientRow]]:
    """Read the layout now, then yield every data row checked, valid or not, in file order (streaming)."""
    layout, cells = stream_cells(text_lines, name=name)
    return layout, (check_cells(row, layout, line) for line, row in data_rows(cells, layout))


def parse_clients(text: str, *, name: str, need_target: bool = False) -> ClientRows:
    """Parse CSV text into valid clients; raises ClientFileError listing every bad row, column and problem."""
    table = table_of(split_lines(io.StringIO(text, newline=""), name=name), name=name)
    layout = table.layout
    if need_target and layout.target_at is None:
        raise ClientFileError(f"{name}: no default flag column ({TARGET_NAMES[0].lower()}); outcomes need it")
    values: list[tuple[float, ...]] = []
    targets: list[int] = []
    problems: list[Problem] = []
    for row in (check_cells(cells, layout, line) for line, cells in table.rows):
        problems.extend(row.problems)
        if row.target_problem is not None:
            problems.append(row.target_problem)
        elif row.valid and row.target is not None:
            targets.append(row.target)
        if row.valid:
            values.append(row.values)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise ClientFileError(f"{name}: {len(problems)} problem(s); fix the file:\n  {shown}{more}")
    if not values:
        raise ClientFileError(f"{name}: no client rows")
    raw = np.asarray(values, dtype=np.float64).reshape(len(values), len(FEATURES))
    target = np.asarray(targets, dtype=np.int64) if layout.target_at is not None else None
    return ClientRows(raw=raw, target=target, blank_rows=table.blank_rows)


def read_client_file(path: Path, *, need_target: bool = False) -> ClientRows:
    """Read a client CSV file (any accepted encoding and delimiter); raises ClientFileError naming the problems."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ClientFileError(f"{path.name}: cannot be read ({err})") from err
    return parse_clients(decode(data, name=path.name), name=path.name, need_target=need_target)
