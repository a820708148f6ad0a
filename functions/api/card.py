"""The model card GET /v1/model answers: the verified manifest's own compact JSON, plus the reason statements
shipped with the model (their version is their content hash; functions/scoring/adverse/statements.py).
"""

from pydantic import Field

from functions.scoring.adverse.statements import StatementTable, statement_table
from functions.scoring.manifest import Manifest

CARD_FIELD = "reason_statements"


class ModelCard(Manifest):
    """The manifest and the adverse-action statement of each reason code, versioned."""

    reason_statements: StatementTable = Field(
        description="One plain-language adverse-action statement per reason code, and the table's version."
    )


def card_json(manifest: Manifest) -> str:
    """Return the card's compact JSON: the manifest's bytes unchanged, then `reason_statements`."""
    table = statement_table().model_dump_json()
    return f'{manifest.compact_json()[:-1]},"{CARD_FIELD}":{table}}}'
