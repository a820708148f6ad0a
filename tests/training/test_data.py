"""Loader tests: every layout, every bad-input case, and the download over loopback."""

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlwt

from functions.clientfiles.layout import UCI_CODES
from functions.scoring.contract import FEATURE_NAMES, FEATURES, TARGET
from training.data import (
    SPLIT_POLICY,
    DataError,
    data_report,
    download_uci,
    load_dataset,
    parse,
    read_raw,
    split_dataset,
    table_sha256,
)
from training.synthetic import generate_dataset, generate_rows, to_dataset_csv

ROWS = generate_rows(40, seed=7)
TARGETS = [i % 3 == 0 for i in range(40)]


def kaggle_csv(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "clients.csv"
    path.write_text(text if text is not None else to_dataset_csv(ROWS, target=[int(t) for t in TARGETS]))
    return path


def uci_table() -> list[list[object]]:
    """The UCI .xls layout: an X1..X23,Y row above the real header; target 'default payment next month'."""
    header = ["ID", *[spec.column for spec in FEATURES], "default payment next month"]
    body = [[i + 1, *[row[name] for name in FEATURE_NAMES], int(TARGETS[i])] for i, row in enumerate(ROWS)]
    return [["", *UCI_CODES], header, *body]


def uci_xls_bytes() -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for r, row in enumerate(uci_table()):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def uci_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("default of credit card clients.xls", uci_xls_bytes())
    return buffer.getvalue()


def expected_frame() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS)[list(FEATURE_NAMES)].astype("int64")
    frame[TARGET] = [int(t) for t in TARGETS]
    return frame


def test_load_kaggle_csv_reads_every_value(tmp_path: Path) -> None:
    dataset = load_dataset(kaggle_csv(tmp_path), allow_other_data=True)
    assert list(dataset.frame.columns) == [*FEATURE_NAMES, TARGET]
    assert (dataset.frame.to_numpy() == expected_frame().to_numpy()).all()


def test_load_kaggle_csv_without_id_keeps_file_order(tmp_path: Path) -> None:
    path = kaggle_csv(tmp_path, to_dataset_csv(ROWS, target=[int(t) for t in TARGETS], with_id=False))
    assert (load_dataset(path, allow_other_data=True).frame.to_numpy() == expected_frame().to_numpy()).all()


def test_load_kaggle_csv_reads_r_scientific_notation(tmp_path: Path) -> None:
    text = to_dataset_csv(ROWS, target=[int(t) for t in TARGETS]).replace("\n1,200000,", "\n1,2e+05,")
    frame = load_dataset(kaggle_csv(tmp_path, text), allow_other_data=True).frame
    assert frame["limit_bal"].iloc[0] == ROWS[0]["limit_bal"]


def test_load_uci_xls_and_zip_give_the_same_table(tmp_path: Path) -> None:
    xls = tmp_path / "default of credit card clients.xls"
    xls.write_bytes(uci_xls_bytes())
    archive = tmp_path / "uci.zip"
    archive.write_bytes(uci_zip_bytes())
    from_xls = load_dataset(xls, allow_other_data=True)
    from_zip = load_dataset(archive, allow_other_data=True)
    from_csv = load_dataset(kaggle_csv(tmp_path), allow_other_data=True)
    assert from_xls.table_sha256 == from_zip.table_sha256 == from_csv.table_sha256


def test_load_uci_csv_layout_with_pay_1_alias(tmp_path: Path) -> None:
    table = uci_table()
    table[1] = ["PAY_1" if cell == "PAY_0" else cell for cell in table[1]]  # type: ignore[misc]
    path = tmp_path / "uci.csv"
    path.write_text("\n".join(",".join(str(c) for c in row) for row in table) + "\n")
    assert (load_dataset(path, allow_other_data=True).frame.to_numpy() == expected_frame().to_numpy()).all()


def test_load_refuses_data_that_differs_from_the_pin(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--allow-other-data"):
        load_dataset(kaggle_csv(tmp_path))


def test_table_hash_depends_on_every_value(tmp_path: Path) -> None:
    frame = expected_frame()
    changed = frame.copy()
    changed.iloc[5, 3] += 1
    assert table_sha256(frame) != table_sha256(changed)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"AGE",', '"AGEX",'), r"missing column\(s\) AGE"),
        (lambda t: t.replace('"default.payment.next.month"', '"outcome"'), r"missing column\(s\) default"),
        (lambda t: t.replace("\n3,", "\n3,abc", 1), r"row 4, column LIMIT_BAL: non-numeric value 'abc\d*'"),
        (
            lambda t: _set_cell(t, row=2, column="EDUCATION", value="7"),
            r"row 3, column EDUCATION: unknown code 7",
        ),
        (lambda t: _set_cell(t, row=5, column="PAY_0", value="-3"), r"row 6, column PAY_0: unknown code -3"),
        (lambda t: _set_cell(t, row=1, column="AGE", value=""), r"row 2, column AGE: missing value"),
        (
            lambda t: _set_cell(t, row=1, column="AGE", value="30.5"),
            r"row 2, column AGE: 30.5 is not a whole number",
        ),
        (
            lambda t: _set_cell(t, row=9, column="default.payment.next.month", value="2"),
            r"row 10, .*target 2 is not",
        ),
        (
            lambda t: _set_cell(t, row=4, column="LIMIT_BAL", value="0"),
            r"row 5, column LIMIT_BAL: out of range 0",
        ),
    ],
)
def test_load_names_file_row_column_and_problem(tmp_path: Path, edit: object, message: str) -> None:
    text = edit(to_dataset_csv(ROWS, target=[int(t) for t in TARGETS]))  # type: ignore[operator]
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(kaggle_csv(tmp_path, text), allow_other_data=True)
    assert "clients.csv" in str(caught.value)


