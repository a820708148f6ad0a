"""The error schema, its translation of validation errors, and its handlers (400, 404, 405, 422) in the app."""

from collections.abc import Callable
from typing import Any, Final

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from functions.api.errors import ApiError, field_path, hint, install_error_handlers, to_field_errors
from functions.scoring.contract import FEATURE_BY_NAME, FEATURE_NAMES

JSON: Final = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("loc", "path", "index"),
    [
        (("body", "pay_0"), "pay_0", None),
        (("body", "applicants", 3, "pay_0"), "applicants[3].pay_0", 3),
        (("body", "applicants"), "applicants", None),
        (("body",), "body", None),
        ((), "body", None),
    ],
)
def test_field_path_names_field_and_index(loc: tuple[int | str, ...], path: str, index: int | None) -> None:
    assert field_path(loc) == (path, index)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("limit_bal", "a number (NT$) above 0 to 10,000,000"),
        ("bill_amt1", "a number (NT$) from -10,000,000 to 10,000,000"),
        ("pay_0", "an integer code from -2 to 9"),
        ("sex", "an integer code from 1 to 2, or omit it"),
        ("age", "a whole number from 18 to 100"),
    ],
)
def test_hint_says_what_field_accepts(name: str, text: str) -> None:
    assert hint(FEATURE_BY_NAME[name]) == text


def test_field_errors_drop_the_input() -> None:
    errors = [
        {"type": "int_type", "loc": ("body", "age"), "msg": "Input should be a valid integer", "input": "x9"}
    ]
    [described] = to_field_errors(errors, max_batch=1000)
    assert "x9" not in described.model_dump_json()
    assert (described.field, described.type, described.hint) == (
        "age",
        "int_type",
        "a whole number from 18 to 100",
    )


def test_too_long_batch_hint_names_the_limit() -> None:
    errors = [{"type": "too_long", "loc": ("body", "applicants"), "msg": "List should have at most 7 items"}]
    assert to_field_errors(errors, max_batch=7)[0].hint == "send at most 7 applicants per request"


def test_field_path_shortens_a_long_unknown_key() -> None:
    path, _ = field_path(("body", "applicants", 0, "k" * 10_000))
    assert path == f"applicants[0].{'k' * 64}..."


def test_install_error_handlers_covers_every_error_kind() -> None:
    app = FastAPI()
    install_error_handlers(app)
    assert {ApiError, RequestValidationError, HTTPException} <= set(app.exception_handlers)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"limit_bal": 1,}', b"{'limit_bal': 1}", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000],
)
def test_predict_rejects_malformed_json(
    client: TestClient, body: bytes, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict", content=body, headers=JSON)
    expected = 422 if body == b"" else 400  # an empty body is a missing body, not broken JSON
    assert response.status_code == expected
    assert error_of(response)["code"] == ("validation_error" if body == b"" else "malformed_json")


@pytest.mark.parametrize("body", [b"[]", b'"applicant"', b"5", b"null", b"true"])
def test_predict_rejects_body_that_is_not_an_object(
    client: TestClient, body: bytes, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict", content=body, headers=JSON)
    assert response.status_code == 422
    assert error_of(response)["fields"][0]["field"] == "body"


def test_unknown_route_gets_404_in_error_schema(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/v1/canary-7f3a9c")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/health"), ("DELETE", "/v1/predict"), ("GET", "/v1/predict")]
)
def test_wrong_method_gets_405_with_allow(
    client: TestClient, method: str, path: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"]
    assert error_of(response)["code"] == "method_not_allowed"


def test_openapi_documents_error_schema_on_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    expected = {"get": {"200", "500", "503"}, "post": {"200", "400", "413", "415", "422", "500", "503"}}
    for path in ("/v1/health", "/v1/model", "/v1/predict", "/v1/predict/batch"):
        for method, operation in spec["paths"][path].items():
            assert set(operation["responses"]) == expected[method], (method, path)
            for status, answer in operation["responses"].items():
                if status != "200":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


def test_batch_with_many_errors_lists_the_first_hundred(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    broken = dict.fromkeys(FEATURE_NAMES, True)
    response = client.post("/v1/predict/batch", json={"applicants": [broken] * 50})
    assert response.status_code == 422
    error = error_of(response)
    assert len(error["fields"]) == 100
    assert error["message"].startswith(f"{50 * len(FEATURE_NAMES)} invalid inputs; the first 100 are listed")


def test_openapi_documents_duplicate_key_on_scoring_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    codes = spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
    assert "duplicate_key" in codes
    for path in ("/v1/predict", "/v1/predict/batch"):
        assert "duplicate_key" in spec["paths"][path]["post"]["responses"]["400"]["description"]
