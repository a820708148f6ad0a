"""Uploads in bounded memory: the page refuses a file past its size or row bound, and a workbook that expands
past its bound (a decompression bomb), before parsing it, sending the book to `make score` or the portfolio job."""

import io

import pytest
import xlwt

from benchmarks.upload_memory import bomb_xlsx, csv_of
from ui import batch
from ui.limits import MAX_SHEET_BYTES, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS


def test_200000_row_csv_is_refused_naming_its_size_and_where_large_books_go() -> None:
    data = csv_of(200_000)  # 18 MB, under Streamlit's default 200 MB cap
    with pytest.raises(batch.UnreadableFileError) as caught:
        batch.read_clients(data, name="march book.csv")
    message = str(caught.value)
    assert f"the file is {len(data) / 2**20:.1f} MB" in message
    assert f"at most 10 MB and {MAX_UPLOAD_ROWS:,} clients" in message
    assert "make score IN='march book.csv' OUT='march book-scored.csv'" in message
    assert "python -m scripts.portfolio_run" in message


def test_csv_under_the_size_bound_with_too_many_rows_is_refused_before_parsing() -> None:
    data = csv_of(MAX_UPLOAD_ROWS + 5_000)
    assert len(data) < MAX_UPLOAD_BYTES
    with pytest.raises(batch.UnreadableFileError, match=r"the file has 55,001 rows"):
        batch.read_clients(data, name="long.csv")


def test_csv_at_the_row_bound_is_read() -> None:
    parsed = batch.read_clients(csv_of(MAX_UPLOAD_ROWS), name="big.csv")
    assert len(parsed.applicants) == MAX_UPLOAD_ROWS


def test_csv_past_the_size_bound_is_refused_before_reading() -> None:
    data = csv_of(1) + b" " * MAX_UPLOAD_BYTES + b"\n"
    with pytest.raises(batch.UnreadableFileError, match=r"the file is 10\.0 MB; the page reads"):
        batch.read_clients(data, name="padded.csv")


def test_compressed_workbook_expanding_to_200000_rows_is_refused_not_loaded() -> None:
    data = bomb_xlsx(200_000)
    assert len(data) < 2 * 2**20  # small on the wire
    with pytest.raises(batch.UnreadableFileError) as caught:
        batch.read_clients(data, name="bomb.xlsx")
    assert f"the workbook expands to more than {MAX_SHEET_BYTES // 2**20} MB" in str(caught.value)


def test_workbook_with_more_rows_than_the_page_takes_is_refused_by_its_height() -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("clients")
    for r in range(MAX_UPLOAD_ROWS + 20):
        sheet.write(r, 0, r)
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(batch.UnreadableFileError, match=r"the file has 50,020 rows"):
        batch.read_clients(buffer.getvalue(), name="tall.xls")


def test_damaged_zip_is_an_unreadable_workbook() -> None:
    data = bomb_xlsx(1_000)
    with pytest.raises(batch.UnreadableFileError, match="cannot be read as a workbook"):
        batch.read_clients(data[:-200], name="cut.xlsx")
