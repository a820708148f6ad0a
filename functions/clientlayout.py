"""Find a client file's layout: its text encoding, its delimiter, its header rows and which column holds what.

One owner of these rules for every reader (training, the UI upload, monitoring, the portfolio command).
Accepted: UTF-8 with or without BOM, else Windows-1252, else Latin-1; comma, semicolon or tab (Excel's `sep=;`
first line is honoured); the Kaggle header (ID first, `default.payment.next.month` last), the same without ID
or target, the UCI two-row header (`,X1,...,X23,Y` above the names), `PAY_1` for `PAY_0`, and lower-case
contract names. Refused with a message saying what to do: UTF-16 or binary files, any other delimiter, and two
columns with one meaning (`PAY_0` and `PAY_1`, both target spellings, `ID` twice).
"""

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Final

from functions.contract import FEATURES

TARGET_NAMES: Final = ("DEFAULT.PAYMENT.NEXT.MONTH", "DEFAULT PAYMENT NEXT MONTH", "DEFAULT")
TARGET_KEY: Final = TARGET_NAMES[0]
ALIASES: Final = {"PAY_1": "PAY_0", **dict.fromkeys(TARGET_NAMES, TARGET_KEY)}
UCI_CODES: Final = [f"X{k}" for k in range(1, 24)] + ["Y"]
DELIMITERS: Final = {",": "comma", ";": "semicolon", "\t": "tab"}
SAVE_AS: Final = "save it as 'CSV UTF-8 (comma delimited)'"
KNOWN: Final = frozenset({spec.column for spec in FEATURES} | {TARGET_KEY, "ID"})


class ClientFileError(ValueError):
    """The file cannot be read as clients: the message names the file, and each bad row, column and problem."""


class MissingColumnsError(ClientFileError):
    """The header lacks required contract columns (`missing`, as the dataset spells them)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


@dataclass(frozen=True)
class Layout:
    """Where a file's columns are: each contract field's cell, the target's and the ID's, and the header."""

    header: tuple[str, ...]
    where: dict[str, int]
    target_at: int | None
    id_at: int | None
    first_line: int  # 1-based line of the first data row


def decode(data: bytes, *, name: str) -> str:
    """Decode a file's bytes as UTF-8 (BOM or not), else Windows-1252, else Latin-1; refuse UTF-16 and binary."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ClientFileError(f"{name}: this is an Excel workbook or a zip, not CSV text; {SAVE_AS}")
    if b"\x00" in data[:4096]:
        raise ClientFileError(
            f"{name}: not UTF-8, Windows-1252 or Latin-1 text (it holds NUL bytes: UTF-16 'Unicode Text' or a "
            f"binary file); {SAVE_AS}"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # every byte is a Latin-1 character


def find_delimiter(first_line: str, *, name: str) -> str:
    """Return the comma, semicolon or tab that splits the first line into most cells; else name the one found."""
    line = first_line.lstrip("\ufeff").rstrip("\r\n")  # not strip(): `sep=<tab>` ends in whitespace
    if line.lower().startswith("sep=") and len(line) == 5:
        if line[4] in DELIMITERS:
            return line[4]
        raise ClientFileError(
            f"{name}: line 1 says sep={line[4]}; use a comma, semicolon or tab, or {SAVE_AS}"
        )
    width = {d: len(next(csv.reader([line], delimiter=d))) for d in DELIMITERS}
    best = max(width, key=lambda d: width[d])
    if width[best] > 1 or not line.strip():
        return best
    others = Counter(c for c in line if not (c.isalnum() or c in ' _."'))
    found = f"it is split by '{others.most_common(1)[0][0]}'" if others else "it has a single column"
    raise ClientFileError(f"{name}: line 1 is not split by a comma, semicolon or tab ({found}); {SAVE_AS}")


def split_lines(text_lines: Iterable[str], *, name: str) -> Iterator[list[str]]:
    """Return the cells of each line, split by the delimiter found on the first line (quotes honoured)."""
    lines = iter(text_lines)
    first = next(lines, None)
    if first is None:
        raise ClientFileError(f"{name}: empty file")
    return csv.reader(chain([first], lines), delimiter=find_delimiter(first, name=name))


def _trimmed(cells: list[str]) -> list[str]:
    """Drop the empty cells Excel leaves right of the last column."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _key(cell: str) -> str:
    text = cell.strip().strip('"').strip().upper()
    return ALIASES.get(text, text)


def _check_twins(header: list[str], keys: list[str], *, name: str, line: int) -> None:
    seen: dict[str, int] = {}
    for at, key in enumerate(keys):
        if key not in KNOWN:
            continue
        if key in seen:
            first = seen[key]
            raise ClientFileError(
                f"{name}, line {line}: columns {header[first].strip()} (column {first + 1}) and "
                f"{header[at].strip()} (column {at + 1}) both hold {key}; delete one of them"
            )
        seen[key] = at


def header_layout(header: list[str], *, name: str, line: int) -> Layout:
    """Map a header row (1-based `line`) to a Layout; raises ClientFileError on a missing or doubled column."""
    keys = [_key(c) for c in header]
    _check_twins(header, keys, name=name, line=line)
    where = {spec.name: keys.index(spec.column) for spec in FEATURES if spec.column in keys}
    missing = [spec.column for spec in FEATURES if spec.required and spec.name not in where]
    if missing:
        raise MissingColumnsError(
            f"{name}: missing column(s) {', '.join(missing)} in the header (line {line}); expected the UCI or "
            "Kaggle layout (LIMIT_BAL, SEX, ..., PAY_AMT6, optionally ID and default.payment.next.month)",
            missing,
        )
    target_at = keys.index(TARGET_KEY) if TARGET_KEY in keys else None
    id_at = keys.index("ID") if "ID" in keys else None
    return Layout(tuple(c.strip().strip('"') for c in header), where, target_at, id_at, line + 1)


def read_layout(lines: Iterator[list[str]], *, name: str) -> Layout:
    """Consume Excel's `sep=` row and the UCI code row (if any) and the header; raises ClientFileError."""
    line = 1
    row = next(lines, None)
    if row is not None and [c.strip().lower() for c in _trimmed(row)] == ["sep="]:
        row, line = next(lines, None), line + 1
    if row is not None and [c.strip().upper() for c in _trimmed(row)][-24:] == UCI_CODES:
        row, line = next(lines, None), line + 1
    if row is None or not _trimmed(row):
        raise ClientFileError(f"{name}: empty file" if line == 1 else f"{name}: no header row at line {line}")
    return header_layout(row, name=name, line=line)
