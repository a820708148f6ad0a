"""Fixtures of outcomes: recorded decisions of generated clients, and outcome stores (SQLite, moto) holding them."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from functions.audit import stores as audit
from functions.audit.decision import DecisionRecord, decision_bins
from functions.audit.outcomes import OutcomeStore
from functions.audit.outcomes_dynamo import DynamoOutcomeTable
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.scoring.model import load_model

SHIPPED = Path(__file__).resolve().parents[2] / "model"
TABLE = "credit-default-audit"
Opener = Callable[[str, list[DecisionRecord], Path], AbstractContextManager[OutcomeStore]]


def records_of(raw: Any, *, synthetic_every: int = 0) -> list[DecisionRecord]:
    """Score rows x 23 inputs with the shipped model; return one record each, 100 to a batch, over five days."""
    model = load_model(SHIPPED)
    decisions = model.assess(raw, explain=False)
    bins = decision_bins(raw, [d.score for d in decisions], model.manifest.reference)
    assert bins is not None
    return [
        DecisionRecord(
            key=f"req-{i // 100:04d}#{i % 100}",
            request_id=f"req-{i // 100:04d}",
            decided_at=f"2026-03-0{1 + i % 5}T10:00:00.000+00:00",
            model_version=model.version,
            input_hash="0" * 64,
            hash_key_version="test",
            decision=decision,
            batch_index=i % 100,
            synthetic=bool(synthetic_every and i % synthetic_every == 0),
            bins=bins[i],
        )
        for i, decision in enumerate(decisions)
    ]


@contextmanager
def opened(
    kind: str, records: list[DecisionRecord], folder: Path, create: Callable[[Any, str], None]
) -> Iterator[OutcomeStore]:
    """Yield the `kind` store ("sqlite" or "dynamodb", in moto) holding `records`."""
    if kind == "sqlite":
        log = SqliteOutcomeLog(folder / "decisions.sqlite")
        log.write(records, deadline=None)
        yield log
        return
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        audit.reset()
        with mock_aws():
            create(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
            audit.DynamoDecisionTable(TABLE).write(records, deadline=None)
            yield DynamoOutcomeTable(TABLE)
        audit.reset()


@pytest.fixture(scope="session")
def make_records() -> Callable[..., list[DecisionRecord]]:
    """`make_records(raw, synthetic_every=0)`: score rows x 23 inputs and return their decision records."""
    return records_of


@pytest.fixture(scope="session")
def open_store(create_audit_table: Callable[[Any, str], None]) -> Opener:
    """`with open_store(kind, records, folder) as store`: a SQLite or moto DynamoDB store holding `records`."""

    def open_kind(
        kind: str, records: list[DecisionRecord], folder: Path
    ) -> AbstractContextManager[OutcomeStore]:
        return opened(kind, records, folder, create_audit_table)

    return open_kind
