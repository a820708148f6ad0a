"""Check a chunk of a book's rows against the contract at once: numbers, bounds and whole codes as arrays.

A book's rows are nearly all valid, and checking each with pydantic (`rows.check_cells`) was the largest cost of
the book command (about 25 µs of CPU a row, docs/benchmarks.md). Here every row whose 23 inputs read as finite
numbers inside the contract's bounds (whole where the contract takes codes or counts) is accepted from arrays;
any other row goes through `check_cells`, so its problems are worded exactly as before. Accepting is the only
shortcut: the rows and values are those `check_cells` gives, bit for bit (tests/clientfiles/test_chunks.py).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.clientfiles.cells import TOO_LONG
from functions.clientfiles.rows import ClientRow, Layout, check_cells, read_target
from functions.scoring.contract import FEATURES

_LOW: Final = np.array([spec.minimum for spec in FEATURES], dtype=np.float64)
_HIGH: Final = np.array([spec.maximum for spec in FEATURES], dtype=np.float64)
_ABOVE: Final = np.array([spec.exclusive_minimum for spec in FEATURES])  # the low bound itself is refused
_WHOLE: Final = np.array([spec.kind != "amount" for spec in FEATURES])  # codes and counts: whole numbers
_NAMES: Final = tuple(spec.name for spec in FEATURES)
_OPTIONAL: Final = tuple(not spec.required for spec in FEATURES)


def _numbers(cells: list[str], at: Sequence[int | None]) -> list[float] | None:
    """Return the row's 23 inputs as floats when every present cell reads as one (a blank optional code is 0)."""
    values = []
    try:
        for index, optional in zip(at, _OPTIONAL, strict=True):
            if index is None or (optional and not cells[index].strip()):
                if not optional:
                    return None
                values.append(0.0)  # an omitted optional code counts as 0 (`contract.raw_values`)
            else:
                values.append(
                    float(cells[index])
                )  # what `parse_cell` reads; its text problems go the slow way
    except (ValueError, IndexError):
        return None
    return values


def _reader(at: Sequence[int | None]) -> Callable[[list[str]], list[float] | None]:
    """Return `_numbers` for one layout, reading a row whose 23 cells are all numbers in one comprehension."""
    if any(index is None for index in at):
        return lambda cells: _numbers(cells, at)
    present = [index for index in at if index is not None]

    def read(cells: list[str]) -> list[float] | None:
        try:
            return [float(cells[index]) for index in present]
        except (ValueError, IndexError):  # a blank optional code, text, a short row: the careful way
            return _numbers(cells, at)

    return read


def _read_piece(
    numbered: Sequence[tuple[int, list[str]]], at: Sequence[int | None]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Return which rows read as 23 numbers and every row's values (zeros where a row did not): the whole piece
    in one pass when every row does (nearly every book piece), else row by row."""
    rows, width = len(numbered), len(_NAMES)
    if rows and all(index is not None for index in at):
        cells = chain.from_iterable(map(itemgetter(*at), map(itemgetter(1), numbered)))
        try:  # map and fromiter: no Python bytecode per cell
            table = np.fromiter(map(float, cells), dtype=np.float64, count=rows * width)
        except (ValueError, IndexError):  # a blank optional code, text, a short row: row by row
            pass
        else:
            read = np.fromiter((TOO_LONG not in row for _, row in numbered), dtype=bool, count=rows)
            return read, table.reshape(rows, width)
    numbers = _reader(at)
    values = [None if TOO_LONG in row else numbers(row) for _, row in numbered]
    blank = [0.0] * width
    table = np.asarray([blank if row is None else row for row in values], dtype=np.float64)
    read = np.asarray([row is not None for row in values], dtype=bool)
    return read, table.reshape(rows, width)


def _inside(
    read: npt.NDArray[np.bool_], table: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Return which rows are plainly valid (read, numbers inside the contract's bounds) and their values with
    -0.0 read as 0.0, as `parse_cell` then `raw_values` give it."""
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(table) & (table <= _HIGH) & np.where(_ABOVE, table > _LOW, table >= _LOW)
        inside &= ~_WHOLE | (table == np.floor(table))
    return inside.all(axis=1) & read, table + 0.0


def check_chunk(numbered: Sequence[tuple[int, list[str]]], layout: Layout) -> list[ClientRow]:
    """Check (line, cells) rows as `check_cells` does, one per row in order; valid rows built without pydantic.

    A row accepted here has no `applicant` (the book path reads `values`); every other row is `check_cells`'s.
    """
    accepted, table = _inside(*_read_piece(numbered, [layout.where.get(name) for name in _NAMES]))
    values = table.tolist()
    return [
        _accepted(line, cells, layout, values[k]) if accepted[k] else check_cells(cells, layout, line)
        for k, (line, cells) in enumerate(numbered)
    ]


@dataclass(frozen=True)
class BookPiece:
    """A book's chunk checked at once: each row's ID cell (None without an ID column), which rows are valid,
    the valid rows' 23 raw inputs in order, and the invalid rows as `check_cells` gives them (by position)."""

    ids: list[str | None]
    valid: npt.NDArray[np.bool_]
    raw: npt.NDArray[np.float64]
    invalid: dict[int, ClientRow]


def check_book_piece(numbered: Sequence[tuple[int, list[str]]], layout: Layout) -> BookPiece:
    """Check (line, cells) rows as `check_chunk` does, the whole piece as arrays; only the rows that are not
    plainly valid are checked one by one (`check_cells`), so their problems are worded as before."""
    accepted, table = _inside(*_read_piece(numbered, [layout.where.get(name) for name in _NAMES]))
    at = layout.id_at
    ids: list[str | None] = (
        [None] * len(numbered)
        if at is None
        else [cells[at].strip() if at < len(cells) else None for _, cells in numbered]
    )
    invalid: dict[int, ClientRow] = {}
    for k in np.flatnonzero(~accepted).tolist():
        line, cells = numbered[k]
        row = check_cells(cells, layout, line)
        ids[k] = row.client_id
        if row.valid:
            table[k] = row.values
            accepted[k] = True
        else:
            invalid[k] = row
    return BookPiece(ids, accepted, table[accepted], invalid)


def _accepted(line: int, cells: list[str], layout: Layout, values: list[float]) -> ClientRow:
    """Build a valid row's ClientRow as `check_cells` does: ID cell, inputs, target and its problem."""
    target, problem = read_target(cells, layout, line)
    client_id = (
        cells[layout.id_at].strip() if layout.id_at is not None and layout.id_at < len(cells) else None
    )
    return ClientRow(line, client_id, tuple(values), target, (), problem)
