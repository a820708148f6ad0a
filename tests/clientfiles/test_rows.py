"""The csv-module client reader: every dataset layout, and bad rows named by row, column and problem."""

import io
from pathlib import Path

import numpy as np
import pytest

from functions.clientfiles.layout import decode
from functions.clientfiles.rows import (
    ClientFileError,
    parse_clients,
    read_client_file,
    read_table,
    stream_clients,
)
from functions.scoring.contract import FEATURES
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows, to_dataset_csv

ROWS = generate_rows(30, seed=4)
TARGET = [i % 2 for i in range(30)]
UCI_CODES_ROW = "," + ",".join(f"X{k}" for k in range(1, 24)) + ",Y\n"


@pytest.mark.parametrize(
    ("with_id", "target"), [(True, TARGET), (False, TARGET), (True, None), (False, None)]
)
def test_kaggle_layout_with_or_without_id_and_target(with_id: bool, target: list[int] | None) -> None:
    clients = parse_clients(to_dataset_csv(ROWS, target=target, with_id=with_id), name="f.csv")
    np.testing.assert_array_equal(clients.raw, to_matrix(ROWS))
    if target is None:
        assert clients.target is None
    else:
        assert clients.target is not None
        assert clients.target.tolist() == TARGET


def test_uci_layout_with_its_code_row() -> None:
    text = UCI_CODES_ROW + to_dataset_csv(ROWS, target=TARGET).replace('"', "")
    clients = parse_clients(text, name="uci.csv", need_target=True)
    np.testing.assert_array_equal(clients.raw, to_matrix(ROWS))


def test_lower_case_names_pay_1_alias_and_a_bom(tmp_path: Path) -> None:
    text = to_dataset_csv(ROWS).replace("PAY_0", "PAY_1").lower()
    path = tmp_path / "clients.csv"
    path.write_text("\ufeff" + text + "\n\n", encoding="utf-8")  # trailing blank lines are not clients
    np.testing.assert_array_equal(read_client_file(path).raw, to_matrix(ROWS))


def test_missing_optional_codes_read_as_zero() -> None:
    header, first, *_ = to_dataset_csv(ROWS[:1], with_id=False).splitlines()
    cells = first.split(",")
    sex = [spec.name for spec in FEATURES].index("sex")
    cells[sex] = ""
    clients = parse_clients(f"{header}\n{','.join(cells)}\n", name="f.csv")
    assert clients.raw[0, sex] == 0.0


def _with_cell(column: str, value: str, *, row: int = 0) -> str:
    lines = to_dataset_csv(ROWS, target=TARGET).splitlines()
    header = [c.strip('"') for c in lines[0].split(",")]
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("PAY_0", "12", "row 4, column PAY_0: Input should be less than or equal to 9"),
        ("LIMIT_BAL", "abc", "row 4, column LIMIT_BAL: Input should be a valid number"),
        ("AGE", "", "row 4, column AGE: Field required"),
        ("EDUCATION", "2.5", "row 4, column EDUCATION"),
        ("default.payment.next.month", "2", "row 4, column default.payment.next.month: default flag 2"),
    ],
)
def test_bad_rows_are_named_not_dropped(column: str, value: str, message: str) -> None:
    with pytest.raises(ClientFileError, match="1 problem") as caught:
        parse_clients(_with_cell(column, value, row=2), name="f.csv")
    assert message in str(caught.value)


def test_every_bad_row_is_counted_and_the_first_ten_shown() -> None:
    lines = to_dataset_csv(ROWS).splitlines()
    for row in range(1, 13):
        lines[row] = lines[row].replace(f"{row},", f"{row},-5", 1)  # ID then LIMIT_BAL: negative limits
    with pytest.raises(ClientFileError, match=r"f.csv: 12 problem\(s\)") as caught:
        parse_clients("\n".join(lines), name="f.csv")
    message = str(caught.value)
    assert message.count("column LIMIT_BAL") == 10
    assert "row 2, column LIMIT_BAL" in message
    assert message.endswith("... and 2 more")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ('"ID","LIMIT_BAL"\n1,2000\n', "missing column"),
        (to_dataset_csv(ROWS).splitlines()[0] + "\n", "no client rows"),
    ],
)
def test_unusable_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ClientFileError, match=message):
        parse_clients(text, name="f.csv")


