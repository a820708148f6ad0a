"""What would change the decision: valid (re-scored and approved), never touching an immutable input, statuses only
brought current, a clear answer when nothing actionable suffices; and on every real test client not approved."""

from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.scoring.adverse.recourse import (
    AMOUNTS,
    IMMUTABLE,
    NONE_SUFFICES,
    Recourse,
    approve_cutoff,
    bring_current,
    changes,
    find_recourse,
)
from functions.scoring.contract import FEATURE_NAMES, PAY_STATUS
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Strategy, parse_strategy, read_strategy
from training.data import load_dataset, split_dataset
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
AT = {name: i for i, name in enumerate(FEATURE_NAMES)}
STATUS = [AT[name] for name in PAY_STATUS]


@pytest.fixture(scope="module")
def strategy(model: ScoringModel) -> Strategy:
    return read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=model.manifest)


def check_proposal(model: ScoringModel, strategy: Strategy, client: np.ndarray, found: Recourse) -> None:
    """Assert a proposal re-scores approved below the cut-off and moves only actionable inputs as allowed."""
    assert found.proposed is not None and found.reached_pd is not None
    proposed = found.proposed
    pd = model.probabilities(proposed[None, :])
    assert pd[0] == found.reached_pd < found.approve_below
    assert strategy.apply(proposed[None, :], pd).decision.tolist() == ["approve"]
    moved = {name for name, _, _ in changes(client, proposed)}
    assert not moved & set(IMMUTABLE)
    assert moved <= set(AMOUNTS) | set(PAY_STATUS)
    late_now, late_then = client[STATUS] > 0, proposed[STATUS] > 0
    assert not (late_then & ~late_now).any()  # never makes a status late
    assert np.array_equal(proposed[STATUS][~late_now], client[STATUS][~late_now])  # only late ones move ...
    assert (proposed[STATUS][late_now] == 0).all() or (proposed[STATUS] == client[STATUS]).all()  # ... to 0
    assert found.brings_current == (not np.array_equal(proposed[STATUS], client[STATUS]))
    assert (proposed[[AT[f"pay_amt{k}"] for k in range(1, 7)]] >= 0).all()
    assert found.total_change == pytest.approx(
        np.abs(proposed[[AT[n] for n in AMOUNTS]] - client[[AT[n] for n in AMOUNTS]]).sum()
    )


def test_the_cutoff_is_the_end_of_the_approve_band(strategy: Strategy) -> None:
    assert approve_cutoff(strategy) == 0.2


def test_a_declined_client_gets_a_valid_change(model: ScoringModel, strategy: Strategy) -> None:
    client = to_matrix([HIGH_RISK])[0]
    found = find_recourse(model, strategy, client)
    assert found.decision == "decline" and found.probability_of_default >= found.approve_below
    check_proposal(model, strategy, client, found)
    assert found.message


def test_an_approved_client_needs_no_change(model: ScoringModel, strategy: Strategy) -> None:
    client = to_matrix([TYPICAL])[0]
    found = find_recourse(model, strategy, client)
    assert found.decision == "approve" and found.proposed is None and "approved already" in found.message


def test_bringing_current_sets_only_late_statuses_to_zero() -> None:
    client = to_matrix([HIGH_RISK])[0]
    client[AT["pay_6"]] = -1
    current = bring_current(client)
    assert current[STATUS].tolist() == [0, 0, 0, 0, 0, -1]
    assert np.array_equal(np.delete(current, STATUS), np.delete(client, STATUS))


def test_none_suffices_when_a_rule_on_an_immutable_input_refers(model: ScoringModel) -> None:
    rule = (
        "policy_rules:\n  - code: T01_AGE\n    statement: Every client is referred whatever the payments.\n"
        '    when:\n      - {input: age, op: ">=", value: 18}\n    decision: refer\n'
    )
    text = SHIPPED[: SHIPPED.index("policy_rules:")] + rule + SHIPPED[SHIPPED.index("pd_bands:") :]
    always_refer = parse_strategy(text, manifest=model.manifest)
    found = find_recourse(model, always_refer, to_matrix([HIGH_RISK])[0])
    assert (found.proposed, found.direction, found.message) == (None, None, NONE_SUFFICES)


def test_generated_clients_not_approved_get_valid_changes(model: ScoringModel, strategy: Strategy) -> None:
    raw = to_matrix(generate_rows(400, seed=21))
    pd = model.probabilities(raw)
    refused = np.flatnonzero(strategy.apply(raw, pd).decision != "approve")
    assert refused.size >= 20
    for row in refused[:60].tolist():
        found = find_recourse(model, strategy, raw[row])
        if found.proposed is None:
            assert found.message == NONE_SUFFICES
        else:
            check_proposal(model, strategy, raw[row], found)


@pytest.mark.realdata
def test_every_real_test_client_not_approved_gets_a_valid_change_or_none(
    real_data_path: Path, model: ScoringModel, strategy: Strategy
) -> None:
    test = split_dataset(load_dataset(real_data_path)).X_test
    refused = np.flatnonzero(strategy.apply(test, model.probabilities(test)).decision != "approve")
    assert refused.size > 1000
    found = [find_recourse(model, strategy, test[row]) for row in refused.tolist()]
    for row, answer in zip(refused.tolist(), found, strict=True):
        if answer.proposed is None:
            assert answer.message == NONE_SUFFICES
        else:
            check_proposal(model, strategy, test[row], answer)
    assert sum(answer.proposed is not None for answer in found) > 0.9 * refused.size
