"""Uploads of real-world client files: layouts, encodings, delimiters, blank rows and workbooks, read as the loader reads them."""

import io
import re
import zipfile
from xml.sax.saxutils import escape

import numpy as np
import pytest
import xlwt

from functions.scoring.model import to_matrix
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch

# --- real-world files (issue 10 D): the upload reads what the loader and the portfolio command read ----------
ROWS = generate_rows(12, seed=21)
TARGET = [i % 2 for i in range(12)]
TEXT = to_dataset_csv(ROWS, target=TARGET)
UCI_ROW = ",".join(["", *[f"X{k}" for k in range(1, 24)], "Y"]) + "\n"


def noted(text: str, note: str) -> str:
    """Append a free-text NOTE column (unused by the model)."""
    first, *body = text.splitlines()
    return "\n".join([f'{first},"NOTE"', *(f"{line},{note}" for line in body)]) + "\n"


def twin(column: str, other: str) -> bytes:
    """Append a copy of `column` under the header `other`: two columns with one meaning."""
    first, *body = TEXT.splitlines()
    at = [c.strip('"') for c in first.split(",")].index(column)
    return (
        "\n".join([f'{first},"{other}"', *(f"{line},{line.split(',')[at]}" for line in body)]) + "\n"
    ).encode()


def cells_of(text: str) -> list[list[object]]:
    """The rows of a Kaggle-layout text as a spreadsheet holds them: numbers as numbers."""
    rows: list[list[object]] = []
    for line in text.splitlines():
        rows.append(
            [float(c) if c.lstrip("-").replace(".", "").isdigit() else c.strip('"') for c in line.split(",")]
        )
    return rows


def xls_bytes(rows: list[list[object]]) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("clients")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """A minimal Office Open XML workbook (one sheet, inline strings), as Excel writes it."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"<c><v>{value:g}</v></c>"
        return f'<c t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'

    sheet_rows = "".join(f"<row>{''.join(cell(v) for v in row)}</row>" for row in rows)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    book_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ct}"><Default Extension="rels" ContentType="application/'
        f'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{book_type}"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{sheet_type}"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="clients" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
        f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{sheet_rows}</sheetData></worksheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, xml in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return buffer.getvalue()


UPLOADS = {
    "pay_1-for-pay_0": ("c.csv", TEXT.replace('"PAY_0"', '"PAY_1"').encode()),
    "uci-two-row-header": ("c.csv", (UCI_ROW + TEXT.replace('"', "")).encode()),
    "semicolons": ("c.csv", TEXT.replace(",", ";").encode()),
    "tabs": ("c.tsv", TEXT.replace(",", "\t").encode()),
    "excel-sep-line": ("c.csv", ("sep=;\n" + TEXT.replace(",", ";")).encode()),
    "utf-8-bom": ("c.csv", TEXT.encode("utf-8-sig")),
    "windows-1252": ("c.csv", noted(TEXT, "José Peña €5").encode("cp1252")),
    "latin-1": ("c.csv", noted(TEXT, "São Paulo").encode("latin-1")),
    "title-row-above-header": ("c.csv", ("Client list\n\n" + TEXT).encode()),
    "xls": ("c.xls", xls_bytes(cells_of(TEXT))),
    "xlsx": ("c.xlsx", xlsx_bytes(cells_of(TEXT))),
    "xlsx-uci-two-row-header": ("c.XLSX", xlsx_bytes(cells_of(UCI_ROW + TEXT.replace('"', "")))),
}


@pytest.mark.parametrize(("name", "data"), UPLOADS.values(), ids=UPLOADS.keys())
def test_read_clients_reads_real_world_files_like_the_loader(name: str, data: bytes) -> None:
    parsed = batch.read_clients(data, name=name)
    assert not parsed.problems
    np.testing.assert_array_equal(to_matrix(parsed.applicants), to_matrix(ROWS))
    assert parsed.target is not None
    assert parsed.target.tolist() == TARGET
    assert parsed.id_column == "ID"
    assert parsed.table["ID"].tolist() == [str(i) for i in range(1, 13)]
    assert parsed.note == ""


def test_read_clients_ignores_blank_rows_and_says_how_many() -> None:
    parsed = batch.read_clients((TEXT + ("," * 24 + "\n") * 3).encode(), name="c.csv")
    assert (len(parsed.table), len(parsed.applicants), parsed.problems) == (12, 12, [])
    assert parsed.note == "3 blank rows ignored"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (twin("PAY_0", "PAY_1"), "columns PAY_0 (column 7) and PAY_1 (column 26) both hold PAY_0"),
        (
            twin("default.payment.next.month", "default payment next month"),
            "columns default.payment.next.month (column 25) and default payment next month (column 26)",
        ),
        (twin("ID", "ID"), "columns ID (column 1) and ID (column 26) both hold ID"),
        (TEXT.replace(",", "|").encode(), "not split by a comma, semicolon or tab (it is split by '|')"),
        (TEXT.encode("utf-16"), "save it as 'CSV UTF-8 (comma delimited)'"),
    ],
    ids=["pay_0-and-pay_1", "both-target-spellings", "id-twice", "pipes", "utf-16"],
)
def test_read_clients_refuses_what_the_loader_refuses_naming_it(data: bytes, message: str) -> None:
    with pytest.raises(batch.UnreadableFileError, match=re.escape(message)):
        batch.read_clients(data, name="c.csv")


def test_read_clients_names_a_broken_workbook() -> None:
    with pytest.raises(batch.UnreadableFileError, match=r"c\.xlsx: cannot be read as a workbook"):
        batch.read_clients(b"not a workbook", name="c.xlsx")
