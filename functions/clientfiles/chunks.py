"""Check a chunk of a book's rows against the contract at once: numbers, bounds and whole codes as arrays.

A book's rows are nearly all valid, and checking each with pydantic (`rows.check_cells`) was the largest cost of
the book command (about 25 µs of CPU a row, docs/benchmarks.md). Here every row whose 23 inputs read as finite
numbers inside the contract's bounds (whole where the contract takes codes or counts) is accepted from arrays;
any other row goes through `check_cells`, so its problems are worded exactly as before. Accepting is the only
shortcut: the rows and values are those `check_cells` gives, bit for bit (tests/clientfiles/test_chunks.py).
"""

from collections.abc import Callable, Sequence
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


def check_chunk(numbered: Sequence[tuple[int, list[str]]], layout: Layout) -> list[ClientRow]:
    """Check (line, cells) rows as `check_cells` does, one per row in order; valid rows built without pydantic.

    A row accepted here has no `applicant` (the book path reads `values`); every other row is `check_cells`'s.
    """
    numbers = _reader([layout.where.get(name) for name in _NAMES])
    read = [None if TOO_LONG in cells else numbers(cells) for _, cells in numbered]
    candidates = [k for k, values in enumerate(read) if values is not None]
    accepted: npt.NDArray[np.bool_] = np.zeros(len(numbered), dtype=bool)
    table = np.asarray([read[k] for k in candidates], dtype=np.float64).reshape(len(candidates), len(_NAMES))
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(table) & (table <= _HIGH) & np.where(_ABOVE, table > _LOW, table >= _LOW)
        inside &= ~_WHOLE | (table == np.floor(table))
    accepted[np.asarray(candidates, dtype=np.intp)[inside.all(axis=1)]] = True
    zeroed = table + 0.0  # -0.0 reads as 0.0, as `parse_cell` then `raw_values` give it
    values_of = dict(zip(candidates, zeroed.tolist(), strict=True))
    return [
        _accepted(line, cells, layout, values_of[k]) if accepted[k] else check_cells(cells, layout, line)
        for k, (line, cells) in enumerate(numbered)
    ]


def _accepted(line: int, cells: list[str], layout: Layout, values: list[float]) -> ClientRow:
    """Build a valid row's ClientRow as `check_cells` does: ID cell, inputs, target and its problem."""
    target, problem = read_target(cells, layout, line)
    client_id = (
        cells[layout.id_at].strip() if layout.id_at is not None and layout.id_at < len(cells) else None
    )
    return ClientRow(line, client_id, tuple(values), target, (), problem)
