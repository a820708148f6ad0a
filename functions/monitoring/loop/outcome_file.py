"""The outcome file a lender posts monthly: its reader and checks, shared by the command, the UI and the S3 drop.

A CSV (UTF-8, a BOM allowed) whose header names decision_key, defaulted and observed_on (other columns are
ignored): decision_key a decision key (`request id` or `request id#index`), defaulted true/false/1/0,
observed_on a YYYY-MM-DD day not after today (UTC). The file is read line by line (bounded memory: a size
limit first, then at most `max_lines` outcome lines) and checked whole before anything is recorded: one bad
line refuses the file, naming each line and field at fault.
"""

import csv
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Final

from functions.audit.outcomes import KEY_PATTERN, Outcome, iso_day

COLUMNS: Final = ("decision_key", "defaulted", "observed_on")
FLAGS: Final = {"true": True, "1": True, "false": False, "0": False}
MAX_LISTED: Final = 20  # problems listed in one error message
MAX_LINES: Final = 1_000_000  # outcome lines in one file (the scale: a million decisions joined)
# A line holds a key (at most 105 characters), a flag and a day, about 130 bytes; 256 leaves room for extra
# columns. The size limit is checked before a byte is read, so a file without line breaks is refused unread.
MAX_LINE_BYTES: Final = 256
KEY: Final = re.compile(KEY_PATTERN)


class OutcomeFileError(ValueError):
    """An outcome file that cannot be used: the message lists the lines and fields at fault (`problems`)."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


def max_bytes(max_lines: int) -> int:
    """Return the largest file accepted for `max_lines` outcome lines (bytes, the header line included)."""
    return (max_lines + 1) * MAX_LINE_BYTES


def check_size(name: str, size: int, *, max_lines: int = MAX_LINES) -> None:
    """Refuse a file of `size` bytes above `max_bytes(max_lines)`; raises OutcomeFileError naming the limit."""
    if size > max_bytes(max_lines):
        raise OutcomeFileError(
            f"{name}: {size:,} bytes, above the limit of {max_bytes(max_lines):,} bytes "
            f"({max_lines:,} outcome lines); split it into several files; nothing was recorded"
        )


def check_line(line: int, row: dict[str | None, str | None], *, today: date) -> Outcome | str:
    """Return the outcome of one data row, or the problem naming its line and field."""
    key = (row["decision_key"] or "").strip()
    flag = FLAGS.get((row["defaulted"] or "").strip().lower())
    try:
        observed: date | None = iso_day(row["observed_on"] or "")
    except ValueError:
        observed = None
    if not KEY.fullmatch(key):
        return f"line {line}: decision_key is not a decision key"
    if flag is None:
        return f"line {line}: defaulted must be true, false, 1 or 0"
    if observed is None or observed > today:
        return f"line {line}: observed_on must be a date (YYYY-MM-DD) not after {today}"
    return Outcome(key, flag, observed.isoformat())


def parse_outcomes(
    lines: Iterable[str], *, name: str, today: date, max_lines: int = MAX_LINES
) -> list[Outcome]:
    """Read and check an outcome file given as text lines (line ends kept); raises OutcomeFileError listing
    every line and field at fault, with nothing returned (the caller records nothing)."""
    reader = csv.DictReader(lines)
    outcomes: list[Outcome] = []
    problems: list[str] = []
    done = 0  # lines of the records read whole: a broken record starts on the next line
    try:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise OutcomeFileError(
                f"{name}: no column {', '.join(missing)}; the header must name {', '.join(COLUMNS)}",
                [f"line 1: no column {c}" for c in missing],
            )
        done = reader.line_num
        for row in reader:
            if len(outcomes) + len(problems) >= max_lines:
                raise OutcomeFileError(
                    f"{name}: more than {max_lines:,} outcome lines; split it into several files; "
                    "nothing was recorded",
                    [f"line {done + 1}: more than {max_lines:,} outcome lines"],
                )
            checked = check_line(done + 1, row, today=today)  # where the record starts
            if isinstance(checked, str):
                problems.append(checked)
            else:
                outcomes.append(checked)
            done = reader.line_num
    except UnicodeDecodeError as err:
        raise OutcomeFileError(
            f"{name}: line {done + 1} is not UTF-8 text ({err.reason}); save the file as UTF-8 CSV; "
            "nothing was recorded",
            [f"line {done + 1}: not UTF-8 text"],
        ) from err
    except csv.Error as err:
        raise OutcomeFileError(
            f"{name}: line {done + 1} is not CSV ({err}); nothing was recorded",
            [f"line {done + 1}: {err}"],
        ) from err
    if problems:
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise OutcomeFileError(
            f"{name}: {'; '.join(problems[:MAX_LISTED])}{more}; nothing was recorded", problems
        )
    if not outcomes:
        raise OutcomeFileError(f"{name}: no outcomes in the file", ["line 2: no outcomes in the file"])
    return outcomes


def read_outcome_file(path: Path, *, today: date, max_lines: int = MAX_LINES) -> list[Outcome]:
    """Read a CSV of decision_key, defaulted (true/false/1/0), observed_on (YYYY-MM-DD, not after `today`);
    raises OutcomeFileError (unreadable, too large, or the lines and fields at fault)."""
    try:
        check_size(path.name, path.stat().st_size, max_lines=max_lines)
        with path.open(encoding="utf-8-sig", newline="") as file:
            return parse_outcomes(file, name=path.name, today=today, max_lines=max_lines)
    except OSError as err:
        raise OutcomeFileError(f"{path.name}: cannot be read ({err.strerror or err})") from err
