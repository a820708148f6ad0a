"""The strategy's part of the API: the caller's optional client reference and the fields each prediction gains."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

ClientReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional: your stable reference for this client (1-128 printable ASCII characters, no spaces). "
        "It decides the champion-challenger arm, so the same client always gets the same strategy; it is "
        "stored only as a keyed hash. Without it, the request id decides.",
    ),
]


class StrategyAnswer(BaseModel):
    """The credit decision the strategy takes from the PD: decision, the rule or band, line action, EL, arm."""

    decision: Literal["approve", "refer", "decline"] = Field(
        description="The credit decision: approve, refer to an analyst, or decline."
    )
    decided_by: str = Field(
        description="The policy rule's code (e.g. `P01_SERIOUS_ARREARS_NOW`) or the PD band's name that decided."
    )
    line_action: Literal["increase", "hold", "decrease", "freeze"] = Field(
        description="The credit-line action: increase, hold, decrease, or freeze (limit down to the balance)."
    )
    line_percent: float = Field(ge=0, le=100, description="The action's percentage of the current limit.")
    new_limit: float = Field(ge=0, description="The credit limit after the line action, NT$.")
    exposure_at_default: float = Field(ge=0, description="EAD = balance + CCF x unused new limit, NT$.")
    expected_loss: float = Field(ge=0, description="EL = PD x LGD x EAD, NT$.")
    strategy_version: str = Field(description="Version of the strategy that decided (its content hash).")
    arm: Literal["champion", "challenger"] = Field(description="The champion-challenger arm of this client.")
    adverse_action_notice: Literal["required", "exempt", "not_applicable"] = Field(
        description="Whether the decision needs an adverse-action notice (12 CFR 1002.2(c), 1002.9): `required` "
        "for a decline or a lower limit, `exempt` when the account is currently delinquent (1002.2(c)(2)(ii)), "
        "`not_applicable` when credit is kept or raised."
    )
    notice_basis: str = Field(description="The clause that decided `adverse_action_notice`, in words.")
