"""Contract boundaries through the API: for all 23 fields the edges are accepted and the values just outside
are refused with the field named, alone and inside a batch; types, missing, unknown and non-finite inputs;
batch size and shape; key limits; the strict contract in the OpenAPI document."""

import json
import math
from collections.abc import Callable
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.config import MIB
from functions.scoring.contract import FEATURE_NAMES, FEATURES, MAX_BATCH, MAX_KEYS, FeatureSpec
from training.synthetic import TYPICAL

JSON: Final = {"content-type": "application/json"}
"""Boundary tests generated from the feature contract: for all 23 fields, the edges are accepted and the
values just outside are refused with the field named, alone and inside a batch."""


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


@pytest.mark.parametrize("omitted", [("sex",), ("marriage",), ("sex", "marriage")])
def test_predict_accepts_omitted_protected_fields(client: TestClient, omitted: tuple[str, ...]) -> None:
    applicant = {name: value for name, value in TYPICAL.items() if name not in omitted}
    full = client.post("/v1/predict", json=TYPICAL).json()
    response = client.post("/v1/predict", json=applicant)
    assert response.status_code == 200
    assert response.json()["probability_of_default"] == full["probability_of_default"]


@pytest.mark.parametrize(
    ("field", "value"), [("age", 35.0), ("pay_0", 2.0), ("sex", 1.0), ("education", 3.0)]
)
def test_predict_accepts_whole_number_written_as_float(client: TestClient, field: str, value: float) -> None:
    # JSON Schema counts 2.0 as an integer, so schema-driven clients may send it.
    as_float = client.post("/v1/predict", json={**TYPICAL, field: value})
    as_int = client.post("/v1/predict", json={**TYPICAL, field: int(value)})
    assert as_float.status_code == 200
    assert as_float.json()["probability_of_default"] == as_int.json()["probability_of_default"]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("pay_0", True, "int_type"),
        ("limit_bal", True, "float_type"),
        ("limit_bal", "200000", "float_type"),
        ("age", "35", "int_type"),
        ("age", 35.5, "int_type"),
        ("education", 2.5, "int_type"),
        ("sex", 1.5, "int_type"),
        ("pay_0", "1", "int_type"),
        ("limit_bal", None, "float_type"),
        ("bill_amt1", [1], "float_type"),
        ("pay_amt1", {"amount": 1}, "float_type"),
        ("limit_bal", 0, "greater_than"),
        ("limit_bal", 10_000_001, "less_than_equal"),
        ("bill_amt3", -10_000_001, "greater_than_equal"),
        ("pay_amt6", -1, "greater_than_equal"),
        ("pay_0", -3, "greater_than_equal"),
        ("pay_6", 10, "less_than_equal"),
        ("education", 7, "less_than_equal"),
        ("sex", 3, "less_than_equal"),
        ("marriage", -1, "greater_than_equal"),
        ("age", 17, "greater_than_equal"),
        ("age", 101, "less_than_equal"),
    ],
)
def test_predict_rejects_invalid_value(
    client: TestClient, field: str, value: Any, kind: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, field: value})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert [(f["field"], f["type"], f["index"]) for f in error["fields"]] == [(field, kind, None)]
    assert error["fields"][0]["hint"]


@pytest.mark.parametrize("field", FEATURE_NAMES)
def test_predict_names_missing_required_field(
    client: TestClient, field: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict", json={k: v for k, v in TYPICAL.items() if k != field})
    if field in ("sex", "marriage"):
        assert response.status_code == 200
        return
    assert response.status_code == 422
    assert [(f["field"], f["type"]) for f in error_of(response)["fields"]] == [(field, "missing")]


def test_predict_rejects_unknown_field(client: TestClient, error_of: Callable[..., dict[str, Any]]) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, "income": 1})
    assert response.status_code == 422
    assert [(f["field"], f["type"]) for f in error_of(response)["fields"]] == [("income", "extra_forbidden")]


