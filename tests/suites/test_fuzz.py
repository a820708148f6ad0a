"""Schema fuzzing: schemathesis drives the app in-process (ASGI) from its own OpenAPI spec, every check on.

Each operation of the spec is one test per generation mode (valid cases, and for the two POST routes invalid
ones too), so the suite splits across pytest-xdist workers and a missing operation fails collection's check.
Fixed seed (Hypothesis derandomised), 500 cases per POST route and mode; the two GET routes take no input, so
Hypothesis runs out of distinct cases after a handful. Any server error, undocumented status, response off
its schema, wrong content type, accepted invalid input or refused valid input fails the run.
"""

from typing import Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from functions.api.app import get_app

CASES_PER_MODE: Final = 500  # valid + invalid: 1,000 per POST route
EXPECTED_OPERATIONS: Final = {"GET /v1/health", "GET /v1/model", "POST /v1/predict", "POST /v1/predict/batch"}
schema = schemathesis.openapi.from_asgi("/openapi.json", get_app())
load_all_checks()
# API Gateway enforces the API key the spec declares (so /docs can send it); the app behind it never sees a
# request without one, so schemathesis' "API accepts invalid authentication" check does not apply to the app.
GATEWAY_CHECKS: Final = frozenset({"ignored_auth"})
GATEWAY_HEADERS: Final = {"x-api-key": "k" * 40}  # what the gateway lets through: a key is always present
ALL_CHECKS: Final = [check for check in CHECKS.get_all() if check.__name__ not in GATEWAY_CHECKS]
OPERATIONS: Final = {result.ok().label: result.ok() for result in schema.get_all_operations()}
RUNS: Final = [
    (label, mode)
    for label in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label.startswith("POST")
]


def test_spec_lists_every_operation_and_every_check_is_on() -> None:
    assert set(OPERATIONS) == EXPECTED_OPERATIONS
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
    } <= {check.__name__ for check in ALL_CHECKS}
    assert set(CHECKS.get_all_names()) >= GATEWAY_CHECKS  # the one check left out exists, by that name


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), RUNS, ids=[f"{label}-{mode.value}" for label, mode in RUNS])
def test_api_conforms_to_its_spec(label: str, mode: GenerationMode) -> None:
    """Every generated case of this operation and mode passes every schemathesis check."""
    cases: list[str] = []

    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode, headers=GATEWAY_HEADERS))
    @settings(
        max_examples=CASES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        cases.append(case.operation.label)
        case.call_and_validate(checks=ALL_CHECKS)

    conforms()
    print(f"{label} {mode.value}: {len(cases)} cases")  # shown with -s; quoted in docs/reliability.md
    if label.startswith("POST"):
        assert len(cases) >= CASES_PER_MODE
