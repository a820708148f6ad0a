"""The book command never destroys or mixes files: its own files refused as input, a folder or unwritable
OUTPUT refused before any work, a held lock refused, and a summary that fails to write leaves neither file."""

import errno
import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from functions.portfolio import files
from functions.portfolio.cli import main, summary_path
from functions.portfolio.files import lock_path
from training.synthetic import generate_rows

ROWS = generate_rows(40, seed=8)


@pytest.fixture
def book(tmp_path: Path, book_text: Callable[..., str]) -> Path:
    """A valid 40-row Kaggle-layout client file."""
    path = tmp_path / "book.csv"
    path.write_text(book_text(ROWS, {}), encoding="utf-8")
    return path


def leftovers(folder: Path) -> list[str]:
    """Return the names of temporary or lock files a run may have left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".lock")))


@pytest.mark.parametrize(
    "name", ["march.csv.partial", "march.csv.summary.json", "march.csv.lock", "march.csv.1-ab12cd34.partial"]
)
def test_input_named_like_the_runs_own_files_is_refused_and_kept(
    tmp_path: Path, book: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / name
    source.write_bytes(book.read_bytes())
    assert main(["score", str(source), str(tmp_path / "march.csv"), "--workers", "1"]) == 2
    assert "must not be the input" in capsys.readouterr().err
    assert source.read_bytes() == book.read_bytes()
    assert not (tmp_path / "march.csv").exists()


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_input_resolving_to_the_output_is_refused(
    tmp_path: Path, book: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alias = tmp_path / "alias.csv"
    if link == "symlink":
        alias.symlink_to(book)
    else:
        os.link(book, alias)
    assert main(["score", str(alias), str(book), "--workers", "1"]) == 2
    assert "must not be the input" in capsys.readouterr().err
    assert book.read_text(encoding="utf-8").count("\n") == len(ROWS) + 1


def test_folder_as_output_is_refused_before_any_work(
    tmp_path: Path, book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["score", str(book), str(folder), "--workers", "1"]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(folder.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_unwritable_output_is_refused_before_any_work(
    tmp_path: Path, book: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        files.os, "access", lambda path, mode: False
    )  # as a non-root user on a read-only folder
    assert main(["score", str(book), str(tmp_path / "out.csv"), "--workers", "1"]) == 2
    assert "no permission to write" in capsys.readouterr().err
    assert leftovers(tmp_path) == []


def test_second_run_into_a_locked_output_is_refused_and_leaves_the_first_runs_files(
    tmp_path: Path, book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    other_partial = tmp_path / "out.csv.999-deadbeef.partial"  # the first run's temporary output
    other_partial.write_text("first run's rows\n")
    with lock_path(out).open("a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.write(b"4242\n")
        held.flush()
        assert main(["score", str(book), str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "another run (PID 4242) is writing out.csv" in err
    assert other_partial.read_text() == "first run's rows\n"
    assert not out.exists()
    assert main(["score", str(book), str(out), "--workers", "1"]) == 0  # once released, it runs
    assert not lock_path(out).exists()


def test_stale_lock_file_of_a_killed_run_does_not_block(tmp_path: Path, book: Path) -> None:
    out = tmp_path / "out.csv"
    lock_path(out).write_text("12345\n")  # left by a SIGKILLed run: the file exists, nobody holds it
    assert main(["score", str(book), str(out), "--workers", "1"]) == 0
    assert json.loads(summary_path(out).read_text())["rows"] == len(ROWS)


def test_disk_full_at_the_summary_leaves_the_previous_output_and_summary_intact(
    tmp_path: Path, book: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous output\n")
    summary_path(out).write_text('{"previous": true}\n')
    real_fsync = os.fsync
    calls = 0

    def fsync_fills_the_disk_at_the_second_file(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the output was flushed; the summary is the second file
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync_fills_the_disk_at_the_second_file)
    assert main(["score", str(book), str(out), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err
    assert "Traceback" not in err
    assert out.read_text() == "previous output\n"
    assert summary_path(out).read_text() == '{"previous": true}\n'
    assert leftovers(tmp_path) == []


def test_a_complete_run_replaces_output_and_summary_and_leaves_no_temporary_file(
    tmp_path: Path, book: Path
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous output\n")
    summary_path(out).write_text('{"previous": true}\n')
    assert main(["score", str(book), str(out), "--workers", "2"]) == 0
    assert out.read_text(encoding="utf-8").count("\n") == len(ROWS) + 1
    assert json.loads(summary_path(out).read_text())["rows"] == len(ROWS)
    assert leftovers(tmp_path) == []
