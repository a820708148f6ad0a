"""Find a client file's layout: its text encoding, its delimiter, its header rows and which column holds what.

One owner of these rules for every reader (training, the UI upload, monitoring, the portfolio command).
Accepted: UTF-8 with or without BOM, else Windows-1252, else Latin-1; comma, semicolon or tab (Excel's `sep=;`
first line is honoured); the Kaggle header (ID first, `default.payment.next.month` last), the same without ID
or target, the UCI two-row header (`,X1,...,X23,Y` above the names), title or blank rows above the header,
`PAY_1` for `PAY_0`, and lower-case contract names. Refused with a message saying what to do: UTF-16 or binary files, any other delimiter, and two
columns with one meaning (`PAY_0` and `PAY_1`, both target spellings, `ID` twice).
"""

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final, Protocol

from functions.clientfiles.cells import TOO_LONG, TOO_LONG_PROBLEM, split_long_line
from functions.scoring.contract import FEATURES

TARGET_NAMES: Final = ("DEFAULT.PAYMENT.NEXT.MONTH", "DEFAULT PAYMENT NEXT MONTH", "DEFAULT")
TARGET_KEY: Final = TARGET_NAMES[0]
ALIASES: Final = {"PAY_1": "PAY_0", **dict.fromkeys(TARGET_NAMES, TARGET_KEY)}
UCI_CODES: Final = [f"X{k}" for k in range(1, 24)] + ["Y"]
DELIMITERS: Final = {",": "comma", ";": "semicolon", "\t": "tab"}
SAVE_AS: Final = "save it as 'CSV UTF-8 (comma delimited)'"
KNOWN: Final = frozenset({spec.column for spec in FEATURES} | {TARGET_KEY, "ID"})
REQUIRED: Final = frozenset(spec.column for spec in FEATURES if spec.required)
ENCODINGS: Final = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
HEAD_BYTES: Final = 1 << 16  # the first block, whose bytes choose the encoding of a streamed file
UNDECODED: Final = re.compile("[\udc80-\udcff]")  # bytes the encoding could not decode, escaped
LEAD_ROWS: Final = 10  # rows looked through for the header (a `sep=` line, titles, the UCI code row)


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


def encoding_of(data: bytes, *, name: str, complete: bool = True) -> str:
    """Return the codec of a whole file's bytes, or of its first block when not `complete`; refuse UTF-16, binary."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ClientFileError(f"{name}: this is an Excel workbook or a zip, not CSV text; {SAVE_AS}")
    if b"\x00" in data[:4096]:
        raise ClientFileError(
            f"{name}: not UTF-8, Windows-1252 or Latin-1 text (it holds NUL bytes: UTF-16 'Unicode Text' or a "
            f"binary file); {SAVE_AS}"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:  # a first block may end inside a UTF-8 character: not final then
            codecs.getincrementaldecoder(encoding)().decode(data, final=complete)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"  # every byte is a Latin-1 character


def decode(data: bytes, *, name: str) -> str:
    """Decode a file's bytes as UTF-8 (BOM or not), else Windows-1252, else Latin-1; refuse UTF-16 and binary."""
    return data.decode(encoding_of(data, name=name))


class Readable(Protocol):
    """A binary stream: a file, an S3 body, a hashing reader."""

    def read(self, size: int, /) -> bytes | None:
        """Return up to `size` bytes; empty (or None) at the end."""


class _Replay(io.RawIOBase):
    """A binary reader giving back the bytes already read from `raw` (`head`), then the rest of `raw`."""

    def __init__(self, head: bytes, raw: Readable) -> None:
        self.head, self.raw = memoryview(head), raw

    def readable(self) -> bool:
        """Return True: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from what is left of `head`, then from `raw`."""
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        data = self.raw.read(len(buffer)) or b""
        buffer[: len(data)] = data
        return len(data)


def text_lines(raw: Readable, *, name: str) -> Iterator[str]:
    """Yield a binary file's lines (ends kept), decoded as it streams with the encoding of its first block."""
    head = b""
    while len(head) < HEAD_BYTES and (more := raw.read(HEAD_BYTES - len(head))):
        head += more
    encoding = encoding_of(head, name=name, complete=len(head) < HEAD_BYTES)
    text = io.TextIOWrapper(
        io.BufferedReader(_Replay(head, raw)), encoding=encoding, errors="surrogateescape", newline=""
    )
    for line, chunk in enumerate(text, start=1):
        if not chunk.isascii() and UNDECODED.search(chunk):
            raise ClientFileError(
                f"{name}: line {line} is not {ENCODINGS[encoding]} text as the lines above it are; {SAVE_AS}"
            )
        yield chunk


