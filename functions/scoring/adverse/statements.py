"""The adverse-action statement of each reason code: one plain-language sentence a notice can carry, versioned.

A reason's `text` gives the client's own figures ("2 months late on the latest payment"); its `statement` is the
one approved sentence for its code, in the style of the sample reasons of Regulation B's form C-1 (12 CFR 1002,
appendix C), so a notice states the principal reasons specifically. The CFPB's circulars 2022-03 (adverse action
notices and credit decisions based on complex algorithms) and 2023-03 (the sample-form checklist is no safe harbour:
reasons must be specific and accurate, not overly broad or vague) are why each statement names the factor the
model actually weighed on this account rather than a broad category. The table ships with the code and the model
image; its version is its content hash, reported by GET /v1/model. Never a statement about sex or marital status:
neither is a model input (contract.PROTECTED), and no code exists for them.
"""

import hashlib
import json
from typing import Final

from pydantic import BaseModel, Field

# One entry per reason group of functions.scoring.reasons.REASON_GROUPS (checked by tests/scoring/test_statements.py).
STATEMENTS: Final[dict[str, str]] = {
    "latest_status": "Delinquent or minimum-only payment on the most recent statement of your account with us.",
    "status_history": "Late or minimum-only payments on your account with us in the five months before the most "
    "recent statement.",
    "utilisation": "Balance too high in relation to the credit limit of your account with us.",
    "payments": "Amounts paid too low in relation to the amounts billed on your account with us.",
    "credit_limit": "Limited credit extended so far: the credit limit of your account with us is low.",
    "age": "Age of the account holder, as weighed by our empirically derived scoring system.",
    "education": "Level of education stated on your application, as weighed by our scoring system.",
}


def table_version(statements: dict[str, str]) -> str:
    """Return 12 hex digits of the sha256 of the table's canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(statements, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


VERSION: Final = table_version(STATEMENTS)


def statement(code: str) -> str:
    """Return the one adverse-action statement of a reason code; raises KeyError for an unknown code."""
    return STATEMENTS[code]


class StatementTable(BaseModel):
    """The reason statements served with the model: the version (content hash) and one statement per code."""

    version: str = Field(description="12 hex digits of the sha256 of the statements' canonical JSON.")
    statements: dict[str, str] = Field(
        description="Reason code -> the one statement an adverse-action notice carries."
    )


def statement_table() -> StatementTable:
    """Return the shipped statement table with its version."""
    return StatementTable(version=VERSION, statements=dict(STATEMENTS))
