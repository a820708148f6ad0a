"""The local decision log's key file: created once, atomically; concurrent first starts all read the same key."""

import multiprocessing
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from functions.audit.decision import AuditUnavailableError
from functions.audit.key import local_key


def test_threads_creating_the_key_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    for attempt in range(20):
        path = tmp_path / f"run{attempt}" / "decisions.key"
        barrier = threading.Barrier(16)

        def start(_: int, path: Path = path, barrier: threading.Barrier = barrier) -> bytes:
            barrier.wait()
            return local_key(path).secret

        with ThreadPoolExecutor(16) as pool:
            keys = set(pool.map(start, range(16)))
        assert keys == {path.read_bytes()} and len(path.read_bytes()) == 64


def _start(path: Path, barrier: "threading.Barrier", keys: "multiprocessing.Queue[bytes]") -> None:
    barrier.wait()
    keys.put(local_key(path).secret)


def test_processes_creating_the_key_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    path, barrier, keys = tmp_path / "decisions.key", context.Barrier(4), context.Queue()
    workers = [context.Process(target=_start, args=(path, barrier, keys)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert {keys.get(timeout=5) for _ in workers} == {path.read_bytes()}


def test_a_start_reads_the_key_another_start_is_still_writing(tmp_path: Path) -> None:
    path = tmp_path / "decisions.key"
    path.touch(mode=0o600)  # the winner has created the file but not yet written it
    key = os.urandom(32).hex().encode()

    def finish_writing() -> None:
        time.sleep(0.2)
        path.write_bytes(key[:20])
        time.sleep(0.1)
        path.write_bytes(key)

    writer = threading.Thread(target=finish_writing)
    writer.start()
    try:
        assert local_key(path).secret == key
    finally:
        writer.join()


def test_a_failed_write_leaves_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.key"

    def full_disk(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(AuditUnavailableError, match="No space left"):
        local_key(path)
    assert not path.exists()
    monkeypatch.undo()
    assert len(local_key(path).secret) == 64


def test_an_old_short_key_is_refused_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "decisions.key"
    path.write_bytes(b"short")
    os.utime(path, (time.time() - 60, time.time() - 60))
    started = time.monotonic()
    with pytest.raises(AuditUnavailableError, match="shorter than 32 bytes"):
        local_key(path)
    assert time.monotonic() - started < 1
