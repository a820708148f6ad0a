"""The outcome file's reader, shared by `make outcomes`, the UI and the S3 drop: limits, encodings, broken CSV."""

from datetime import date
from pathlib import Path

import pytest

from functions.audit.outcomes import Outcome
from functions.monitoring.cli import main
from functions.monitoring.loop.outcome_file import (
    MAX_LINE_BYTES,
    OutcomeFileError,
    parse_outcomes,
    read_outcome_file,
)

TODAY = date(2026, 12, 1)
HEADER = "decision_key,defaulted,observed_on"


def test_a_bom_crlf_and_extra_columns_are_read_as_the_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(
        ("\ufeffnote," + HEADER + "\r\nx,a#1,TRUE,2026-11-30\r\ny, b#2 ,0,2026-11-29\r\n").encode()
    )
    assert read_outcome_file(path, today=TODAY) == [
        Outcome("a#1", True, "2026-11-30"),
        Outcome("b#2", False, "2026-11-29"),
    ]


def test_a_file_over_the_line_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("\n".join([HEADER, *(f"k{i},true,2026-11-30" for i in range(3))]) + "\n")
    assert len(read_outcome_file(path, today=TODAY, max_lines=3)) == 3
    with pytest.raises(OutcomeFileError, match="more than 2 outcome lines; split it") as raised:
        read_outcome_file(path, today=TODAY, max_lines=2)
    assert raised.value.problems == ["line 4: more than 2 outcome lines"]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "\n" + "x" * (3 * MAX_LINE_BYTES))  # no line break: never read whole
    with pytest.raises(OutcomeFileError, match=f"above the limit of {3 * MAX_LINE_BYTES:,} bytes"):
        read_outcome_file(path, today=TODAY, max_lines=2)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f'{HEADER}\na#1,true,2026-11-30\na#2,"{"x" * 140_000}",2026-11-30\n', "line 3: field larger than"),
        (f'{HEADER}\na#1,true,2026-11-30\na#2,"true\nstill quoted,2026-11-30\n', "line 3: defaulted must be"),
    ],
    ids=["cell over the csv limit", "quote never closed"],  # the second record spans lines 3 and 4
)
def test_broken_csv_is_refused_naming_the_line_where_the_record_starts(text: str, problem: str) -> None:
    with pytest.raises(OutcomeFileError, match="nothing was recorded") as raised:
        parse_outcomes(text.splitlines(keepends=True), name="o.csv", today=TODAY)
    (found,) = raised.value.problems
    assert found.startswith(problem), found


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(OutcomeFileError, match=r"gone\.csv: cannot be read"):
        read_outcome_file(tmp_path / "gone.csv", today=TODAY)


def test_the_command_refuses_broken_csv_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f'{HEADER}\na#1,"{"x" * 140_000}",2026-11-30\n')
    assert main(["record-outcomes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.csv: line 2 is not CSV") and "Traceback" not in err


@pytest.mark.parametrize("day", ["20261130", "2026-W48-1", "2026-334", "1672531200", " ", "30/11/2026"])
def test_a_day_not_written_yyyy_mm_dd_is_refused_as_the_api_refuses_it(day: str) -> None:
    with pytest.raises(OutcomeFileError, match="nothing was recorded") as raised:
        parse_outcomes([f"{HEADER}\n", f"a#1,true,{day}\n"], name="o.csv", today=TODAY)
    (found,) = raised.value.problems
    assert found.startswith("line 2: observed_on must be a date (YYYY-MM-DD)"), found