def test_outcomes_need_the_default_flag() -> None:
    with pytest.raises(ClientFileError, match="no default flag"):
        parse_clients(to_dataset_csv(ROWS), name="f.csv", need_target=True)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ClientFileError, match=r"binary\.csv: not UTF-8.*save it as 'CSV UTF-8"):
        read_client_file(path)


# --- streaming: every row yielded, valid or not, in file order ---------------------------------------------
def test_stream_yields_every_row_with_its_line_id_and_problems() -> None:
    text = _with_cell("LIMIT_BAL", "abc", row=2)
    text = (
        UCI_CODES_ROW + text.replace('"', "") + "\n"
    )  # a code row above the header and a blank line at the end
    layout, rows = stream_clients(io.StringIO(text), name="f.csv")
    streamed = list(rows)
    assert layout.first_line == 3
    assert [row.line for row in streamed] == list(range(3, 3 + len(ROWS)))
    assert [row.client_id for row in streamed] == [str(i) for i in range(1, len(ROWS) + 1)]
    assert [row.valid for row in streamed].count(False) == 1
    bad = streamed[2]
    assert bad.values == ()
    assert bad.error == "LIMIT_BAL: Input should be a valid number"
    assert str(bad.problems[0]) == "row 5, column LIMIT_BAL: Input should be a valid number"
    valid = [row.values for row in streamed if row.valid]
    np.testing.assert_array_equal(np.asarray(valid), np.delete(to_matrix(ROWS), 2, axis=0))


def test_stream_is_lazy_and_keeps_a_bad_default_flag_apart_from_the_inputs() -> None:
    text = _with_cell("default.payment.next.month", "7", row=0)
    layout, rows = stream_clients(io.StringIO(text), name="f.csv")
    first = next(rows)  # a generator: rows are checked one at a time, not all at read
    assert layout.id_at == 0
    assert layout.target_at == len(layout.header) - 1
    assert first.valid
    assert first.target is None
    assert first.target_problem is not None
    assert "default flag 7" in first.target_problem.problem
    assert next(rows).target == TARGET[1]


def test_stream_without_id_gives_no_client_id() -> None:
    _, rows = stream_clients(io.StringIO(to_dataset_csv(ROWS[:2], with_id=False)), name="f.csv")
    assert [row.client_id for row in rows] == [None, None]


def test_stream_refuses_a_header_without_the_contract_columns() -> None:
    with pytest.raises(ClientFileError, match=r"f\.csv: missing column"):
        stream_clients(io.StringIO('"ID","LIMIT_BAL"\n1,2000\n'), name="f.csv")


# --- real-world files (issue 10 D): each case read to the same clients, or refused naming what to do ---------
TEXT = to_dataset_csv(ROWS, target=TARGET)


def _extra_column(text: str, header: str, value: str) -> str:
    """Append a column (quoted header, one value per row) to a Kaggle-layout text."""
    first, *body = text.splitlines()
    return "\n".join([f'{first},"{header}"', *(f"{line},{value}" for line in body)]) + "\n"


def _doubled(column: str, twin: str) -> str:
    """Append a copy of `column` under the header `twin` (two columns with one meaning)."""
    lines = TEXT.splitlines()
    at = [c.strip('"') for c in lines[0].split(",")].index(column)
    body = [f"{line},{line.split(',')[at]}" for line in lines[1:]]
    return "\n".join([f'{lines[0]},"{twin}"', *body]) + "\n"


READABLE: dict[str, bytes] = {
    "pay_1-for-pay_0": TEXT.replace('"PAY_0"', '"PAY_1"').encode(),
    "uci-two-row-header": (UCI_CODES_ROW + TEXT.replace('"', "")).encode(),
    "semicolons": TEXT.replace(",", ";").encode(),
    "tabs": TEXT.replace(",", "\t").encode(),
    "excel-sep-comma-line": ("sep=,\n" + TEXT).encode(),
    "excel-sep-semicolon-line": ("sep=;\n" + TEXT.replace(",", ";")).encode(),
    "excel-sep-tab-line": ("sep=\t\r\n" + TEXT.replace(",", "\t")).encode(),
    "utf-8-bom": TEXT.encode("utf-8-sig"),
    "windows-1252": _extra_column(TEXT, "NOTE", "José Peña €5").encode("cp1252"),
    "latin-1": _extra_column(TEXT, "NOTE", "São Paulo").encode("latin-1"),
    "latin-1-c1-byte": _extra_column(TEXT, "NOTE", "x").encode().replace(b",x\n", b",\x81\n"),
    "crlf-and-excel-trailing-commas": TEXT.replace("\n", ",,\r\n").encode(),
    "title-and-blank-line-above-header": ("Clients at 30 November 2026,,,\n,,,\n" + TEXT).encode(),
    "title-without-delimiter-above-semicolons": ("Client list\n\n" + TEXT.replace(",", ";")).encode(),
}
BLANK_ROW = "," * 24 + "\n"
TWINS = {
    "pay_0-and-pay_1": (_doubled("PAY_0", "PAY_1"), r"columns PAY_0 \(column 7\) and PAY_1 \(column 26\)"),
    "both-target-spellings": (
        _doubled("default.payment.next.month", "default payment next month"),
        r"columns default\.payment\.next\.month \(column 25\) and default payment next month \(column 26\)",
    ),
    "id-twice": (_doubled("ID", "ID"), r"columns ID \(column 1\) and ID \(column 26\)"),
}