def _set_cell(text: str, *, row: int, column: str, value: str) -> str:
    lines = text.split("\n")
    header = [c.strip('"') for c in lines[0].split(",")]
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines)


def test_load_reports_how_many_problems_beyond_the_first_ten(tmp_path: Path) -> None:
    text = to_dataset_csv(ROWS, target=[int(t) for t in TARGETS])
    for row in range(1, 21):
        text = _set_cell(text, row=row, column="SEX", value="9")
    with pytest.raises(DataError, match=r"20 problem\(s\)[\s\S]*and 10 more"):
        load_dataset(kaggle_csv(tmp_path, text), allow_other_data=True)


def test_load_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file; pass --data PATH"):
        load_dataset(tmp_path / "absent.csv")


def test_zip_with_two_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(DataError, match="expected one"):
        read_raw(path)


def test_data_report_counts_rows_and_defaults(tmp_path: Path) -> None:
    report = data_report(load_dataset(kaggle_csv(tmp_path), allow_other_data=True))
    assert "40 rows" in report
    assert f"defaults: {sum(TARGETS)} " in report


class _Payload(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:
        if self.path != "/uci.zip":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def zip_server() -> Iterator[tuple[str, type[_Payload]]]:
    """Serve a zip the test sets on a free 127.0.0.1 port."""
    handler = type("Handler", (_Payload,), {"payload": uci_zip_bytes()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_download_fetches_the_zip_once_and_loads_it(
    tmp_path: Path, zip_server: tuple[str, type[_Payload]]
) -> None:
    url, handler = zip_server
    path = download_uci(tmp_path, url=f"{url}/uci.zip")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(handler.payload).hexdigest()
    handler.payload = b"changed"  # a second call uses the cache, not the server
    assert download_uci(tmp_path, url=f"{url}/uci.zip") == path
    frame = parse(*read_raw(path))
    assert len(frame) == len(ROWS)


def test_download_rejects_a_corrupted_zip_and_keeps_nothing(
    tmp_path: Path, zip_server: tuple[str, type[_Payload]]
) -> None:
    url, handler = zip_server
    handler.payload = uci_zip_bytes()[:-200]  # truncated on the way
    with pytest.raises(DataError, match="not a valid zip"):
        download_uci(tmp_path, url=f"{url}/uci.zip")
    assert list(tmp_path.iterdir()) == []


def test_download_reports_http_errors(tmp_path: Path, zip_server: tuple[str, type[_Payload]]) -> None:
    url, _ = zip_server
    with pytest.raises(DataError, match="download failed"):
        download_uci(tmp_path, url=f"{url}/missing.zip")
    assert list(tmp_path.iterdir()) == []


def test_split_holds_out_a_quarter_and_validates_on_a_fifth_of_the_rest() -> None:
    dataset = generate_dataset(400, seed=1)
    splits = split_dataset(dataset)
    assert (len(splits.y_train), len(splits.y_test)) == (300, 100)
    assert (len(splits.y_fit), len(splits.y_val)) == (240, 60)
    assert splits.X_train.shape == (300, len(FEATURE_NAMES))
    rows = {tuple(r) for r in splits.X_fit} | {tuple(r) for r in splits.X_val}
    assert rows == {tuple(r) for r in splits.X_train}
    # stratified: every part keeps the default rate to within one row
    for y in (splits.y_train, splits.y_test, splits.y_fit, splits.y_val):
        assert abs(y.mean() - dataset.y.mean()) <= 1 / len(y) + 1e-12


def test_split_is_fixed_by_the_policy_seed() -> None:
    dataset = generate_dataset(200, seed=2)
    assert np.array_equal(split_dataset(dataset).X_test, split_dataset(dataset).X_test)
    other = SPLIT_POLICY.model_copy(update={"random_state": 7})
    assert not np.array_equal(split_dataset(dataset, other).X_test, split_dataset(dataset).X_test)


def test_generated_dataset_has_both_classes_and_a_stable_hash() -> None:
    first, second = generate_dataset(300, seed=4), generate_dataset(300, seed=4)
    assert 0.1 < first.y.mean() < 0.6
    assert first.table_sha256 == second.table_sha256 != generate_dataset(300, seed=5).table_sha256
