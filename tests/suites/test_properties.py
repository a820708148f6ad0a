"""Property tests (Hypothesis, 1,000 derandomised examples each) on applicants drawn from the contract.

- any valid applicant: PD in [0, 1], the same answer twice, and the same answer through TestClient,
  a REST v1 event and an HTTP API v2 event given to the Lambda `handler`;
- any invalid value or type in any one field: a 4xx that names that field (and only it);
- a batch answers exactly what the single calls answer, in order.
"""

import json
import math
from collections.abc import Callable
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.api.app import handler
from functions.scoring.contract import FEATURES, FeatureSpec

EXAMPLES: Final = 1000
PROPERTY: Final = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def valid_value(spec: FeatureSpec) -> st.SearchStrategy[Any]:
    """Draw any value the contract accepts for a field (amounts as integers or decimals)."""
    if spec.codes:
        return st.sampled_from(sorted(spec.codes))
    if spec.kind == "amount":
        low = math.nextafter(spec.minimum, math.inf) if spec.exclusive_minimum else spec.minimum
        decimals = st.floats(low, spec.maximum, allow_nan=False, allow_infinity=False)
        return st.one_of(st.integers(math.ceil(low), int(spec.maximum)), decimals)
    return st.integers(int(spec.minimum), int(spec.maximum))


@st.composite
def applicants(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a valid applicant; optional fields are sometimes omitted, sometimes null."""
    applicant: dict[str, Any] = {}
    for spec in FEATURES:
        if not spec.required:
            choice = draw(st.sampled_from(["value", "omit", "null"]))
            if choice == "omit":
                continue
            if choice == "null":
                applicant[spec.name] = None
                continue
        applicant[spec.name] = draw(valid_value(spec))
    return applicant


def invalid_value(spec: FeatureSpec) -> st.SearchStrategy[Any]:
    """Draw a value the contract refuses for a field: out of range, fractional code, or wrong JSON type."""
    low = spec.minimum if spec.exclusive_minimum else math.nextafter(spec.minimum, -math.inf)
    below = st.floats(max_value=low, allow_nan=False, allow_infinity=False)
    above = st.floats(min_value=math.nextafter(spec.maximum, math.inf), allow_nan=False, allow_infinity=False)
    wrong_types = st.one_of(
        st.booleans(),
        st.text(max_size=8),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    choices = [below, above, wrong_types]
    if spec.required:
        choices.append(st.none())
    if spec.kind != "amount":
        choices.append(
            st.floats(spec.minimum, spec.maximum).filter(lambda x: not x.is_integer())
        )  # a code or count with a fraction
    return st.one_of(*choices)


@st.composite
def one_bad_field(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Draw a valid applicant with exactly one field made invalid; return it and the field's name."""
    applicant = draw(applicants())
    spec = draw(st.sampled_from(FEATURES))
    applicant[spec.name] = draw(invalid_value(spec))
    return applicant, spec.name


def without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    """Drop the per-request id from an answer, so answers to equal inputs compare equal."""
    return {key: value for key, value in answer.items() if key != "request_id"}


@pytest.fixture(scope="module")
def through_event(
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """Answer an applicant through the Lambda handler inside a saved API Gateway event, named."""
    events = {name: load_event(name) for name in ("rest-predict", "http-predict")}

    def answer(name: str, applicant: dict[str, Any]) -> dict[str, Any]:
        response = handler(with_body(events[name], json.dumps(applicant).encode()), None)
        assert response["statusCode"] == 200, response["body"]
        answered: dict[str, Any] = body_of(response)
        return answered

    return answer


@PROPERTY
@given(applicants())
def test_valid_applicant_gets_one_answer_in_range_on_every_path(
    client: TestClient,
    through_event: Callable[[str, dict[str, Any]], dict[str, Any]],
    applicant: dict[str, Any],
) -> None:
    first = client.post("/v1/predict", json=applicant)
    assert first.status_code == 200, first.text
    answer = without_ids(first.json())
    assert 0.0 <= answer["probability_of_default"] <= 1.0
    assert answer["predicted_default"] == (answer["probability_of_default"] >= answer["threshold"])
    assert without_ids(client.post("/v1/predict", json=applicant).json()) == answer
    assert without_ids(through_event("rest-predict", applicant)) == answer
    assert without_ids(through_event("http-predict", applicant)) == answer


@PROPERTY
@given(one_bad_field())
def test_invalid_field_gets_4xx_naming_that_field(
    client: TestClient, case: tuple[dict[str, Any], str]
) -> None:
    applicant, field = case
    response = client.post("/v1/predict", json=applicant)
    assert response.status_code == 422, response.text
    named = {problem["field"] for problem in response.json()["error"]["fields"]}
    assert named == {field}


@PROPERTY
@given(st.lists(applicants(), min_size=1, max_size=4))
def test_batch_answers_equal_single_answers(client: TestClient, rows: list[dict[str, Any]]) -> None:
    batch = client.post("/v1/predict/batch", json={"applicants": rows})
    assert batch.status_code == 200, batch.text
    singles = [without_ids(client.post("/v1/predict", json=row).json()) for row in rows]
    assert [without_ids(p) for p in batch.json()["predictions"]] == singles
