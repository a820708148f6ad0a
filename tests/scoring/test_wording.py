"""The words of a reason code: each group phrased from the client's values and the model's features."""

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from functions.scoring import reasons
from functions.scoring.contract import PAY_STATUS
from functions.scoring.features import MODEL_FEATURES, RATIO_CAP, engineer
from functions.scoring.model import to_matrix
from functions.scoring.wording import describe, money, payment_text, utilisation_text
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


def _texts_by_key(keys: npt.NDArray[np.int64], texts: list[str]) -> dict[bytes, set[str]]:
    grouped: dict[bytes, set[str]] = {}
    for key, text in zip(keys, texts, strict=True):
        grouped.setdefault(key.tobytes(), set()).add(text)
    return grouped


def _ties(scale: float, top: int) -> npt.NDArray[np.float64]:
    """Values whose x scale ends in .5 (ties rounded half to even), the floats either side, and -0.0."""
    ties = (np.arange(top) + 0.5) / scale
    return np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), [-0.0, 0.0]])


def test_utilisation_rows_with_one_text_key_read_one_text() -> None:
    """A chunk phrases a utilisation once per key (`reasons._text_keys`): every ratio under a key reads alike."""
    rng = np.random.default_rng(0)
    ratios = np.concatenate(
        [_ties(100, 1001), rng.uniform(-2, 12, 5000), [10.0, np.nextafter(10.0, 11), -1e-300, 1e-300, 1e300]]
    )
    keys = reasons._text_keys("utilisation", ratios[:, None])
    grouped = _texts_by_key(keys, [utilisation_text(r) for r in ratios.tolist()])
    assert all(len(texts) == 1 for texts in grouped.values())
    assert {"bill at -0% of the credit limit", "bill at 0% of the credit limit"} <= set().union(
        *grouped.values()
    )
    assert len(grouped) < 1010  # one per shown percentage 0..1000, -0, above 10 and below zero


def test_payment_rows_with_one_text_key_read_one_text() -> None:
    rng = np.random.default_rng(1)
    ratios = np.concatenate([_ties(100, int(RATIO_CAP * 100)), rng.uniform(0, RATIO_CAP, 3000)])
    amounts = np.concatenate([[0.0, -0.0, 0.5, 0.499, 1.0, 1e9], rng.integers(0, 10**6, 500).astype(float)])
    values = np.vstack(
        [
            np.column_stack([np.full(ratios.size, 3.0), ratios]),
            np.column_stack([np.full(amounts.size, 1.0), amounts]),
            [[0.0, 0.0], [2.0, 0.0]],
        ]
    )
    keys = reasons._text_keys("payments", values)
    texts = [payment_text(int(branch), shown) for branch, shown in values.tolist()]
    assert all(len(group) == 1 for group in _texts_by_key(keys, texts).values())


def test_status_history_rows_with_one_text_key_read_one_text() -> None:
    """Every history of the statuses -2, -1, 0, 1, 2 and 8 over the five months (7,776 rows)."""
    statuses = np.array(list(itertools.product([-2.0, -1.0, 0.0, 1.0, 2.0, 8.0], repeat=5)))
    keys = reasons._text_keys("status_history", statuses)
    texts = [describe("status_history", dict(zip(PAY_STATUS[1:], row, strict=True)), {}) for row in statuses]
    grouped = _texts_by_key(keys, texts)
    assert all(len(group) == 1 for group in grouped.values())
    assert len(grouped) == len(set(texts))  # and no two keys for one text
