"""Schema fuzzing: schemathesis drives the app in-process (ASGI) from its own OpenAPI spec, every check on.

Positive and negative cases, fixed seed, up to 1,000 per operation (the two GET routes take no input, so
Hypothesis runs out of distinct cases after a handful). Any server error, undocumented status, response
off its schema, wrong content type, accepted invalid input or refused valid input fails the run.
"""

from collections import Counter
from typing import Final

import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from functions.app import get_app

SEED: Final = 20261126
MAX_EXAMPLES: Final = 1000
config = SchemathesisConfig.from_dict(
    {"seed": SEED, "generation": {"mode": "all", "max-examples": MAX_EXAMPLES}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", get_app(), config=config)
load_all_checks()
ALL_CHECKS: Final = CHECKS.get_all()
CASES: Counter[str] = Counter()


@pytest.mark.slow
@schema.parametrize()
def test_api_conforms_to_its_spec(case: schemathesis.Case) -> None:
    CASES[case.operation.label] += 1
    case.call_and_validate(checks=ALL_CHECKS)


@pytest.mark.slow
def test_fuzzing_ran_every_check_and_enough_cases() -> None:
    names = set(CHECKS.get_all_names())
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
    } <= names
    assert set(CASES) == {"GET /v1/health", "GET /v1/model", "POST /v1/predict", "POST /v1/predict/batch"}
    print(f"cases per operation: {dict(CASES)}")  # shown with -s; quoted in docs/reliability.md
    assert CASES["POST /v1/predict"] >= MAX_EXAMPLES
    assert CASES["POST /v1/predict/batch"] >= MAX_EXAMPLES
