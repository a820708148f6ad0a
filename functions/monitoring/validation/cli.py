"""`python -m functions.monitoring validate`: the validation pack over the model folder, the local decision log
with its outcomes (DECISION_LOG) and, optionally, two scored books of the same accounts (`make score` outputs).

python -m functions.monitoring validate [--days 400] [--model DIR] [--book1 A.csv --book2 B.csv]
                                        [--format html|json] [--out FILE]
"""

import argparse
import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from functions.audit.decision import AuditUnavailableError
from functions.monitoring.loop.cli import local_log
from functions.monitoring.loop.outcome_file import OutcomeFileError
from functions.monitoring.tables import emit
from functions.monitoring.validation.pack import ValidationPack, validation_pack
from functions.monitoring.validation.report import pack_json, pack_summary, validation_html
from functions.scoring.manifest import Manifest, ModelUnavailable, read_manifest

GRADE_COLUMN: Final = "risk_grade"
ID_COLUMN: Final = "ID"
DEFAULT_OUT: Final = {"html": "validation.html", "json": "validation.json"}
MAX_LISTED: Final = 5


class ValidationInputError(ValueError):
    """An input the validation pack cannot use: the message says which and what to do."""


@dataclass(frozen=True)
class Book:
    """A scored book's account ids (None without an ID column) and grades ("" for an unscored row)."""

    name: str
    ids: list[str] | None
    grades: list[str]


def read_book(path: Path, scale: Sequence[str]) -> Book:
    """Read a `make score` output: its ID column (if any) and `risk_grade`; raises ValidationInputError."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read_rows(path.name, csv.DictReader(handle), scale)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValidationInputError(f"{path.name}: cannot be read as a CSV text file ({err})") from err


def _read_rows(name: str, reader: "csv.DictReader[str]", scale: Sequence[str]) -> Book:
    """Collect a scored book's ids and grades row by row; raises ValidationInputError."""
    if GRADE_COLUMN not in (reader.fieldnames or ()):
        raise ValidationInputError(
            f"{name}: no `{GRADE_COLUMN}` column; give a scored book written by `make score`"
        )
    with_id = ID_COLUMN in (reader.fieldnames or ())
    ids, grades = [], []
    for line, row in enumerate(reader, start=2):
        grade = (row[GRADE_COLUMN] or "").strip()
        if grade and grade not in scale:
            raise ValidationInputError(
                f"{name} line {line}: grade {grade[:20]!r} is not in the model's scale {', '.join(scale)}"
            )
        grades.append(grade)
        if with_id:
            ids.append((row[ID_COLUMN] or "").strip())
    if not grades:
        raise ValidationInputError(f"{name}: no rows")
    return Book(name, ids if with_id else None, grades)


def _by_id(book: Book, ids: list[str]) -> dict[str, str]:
    """Map each account id of a book to its grade; raises ValidationInputError on repeated ids."""
    mapped = dict(zip(ids, book.grades, strict=True))
    if len(mapped) != len(ids):
        raise ValidationInputError(f"{book.name}: account ids repeat; each account must appear once")
    return mapped


def pair_books(first: Book, second: Book) -> tuple[list[str], list[str], int]:
    """Pair the grades of the same accounts (by ID, else by row): (first, second, unscored in either)."""
    if (first.ids is None) != (second.ids is None):
        raise ValidationInputError(
            f"{first.name} and {second.name}: one has an {ID_COLUMN} column and the other not; score both "
            "books from files of the same layout"
        )
    if first.ids is None or second.ids is None:
        if len(first.grades) != len(second.grades):
            raise ValidationInputError(
                f"{first.name} has {len(first.grades):,} rows and {second.name} {len(second.grades):,}: "
                "books of different accounts; the migration matrix needs the same accounts in both"
            )
        pairs = list(zip(first.grades, second.grades, strict=True))
    else:
        a, b = _by_id(first, first.ids), _by_id(second, second.ids)
        if a.keys() != b.keys():
            only = sorted(a.keys() - b.keys())[:MAX_LISTED] + sorted(b.keys() - a.keys())[:MAX_LISTED]
            raise ValidationInputError(
                f"{first.name} and {second.name} are books of different accounts "
                f"({len(a.keys() ^ b.keys()):,} ids in only one, e.g. {', '.join(only)}); the migration "
                "matrix needs the same accounts in both"
            )
        pairs = [(a[key], b[key]) for key in a]
    kept = [(x, y) for x, y in pairs if x and y]
    return [x for x, _ in kept], [y for _, y in kept], len(pairs) - len(kept)


