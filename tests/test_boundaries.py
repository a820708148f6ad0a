"""Boundary tests generated from the feature contract: for all 23 fields, the edges are accepted and the
values just outside are refused with the field named, alone and inside a batch."""

import math
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.app import app
from functions.contract import FEATURES, FeatureSpec
from training.synthetic import TYPICAL


def edges(spec: FeatureSpec) -> list[float | int]:
    """Return the smallest and largest accepted values of a field (an exclusive minimum's next float)."""
    if spec.kind == "amount":
        low = math.nextafter(spec.minimum, math.inf) if spec.exclusive_minimum else spec.minimum
        return [low, spec.maximum]
    return [int(spec.minimum), int(spec.maximum)]


def outside(spec: FeatureSpec) -> list[float | int]:
    """Return the values just outside a field's range: the next representable number beyond each edge."""
    if spec.kind == "amount":
        low = spec.minimum if spec.exclusive_minimum else math.nextafter(spec.minimum, -math.inf)
        return [low, math.nextafter(spec.maximum, math.inf)]
    return [int(spec.minimum) - 1, int(spec.maximum) + 1]


ACCEPTED: Final = [(spec.name, value) for spec in FEATURES for value in edges(spec)]
CODES: Final = [(spec.name, code) for spec in FEATURES for code in spec.codes or {}]
REFUSED: Final = [(spec.name, value) for spec in FEATURES for value in outside(spec)]


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A TestClient on the app with the shipped model."""
    return TestClient(app)


def test_cases_cover_every_contract_field() -> None:
    assert len(FEATURES) == 23
    assert {name for name, _ in ACCEPTED} == {name for name, _ in REFUSED} == {s.name for s in FEATURES}


@pytest.mark.parametrize(("field", "value"), ACCEPTED + CODES)
def test_edge_and_every_code_is_accepted(client: TestClient, field: str, value: float) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, field: value})
    assert response.status_code == 200, response.text
    assert 0 <= response.json()["probability_of_default"] <= 1


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_just_outside_is_refused_naming_the_field(client: TestClient, field: str, value: float) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, field: value})
    assert response.status_code == 422, response.text
    fields: list[dict[str, Any]] = response.json()["error"]["fields"]
    assert [f["field"] for f in fields] == [field]
    assert fields[0]["hint"]
    if isinstance(value, float) and value:
        assert repr(value) not in response.text  # the value is never echoed


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_just_outside_in_a_batch_names_index_and_field(client: TestClient, field: str, value: float) -> None:
    body = {"applicants": [TYPICAL, TYPICAL, {**TYPICAL, field: value}]}
    response = client.post("/v1/predict/batch", json=body)
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert [(f["field"], f["index"]) for f in fields] == [(f"applicants[2].{field}", 2)]
