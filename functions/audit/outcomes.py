"""Outcomes and reviewers' final decisions, stored beside the decisions they belong to, and the joined log.

An outcome is the decision key, whether the client defaulted, and the date it was observed: nothing else.
A final decision is the reviewer's action (approve, refer, decline), an override reason from the fixed list
below, and the reviewer's id as an HMAC-SHA256 under the audit key (never the id itself). Posting the same
outcome twice changes nothing; a different outcome for a key that has one is refused, naming the key; keys no
decision carries are listed; synthetic decisions (deploy hook, smoke test) are skipped. A decision has at most
one final decision. This module holds the records, the rules and the SQLite form (tables `outcomes` and
`finals` in the decision log's file, one transaction per call); `outcomes_dynamo` holds the DynamoDB form.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")  # the one form of an observed_on date, in files and the API


def iso_day(text: object) -> date:
    """Read an observed_on date written YYYY-MM-DD; raises ValueError for any other form (a number, 20260101)."""
    if not isinstance(text, str) or not ISO_DAY.fullmatch(text.strip()):
        raise ValueError("a date is written YYYY-MM-DD, as a string")
    return date.fromisoformat(text.strip())


FINAL_ACTIONS: Final = ("approve", "refer", "decline")
# The override reasons a reviewer may give (docs/monitoring.md explains each); "none" when the final action
# follows the model's recommendation. A fixed list, so override analysis can count them.
OVERRIDE_REASONS: Final = {
    "none": "the final action follows the model's recommendation",
    "verified_income": "income or ability to pay verified outside the model's inputs",
    "existing_relationship": "other accounts with the lender in good standing",
    "collateral_or_guarantor": "a deposit, collateral or a guarantor reduces the loss given default",
    "delinquency_explained": "a documented one-off cause of the late payments (dispute, billing error)",
    "adverse_information": "bureau, fraud or collections information the model does not see",
    "policy_rule": "a lender policy outside the model (exposure cap, product eligibility)",
    "input_error": "the inputs scored were wrong; a corrected application was scored",
    "other": "any other reason, explained in the lender's own case notes",
}
KEY_PATTERN: Final = r"^[A-Za-z0-9=+_-]{1,100}(#[0-9]{1,4})?$"  # a request id, `#index` in a batch


class OutcomeConflictError(ValueError):
    """Outcomes that disagree with stored ones (or each other); `keys` names them, nothing was written."""

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__(f"{len(keys)} outcome(s) differ from the recorded ones: {', '.join(keys[:20])}")
        self.keys = list(keys)


class FinalExistsError(ValueError):
    """The decision has a final decision already; a second is refused."""


class UnknownDecisionError(KeyError):
    """No decision carries this key."""


@dataclass(frozen=True)
class Outcome:
    """One observed outcome: the decision key, the default flag and its observation day (YYYY-MM-DD)."""

    key: str
    defaulted: bool
    observed_on: str


@dataclass(frozen=True)
class FinalDecision:
    """A reviewer's final decision: action, override reason code, hashed reviewer id, when (ISO 8601 UTC)."""

    key: str
    action: str
    override_reason: str
    reviewer_hash: str
    hash_key_version: str
    recorded_at: str


@dataclass
class OutcomeReceipt:
    """What became of a batch of outcomes: keys recorded, already recorded alike, unknown, synthetic."""

    recorded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    synthetic: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stored:
    """What the rules need of one decision: whether it is synthetic and its outcome, if any."""

    synthetic: bool
    outcome: tuple[bool, str] | None  # (defaulted, observed_on)


@dataclass(frozen=True)
class JoinedLog:
    """Non-synthetic decisions with their outcomes and finals, as columns of n rows (what monitoring reads)."""

    month: npt.NDArray[np.str_]  # YYYY-MM of the decision
    model_version: npt.NDArray[np.str_]
    probability_of_default: npt.NDArray[np.float64]
    predicted_default: npt.NDArray[np.bool_]
    outcome: npt.NDArray[np.int8]  # 1 defaulted, 0 did not, -1 no outcome yet
    final_action: npt.NDArray[np.str_]  # "" without a final decision
    groups: Mapping[str, npt.NDArray[np.int64]]  # reference bin per group input (sex, marriage, age); -1 none


class OutcomeStore(Protocol):
    """Where outcomes and finals are kept beside the decisions (DynamoDB on AWS, SQLite on a laptop)."""

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> OutcomeReceipt:
        """Record new outcomes (see the module's rules); raise OutcomeConflictError writing nothing."""
        ...

    def record_final(self, final: FinalDecision) -> None:
        """Record a final decision; raise UnknownDecisionError or FinalExistsError."""
        ...

    def read_joined(self, *, since_day: str, until_day: str) -> JoinedLog:
        """Return the non-synthetic decisions of these UTC days (inclusive) joined to outcomes and finals."""
        ...


def sort_outcomes(
    outcomes: Sequence[Outcome], stored: Mapping[str, Stored]
) -> tuple[OutcomeReceipt, list[Outcome]]:
    """Apply the rules to a batch given what is stored per known key; return the receipt and the new outcomes.

    Raises OutcomeConflictError (keys in batch order) when any outcome differs from a stored one or from
    another of the same key in the batch.
    """
    receipt, new, conflicts = OutcomeReceipt(), [], []
    seen: dict[str, tuple[bool, str]] = {}
    for outcome in outcomes:
        value = (outcome.defaulted, outcome.observed_on)
        if outcome.key in seen:
            if seen[outcome.key] != value and outcome.key not in conflicts:
                conflicts.append(outcome.key)
            continue
        seen[outcome.key] = value
        known = stored.get(outcome.key)
        if known is None:
            receipt.unknown.append(outcome.key)
        elif known.synthetic:
            receipt.synthetic.append(outcome.key)
        elif known.outcome is None:
            new.append(outcome)
        elif known.outcome == value:
            receipt.unchanged.append(outcome.key)
        else:
            conflicts.append(outcome.key)
    if conflicts:
        raise OutcomeConflictError(conflicts)
    receipt.recorded = [o.key for o in new]
    return receipt, new


def iter_chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Yield `items` in slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