@pytest.mark.parametrize("data", READABLE.values(), ids=READABLE.keys())
def test_real_world_layouts_read_the_same_clients(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    clients = read_client_file(path, need_target=True)
    np.testing.assert_array_equal(clients.raw, to_matrix(ROWS))
    assert clients.target is not None
    assert clients.target.tolist() == TARGET
    assert clients.blank_rows == 0


def test_real_world_layouts_stream_the_same_clients() -> None:
    for name, data in READABLE.items():
        layout, rows = stream_clients(io.StringIO(decode(data, name=name), newline=""), name=name)
        streamed = list(rows)
        assert layout.target_at is not None, name
        assert all(row.valid for row in streamed), name
        np.testing.assert_array_equal(np.asarray([row.values for row in streamed]), to_matrix(ROWS))


def test_blank_rows_of_only_commas_are_ignored_and_counted() -> None:
    clients = parse_clients(TEXT + BLANK_ROW * 3, name="f.csv")
    np.testing.assert_array_equal(clients.raw, to_matrix(ROWS))
    assert clients.blank_rows == 3
    table = read_table((TEXT + BLANK_ROW * 3).encode(), name="f.csv")
    assert (table.blank_rows, table.note) == (3, "3 blank rows ignored")
    assert [line for line, _ in table.rows] == list(range(2, 2 + len(ROWS)))


@pytest.mark.parametrize(("text", "message"), TWINS.values(), ids=TWINS.keys())
def test_two_columns_with_one_meaning_are_refused_naming_both(text: str, message: str) -> None:
    with pytest.raises(ClientFileError, match=rf"f\.csv, line 1: {message} both hold .*; delete one"):
        parse_clients(text, name="f.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TEXT.replace(",", "|").encode(), r"not split by a comma, semicolon or tab \(it is split by '\|'\)"),
        (b"LIMIT_BAL\n1\n", r"not split by a comma, semicolon or tab \(it has a single column\)"),
        (("sep=|\n" + TEXT.replace(",", "|")).encode(), r"line 1 says sep=\|"),
        (TEXT.encode("utf-16"), r"holds NUL bytes: UTF-16 .*save it as 'CSV UTF-8 \(comma delimited\)'"),
        (b"PK\x03\x04" + b"\x00" * 20, r"Excel workbook or a zip, not CSV text; save it as 'CSV UTF-8"),
    ],
    ids=["pipes", "one-column", "sep-pipe", "utf-16", "xlsx-named-csv"],
)
def test_unreadable_encodings_and_delimiters_say_what_to_do(data: bytes, message: str) -> None:
    with pytest.raises(ClientFileError, match=rf"^f\.csv: .*{message}"):
        read_table(data, name="f.csv")


def test_line_numbers_count_the_sep_line_and_the_code_row() -> None:
    text = "sep=;\n" + UCI_CODES_ROW.replace(",", ";") + _with_cell("AGE", "x", row=1).replace(",", ";")
    with pytest.raises(ClientFileError, match="row 5, column AGE: Input should be a valid integer"):
        parse_clients(text, name="f.csv")


def test_missing_columns_are_named_on_the_likeliest_header_row() -> None:
    text = "Client list\n" + TEXT.replace('"AGE"', '"AGEX"')
    with pytest.raises(ClientFileError, match=r"f\.csv: missing column\(s\) AGE in the header \(line 2\)"):
        parse_clients(text, name="f.csv")
