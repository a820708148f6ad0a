"""The training loader on real-world client files: layouts, encodings, delimiters, blank rows, duplicate meanings, zips."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from functions.clientfiles.layout import UCI_CODES
from functions.scoring.contract import FEATURE_NAMES, TARGET
from scripts.local import ROOT
from training import train
from training.data import (
    DataError,
    load_dataset,
)
from training.synthetic import generate_rows, to_dataset_csv

ROWS = generate_rows(40, seed=7)
TARGETS = [i % 3 == 0 for i in range(40)]


def expected_frame() -> pd.DataFrame:
    """The generated rows as the loader must return them (contract order, int64, the target last)."""
    frame = pd.DataFrame(ROWS)[list(FEATURE_NAMES)].astype("int64")
    frame[TARGET] = [int(t) for t in TARGETS]
    return frame


# --- real-world files (issue 10 D): the loader reads through the shared layout rules ---------------------------
TEXT = to_dataset_csv(ROWS, target=[int(t) for t in TARGETS])
UCI_ROW = ",".join(["", *UCI_CODES]) + "\n"


def with_note(text: str, note: str) -> str:
    """Append a free-text NOTE column (unused by the model) to a Kaggle-layout text."""
    first, *body = text.splitlines()
    return "\n".join([f'{first},"NOTE"', *(f"{line},{note}" for line in body)]) + "\n"


def doubled(column: str, twin: str) -> str:
    """Append a copy of `column` under the header `twin`: two columns with one meaning."""
    first, *body = TEXT.splitlines()
    at = [c.strip('"') for c in first.split(",")].index(column)
    return "\n".join([f'{first},"{twin}"', *(f"{line},{line.split(',')[at]}" for line in body)]) + "\n"


MESSY = {
    "pay_1-for-pay_0": TEXT.replace('"PAY_0"', '"PAY_1"').encode(),
    "uci-two-row-header": (UCI_ROW + TEXT.replace('"', "")).encode(),
    "semicolons": TEXT.replace(",", ";").encode(),
    "tabs": TEXT.replace(",", "\t").encode(),
    "excel-sep-line": ("sep=;\n" + TEXT.replace(",", ";")).encode(),
    "utf-8-bom": TEXT.encode("utf-8-sig"),
    "windows-1252": with_note(TEXT, "José Peña €5").encode("cp1252"),
    "latin-1": with_note(TEXT, "São Paulo").encode("latin-1"),
    "blank-rows-of-commas": (TEXT + "," * 24 + "\n" + ",,,\n" + "\n").encode(),
    "title-row-above-header": ("Client list;;;\n" + TEXT.replace(",", ";")).encode(),
}


@pytest.mark.parametrize("data", MESSY.values(), ids=MESSY.keys())
def test_load_reads_real_world_layouts_to_the_same_table(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    loaded = load_dataset(path, allow_other_data=True)
    assert loaded.frame.to_numpy().tolist() == expected_frame().to_numpy().tolist()


def test_load_says_how_many_blank_rows_it_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(MESSY["blank-rows-of-commas"])
    with caplog.at_level("WARNING", logger="training.data"):
        load_dataset(path, allow_other_data=True)
    assert "clients.csv: 3 blank rows ignored" in caplog.text


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        (doubled("PAY_0", "PAY_1"), "columns PAY_0 (column 7) and PAY_1 (column 26)"),
        (
            doubled("default.payment.next.month", "default payment next month"),
            "columns default.payment.next.month (column 25) and default payment next month (column 26)",
        ),
        (doubled("ID", "ID"), "columns ID (column 1) and ID (column 26)"),
    ],
    ids=["pay_0-and-pay_1", "both-target-spellings", "id-twice"],
)
def test_train_cli_refuses_two_columns_with_one_meaning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, columns: str
) -> None:
    path = tmp_path / "twins.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(columns)):
        load_dataset(path, allow_other_data=True)
    out = tmp_path / "model"
    assert train.main(["--data", str(path), "--allow-other-data", "--out", str(out)]) == 2
    printed = capsys.readouterr().out
    assert f"error: twins.csv, line 1: {columns} both hold" in printed
    assert "Traceback" not in printed
    assert not out.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TEXT.replace(",", "|").encode(), "split by '|'"),
        (TEXT.encode("utf-16"), "save it as 'CSV UTF-8 (comma delimited)'"),
    ],
    ids=["pipes", "utf-16"],
)
def test_load_names_the_delimiter_or_encoding_it_cannot_read(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(path, allow_other_data=True)


def test_zip_made_on_macos_ignores_the_resource_forks(tmp_path: Path) -> None:
    path = tmp_path / "clients.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("clients.csv", TEXT)
        archive.writestr("__MACOSX/._clients.csv", b"\x00\x05\x16\x07Mac OS X resource fork")
        archive.writestr("._clients.csv", b"\x00\x05\x16\x07")
    loaded = load_dataset(path, allow_other_data=True)
    assert loaded.source == "clients.zip!clients.csv"
    assert loaded.frame.to_numpy().tolist() == expected_frame().to_numpy().tolist()


def test_train_module_exits_2_on_two_columns_with_one_meaning(tmp_path: Path) -> None:
    path = tmp_path / "twins.csv"
    path.write_text(doubled("PAY_0", "PAY_1"))
    argv = [
        "-m",
        "training.train",
        "--data",
        str(path),
        "--allow-other-data",
        "--out",
        str(tmp_path / "model"),
    ]
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert (
        "error: twins.csv, line 1: columns PAY_0 (column 7) and PAY_1 (column 26) both hold PAY_0"
        in done.stdout
    )
    assert "Traceback" not in done.stdout + done.stderr
