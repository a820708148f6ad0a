"""The OpenAPI document declares the API key API Gateway requires, so /docs "Try it out" can send it."""

from typing import Any

from fastapi.testclient import TestClient

from training.synthetic import TYPICAL


def test_scoring_routes_declare_the_api_key_header(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    secured = {
        (method.upper(), path): operation.get("security")
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert secured == {
        ("GET", "/v1/health"): None,
        ("GET", "/v1/model"): None,
        ("POST", "/v1/predict"): [{"ApiKey": []}],
        ("POST", "/v1/predict/batch"): [{"ApiKey": []}],
    }


def test_the_key_is_documented_not_checked_by_the_app(client: TestClient) -> None:
    answers: list[Any] = [
        client.post("/v1/predict", json=TYPICAL, headers=headers) for headers in ({}, {"x-api-key": "k" * 20})
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
    predict = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]
    assert "parameters" not in predict  # a security scheme, not a header parameter of the route
