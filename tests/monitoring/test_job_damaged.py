"""The daily job on small or damaged logs: a damaged record is skipped and counted, never fatal; a log that is
not SQLite, is corrupt or is locked, and a minimum of 0 decisions, each get a message and exit 2; the page's
Recent decisions shows a message, not an exception."""

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.monitoring import job as drift_job
from training.synthetic import generate_rows
from ui import monitoring as page


@pytest.fixture
def log(tmp_path: Path, configure: Callable[..., None], referenced_model_dir: Path) -> Path:
    """A local decision log holding 120 decisions the app recorded."""
    path = tmp_path / "var" / "decisions.sqlite"
    configure(
        DECISION_LOG=str(path), AUDIT_TABLE=None, AUDIT_HASH_KEY=None, MODEL_DIR=str(referenced_model_dir)
    )
    with TestClient(get_app()) as client:
        for seed in (1, 2):
            answer = client.post("/v1/predict/batch", json={"applicants": generate_rows(60, seed=seed)})
            assert answer.status_code == 200
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the job's command line; return its exit code, stdout and stderr."""
    code = drift_job.main(["--local", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_damaged_records_are_skipped_counted_and_reported(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(log) as connection:
        keys = [key for (key,) in connection.execute("SELECT request_id FROM decisions LIMIT 3")]
        connection.execute("UPDATE decisions SET bins = '{not json' WHERE request_id = ?", (keys[0],))
        connection.execute("UPDATE decisions SET bins = '[1, 2]' WHERE request_id = ?", (keys[1],))
        connection.execute("UPDATE decisions SET synthetic = 7 WHERE request_id = ?", (keys[2],))
    code, out, err = run(capsys, "--min-decisions", "50", "--format", "json")
    assert code == 0, err
    assert "3 damaged decision record(s) could not be read and were skipped" in err
    assert '"rows": 117' in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"just some notes, not a database\n" * 200, "not a readable decision log"), (b"", "no such table")],
)
def test_a_log_that_is_not_sqlite_exits_2_with_a_message(
    tmp_path: Path,
    configure: Callable[..., None],
    referenced_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "decisions.sqlite"
    path.write_bytes(content)
    configure(DECISION_LOG=str(path), MODEL_DIR=str(referenced_model_dir))
    code, _, err = run(capsys)
    assert code == 2
    assert f"the decision log {path} cannot be read" in err and message in err
    assert path.read_bytes() == content  # reading never rewrites it


def test_a_locked_log_exits_2_naming_the_lock(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = sqlite3.connect(log, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the job waits
    try:
        code, _, err = run(capsys)
    finally:
        holder.rollback()
        holder.close()
    assert code == 2
    assert "locked by another process" in err


def test_a_minimum_of_zero_decisions_is_refused(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        drift_job.main(["--local", "--min-decisions", "0"])
    assert caught.value.code == 2
    assert "--min-decisions must be at least 1" in capsys.readouterr().err


def test_a_damaged_item_in_the_store_is_one_skipped_record() -> None:
    from functions.audit.decision import DAMAGED, StoredBins
    from functions.scoring.manifest import read_manifest

    reference = read_manifest(Path("model")).reference
    assert reference is not None
    good = StoredBins(model_version="v1", synthetic=False, bins=None)

    def stored() -> Iterator[StoredBins]:
        yield from (DAMAGED, good, DAMAGED)

    counted = drift_job.count_window(stored(), reference, model_version="v1")
    assert counted.skipped == {"synthetic": 0, "other_model_version": 0, "no_bins": 1, "damaged": 2}


def test_page_shows_a_message_for_an_unreadable_log(
    tmp_path: Path, configure: Callable[..., None], referenced_model_dir: Path
) -> None:
    path = tmp_path / "decisions.sqlite"
    path.write_bytes(b"not a database\n" * 100)
    configure(DECISION_LOG=str(path), MODEL_DIR=str(referenced_model_dir))
    message, drifts, rows = page.recent_drift(24)
    assert message.startswith("Drift not measured: the decision log") and (drifts, rows) == ((), 0)
