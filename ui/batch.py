"""Batch files: read an uploaded CSV of clients, score its valid rows in chunks, and summarise the results.

Pure functions: the API client is passed in (anything with `predict_batch`), so tests need no server.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from functions.api.errors import FieldError, to_field_errors
from functions.clientfiles.rows import (
    ClientFileError,
    ClientTable,
    MissingColumnsError,
    Problem,
    check_cells,
    read_table,
    table_of,
)
from functions.scoring.contract import MAX_BATCH, FeatureSpec, Prediction
from ui.client import ApiCallError

UPLOAD_TYPES: Final = ("csv", "xls", "xlsx")  # what the upload widgets accept
T = TypeVar("T")
Positioned = tuple[int, dict[str, Any]]  # (0-based row of the file, applicant as the API takes it)


class BatchScorer(Protocol):
    """What batch scoring needs of the API client (`ui.client.ApiClient` has it)."""

    def predict_batch(self, applicants: Sequence[dict[str, Any]], /) -> list[Prediction]:
        """Score 1 to MAX_BATCH applicants in input order; raises ApiCallError."""
        ...


class UnreadableFileError(ValueError):
    """An upload that cannot be read as clients at all (not CSV, contract columns missing, no rows)."""


@dataclass(frozen=True)
class RowProblem:
    """Why one row of an uploaded file was not scored."""

    row: int  # 1-based data row of the file (the header is row 0)
    column: str
    message: str


@dataclass
class ParsedFile:
    """An uploaded CSV: its cells as text, the rows valid under the contract, and the invalid ones."""

    table: pd.DataFrame
    applicants: list[dict[str, Any]]  # valid rows, as the API takes them
    positions: list[int]  # 0-based row of `table` for each valid applicant
    problems: list[RowProblem]
    id_column: str | None
    target: NDArray[np.float64] | None  # 1 default, 0 no default, NaN unreadable; None without the column
    note: str = ""  # what was ignored, e.g. "3 blank rows ignored"


@dataclass
class ScoredFile:
    """The API's predictions for an uploaded file, the rows it could not score, and why it stopped early."""

    predictions: dict[int, Prediction] = field(default_factory=dict)  # row position -> prediction
    problems: list[RowProblem] = field(default_factory=list)
    stopped: str | None = None


def coerce(value: Any, spec: FeatureSpec) -> Any:
    """Give a cell the type the contract expects: blanks become None, text that is no number stays text."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            value = float(value)
        except ValueError:
            return value  # the contract rejects it with a message naming the column
    if isinstance(value, bool):
        return value  # the contract refuses booleans as numbers
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return int(number) if spec.kind != "amount" and number.is_integer() else number


def describe(error: FieldError, *, label: str) -> str:
    """Say what is wrong with one input and what it accepts."""
    accepts = f" (accepts {error.hint})" if error.hint else ""
    return f"{label}: {error.message}{accepts}"


def decision_text(predicted_default: bool) -> str:
    """Word the API's decision for a credit analyst."""
    return "default predicted" if predicted_default else "no default predicted"


def _read_table(data: bytes, name: str) -> ClientTable:
    try:
        if name.lower().endswith((".xls", ".xlsx")):
            from ui.workbook import workbook_rows

            return table_of(workbook_rows(data, name=name), name=name)
        return read_table(data, name=name)
    except MissingColumnsError as err:
        raise UnreadableFileError(
            f"The file has no column {', '.join(err.missing)}. Expected the dataset's header (ID, LIMIT_BAL, "
            "SEX, ..., PAY_AMT6, optionally default.payment.next.month) or the API's lower-case names."
        ) from err
    except ClientFileError as err:
        raise UnreadableFileError(str(err)) from err


def _cell(cells: list[str], at: int) -> str:
    return cells[at] if at < len(cells) else ""


def _target(table: ClientTable) -> NDArray[np.float64] | None:
    at = table.layout.target_at
    if at is None:
        return None
    flags = pd.Series([_cell(cells, at).strip() for _, cells in table.rows], dtype=str)
    labels = pd.to_numeric(flags, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isin(labels, (0.0, 1.0)), labels, np.nan)


def read_clients(data: bytes, *, name: str = "upload.csv") -> ParsedFile:
    """Read a CSV (or .xls/.xlsx) in any layout the shared reader accepts and check each row; raises
    UnreadableFileError when the file cannot be read, lacks a required column or has no rows."""
    table = _read_table(data, name)
    if not table.rows:
        raise UnreadableFileError("The file has a header but no rows.")
    layout = table.layout
    width = len(layout.header)
    padded = [(cells + [""] * width)[:width] for _, cells in table.rows]
    frame = pd.DataFrame(padded, columns=list(layout.header), dtype=str)
    id_column = layout.header[layout.id_at] if layout.id_at is not None else None
    parsed = ParsedFile(frame, [], [], [], id_column, _target(table), table.note)
    label = {field: layout.header[at] for field, at in layout.where.items()}
    for position, (line, cells) in enumerate(table.rows):
        row = check_cells(cells, layout, line)  # the shared cell parser and row checker of clientfiles
        if row.applicant is None:
            parsed.problems += reworded(row.problems, row=position + 1, label=label)
            continue
        parsed.applicants.append(row.applicant.model_dump())
        parsed.positions.append(position)
    return parsed


def reworded(problems: Sequence[Problem], *, row: int, label: Mapping[str, str]) -> list[RowProblem]:
    """Word the shared row checker's problems for an analyst: the file's column name, what it accepts."""
    details = [{"loc": (p.field,) if p.field else (), "type": p.kind, "msg": p.problem} for p in problems]
    reworded = []
    for error in to_field_errors(details, max_batch=MAX_BATCH):
        column = label.get(error.field, error.field)
        reworded.append(RowProblem(row, column, describe(error, label=column)))
    return reworded


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scored(client: BatchScorer, part: Sequence[Positioned]) -> dict[int, Prediction]:
    answers = client.predict_batch([applicant for _, applicant in part])
    return dict(zip([position for position, _ in part], answers, strict=True))


def score_chunk(
    client: BatchScorer, part: Sequence[Positioned]
) -> tuple[dict[int, Prediction], list[RowProblem]]:
    """Score one chunk of (row position, applicant); report rows the API refuses (422), resend the rest."""
    try:
        return _scored(client, part), []
    except ApiCallError as problem:
        refused = {error.index for error in problem.fields if error.index is not None}
        if problem.status != 422 or not refused:
            raise
        problems = []
        for error in problem.fields:
            if error.index is not None:
                column = error.field.rsplit(".", 1)[-1].upper()
                problems.append(RowProblem(part[error.index][0] + 1, column, describe(error, label=column)))
    rest = [item for index, item in enumerate(part) if index not in refused]
    return (_scored(client, rest) if rest else {}), problems


def score_rows(
    client: BatchScorer, parsed: ParsedFile, *, on_progress: Callable[[int, int], object]
) -> ScoredFile:
    """Score the valid rows in chunks of at most MAX_BATCH; stop at the first failure that is not a 422."""
    scored = ScoredFile()
    rows = list(zip(parsed.positions, parsed.applicants, strict=True))
    done = 0
    for part in chunks(rows, MAX_BATCH):
        try:
            predictions, problems = score_chunk(client, part)
        except ApiCallError as problem:
            scored.stopped = str(problem)
            scored.problems += [RowProblem(p + 1, "", "not scored: the API failed") for p, _ in rows[done:]]
            break
        scored.predictions.update(predictions)
        scored.problems += problems
        done += len(part)
        on_progress(done, len(rows))
    return scored
