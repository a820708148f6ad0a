"""The API's answer to POST /v1/recourse (what would change the decision): shared by the route and the UI client.

The search itself is functions/scoring/adverse/recourse.py.
"""

from typing import Literal

from pydantic import BaseModel, Field

Decision = Literal["approve", "refer", "decline"]


class InputChange(BaseModel):
    """One input the proposal changes: its value now and the value that would change the decision."""

    input: str = Field(description="The contract input, e.g. `pay_amt1` (NT$) or `pay_0` (repayment status).")
    current: float = Field(description="The value sent.")
    proposed: float = Field(description="The value that, with the other changes, the strategy approves.")


class Proposal(BaseModel):
    """The smallest change found that the served strategy approves, re-scored by the served model."""

    summary: str = Field(description="What the client would do, in words.")
    direction: str = Field(
        description="`pay_latest`, `pay_down_latest`, `lower_latest_balance`, `lower_balances`, "
        "`raise_payments`, or `bring_current` alone."
    )
    brings_current: bool = Field(
        description="Whether every late repayment status is set to 0 (revolving credit)."
    )
    total_change: float = Field(ge=0, description="Sum of |change| over the payment and balance inputs, NT$.")
    changes: list[InputChange] = Field(description="Every input that changes, in contract order.")
    probability_of_default: float = Field(ge=0, le=1, description="The PD the changed inputs score.")
    decision: Decision = Field(description="The strategy's decision on the changed inputs (approve).")


class RecourseAnswer(BaseModel):
    """What would change one client's decision, or why nothing actionable would."""

    probability_of_default: float = Field(ge=0, le=1, description="The client's PD as sent.")
    decision: Decision = Field(description="The strategy's decision as sent.")
    approve_below: float = Field(
        ge=0, le=1, description="The PD below which the strategy's approve band lies."
    )
    found: bool = Field(
        description="Whether a change was found (false when approved already or none suffices)."
    )
    message: str = Field(description="The proposal in words, or why there is none.")
    proposal: Proposal | None = Field(description="The change, when one was found.")
    model_version: str
    strategy_version: str
    request_id: str