def _width(line: str, delimiter: str) -> int:
    """Count a line's cells split by `delimiter` (quotes honoured), even past the csv module's cell limit."""
    try:
        return len(next(csv.reader([line], delimiter=delimiter), []))
    except csv.Error:  # a cell past the field size limit
        return len(split_long_line(line, delimiter))


def checked_cells(lines: Iterable[str], *, delimiter: str) -> Iterator[list[str]]:
    """Yield each record's cells (quotes honoured); a cell past MAX_CELL becomes TOO_LONG in its place, so the row
    keeps its line and is reported, never a csv.Error."""
    record: list[str] = []  # the lines of the record being read, to split again if the csv module refuses it

    def feed() -> Iterator[str]:
        for text in lines:
            record.append(text)
            yield text

    reader = csv.reader(feed(), delimiter=delimiter)
    while True:
        record.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:  # the csv module's only error in its default dialect: a cell past its limit
            cells = split_long_line("".join(record), delimiter)
        yield cells


def _delimiter_of(text: str) -> str | None:
    """Return the delimiter a `sep=` line names, or the one splitting `text` into most cells (None if none)."""
    line = text.lstrip("\ufeff").rstrip("\r\n")  # not strip(): `sep=<tab>` ends in whitespace
    if line.lower().startswith("sep=") and len(line) == 5:
        return line[4] if line[4] in DELIMITERS else None
    width = {d: _width(line, d) for d in DELIMITERS}
    best = max(width, key=lambda d: width[d])
    return best if width[best] > 1 else None


def find_delimiter(text: str, *, name: str, line: int = 1) -> str:
    """Return the comma, semicolon or tab of a file's 1-based `line`; else raise naming the delimiter found."""
    if (delimiter := _delimiter_of(text)) is not None:
        return delimiter
    stripped = text.strip().lstrip("\ufeff")
    if stripped.lower().startswith("sep="):
        raise ClientFileError(
            f"{name}: line {line} says {stripped}; use a comma, semicolon or tab, or {SAVE_AS}"
        )
    others = Counter(c for c in stripped if not (c.isalnum() or c in ' _."'))
    found = f"it is split by '{others.most_common(1)[0][0]}'" if others else "it has a single column"
    raise ClientFileError(
        f"{name}: line {line} is not split by a comma, semicolon or tab ({found}); {SAVE_AS}"
    )


def split_lines(text_lines: Iterable[str], *, name: str) -> Iterator[list[str]]:
    """Return the cells of each line, split by the delimiter of the first line that has one (quotes honoured)."""
    delimiter, lines = sniff_lines(text_lines, name=name)
    return checked_cells(lines, delimiter=delimiter)


def sniff_lines(text_lines: Iterable[str], *, name: str) -> tuple[str, Iterator[str]]:
    """Return the delimiter of the first line that has one, and every line (those read to find it first)."""
    lines = iter(text_lines)
    peeked: list[str] = []
    for text in lines:  # blank or title lines above the header may hold no delimiter
        peeked.append(text)
        if _delimiter_of(text) is not None or len(peeked) == LEAD_ROWS:
            break
    probe = next((at for at, text in enumerate(peeked) if _delimiter_of(text) is not None), None)
    if probe is None:
        probe = next((at for at, text in enumerate(peeked) if text.strip()), None)
    if probe is None:
        raise ClientFileError(f"{name}: empty file")
    delimiter = find_delimiter(peeked[probe], name=name, line=probe + 1)
    return delimiter, chain(peeked, lines)


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


def _is_preamble(row: list[str]) -> bool:
    """Whether a row above the header is Excel's `sep=` line, the UCI code row or blank."""
    cells = [c.strip().upper() for c in _trimmed(row)]
    return not cells or cells == ["SEP="] or cells[-24:] == UCI_CODES


def read_layout(lines: Iterator[list[str]], *, name: str) -> Layout:
    """Consume the rows down to the header (at most LEAD_ROWS: blank, `sep=`, title, UCI code rows) and the
    header; raises ClientFileError naming what the likeliest header row lacks."""
    best: tuple[int, int, list[str]] | None = None  # (known names, -line, row)
    for line, row in enumerate(lines, start=1):
        if TOO_LONG in row:
            raise ClientFileError(
                f"{name}: line {line}, column {row.index(TOO_LONG) + 1}: {TOO_LONG_PROBLEM}; a client file's "
                f"header and title rows hold short names; {SAVE_AS}"
            )
        keys = {_key(c) for c in row}
        if keys >= REQUIRED:
            return header_layout(row, name=name, line=line)
        if not _is_preamble(row) and (best is None or (len(keys & KNOWN), -line) > best[:2]):
            best = (len(keys & KNOWN), -line, row)
        if line == LEAD_ROWS:
            break
    if best is None:
        raise ClientFileError(f"{name}: empty file (no header row)")
    return header_layout(best[2], name=name, line=-best[1])
