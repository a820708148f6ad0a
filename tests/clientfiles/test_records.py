"""A book's records read by the command and split by its workers are exactly the rows the csv reader gives."""

import io

import pytest

from functions.clientfiles.cells import MAX_CELL
from functions.clientfiles.records import record_cells, stream_records
from functions.clientfiles.rows import data_rows, stream_cells
from functions.scoring.contract import FEATURES

HEADER = ["ID", *(spec.column for spec in FEATURES)]
ROW = ["1", "20000", *["2"] * (len(FEATURES) - 1)]


def lines_of(text: str) -> io.StringIO:
    """Return text as the command reads it: lines split at \\n, \\r and \\r\\n, ends kept."""
    return io.StringIO(text, newline="")


def book(delimiter: str, body: list[str], *, end: str = "\n") -> str:
    """Return a file: a title row, the header, then `body` lines joined by `end`."""
    return "Book of clients\n" + delimiter.join(HEADER) + end + end.join(body)


def assert_same(text: str) -> None:
    """Assert that the records, split, are the rows `stream_cells` and `data_rows` give."""
    layout, cells = stream_cells(lines_of(text), name="b.csv")
    expected = list(data_rows(cells, layout))
    layout_too, delimiter, records = stream_records(lines_of(text), name="b.csv")
    assert layout_too == layout
    assert record_cells(list(records), delimiter) == expected


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_plain_blank_and_quoted_rows_read_as_the_csv_reader_reads_them(delimiter: str, end: str) -> None:
    plain = delimiter.join(ROW)
    body = [
        plain,
        "",
        delimiter * 5,
        " " + delimiter + " \t",
        '"7"' + delimiter + delimiter.join(ROW[1:]),
        '"a' + end + "b" + '"' + delimiter + delimiter.join(ROW[1:]),  # a line break inside quotes
        'x"y' + delimiter + delimiter.join(ROW[1:]),  # a quote inside an unquoted cell
        '""' + delimiter * 3,  # blank once read
        "\x1c" + delimiter + "\xa0",  # whitespace str.strip knows
        plain[:20],  # a short row
        "a\x00b" + delimiter + delimiter.join(ROW[1:]),  # a NUL character
        delimiter.join(ROW) + delimiter * 3,  # empty cells right of the last column
        plain,
    ]
    assert_same(book(delimiter, body, end=end))
    assert_same(book(delimiter, body, end=end) + end)


def test_a_cell_past_the_csv_limit_keeps_its_row_and_line() -> None:
    long = "9" * (MAX_CELL + 5)
    body = [",".join(ROW), long + "," + ",".join(ROW[1:]), f'"{long}",1', ",".join(ROW)]
    assert_same(book(",", body))


def test_plain_lines_travel_as_text_and_others_as_cells() -> None:
    text = book(",", [",".join(ROW), '"1",' + ",".join(ROW[1:])])
    _, _, records = stream_records(lines_of(text), name="b.csv")
    (first, plain), (second, quoted) = records
    assert (first, second) == (3, 4)
    assert plain == ",".join(ROW) + "\n" and quoted == ROW
