"""Schema fuzzing: schemathesis drives the app in-process (ASGI) from its own OpenAPI spec, every check on; and a
live uvicorn server, with and without API_KEY, whose spec declares the key exactly when the server checks it.

Each operation of the spec is one test per generation mode (valid cases, and for the two POST routes invalid
ones too), so the suite splits across pytest-xdist workers and a missing operation fails collection's check.
Fixed seed (Hypothesis derandomised), 500 cases per POST route and mode; the two GET routes take no input, so
Hypothesis runs out of distinct cases after a handful. Any server error, undocumented status, response off
its schema, wrong content type, accepted invalid input or refused valid input fails the run.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
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
ALL_CHECKS: Final = CHECKS.get_all()  # ignored_auth included: a declared key must be checked
LIVE_CASES: Final = 100  # per POST route and mode against a live server (each case is an HTTP request)
KEY: Final = "a-local-api-key-of-32-characters"
OPERATIONS: Final = {result.ok().label: result.ok() for result in schema.get_all_operations()}
RUNS: Final = [
    (label, mode)
    for label in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label.startswith("POST")
]


def fixed_seed(examples: int) -> settings:
    """Hypothesis settings of every fuzz run: this many cases, derandomised, no deadline, no health checks."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


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
    assert "ignored_auth" in {check.__name__ for check in ALL_CHECKS}


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), RUNS, ids=[f"{label}-{mode.value}" for label, mode in RUNS])
def test_api_conforms_to_its_spec(label: str, mode: GenerationMode) -> None:
    """Every generated case of this operation and mode passes every schemathesis check."""
    cases: list[str] = []

    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    @fixed_seed(CASES_PER_MODE)
    def conforms(case: schemathesis.Case) -> None:
        cases.append(case.operation.label)
        case.call_and_validate(checks=ALL_CHECKS)

    conforms()
    print(f"{label} {mode.value}: {len(cases)} cases")  # shown with -s; quoted in docs/reliability.md
    if label.startswith("POST"):
        assert len(cases) >= CASES_PER_MODE


@pytest.mark.slow
@pytest.mark.parametrize("key", [None, KEY], ids=["no-key", "with-key"])
def test_live_server_conforms_with_and_without_a_key(
    serve_api: Callable[[dict[str, str]], AbstractContextManager[str]], key: str | None
) -> None:
    """A uvicorn server: without API_KEY its spec declares no key; with it, missing or wrong keys are refused."""
    env = {"OMP_NUM_THREADS": "1", **({"API_KEY": key} if key else {})}
    headers = {"x-api-key": key} if key else {}
    with serve_api(env) as url:
        live = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = {result.ok().label: result.ok() for result in live.get_all_operations()}
        assert set(operations) == EXPECTED_OPERATIONS
        secured = {label for label, op in operations.items() if op.definition.raw.get("security")}
        assert secured == ({"POST /v1/predict", "POST /v1/predict/batch"} if key else set())
        calls: list[int] = []
        for label, mode in RUNS:

            @given(case=operations[label].as_strategy(generation_mode=mode))
            @fixed_seed(LIVE_CASES)
            def conforms(case: schemathesis.Case) -> None:
                calls.append(case.call_and_validate(headers=headers, checks=ALL_CHECKS).status_code)

            conforms()
    assert len(calls) >= 4 * LIVE_CASES
    assert calls.count(200) >= 2 * LIVE_CASES  # valid cases scored: the key sent was accepted
