"""The rules of outcomes and finals, in both stores: idempotent, conflicts refused whole, synthetic skipped."""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from functions.audit.decision import AuditUnavailableError, DecisionRecord
from functions.audit.outcomes import (
    FinalDecision,
    FinalExistsError,
    Outcome,
    OutcomeConflictError,
    OutcomeStore,
    UnknownDecisionError,
)
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows

DAYS = {"since_day": "2026-03-01", "until_day": "2026-03-31"}


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """20 recorded decisions; every fifth synthetic."""
    return make_records(to_matrix(generate_rows(20, seed=3)), synthetic_every=5)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(
    request: pytest.FixtureRequest,
    records: list[DecisionRecord],
    tmp_path: Path,
    open_store: Callable[..., AbstractContextManager[OutcomeStore]],
) -> Iterator[OutcomeStore]:
    """The 20 decisions in SQLite, then in moto's DynamoDB."""
    with open_store(request.param, records, tmp_path) as opened:
        yield opened


def final(key: str, action: str = "approve") -> FinalDecision:
    """A final decision on `key` with a stand-in hash."""
    return FinalDecision(key, action, "verified_income", "f" * 64, "test", "2026-04-01T09:00:00.000+00:00")


def outcomes_of(store: OutcomeStore) -> list[int]:
    """The joined outcome flags, sorted."""
    return sorted(store.read_joined(**DAYS).outcome.tolist())


def test_a_conflicting_outcome_refuses_the_batch_naming_it_and_writes_nothing(
    store: OutcomeStore, records: list[DecisionRecord]
) -> None:
    first = Outcome(records[1].key, True, "2026-09-30")
    assert store.record_outcomes([first]).recorded == [records[1].key]
    before = outcomes_of(store)
    batch = [Outcome(records[2].key, False, "2026-09-30"), Outcome(records[1].key, False, "2026-09-30")]
    with pytest.raises(OutcomeConflictError) as refused:
        store.record_outcomes(batch)
    assert refused.value.keys == [records[1].key]
    assert outcomes_of(store) == before  # records[2]'s outcome was not written either


def test_two_different_outcomes_for_one_key_in_a_batch_conflict(
    store: OutcomeStore, records: list[DecisionRecord]
) -> None:
    key = records[3].key
    with pytest.raises(OutcomeConflictError, match=key.replace("#", ".")):
        store.record_outcomes([Outcome(key, True, "2026-09-30"), Outcome(key, True, "2026-10-31")])
    same = store.record_outcomes([Outcome(key, True, "2026-09-30"), Outcome(key, True, "2026-09-30")])
    assert same.recorded == [key]


def test_synthetic_decisions_are_skipped_and_left_out_of_the_join(
    store: OutcomeStore, records: list[DecisionRecord]
) -> None:
    receipt = store.record_outcomes([Outcome(records[0].key, True, "2026-09-30")])  # index 0: synthetic
    assert receipt.synthetic == [records[0].key] and receipt.recorded == []
    assert store.read_joined(**DAYS).outcome.size == 16


def test_a_second_final_is_refused_and_an_unknown_key_is_unknown(
    store: OutcomeStore, records: list[DecisionRecord]
) -> None:
    store.record_final(final(records[4].key))
    with pytest.raises(FinalExistsError):
        store.record_final(final(records[4].key, "decline"))
    with pytest.raises(UnknownDecisionError):
        store.record_final(final("nobody#1"))
    joined = store.read_joined(**DAYS)
    assert sorted(joined.final_action.tolist()).count("approve") == 1
    assert set(joined.groups) == {"sex", "marriage", "age"} and (joined.groups["sex"] >= 0).all()


def test_a_corrupt_log_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "decisions.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(AuditUnavailableError, match=r"decisions\.sqlite"):
        SqliteOutcomeLog(path).record_outcomes([Outcome("a#1", True, "2026-09-30")])


def test_a_locked_log_is_a_clear_error_and_nothing_is_half_written(
    tmp_path: Path, records: list[DecisionRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SqliteOutcomeLog(tmp_path / "decisions.sqlite")
    log.write(records, deadline=None)
    log.read_joined(**DAYS)  # creates the outcome tables
    holder = sqlite3.connect(log.path)
    holder.execute("BEGIN EXCLUSIVE")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **{**k, "timeout": 0.1}))
    try:
        with pytest.raises(AuditUnavailableError, match="locked"):
            log.record_outcomes(
                [Outcome(records[1].key, True, "2026-09-30"), Outcome(records[2].key, False, "2026-09-30")]
            )
    finally:
        holder.rollback()
        holder.close()
    assert (log.read_joined(**DAYS).outcome >= 0).sum() == 0
