"""The page's bounds on an upload, checked before it is parsed: size, rows, and a workbook's expanded size.

Streamlit keeps an upload's bytes in memory and the page parses the whole file into a table, so the page takes
files up to MAX_UPLOAD_MB and MAX_UPLOAD_ROWS clients; a workbook is refused when its sheets expand past
MAX_SHEET_BYTES (a decompression bomb: a small .xlsx whose XML inflates to hundreds of MB) or its first sheet
has more rows than the page takes. Larger books go to `make score` or the portfolio job, which stream.
"""

import io
import zipfile
import zlib
from typing import Final

from functions.clientfiles.layout import LEAD_ROWS, SAVE_AS, ClientFileError
from ui.portfolio import score_command

MAX_UPLOAD_MB: Final = 10  # MiB, as Streamlit counts `max_upload_size`
MAX_UPLOAD_BYTES: Final = MAX_UPLOAD_MB * 2**20
MAX_UPLOAD_ROWS: Final = 50_000  # clients per uploaded file
MAX_SHEET_BYTES: Final = 64 * 2**20  # a workbook's XML, expanded: about 60,000 rows of 25 cells
READ_BYTES: Final = 1 << 20


def too_large(name: str, what: str) -> ClientFileError:
    """Return the error for an upload past a bound: what was too large, the bounds, and where large books go."""
    return ClientFileError(
        f"{name}: {what}; the page reads files of at most {MAX_UPLOAD_MB} MB and {MAX_UPLOAD_ROWS:,} clients. "
        f"Score a larger book on this machine with `{score_command(name)}` (a CSV: save a workbook as CSV "
        "first) or on AWS with the portfolio job (`python -m scripts.portfolio_run --stack-name STACK FILE`); "
        "both stream the file in bounded memory (docs/portfolio.md)."
    )


def check_size(size: int, *, name: str) -> None:
    """Refuse an upload of more than MAX_UPLOAD_BYTES; raises ClientFileError."""
    if size > MAX_UPLOAD_BYTES:
        raise too_large(name, f"the file is {size / 2**20:,.1f} MB")


def check_rows(rows: int, *, name: str) -> None:
    """Refuse a file of more than MAX_UPLOAD_ROWS data rows (the header and title rows allowed for)."""
    if rows > MAX_UPLOAD_ROWS + LEAD_ROWS:
        raise too_large(name, f"the file has {rows:,} rows")


def check_csv(data: bytes, *, name: str) -> None:
    """Refuse a CSV upload past the size or the row bound, counting lines before anything is decoded."""
    check_size(len(data), name=name)
    check_rows(data.count(b"\n") + (not data.endswith(b"\n")), name=name)


def check_workbook(data: bytes, *, name: str) -> None:
    """Refuse a workbook past the size bound, or an .xlsx whose parts expand past MAX_SHEET_BYTES (counted by
    inflating them in 1 MiB steps, never trusting the sizes the zip declares); raises ClientFileError."""
    check_size(len(data), name=name)
    if not data.startswith(b"PK"):
        return  # an .xls (not a zip): the size bound holds, the reader names any other problem
    expanded = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for part in archive.infolist():
                with archive.open(part) as stream:
                    while chunk := stream.read(READ_BYTES):
                        expanded += len(chunk)
                        if expanded > MAX_SHEET_BYTES:
                            raise too_large(
                                name, f"the workbook expands to more than {MAX_SHEET_BYTES // 2**20} MB"
                            )
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
        raise ClientFileError(f"{name}: cannot be read as a workbook ({err}); {SAVE_AS}") from err
