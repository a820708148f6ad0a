"""The book command's files: refuse an input that is one of the run's own files, lock the output, write the
output and its summary to temporary files unique to the run and rename them into place, the summary last.

The summary is the run's completion mark: the output and the summary are both written in full (and flushed to
disk) before either is renamed into place, and a previous summary is removed before the new output replaces the
old one, so a summary never describes another output and a crash leaves no partial file under either name.
"""

import errno
import fcntl
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

from functions.clientfiles.rows import ClientFileError

SUMMARY_SUFFIX: Final = ".summary.json"
LOCK_SUFFIX: Final = ".lock"
PARTIAL_SUFFIX: Final = ".partial"


class OutputInUse(ClientFileError):
    """Another run holds the output's lock: the user waits for it or names another output."""


def summary_path(output: Path) -> Path:
    """Return where the summary of `output` goes: OUTPUT.summary.json beside it."""
    return output.with_name(output.name + SUMMARY_SUFFIX)


def lock_path(output: Path) -> Path:
    """Return the lock file of `output`: OUTPUT.lock beside it."""
    return output.with_name(output.name + LOCK_SUFFIX)


def _is_run_file(source: Path, target: Path) -> bool:
    """Whether `source` is (by name or by file) the output, its summary, lock or any temporary file of a run."""
    real, out = source.resolve(), target.resolve()
    if real.parent == out.parent and (
        real.name in (out.name, summary_path(out).name, lock_path(out).name)
        or (real.name.startswith(out.name + ".") and real.name.endswith(PARTIAL_SUFFIX))
    ):
        return True
    try:
        return target.exists() and os.path.samefile(source, target)  # a hard link to the output
    except OSError:
        return False


def check_paths(source: Path, target: Path) -> None:
    """Refuse, before any work, an input that is not a file or is one of the run's own files, and an OUTPUT that
    is a folder, lies in a missing folder or cannot be written; raises ClientFileError saying what to do."""
    if not source.is_file():
        raise ClientFileError(f"no input file at {source}; give a client CSV")
    if target.is_dir():
        raise ClientFileError(
            f"{target} is a folder; name the scored CSV to write, e.g. {target / 'scored.csv'}"
        )
    if not target.parent.is_dir():
        raise ClientFileError(f"cannot write {target}: its folder must exist")
    if _is_run_file(source, target):
        raise ClientFileError(
            f"cannot write {target}: it must not be the input, nor the input its summary, lock or temporary "
            f"file ({source.name}), which this run would replace or delete; name another OUTPUT or move the input"
        )
    if not os.access(target.parent, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise ClientFileError(f"cannot write {target}: no permission to write it or its folder")


class RunFiles:
    """The files of one run into `target`: its lock, its unique temporary output and summary (a context manager
    that removes the temporary files and releases the lock on every exit); raises OutputInUse when locked."""

    def __init__(self, target: Path) -> None:
        self.target, self.summary = target, summary_path(target)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.partial = target.with_name(f"{target.name}.{token}{PARTIAL_SUFFIX}")
        self.summary_partial = target.with_name(f"{target.name}.{token}.summary{PARTIAL_SUFFIX}")
        self._lock: IO[bytes] | None = None

    def __enter__(self) -> Self:
        self._lock = _acquire(lock_path(self.target))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()
        if self._lock is not None:
            lock_path(self.target).unlink(missing_ok=True)  # still held: a waiting run re-checks the inode
            self._lock.close()
            self._lock = None

    def discard(self) -> None:
        """Remove this run's temporary files (nothing else)."""
        self.partial.unlink(missing_ok=True)
        self.summary_partial.unlink(missing_ok=True)

    def commit(self, summary_text: str) -> None:
        """Write the summary to its temporary file, flush both to disk, then rename output and summary into place."""
        with self.summary_partial.open("w", encoding="utf-8") as handle:
            handle.write(summary_text)
            handle.flush()
            os.fsync(handle.fileno())
        self.summary.unlink(missing_ok=True)  # an older run's summary must not describe the new output
        self.partial.replace(self.target)
        self.summary_partial.replace(self.summary)
        _sync_folder(self.target.parent)


def _acquire(path: Path) -> IO[bytes]:
    """Hold an exclusive lock on `path` (created if need be); raises OutputInUse naming the holder's PID."""
    while True:
        handle = path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                handle.close()
                raise
            handle.seek(0)
            holder = handle.read(32).decode("ascii", "replace").strip() or "unknown"
            handle.close()
            output = path.name.removesuffix(LOCK_SUFFIX)
            raise OutputInUse(
                f"another run (PID {holder}) is writing {output} in {path.parent}; wait for it to finish or "
                "name another OUTPUT"
            ) from err
        try:
            same = os.fstat(handle.fileno()).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file that its last holder removed while we waited
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
            return handle
        handle.close()


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames) to disk where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the renames are still atomic
    finally:
        os.close(fd)


def open_partial(files: RunFiles) -> IO[str]:
    """Create the run's temporary output (exclusive: never another file) for writing text."""
    return files.partial.open("x", encoding="utf-8", newline="")
