"""Interrupts end cleanly, checked on real processes: Ctrl-C, SIGTERM and SIGHUP stop the workers, remove the
temporary files, print one line and exit 128 + the signal; SIGKILL of the command leaves no live worker; a second
run into the same output is refused while the first one runs, and the first one's files survive it."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.portfolio.files import summary_path
from training.synthetic import generate_rows, to_dataset_csv

ROOT = Path(__file__).resolve().parents[2]
REPEATS = (
    250  # 250 x 1,000 rows: several seconds with two workers, so a signal sent at the first progress line
)
# always arrives mid-run (60,000 rows once finished first, on a quiet machine, after the book got faster)


@pytest.fixture(scope="module")
def big_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 250,000-row client file (1,000 generated clients repeated)."""
    header, body = to_dataset_csv(generate_rows(1_000, seed=3)).split("\n", 1)
    path = tmp_path_factory.mktemp("big") / "book.csv"
    body = body if body.endswith("\n") else body + "\n"
    path.write_text(header + "\n" + body * REPEATS, encoding="utf-8")
    return path


def descendants(pid: int) -> set[int]:
    """Return the PIDs of every live descendant of `pid` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    """Wait until none of `pids` is alive; return those still alive after `seconds`."""
    deadline = time.monotonic() + seconds
    while (live := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return live


@pytest.fixture
def start_run(big_book: Path) -> Iterator[object]:
    """Start `python -m functions.portfolio score BOOK OUT --workers 2` in its own session; wait until it scores
    with two workers; yield (process, its workers); kill what is left at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(out: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        command = [
            sys.executable,
            "-m",
            "functions.portfolio",
            "score",
            str(big_book),
            str(out),
            "--workers",
            "2",
        ]
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, start_new_session=True)
        started.append(proc)
        assert proc.stderr is not None
        seen = b""
        while b"scored " not in seen:  # progress: the pool is up and rows are flowing
            byte = proc.stderr.read(1)
            assert byte, f"the run ended before scoring: {seen.decode(errors='replace')}"
            seen += byte
        workers = descendants(proc.pid)
        assert len(workers) >= 2, workers
        return proc, workers

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for the run; return its exit code and the rest of its stderr."""
    assert proc.stderr is not None
    rest = proc.stderr.read().decode()
    return proc.wait(timeout=60), rest


@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143), (signal.SIGHUP, False, 129)],
)
def test_interrupt_stops_workers_removes_temporary_files_and_exits_128_plus_signal(
    tmp_path: Path, start_run: object, signum: int, to_group: bool, code: int
) -> None:
    out = tmp_path / "out.csv"
    proc, workers = start_run(out)  # type: ignore[operator]
    if to_group:  # Ctrl-C in a terminal reaches the command and its workers
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    returncode, err = finish(proc)
    assert returncode == code, err
    lines = [line for line in err.strip().splitlines() if line.strip() and not line.startswith("\r")]
    assert lines[-1].startswith(f"interrupted ({signal.Signals(signum).name})"), err
    assert "Traceback" not in err
    assert wait_gone(workers) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sigkill_of_the_command_leaves_no_live_worker_and_a_next_run_succeeds(
    tmp_path: Path, start_run: object
) -> None:
    out = tmp_path / "out.csv"
    proc, workers = start_run(out)  # type: ignore[operator]
    proc.kill()
    proc.wait()
    assert wait_gone(workers) == set()  # the workers saw their parent go
    assert not out.exists() and not summary_path(out).exists()
    second, _ = start_run(out)  # type: ignore[operator]
    returncode, err = finish(second)
    assert returncode == 0, err
    assert json.loads(summary_path(out).read_text())["rows"] == 1_000 * REPEATS


def test_two_runs_into_one_output_the_second_is_refused_the_first_completes(
    tmp_path: Path, start_run: object, big_book: Path
) -> None:
    out = tmp_path / "out.csv"
    first, _ = start_run(out)  # type: ignore[operator]
    command = [
        sys.executable,
        "-m",
        "functions.portfolio",
        "score",
        str(big_book),
        str(out),
        "--workers",
        "1",
    ]
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 2, second.stderr
    assert f"another run (PID {first.pid}) is writing out.csv" in second.stderr
    returncode, err = finish(first)
    assert returncode == 0, err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 1_000 * REPEATS
    assert "\x00" not in out.read_text(encoding="utf-8")
    assert json.loads(summary_path(out).read_text())["rows"] == 1_000 * REPEATS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.summary.json"]
