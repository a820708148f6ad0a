"""The strategy's part of a decision record: fields, the client reference as a keyed hash only, both stores' forms."""

import sqlite3

import numpy as np

from functions.audit.strategy_record import (
    FIELDS,
    add_columns,
    reference_hash,
    strategy_records,
    to_attributes,
    to_columns,
)
from functions.config import MODEL_DIR
from functions.scoring.manifest import read_manifest
from functions.scoring.model import to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Outcomes, Strategy, read_strategy
from training.synthetic import TYPICAL

KEY = b"k" * 32


def outcomes_of_two() -> tuple[Strategy, Outcomes]:
    strategy = read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=read_manifest(MODEL_DIR))
    return strategy, strategy.apply(to_matrix([TYPICAL, TYPICAL]), np.array([0.05, 0.6]))


def test_records_carry_the_decision_rule_version_arm_and_only_a_hash_of_the_reference() -> None:
    strategy, outcomes = outcomes_of_two()
    first, second = strategy_records(outcomes, ["client-42", None], key=KEY)
    assert (first.decision, first.decided_by, first.arm) == ("approve", "approve_low_pd", "champion")
    assert (second.decision, second.line_action, second.client_reference_hash) == ("decline", "freeze", None)
    assert first.strategy_version == strategy.version
    assert first.client_reference_hash == reference_hash("client-42", key=KEY)
    assert "client-42" not in repr(first) and len(first.client_reference_hash or "") == 64
    assert reference_hash("client-42", key=b"j" * 32) != first.client_reference_hash


def test_dynamodb_attributes_type_each_field_and_leave_out_a_missing_hash() -> None:
    _, outcomes = outcomes_of_two()
    record = strategy_records(outcomes, [None, None], key=KEY)[1]
    attributes = to_attributes(record, lambda value: {"N": f"{value:.12f}"})
    assert attributes["decision"] == {"S": "decline"} and attributes["arm"] == {"S": "champion"}
    assert attributes["new_limit"] == {"N": f"{record.new_limit:.12f}"}
    assert "client_reference_hash" not in attributes


def test_an_old_decision_log_gains_the_strategy_columns_and_keeps_its_rows() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE decisions (request_id TEXT PRIMARY KEY)")
    connection.execute("INSERT INTO decisions VALUES ('old')")
    add_columns(connection)
    add_columns(connection)  # a second start changes nothing
    columns = [row[1] for row in connection.execute("PRAGMA table_info(decisions)")]
    assert columns == ["request_id", *FIELDS]
    assert connection.execute("SELECT decision, arm FROM decisions").fetchall() == [(None, None)]
    assert to_columns(None) == (None,) * len(FIELDS)