def output_path(out: str, fmt: str) -> Path:
    """Return the report's path (default per format); raises ValidationInputError if it exists or cannot be."""
    path = Path(out or DEFAULT_OUT[fmt])
    if path.exists():
        raise ValidationInputError(f"{path} exists; remove it or name another file with --out (OUT=)")
    if not path.parent.is_dir():
        raise ValidationInputError(
            f"{path.parent} is not a folder; create it or name another file with --out"
        )
    return path


def write_new(path: Path, text: str) -> None:
    """Write `text` to a new file at `path` whole or not at all; raises ValidationInputError if it exists."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.link(partial, path)  # fails if the path appeared meanwhile: a report is never overwritten
    except FileExistsError as err:
        raise ValidationInputError(f"{path} exists; remove it or name another file with --out") from err
    except OSError as err:
        raise ValidationInputError(f"cannot write {path} ({err}); name a writable file with --out") from err
    finally:
        partial.unlink(missing_ok=True)


def build(args: argparse.Namespace, manifest: Manifest) -> ValidationPack:
    """Read the log's last `--days` days and the books, and run the tests; raises ValidationInputError."""
    scale = [band.grade for band in manifest.grade_bands]
    books = None
    if bool(args.book1) != bool(args.book2):
        raise ValidationInputError("give both --book1 and --book2 (BOOK1= and BOOK2=), or neither")
    if args.book1:
        books = pair_books(read_book(Path(args.book1), scale), read_book(Path(args.book2), scale))
    until = datetime.now(UTC).date()
    since = (until - timedelta(days=args.days)).isoformat()
    joined = local_log().read_joined(since_day=since, until_day=until.isoformat())
    try:
        return validation_pack(joined, manifest, since_day=since, until_day=until.isoformat(), books=books)
    except ValueError as err:
        raise ValidationInputError(str(err)) from err


def add_validate(commands: "argparse._SubParsersAction[argparse.ArgumentParser]", model_dir: Path) -> None:
    """Add `validate` to the monitoring command's subcommands."""
    command = commands.add_parser("validate", help="the validation pack (ECB tests) over the decision log")
    command.add_argument("--days", type=int, default=400, help="decisions of the last this many days")
    command.add_argument("--model", type=Path, default=model_dir, help="model folder (model.json)")
    command.add_argument("--book1", default="", help="a scored book (make score output), the earlier one")
    command.add_argument("--book2", default="", help="the same accounts scored later")
    command.add_argument("--format", choices=("html", "json"), default="html")
    command.add_argument("--out", default="", help="the report file to create (validation.html or .json)")


def run_validate(args: argparse.Namespace) -> int:
    """Write the validation report; 2 with a message when an input must be fixed, 1 when the log fails."""
    try:
        if args.days < 1:
            raise ValidationInputError(f"--days must be at least 1, got {args.days}")
        path = output_path(args.out, args.format)
        try:
            manifest = read_manifest(args.model)
        except ModelUnavailable as err:
            raise ValidationInputError(str(err)) from err
        pack = build(args, manifest)
        text = json.dumps(pack_json(pack)) if args.format == "json" else validation_html(pack)
        write_new(path, text)
    except (ValidationInputError, OutcomeFileError) as err:
        emit(f"error: {err}", error=True)
        return 2
    except AuditUnavailableError as err:
        emit(f"error: cannot read the decision log ({err}); no report was written", error=True)
        return 1
    emit(f"{pack_summary(pack)}\nreport: {path}")
    return 0
