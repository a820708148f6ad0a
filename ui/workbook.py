"""Read an uploaded .xls/.xlsx with python-calamine into the cell rows the CSV path produces (UI only).

python-calamine is a dev dependency (the UI runs from the dev venv); nothing in `functions/` imports it, so it
never reaches the Lambda image.
"""

import io
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from functions.clientfiles.layout import SAVE_AS, ClientFileError
from ui.limits import check_rows


def cell_text(value: Any) -> str:
    """Write one workbook cell as the CSV would hold it: blanks empty, whole numbers without `.0`."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def workbook_rows(data: bytes, *, name: str) -> list[list[str]]:
    """Return the first sheet of an .xls/.xlsx as rows of cell text; raises ClientFileError if unreadable."""
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    except (CalamineError, ValueError) as err:
        raise ClientFileError(f"{name}: cannot be read as a workbook ({err}); {SAVE_AS}") from err
    check_rows(sheet.height, name=name)  # before its cells become Python objects
    try:
        return [[cell_text(value) for value in row] for row in sheet.to_python()]
    except (CalamineError, ValueError) as err:
        raise ClientFileError(f"{name}: cannot be read as a workbook ({err}); {SAVE_AS}") from err
