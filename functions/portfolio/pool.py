"""The book command's worker pool and its interrupts: chunks scored in order on a process pool whose workers
never outlive the command.

Workers ignore Ctrl-C (the terminal sends it to the whole process group; the command stops them) and watch their
parent: when it is gone (even by SIGKILL, which no handler sees) they exit within a fraction of a second, so no
worker is orphaned. SIGTERM and SIGHUP to the command raise `Interrupted`, Ctrl-C `KeyboardInterrupt`; either
way the pool's workers are terminated before the exception leaves `scored_chunks`.
"""

import ctypes
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Final

from functions.clientfiles.records import Record, record_cells
from functions.clientfiles.rows import Layout
from functions.portfolio.counts import BookCounts
from functions.portfolio.shard import score_client_rows, serving_model, serving_strategy

Chunk = list[Record]  # rows as the command read them: a plain line's text, else its cells
PARENT_POLL_SECONDS: Final = 0.2
STOP_SECONDS: Final = 5.0
EXIT_CODES: Final = {signal.SIGINT: 130, signal.SIGHUP: 129, signal.SIGTERM: 143}  # 128 + signal number
# glibc's mallopt parameters (malloc.h) and what the book sets them to: a chunk's arrays (up to a few MiB)
# come from the heap and go back to it, instead of fresh pages from mmap that the kernel faults in each time
# (a million-row book took about 4 million page faults, 8 s of system time).
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
MEMORY_REUSE: Final = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 256 * 2**20}


class Interrupted(BaseException):
    """The command received SIGTERM or SIGHUP (`signum`): it stops, like KeyboardInterrupt for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise Interrupted once (a second one is ignored while cleaning up)."""
    fired = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch_parent(parent: int, *, exit_now: Callable[[int], object] = os._exit) -> None:
    """Exit this process as soon as its parent `parent` is gone (polled: portable, no prctl)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    exit_now(1)


def reuse_memory() -> bool:
    """Keep freed memory of this process for reuse (glibc mallopt, MEMORY_REUSE) for the rest of its life; False
    where there is no `mallopt` (macOS, musl) or it refuses a setting. Called by the book command and its workers
    only, never by a library caller of `scored_chunks`."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without it): the defaults stay
        return False
    return all(mallopt(option, value) == 1 for option, value in MEMORY_REUSE.items())


def _init_worker(model_dir: Path, parent: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    reuse_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the command stops us
    for sig in (signal.SIGTERM, signal.SIGHUP):  # not the command's handlers, inherited through fork
        signal.signal(sig, signal.SIG_DFL)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    serving_model(model_dir)
    serving_strategy(model_dir)


def _score(layout: Layout, chunk: Chunk, delimiter: str, model_dir: Path) -> tuple[str, BookCounts]:
    rows = record_cells(chunk, delimiter)  # the worker splits the lines: the command only reads them
    return score_client_rows(serving_model(model_dir), serving_strategy(model_dir), layout, rows)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the pool's workers now (Python 3.11 has no public way to)."""
    workers = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        worker.join(max(deadline - time.monotonic(), 0.0))
        if worker.is_alive():
            worker.kill()
            worker.join()


def scored_chunks(
    layout: Layout, pieces: Iterator[Chunk], *, workers: int, model_dir: Path, delimiter: str
) -> Generator[tuple[str, BookCounts], None, None]:
    """Score chunks in order, in-process for one worker, else on a pool with at most 2 x workers in flight;
    on any exception or close the workers are terminated first."""
    if workers == 1:
        yield from (_score(layout, chunk, delimiter, model_dir) for chunk in pieces)
        return
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(model_dir, os.getpid()))
    try:
        pending: deque[Future[tuple[str, BookCounts]]] = deque()
        for chunk in pieces:
            pending.append(pool.submit(_score, layout, chunk, delimiter, model_dir))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:  # an interrupt, a fault, or the consumer closing us: no worker outlives this
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
