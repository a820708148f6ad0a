"""Read a client CSV in the dataset's layouts with the csv module, checking every row against the contract.

Accepted: the Kaggle layout (quoted upper-case header, ID first, `default.payment.next.month` last), the same
without ID and/or target, the UCI layout (an extra X1..X23,Y row above the header), and lower-case contract
names. Bad rows are reported with row, column and problem; none is dropped silently. `stream_clients` yields
every row, valid or not, one at a time (the portfolio command); `parse_clients` refuses a file with bad rows.
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

from functions.contract import FEATURES, Applicant

TARGET_NAMES: Final = ("DEFAULT.PAYMENT.NEXT.MONTH", "DEFAULT PAYMENT NEXT MONTH", "DEFAULT")
ALIASES: Final = {"PAY_1": "PAY_0"}
UCI_CODES: Final = [f"X{k}" for k in range(1, 24)] + ["Y"]
MAX_SHOWN: Final = 10


class ClientFileError(ValueError):
    """The file cannot be read as clients: the message names the file, and each bad row, column and problem."""


@dataclass(frozen=True)
class Problem:
    """One bad cell: the file's 1-based row, the column as the header spells it, and what is wrong."""

    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.problem}"


@dataclass(frozen=True)
class ClientRows:
    """Valid clients: rows x 23 raw inputs in contract order (a missing optional code is 0) and the target."""

    raw: npt.NDArray[np.float64]
    target: npt.NDArray[np.int64] | None


def _number(text: str) -> float | int | str | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text  # the contract names it as the wrong type
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass(frozen=True)
class Layout:
    """Where a file's columns are: each contract field's cell, the target's and the ID's, and the header."""

    header: tuple[str, ...]
    where: dict[str, int]
    target_at: int | None
    id_at: int | None
    first_line: int  # 1-based line of the first data row


@dataclass(frozen=True)
class ClientRow:
    """One data row: its 1-based line, ID cell, 23 raw inputs (empty when invalid), target and problems."""

    line: int
    client_id: str | None
    values: tuple[float, ...]
    target: int | None
    problems: tuple[Problem, ...]  # the inputs' problems: a row with any is not scored
    target_problem: Problem | None = None

    @property
    def valid(self) -> bool:
        """Whether every input passed the contract."""
        return not self.problems

    @property
    def error(self) -> str:
        """Return the problems as one line: `COLUMN: problem; ...` (empty when valid)."""
        return "; ".join(f"{p.column}: {p.problem}" for p in self.problems)


def read_layout(lines: Iterator[list[str]], *, name: str) -> Layout:
    """Consume the UCI code row (if any) and the header; raises ClientFileError if the header lacks a field."""
    first = next(lines, None)
    if first is None:
        raise ClientFileError(f"{name}: empty file")
    header, line = first, 1
    if [c.strip().upper() for c in first][-24:] == UCI_CODES:
        header, line = next(lines, []), 2
        if not header:
            raise ClientFileError(f"{name}: no header row")
    cells = [ALIASES.get(c.strip().upper(), c.strip().upper()) for c in header]
    where = {spec.name: cells.index(spec.column) for spec in FEATURES if spec.column in cells}
    missing = [spec.column for spec in FEATURES if spec.required and spec.name not in where]
    if missing:
        raise ClientFileError(
            f"{name}: missing column(s) {', '.join(missing)} in the header; expected the UCI or Kaggle layout"
        )
    target = next((cells.index(t) for t in TARGET_NAMES if t in cells), None)
    id_at = cells.index("ID") if "ID" in cells else None
    return Layout(tuple(c.strip() for c in header), where, target, id_at, line + 1)


def check_cells(cells: list[str], layout: Layout, line: int) -> ClientRow:
    """Check one row's cells against the contract; problems name the line, the column and what is wrong."""
    record = {}
    for field, index in layout.where.items():
        value = _number(cells[index]) if index < len(cells) else None
        if value is not None:
            record[field] = value
    values: tuple[float, ...] = ()
    problems: tuple[Problem, ...] = ()
    try:
        applicant = Applicant.model_validate(record)
    except ValidationError as err:
        problems = tuple(
            Problem(line, str(e["loc"][0]).upper() if e["loc"] else "-", e["msg"]) for e in err.errors()
        )
    else:
        values = tuple(float(getattr(applicant, spec.name) or 0.0) for spec in FEATURES)
    target, target_problem = None, None
    if (at := layout.target_at) is not None:
        flag = _number(cells[at]) if at < len(cells) else None
        if flag in (0, 1):
            target = int(flag)
        else:
            target_problem = Problem(line, layout.header[at], f"default flag {flag!r} is not 0 or 1")
    client_id = (
        cells[layout.id_at].strip() if layout.id_at is not None and layout.id_at < len(cells) else None
    )
    return ClientRow(line, client_id, values, target, problems, target_problem)


def data_rows(
    lines: Iterator[list[str]], layout: Layout, *, start: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield each non-blank data row after the header with its 1-based line (numbered from `start` if given)."""
    for line, cells in enumerate(lines, start=layout.first_line if start is None else start):
        if any(c.strip() for c in cells):  # a blank line (often the last) is not a client
            yield line, cells


def stream_clients(text_lines: Iterable[str], *, name: str) -> tuple[Layout, Iterator[ClientRow]]:
    """Read the layout now, then yield every data row checked, valid or not, in file order (streaming)."""
    reader = csv.reader(text_lines)
    layout = read_layout(reader, name=name)
    return layout, (check_cells(cells, layout, line) for line, cells in data_rows(reader, layout))


def parse_clients(text: str, *, name: str, need_target: bool = False) -> ClientRows:
    """Parse CSV text into valid clients; raises ClientFileError listing every bad row, column and problem."""
    layout, rows = stream_clients(io.StringIO(text), name=name)
    if need_target and layout.target_at is None:
        raise ClientFileError(f"{name}: no default flag column ({TARGET_NAMES[0].lower()}); outcomes need it")
    values: list[tuple[float, ...]] = []
    targets: list[int] = []
    problems: list[Problem] = []
    for row in rows:
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
    return ClientRows(raw=raw, target=target)


def read_clients(path: Path, *, need_target: bool = False) -> ClientRows:
    """Read a client CSV file (UTF-8, BOM allowed); raises ClientFileError naming the file and problems."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ClientFileError(f"{path.name}: cannot be read ({err})") from err
    return parse_clients(text, name=path.name, need_target=need_target)
