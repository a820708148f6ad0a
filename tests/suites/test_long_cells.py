"""Cells and header lines of any size: a cell past the csv module's limit (131,072 characters) is reported as an
error naming its row and column, the row kept in its place, in the reader, the book command, monitoring and the
page; never a `_csv.Error` traceback."""

import csv
import io
from pathlib import Path

import pytest

from functions.clientfiles.cells import MAX_CELL, TOO_LONG, split_long_line
from functions.clientfiles.rows import ClientFileError, parse_clients, read_table, stream_clients
from functions.monitoring.cli import main as monitoring_main
from functions.portfolio.cli import main as portfolio_main
from training.synthetic import generate_rows, to_dataset_csv
from ui.batch import read_clients as page_read_clients

HUGE = "9" * 200_000  # a 200,000-character cell
ROWS = generate_rows(6, seed=5)


def book_with(cell: str, *, row: int, column: str, delimiter: str = ",") -> str:
    """Render ROWS with `cell` (quoted) in the 0-based data `row` under `column`."""
    lines = to_dataset_csv(ROWS).splitlines()
    header = [c.strip('"') for c in lines[0].split(",")]
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = '"' + cell.replace('"', '""') + '"'
    lines[row + 1] = ",".join(cells)
    return "\n".join(line.replace(",", delimiter) for line in lines) + "\n"


def test_csv_module_refuses_the_cell_on_its_own() -> None:
    with pytest.raises(csv.Error, match="field larger than field limit"):
        list(csv.reader([HUGE]))  # the failure the shared reader turns into a row error


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ('a,"b,c",d', ["a", "b,c", "d"]),
        ('"say ""hi""",x\r\n', ['say "hi"', "x"]),
        (f'1,"{"x" * (MAX_CELL + 1)}",3', ["1", TOO_LONG, "3"]),
        (f"1,{'y' * MAX_CELL},3", ["1", "y" * MAX_CELL, "3"]),
    ],
)
def test_split_long_line_honours_quotes_and_marks_only_cells_past_the_limit(
    text: str, cells: list[str]
) -> None:
    assert split_long_line(text, ",") == cells


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("column", ["LIMIT_BAL", "ID", "BILL_AMT3"])
def test_stream_keeps_the_row_with_an_error_naming_row_and_column(delimiter: str, column: str) -> None:
    text = book_with(HUGE + delimiter + "x", row=2, column=column, delimiter=delimiter)
    _, rows = stream_clients(io.StringIO(text, newline=""), name="book.csv")
    checked = list(rows)
    assert [row.line for row in checked] == [2, 3, 4, 5, 6, 7]  # every row, in its place
    assert [row.valid for row in checked] == [True, True, False, True, True, True]
    assert checked[2].error.startswith(f"{column}: a cell of more than 131,072 characters")
    assert checked[3].client_id == "4"


def test_whole_file_reader_lists_the_row_and_column() -> None:
    with pytest.raises(
        ClientFileError, match=r"row 3, column PAY_AMT1: a cell of more than 131,072 characters"
    ):
        parse_clients(book_with(HUGE, row=1, column="PAY_AMT1"), name="book.csv")


def test_header_line_with_a_huge_cell_is_refused_naming_line_and_column() -> None:
    text = to_dataset_csv(ROWS).replace('"LIMIT_BAL"', '"' + HUGE + '"', 1)
    with pytest.raises(ClientFileError, match=r"book\.csv: line 1, column 2: a cell of more than 131,072"):
        read_table(text.encode(), name="book.csv")


def test_book_command_writes_the_row_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "book.csv", tmp_path / "out.csv"
    source.write_text(book_with(HUGE, row=4, column="AGE"))
    assert portfolio_main(["score", str(source), str(out), "--workers", "1"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    with out.open(newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert len(scored) == len(ROWS)
    assert scored[4]["ID"] == "5" and scored[4]["error"].startswith(
        "AGE: a cell of more than 131,072 characters"
    )
    assert scored[4]["probability_of_default"] == "" and scored[3]["error"] == ""


def test_book_command_refuses_a_huge_header_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "book.csv"
    source.write_text(to_dataset_csv(ROWS).replace('"SEX"', HUGE, 1))
    assert portfolio_main(["score", str(source), str(tmp_path / "out.csv"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "line 1, column 3: a cell of more than 131,072 characters" in err and "Traceback" not in err


def test_monitoring_names_row_and_column_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "book.csv"
    source.write_text(book_with(HUGE, row=0, column="PAY_0"))
    assert monitoring_main(["drift", str(source)]) == 2
    err = capsys.readouterr().err
    assert "row 2, column PAY_0: a cell of more than 131,072 characters" in err and "Traceback" not in err


def test_page_reports_the_row_and_column_and_keeps_the_other_rows() -> None:
    parsed = page_read_clients(book_with(HUGE, row=3, column="EDUCATION").encode(), name="book.csv")
    assert len(parsed.applicants) == len(ROWS) - 1
    assert [(p.row, p.column) for p in parsed.problems] == [(4, "EDUCATION")]
    assert "131,072 characters" in parsed.problems[0].message