@pytest.mark.parametrize("token", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_predict_rejects_non_finite_number(
    client: TestClient, token: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    body = json.dumps({**TYPICAL, "limit_bal": 0.5}).replace("0.5", token).encode()
    response = client.post("/v1/predict", content=body, headers=JSON)
    assert response.status_code == 422
    assert [f["field"] for f in error_of(response)["fields"]] == ["limit_bal"]


@pytest.mark.parametrize(("size", "kind"), [(0, "too_short"), (MAX_BATCH + 1, "too_long")])
def test_batch_rejects_size_outside_limits(
    client: TestClient, size: int, kind: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL] * size})
    assert response.status_code == 422
    fields = error_of(response)["fields"]
    assert [(f["field"], f["type"]) for f in fields] == [("applicants", kind)]
    if kind == "too_long":
        assert str(MAX_BATCH) in fields[0]["message"]
        assert str(MAX_BATCH) in fields[0]["hint"]


def test_batch_error_names_index_and_field(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    applicants = [TYPICAL, TYPICAL, TYPICAL, {**TYPICAL, "pay_0": True}, {**TYPICAL, "age": 150, "x": 1}]
    response = client.post("/v1/predict/batch", json={"applicants": applicants})
    assert response.status_code == 422
    named = [(f["field"], f["index"], f["type"]) for f in error_of(response)["fields"]]
    assert named == [
        ("applicants[3].pay_0", 3, "int_type"),
        ("applicants[4].age", 4, "less_than_equal"),
        ("applicants[4].x", 4, "extra_forbidden"),
    ]


@pytest.mark.parametrize(
    "body", [{}, {"applicants": TYPICAL}, {"applicants": [TYPICAL], "extra": 1}, [TYPICAL]]
)
def test_batch_rejects_wrong_shape(
    client: TestClient, body: Any, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict/batch", json=body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"


def test_openapi_declares_strict_contract(client: TestClient) -> None:
    applicant = client.get("/openapi.json").json()["components"]["schemas"]["ClientApplication"]
    assert applicant["additionalProperties"] is False
    assert set(applicant["properties"]) == {*FEATURE_NAMES, "client_reference"}  # the reference picks the arm
    batch = client.get("/openapi.json").json()["components"]["schemas"]["BatchRequest"]
    assert batch["properties"]["applicants"]["maxItems"] == MAX_BATCH


def test_full_batch_of_widest_values_fits_under_the_cap(client: TestClient) -> None:
    # The widest JSON an applicant can have: 17 significant digits on every amount, the widest codes.
    widest: dict[str, Any] = {}
    for spec in FEATURES:
        if spec.kind == "amount":
            largest = math.nextafter(spec.maximum, 0)  # 9999999.999999998
            widest[spec.name] = -largest if spec.minimum < 0 else largest
        else:
            widest[spec.name] = int(spec.minimum) if spec.minimum < 0 else int(spec.maximum)
    body = json.dumps({"applicants": [widest] * MAX_BATCH}, separators=(",", ":")).encode()
    assert len(body) <= MIB
    response = client.post("/v1/predict/batch", content=body, headers=JSON)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == MAX_BATCH


def test_batch_over_the_limit_names_the_limit(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL] * (MAX_BATCH + 1)})
    error = error_of(response, 422, "validation_error")
    assert [(f["field"], f["type"]) for f in error["fields"]] == [("applicants", "too_long")]
    assert str(MAX_BATCH) in error["fields"][0]["hint"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TYPICAL, **{f"extra{i}": 0 for i in range(MAX_KEYS)}}, "body"),
        ({"applicants": [TYPICAL, {f"k{i}": 0 for i in range(MAX_KEYS + 1)}]}, "applicants[1]"),
    ],
)
def test_object_with_too_many_keys_is_one_error(
    client: TestClient, body: dict[str, Any], field: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    path = "/v1/predict/batch" if "applicants" in body else "/v1/predict"
    error = error_of(client.post(path, json=body), 422, "validation_error")
    assert [(f["field"], f["type"]) for f in error["fields"]] == [(field, "too_many_fields")]


def test_object_with_a_few_unknown_keys_names_each(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    body = {**TYPICAL, **{f"extra{i}": 0 for i in range(MAX_KEYS - len(TYPICAL))}}
    error = error_of(client.post("/v1/predict", json=body), 422, "validation_error")
    assert len(error["fields"]) == MAX_KEYS - len(TYPICAL)
    assert {f["type"] for f in error["fields"]} == {"extra_forbidden"}
