"""The words of a reason code: each group phrased from the client's values and the model's features."""

import pytest

from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.model import to_matrix
from functions.scoring.wording import describe, money
from training.synthetic import HIGH_RISK, TYPICAL


def say(code: str, inputs: dict[str, float]) -> str:
    """Phrase `code` for one client as `describe` does, from the features the model builds."""
    features = dict(zip(MODEL_FEATURES, engineer(to_matrix([inputs]))[0].tolist(), strict=True))
    return describe(code, inputs, features)


def test_reason_texts_quote_the_client() -> None:
    row = {**HIGH_RISK, "bill_amt1": 19400, "limit_bal": 20000}
    assert say("latest_status", row) == "3 months late on the latest payment (September)"
    assert say("utilisation", row) == "bill at 97% of the credit limit"
    assert say("status_history", row).startswith("late in 3 of the 5 months")
    assert say("credit_limit", row) == "credit limit of NT$20,000"


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        (
            {"pay_amt1": 0, "pay_amt2": 0, "pay_amt3": 0, "pay_amt4": 0, "pay_amt5": 0, "pay_amt6": 0},
            "payments",
            "no payment in the last 6 months",
        ),
        ({"bill_amt2": 0, "pay_amt1": 1500}, "payments", "paid NT$1,500 last month with no bill due"),
        (
            {"pay_2": 0, "pay_3": 0, "pay_4": -1, "pay_5": 0, "pay_6": -2},
            "status_history",
            "revolving credit (minimum paid) in 3 of the 5 months before September",
        ),
        ({"pay_0": -1}, "latest_status", "latest payment status: paid in full"),
        ({"age": 23}, "age", "age 23"),
        # Degenerate but valid amounts: the text uses the floored limit and the capped ratio the model saw.
        ({"limit_bal": 0.01, "bill_amt1": 50000}, "utilisation", "bill more than 10 times the credit limit"),
        ({"limit_bal": 0.01}, "credit_limit", "credit limit of NT$0.01"),
        (
            {"bill_amt2": 5e-324, "pay_amt1": 2000},
            "payments",
            "paid at least 200% of the previous bill last month",
        ),
        ({"bill_amt1": -500}, "utilisation", "bill in credit (below zero)"),
        ({"bill_amt2": 40000, "pay_amt1": 10000}, "payments", "paid 25% of the previous bill last month"),
    ],
)
def test_reason_texts_cover_each_wording(change: dict[str, float], code: str, text: str) -> None:
    assert say(code, {**TYPICAL, **change}) == text


def test_describe_refuses_an_unknown_code() -> None:
    with pytest.raises(ValueError, match="unknown reason code 'weather'"):
        say("weather", TYPICAL)


def test_money_shows_cents_only_below_one_dollar() -> None:
    assert [money(v) for v in (0.01, 0.5, 1.0, 1234.56, 0.0)] == [
        "NT$0.01",
        "NT$0.50",
        "NT$1",
        "NT$1,235",
        "NT$0",
    ]
