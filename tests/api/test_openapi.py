"""The OpenAPI document declares the API key exactly when one is required: API_KEY set (the app checks it), or
under Lambda (API Gateway checks its usage-plan key); a plain local run declares none, so its spec is honest."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from training.synthetic import TYPICAL

KEY = "a-local-api-key-of-32-characters"


def security_of(spec: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Return each operation's security requirement (None where it has none)."""
    return {
        (method.upper(), path): operation.get("security")
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


@pytest.mark.parametrize(
    ("env", "declared"),
    [
        ({"API_KEY": None, "AWS_LAMBDA_FUNCTION_NAME": None}, False),
        ({"API_KEY": KEY, "AWS_LAMBDA_FUNCTION_NAME": None}, True),
        ({"API_KEY": None, "AWS_LAMBDA_FUNCTION_NAME": "credit-default-scoring"}, True),
    ],
    ids=["local-no-key", "local-with-key", "behind-api-gateway"],
)
def test_spec_declares_the_key_exactly_when_required(
    configure: Callable[..., None], env: dict[str, str | None], declared: bool
) -> None:
    configure(**env)
    spec = TestClient(get_app()).get("/openapi.json").json()
    scoring = [{"ApiKey": []}] if declared else None
    assert security_of(spec) == {
        ("GET", "/v1/health"): None,
        ("GET", "/v1/model"): None,
        ("POST", "/v1/predict"): scoring,
        ("POST", "/v1/predict/batch"): scoring,
        ("POST", "/v1/recourse"): scoring,
        ("POST", "/v1/outcomes"): scoring,
        ("POST", "/v1/decisions/{key}/final"): scoring,
    }
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if declared:
        scheme = schemes["ApiKey"]
        assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    else:
        assert "ApiKey" not in schemes
    predict = spec["paths"]["/v1/predict"]["post"]
    assert "parameters" not in predict  # a security scheme, not a header parameter of the route
    assert ("401" in predict["responses"]) is (env["API_KEY"] is not None)


def test_the_gateways_key_is_documented_not_checked_by_the_app(configure: Callable[..., None]) -> None:
    configure(
        API_KEY=None, AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring", POWERTOOLS_METRICS_DISABLED="true"
    )
    with TestClient(get_app()) as client:
        answers = [client.post("/v1/predict", json=TYPICAL, headers=h) for h in ({}, {"x-api-key": "k" * 20})]
    assert [answer.status_code for answer in answers] == [200, 200]
