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
from pathlib import Path
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from functions.api.app import get_app

CASES_PER_MODE: Final = 500  # valid + invalid: 1,000 per POST route
EXPECTED_OPERATIONS: Final = {
    "GET /v1/health",
    "GET /v1/model",
    "POST /v1/predict",
    "POST /v1/predict/batch",
    "POST /v1/recourse",
    "POST /v1/outcomes",
    "POST /v1/decisions/{key}/final",
}
SECURED: Final = EXPECTED_OPERATIONS - {"GET /v1/health", "GET /v1/model"}  # behind API_KEY when it is set
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


def checks_of(label: str) -> list[Any]:
    """The checks of one operation: all of them, except that a valid-by-schema outcome may be refused.

    An outcome's `observed_on` must not lie in the future, which JSON Schema cannot state, so schemathesis's
    positive_data_acceptance would call that refusal a bug; tests/api/test_outcomes.py checks the refusal itself.
    """
    if label == "POST /v1/outcomes":
        return [check for check in ALL_CHECKS if check.__name__ != "positive_data_acceptance"]
    return list(ALL_CHECKS)


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
def test_api_conforms_to_its_spec(
    label: str, mode: GenerationMode, configure: Callable[..., None], tmp_path: Path
) -> None:
    """Every generated case of this operation and mode passes every schemathesis check, a decision log set."""
    configure(DECISION_LOG=str(tmp_path / "decisions.sqlite"))  # the outcome routes answer 404, never 503
    cases: list[str] = []

    checks = checks_of(label)

    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    @fixed_seed(CASES_PER_MODE)
    def conforms(case: schemathesis.Case) -> None:
        cases.append(case.operation.label)
        case.call_and_validate(checks=checks)

    conforms()
    print(f"{label} {mode.value}: {len(cases)} cases")  # shown with -s; quoted in docs/reliability.md
    if label.startswith("POST"):
        assert len(cases) >= CASES_PER_MODE


def live_statuses(
    operation: Any, mode: GenerationMode, headers: dict[str, str], checks: list[Any]
) -> list[int]:
    """Run LIVE_CASES generated cases of one operation against a live server; return their statuses."""
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @fixed_seed(LIVE_CASES)
    def conforms(case: schemathesis.Case) -> None:
        statuses.append(case.call_and_validate(headers=headers, checks=checks).status_code)

    conforms()
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("key", [None, KEY], ids=["no-key", "with-key"])
def test_live_server_conforms_with_and_without_a_key(
    serve_api: Callable[[dict[str, str]], AbstractContextManager[str]], key: str | None, tmp_path: Path
) -> None:
    """A uvicorn server: without API_KEY its spec declares no key; with it, missing or wrong keys are refused."""
    log = str(tmp_path / "decisions.sqlite")
    env = {"OMP_NUM_THREADS": "1", "DECISION_LOG": log, **({"API_KEY": key} if key else {})}
    headers = {"x-api-key": key} if key else {}
    with serve_api(env) as url:
        live = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = {result.ok().label: result.ok() for result in live.get_all_operations()}
        assert set(operations) == EXPECTED_OPERATIONS
        secured = {label for label, op in operations.items() if op.definition.raw.get("security")}
        assert secured == (SECURED if key else set())
        calls: list[int] = []
        for label, mode in RUNS:
            calls += live_statuses(operations[label], mode, headers, checks_of(label))
    assert len(calls) >= 4 * LIVE_CASES
    assert calls.count(200) >= 2 * LIVE_CASES  # valid cases scored: the key sent was accepted
