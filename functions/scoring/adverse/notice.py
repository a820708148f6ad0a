"""Whether a decision needs an adverse-action notice (Regulation B, 12 CFR 1002.2(c) and 1002.9): one pure rule,
used by the API's answers, the batch, the book's scored file and the what-if's notice counts.

12 CFR 1002.2(c)(1): adverse action means "(i) A refusal to grant credit in substantially the amount or on
substantially the terms requested ...; (ii) A termination of an account or an unfavorable change in the terms of an
account that does not affect all or substantially all of a class of the creditor's accounts; or (iii) A refusal to
increase the amount of credit available to an applicant who has made an application for an increase."
1002.2(c)(2): it does not include "(ii) Any action or forbearance relating to an account taken in connection with
inactivity, default, or delinquency as to that account". Official comment 2(c)(2)(ii)-2: not a termination "when the
accountholder is currently in default or delinquent on that account", but a notice "generally is required ... if the
creditor's action is based on a past delinquency". Here: a decline (the limit frozen, no new credit) is a refusal or
a termination; an approve or refer that lowers the limit is an unfavourable change in terms; either is exempt when
the latest statement is a month or more late (PAY_0 >= 1, currently delinquent), never for past months alone. A
strategy's decision is individual (by PD and rules), so never a change for "all or substantially all" of a class.
"""

from typing import Final, Literal

import numpy as np
import numpy.typing as npt

NoticeStatus = Literal["required", "exempt", "not_applicable"]
NOTICES: Final = ("required", "exempt", "not_applicable")
DELINQUENT_PAY_STATUS: Final = 1  # PAY_0 >= 1: the latest payment a month or more late (currently delinquent)
REFUSAL: Final = (
    "12 CFR 1002.2(c)(1)(i)-(ii): declined, a refusal of credit and a termination of new drawing on the account; "
    "notify with the principal reasons within 30 days (1002.9(a)(1))"
)
CHANGE: Final = (
    "12 CFR 1002.2(c)(1)(ii): an unfavourable change in the terms of the account (the credit limit is lowered); "
    "notify with the principal reasons within 30 days (1002.9(a)(1))"
)
DELINQUENT: Final = (
    "12 CFR 1002.2(c)(2)(ii): action taken in connection with delinquency as to the account (the latest payment is "
    "a month or more late); no adverse-action notice, though the client is told of the change"
)
NONE: Final = "no adverse action: approved with the credit limit kept or raised"
REFERRED: Final = (
    "no adverse action yet: referred to an analyst with the credit limit kept; the analyst's final decision "
    "decides the notice"
)

Labels = npt.NDArray[np.str_]
Vector = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def adverse_action_notice(
    decision: Labels, *, limit: Vector, new_limit: Vector, pay_0: Vector
) -> tuple[Labels, Labels]:
    """Return each row's notice status (`NOTICES`) and its basis (the clause), from the strategy's decision
    (approve | refer | decline), the limit before and after the line action (NT$) and the latest status PAY_0.

    Source: 12 CFR 1002.2(c)(1)(i)-(ii), (c)(2)(ii) and its official comment 2(c)(2)(ii)-2 (module docstring).
    """
    decision = np.asarray(decision)
    code = (decision == "refer") + 2 * (decision == "decline")  # any other label reads as an approval
    return notice_of_codes(code, limit=limit, new_limit=new_limit, pay_0=pay_0)


def notice_of_codes(
    decision: npt.NDArray[np.intp], *, limit: Vector, new_limit: Vector, pay_0: Vector
) -> tuple[Labels, Labels]:
    """Return `adverse_action_notice` for decisions given as codes (0 approve, 1 refer, 2 decline; n rows), the
    limits in NT$ and PAY_0: the engine's entry, which has the codes already (12 CFR 1002.2(c), as above)."""
    lowered = np.asarray(new_limit, dtype=np.float64) < np.asarray(limit, dtype=np.float64)
    delinquent = np.asarray(pay_0, dtype=np.float64) >= _DELINQUENT
    case = decision * _FOUR + lowered * _TWO + delinquent  # index into the rule's table of the 12 cases
    return _STATUS_OF_CASE.take(case), _BASIS_OF_CASE.take(case)


def _basis(declined: Mask, referred: Mask, lowered: Mask, delinquent: Mask) -> npt.NDArray[np.intp]:
    """Return the index into _BASES of each case: 0 none, 1 referred, 2 refusal, 3 change, 4 delinquent."""
    adverse = declined | lowered
    return np.where(adverse, np.where(delinquent, 4, np.where(declined, 2, 3)), referred.astype(np.intp))


_BASES: Final = np.array([NONE, REFERRED, REFUSAL, CHANGE, DELINQUENT], dtype=object)  # one str each, shared
_STATUS: Final = np.array(["not_applicable", "not_applicable", "required", "required", "exempt"])
# The rule evaluated once on its 12 cases, (decision code, lowered, delinquent) read as 4 x code + 2 x lowered +
# delinquent, so that a row costs two lookups, not a chain of comparisons and selections.
_CODE, _LOWERED, _LATE = (axis.ravel() for axis in np.indices((3, 2, 2)))
_CASES: Final = _basis(_CODE == 2, _CODE == 1, _LOWERED == 1, _LATE == 1)
_STATUS_OF_CASE: Final = _STATUS[_CASES]
_BASIS_OF_CASE: Final = _BASES[_CASES]
_DELINQUENT, _TWO, _FOUR = np.array([float(DELINQUENT_PAY_STATUS)]), np.array([2]), np.array([4])
