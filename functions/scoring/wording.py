"""The words of a reason code: each factor group phrased from the values the model saw, for a credit officer to quote.

`reasons.word_reasons` phrases each distinct text once per chunk through these same functions, so a batch and a
single client read alike.
"""

from collections.abc import Mapping
from typing import Final

from functions.scoring.contract import EDUCATION_CODES, PAY_STATUS, PAY_STATUS_CODES, PAYMENTS
from functions.scoring.features import RATIO_CAP

UTILISATION_SHOWN_UP_TO: Final = 10.0  # above ten times the limit the text says "more than 10 times"


def describe(code: str, value: Mapping[str, float], features: Mapping[str, float]) -> str:
    """Phrase a factor group in words a credit officer can quote, from the values the model saw.

    Ratios come from the model `features` (floored limit, capped payment ratio), never recomputed from the raw
    inputs, so every figure is finite and true to the model. Raises ValueError for an unknown code.
    """
    if code == "latest_status":
        status = int(value["pay_0"])
        if status > 0:
            return f"{PAY_STATUS_CODES[status]} on the latest payment (September)"
        return f"latest payment status: {PAY_STATUS_CODES[status]}"
    if code == "status_history":
        return _history(value)
    if code == "utilisation":
        return utilisation_text(features["utilisation_latest"])
    if code == "payments":
        return _payments(value, features["payment_ratio_latest"])
    if code == "credit_limit":
        return f"credit limit of {money(value['limit_bal'])}"
    if code == "age":
        return f"age {value['age']:.0f}"
    if code == "education":
        return f"education: {EDUCATION_CODES[int(value['education'])]}"
    raise ValueError(f"unknown reason code {code!r}")


def money(amount: float) -> str:
    """Format an amount in NT$: whole dollars with thousands separators, cents only when below NT$1."""
    return f"NT${amount:,.2f}" if 0 < abs(amount) < 1 else f"NT${amount:,.0f}"


def _history(value: Mapping[str, float]) -> str:
    history = [int(value[name]) for name in PAY_STATUS[1:]]
    late = sum(1 for status in history if status > 0)
    if late:
        return f"late in {late} of the 5 months before September (worst: {PAY_STATUS_CODES[max(history)]})"
    revolving = sum(1 for status in history if status == 0)
    return f"revolving credit (minimum paid) in {revolving} of the 5 months before September"


def utilisation_text(ratio: float) -> str:
    """Phrase a bill-to-limit ratio (the model's capped feature) as a share of the credit limit."""
    if ratio > UTILISATION_SHOWN_UP_TO:
        return f"bill more than {UTILISATION_SHOWN_UP_TO:.0f} times the credit limit"
    if ratio < 0:
        return "bill in credit (below zero)"
    return f"bill at {ratio:.0%} of the credit limit"


def _payments(value: Mapping[str, float], ratio: float) -> str:
    if sum(value[name] for name in PAYMENTS) == 0:
        return payment_text(0, 0.0)
    if value["bill_amt2"] <= 0:
        return payment_text(1, value["pay_amt1"])
    return payment_text(2 if ratio >= RATIO_CAP else 3, ratio)


def payment_text(branch: int, shown: float) -> str:
    """Phrase the payments of a branch: 0 none, 1 no bill (`shown` paid), 2 capped ratio, 3 ratio `shown`."""
    if branch == 0:
        return "no payment in the last 6 months"
    if branch == 1:
        return f"paid {money(shown)} last month with no bill due"
    if branch == 2:
        return f"paid at least {RATIO_CAP:.0%} of the previous bill last month"
    return f"paid {shown:.0%} of the previous bill last month"
