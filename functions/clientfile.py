"""Read a client CSV in the dataset's layouts with the csv module, checking every row against the contract.

Accepted: the Kaggle layout (quoted upper-case header, ID first, `default.payment.next.month` last), the same
without ID and/or target, the UCI layout (an extra X1..X23,Y row above the header), and lower-case contract
names. Bad rows are reported with row, column and problem; none is dropped silently.
"""

import csv
import io
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


def _columns(header: list[str], name: str) -> tuple[dict[str, int], int | None]:
    cells = [ALIASES.get(c.strip().upper(), c.strip().upper()) for c in header]
    where = {spec.name: cells.index(spec.column) for spec in FEATURES if spec.column in cells}
    missing = [spec.column for spec in FEATURES if spec.required and spec.name not in where]
    if missing:
        raise ClientFileError(
            f"{name}: missing column(s) {', '.join(missing)} in the header; expected the UCI or Kaggle layout"
        )
    target = next((cells.index(t) for t in TARGET_NAMES if t in cells), None)
    return where, target


def _check_row(cells: list[str], where: dict[str, int], line: int) -> tuple[list[float], list[Problem]]:
    record = {}
    for field, index in where.items():
        value = _number(cells[index]) if index < len(cells) else None
        if value is not None:
            record[field] = value
    try:
        applicant = Applicant.model_validate(record)
    except ValidationError as err:
        problems = [
            Problem(line, str(e["loc"][0]).upper() if e["loc"] else "-", e["msg"]) for e in err.errors()
        ]
        return [], problems
    return [float(getattr(applicant, spec.name) or 0.0) for spec in FEATURES], []


def parse_clients(text: str, *, name: str, need_target: bool = False) -> ClientRows:
    """Parse CSV text into valid clients; raises ClientFileError listing every bad row, column and problem."""
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise ClientFileError(f"{name}: empty file")
    first = 1 if [c.strip().upper() for c in lines[0]][-24:] == UCI_CODES else 0
    if len(lines) <= first:
        raise ClientFileError(f"{name}: no header row")
    where, target_at = _columns(lines[first], name)
    if need_target and target_at is None:
        raise ClientFileError(f"{name}: no default flag column ({TARGET_NAMES[0].lower()}); outcomes need it")
    rows: list[list[float]] = []
    targets: list[int] = []
    problems: list[Problem] = []
    for line, cells in enumerate(lines[first + 1 :], start=first + 2):
        if not any(c.strip() for c in cells):
            continue  # a blank line (often the last) is not a client
        values, bad = _check_row(cells, where, line)
        problems.extend(bad)
        if target_at is not None:
            flag = _number(cells[target_at]) if target_at < len(cells) else None
            if flag not in (0, 1):
                problems.append(
                    Problem(line, lines[first][target_at].strip(), f"default flag {flag!r} is not 0 or 1")
                )
            elif not bad:
                targets.append(int(flag))
        if not bad:
            rows.append(values)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise ClientFileError(f"{name}: {len(problems)} problem(s); fix the file:\n  {shown}{more}")
    if not rows:
        raise ClientFileError(f"{name}: no client rows")
    raw = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    target = np.asarray(targets, dtype=np.int64) if target_at is not None else None
    return ClientRows(raw=raw, target=target)


def read_clients(path: Path, *, need_target: bool = False) -> ClientRows:
    """Read a client CSV file (UTF-8, BOM allowed); raises ClientFileError naming the file and problems."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ClientFileError(f"{path.name}: cannot be read ({err})") from err
    return parse_clients(text, name=path.name, need_target=need_target)
