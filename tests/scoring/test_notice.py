"""The adverse-action notice rule, on a table of cases built from 12 CFR 1002.2(c) and its comment 2(c)(2)(ii)-2."""

import numpy as np
import pytest

from functions.scoring.adverse.notice import (
    CHANGE,
    DELINQUENT,
    NONE,
    NOTICES,
    REFERRED,
    REFUSAL,
    adverse_action_notice,
)

LIMIT = 100_000.0

# (words of the regulation, decision, new limit, PAY_0, expected status, expected basis)
CASES = [
    # (c)(1)(i) "A refusal to grant credit": a decline of a current account.
    ("refusal to grant credit", "decline", 20_000.0, 0, "required", REFUSAL),
    # (c)(1)(ii) "A termination of an account": a decline whose freeze leaves the limit unchanged is still a refusal.
    ("termination, limit already drawn", "decline", LIMIT, -1, "required", REFUSAL),
    # (c)(1)(ii) "an unfavorable change in the terms of an account": a lower limit on an approved current account.
    ("unfavorable change in terms", "approve", 90_000.0, 0, "required", CHANGE),
    ("unfavorable change, paid in full", "approve", 50_000.0, -2, "required", CHANGE),
    ("unfavorable change while referred", "refer", 90_000.0, 0, "required", CHANGE),
    # (c)(2)(ii) not "any action ... taken in connection with ... delinquency as to that account".
    ("decline, currently delinquent", "decline", 20_000.0, 1, "exempt", DELINQUENT),
    ("lower limit, currently 3 months late", "approve", 80_000.0, 3, "exempt", DELINQUENT),
    # No adverse action: the limit kept or raised and credit granted.
    ("approved, limit held", "approve", LIMIT, 0, "not_applicable", NONE),
    ("approved, limit raised", "approve", 110_000.0, 0, "not_applicable", NONE),
    ("approved while delinquent, limit held", "approve", LIMIT, 2, "not_applicable", NONE),
    ("referred, limit held", "refer", LIMIT, 0, "not_applicable", REFERRED),
]


@pytest.mark.parametrize(("words", "decision", "new_limit", "pay_0", "status", "basis"), CASES)
def test_notice_follows_the_regulation(
    words: str, decision: str, new_limit: float, pay_0: int, status: str, basis: str
) -> None:
    got, why = adverse_action_notice(
        np.array([decision]),
        limit=np.array([LIMIT]),
        new_limit=np.array([new_limit]),
        pay_0=np.array([pay_0]),
    )
    assert (got.tolist(), why.tolist()) == ([status], [basis]), words


def test_past_delinquency_alone_does_not_exempt() -> None:
    # Comment 2(c)(2)(ii)-2: a notice "generally is required ... if the creditor's action is based on a past
    # delinquency": PAY_0 current, earlier months late (not read by the rule) -> required.
    got, _ = adverse_action_notice(
        np.array(["decline"]), limit=np.array([LIMIT]), new_limit=np.array([0.0]), pay_0=np.array([0.0])
    )
    assert got.tolist() == ["required"]


def test_a_table_of_rows_at_once_matches_the_rows_one_by_one() -> None:
    decisions = np.array([case[1] for case in CASES])
    new = np.array([case[2] for case in CASES])
    pay_0 = np.array([float(case[3]) for case in CASES])
    got, _ = adverse_action_notice(decisions, limit=np.full(len(CASES), LIMIT), new_limit=new, pay_0=pay_0)
    assert got.tolist() == [case[4] for case in CASES]
    assert set(got.tolist()) == set(NOTICES)
