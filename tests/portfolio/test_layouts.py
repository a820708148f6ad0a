"""The portfolio command and its Step Functions steps read every layout, delimiter and encoding training reads."""

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.clientfiles import layout
from functions.clientfiles.rows import ClientFileError, text_lines
from functions.config import get_settings
from functions.portfolio import prepare
from functions.portfolio import shard as shards
from functions.portfolio.cli import main, score_file, summary_path
from training.synthetic import generate_rows

ROWS = generate_rows(250, seed=41)
BAD_AT = {4: ("AGE", "17"), 120: ("LIMIT_BAL", "abc"), 249: ("PAY_0", "x")}
TITLE = "Kundenbestand – Stichtag März 2026 (€)"  # no delimiter in it; its dash and euro sign are cp1252-only bytes
HEAD = ("head", [layout.HEAD_BYTES, 1_000])  # the real first block, and one that ends mid-file


def twins(book_text: Callable[..., str]) -> tuple[bytes, bytes]:
    """Return one book as UTF-8 with commas, and as Windows-1252 with semicolons and a title row (CRLF)."""
    rows = list(csv.reader(io.StringIO(book_text(ROWS, BAD_AT))))
    for n, row in enumerate(rows[1:], start=1):
        row[0] = f"Kö-€{n}"  # IDs a person typed: they come back in the scored file, so decoding shows
    comma, semicolon = io.StringIO(), io.StringIO()
    csv.writer(comma, lineterminator="\n").writerows(rows)
    semicolon.write(TITLE + "\r\n")
    csv.writer(semicolon, delimiter=";", lineterminator="\r\n").writerows(rows)
    return comma.getvalue().encode("utf-8"), semicolon.getvalue().encode("cp1252")


@pytest.fixture
def books(tmp_path: Path, book_text: Callable[..., str]) -> tuple[Path, Path]:
    """The UTF-8 comma book and its Windows-1252 semicolon twin with a title row, as files."""
    comma, semicolon = twins(book_text)
    with pytest.raises(UnicodeDecodeError):
        semicolon.decode("utf-8")  # a UTF-8-only reader refuses it
    (tmp_path / "comma.csv").write_bytes(comma)
    (tmp_path / "semicolon.csv").write_bytes(semicolon)
    return tmp_path / "comma.csv", tmp_path / "semicolon.csv"


@pytest.mark.parametrize(*HEAD)
def test_command_scores_a_semicolon_windows_1252_book_as_its_utf8_comma_twin(
    books: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: int
) -> None:
    monkeypatch.setattr(layout, "HEAD_BYTES", head)
    comma, semicolon = books
    assert main(["score", str(comma), str(tmp_path / "a.csv"), "--workers", "1"]) == 0
    assert main(["score", str(semicolon), str(tmp_path / "b.csv"), "--workers", "1"]) == 0
    scored = (tmp_path / "b.csv").read_bytes()
    assert scored == (tmp_path / "a.csv").read_bytes()
    assert "Kö-€1,".encode() in scored
    expected, got = (json.loads(summary_path(tmp_path / n).read_text()) for n in ("a.csv", "b.csv"))
    assert (got["rows"], got["invalid"]) == (250, 3)
    for key in ("input", "input_sha256", "output", "duration_seconds"):
        del expected[key], got[key]
    assert got == expected


def test_command_refuses_another_delimiter_naming_it(
    books: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pipes.csv"
    source.write_bytes(books[0].read_bytes().replace(b",", b"|"))
    assert main(["score", str(source), str(tmp_path / "out.csv"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "pipes.csv: line 1 is not split by a comma, semicolon or tab (it is split by '|')" in err
    assert not (tmp_path / "out.csv").exists()


def test_lines_decode_as_they_stream_even_across_the_first_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "HEAD_BYTES", 4)
    assert list(text_lines(io.BytesIO("aé\r\nb€\n".encode()), name="f.csv")) == ["aé\r\n", "b€\n"]
    assert list(text_lines(io.BytesIO("aé\nb€\n".encode("cp1252")), name="f.csv")) == ["aé\n", "b€\n"]


def test_a_later_line_in_another_encoding_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "HEAD_BYTES", 8)
    data = "a,b\nc,é\n".encode() + "d,é\n".encode("cp1252")
    with pytest.raises(ClientFileError, match=r"f\.csv: line 3 is not UTF-8 text as the lines above it are"):
        list(text_lines(io.BytesIO(data), name="f.csv"))


def test_lines_are_read_in_constant_memory() -> None:
    data = io.BytesIO(b"1,2,3\n" * 2_000_000)  # 12 MB
    lines = text_lines(data, name="f.csv")
    assert [next(lines) for _ in range(3)] == ["1,2,3\n"] * 3
    assert data.tell() <= layout.HEAD_BYTES + 3 * 8192  # the first block and a buffer or two, not the file


def test_step_functions_steps_score_the_semicolon_windows_1252_book_as_the_command(
    books: tuple[Path, Path], tmp_path: Path, bucket: str
) -> None:
    comma, semicolon = books
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="in/book.csv", Body=semicolon.read_bytes())
    event = {"bucket": bucket, "key": "in/book.csv", "run": "r", "output_bucket": bucket, "shard_rows": "100"}
    prepared = prepare.handler(event, None)
    assert (prepared["rows"], prepared["shards"]) == (250, 3)
    items: list[dict[str, Any]] = json.loads(
        s3.get_object(Bucket=bucket, Key=prepared["shards_key"])["Body"].read()
    )
    assert [item["first_line"] for item in items] == [3, 103, 203]  # the file's lines: title, header, rows
    first = s3.get_object(Bucket=bucket, Key=items[0]["key"])["Body"].read().decode("utf-8")
    assert first.startswith("ID,LIMIT_BAL,") and "\nKö-€1," in first  # shards: UTF-8, commas, the header
    remote = []
    for item in items:
        shards.handler(item, None)
        text = s3.get_object(Bucket=bucket, Key=item["result_key"])["Body"].read().decode("utf-8")
        remote.extend(csv.DictReader(io.StringIO(text)))
    score_file(comma, tmp_path / "scored.csv", workers=1, model_dir=get_settings().model_dir)
    with (tmp_path / "scored.csv").open(encoding="utf-8", newline="") as handle:
        assert remote == list(csv.DictReader(handle))


def test_prepare_refuses_another_delimiter_naming_it(books: tuple[Path, Path], bucket: str) -> None:
    boto3.client("s3").put_object(
        Bucket=bucket, Key="in/book.csv", Body=books[0].read_bytes().replace(b",", b"|")
    )
    event = {"bucket": bucket, "key": "in/book.csv", "run": "r", "output_bucket": bucket}
    with pytest.raises(
        ClientFileError, match=r"in/book\.csv: line 1 is not split by .*\(it is split by '\|'\)"
    ):
        prepare.handler(event, None)
