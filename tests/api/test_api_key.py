"""API_KEY: the app itself requires `x-api-key` on the scoring routes (off API Gateway: uvicorn, `serve`), 401
without it and 403 when wrong, in the error schema; health, model and docs stay open. Through `handler` with the
saved events and through a real uvicorn server."""

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from functions.api.app import handler
from functions.config import Settings
from training.synthetic import TYPICAL

KEY = "a-local-api-key-of-32-characters"


def with_key(event: dict[str, Any], key: str | None) -> dict[str, Any]:
    """Copy an API Gateway event with (or without) an x-api-key header, in both header maps."""
    changed = copy.deepcopy(event)
    for headers in (changed.get("headers") or {}, changed.get("multiValueHeaders") or {}):
        for name in [name for name in headers if name.lower() == "x-api-key"]:
            del headers[name]
    if key is not None:
        changed.setdefault("headers", {})["x-api-key"] = key
        if changed.get("multiValueHeaders") is not None:
            changed["multiValueHeaders"]["x-api-key"] = [key]
    return changed


CASES = [(None, 401, "missing_api_key"), ("", 401, "missing_api_key"), ("x" * 32, 403, "invalid_api_key")]
CASES += [(KEY[:-1], 403, "invalid_api_key"), (KEY + "x", 403, "invalid_api_key"), (KEY, 200, None)]


@pytest.mark.parametrize("name", ["rest-predict", "http-predict", "rest-predict-batch", "http-predict-batch"])
@pytest.mark.parametrize(("key", "status", "code"), CASES)
def test_handler_enforces_the_configured_key(
    configure: Callable[..., None],
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
    name: str,
    key: str | None,
    status: int,
    code: str | None,
) -> None:
    configure(API_KEY=KEY)
    response = handler(with_key(load_event(name), key), None)
    assert response["statusCode"] == status
    if code is not None:
        error = body_of(response)["error"]
        assert error["code"] == code
        assert "x-api-key" in error["message"]
        assert KEY not in response["body"]


@pytest.mark.parametrize("name", ["rest-health", "http-model", "rest-docs"])
def test_open_routes_need_no_key(
    configure: Callable[..., None], load_event: Callable[[str], dict[str, Any]], name: str
) -> None:
    configure(API_KEY=KEY)
    assert handler(load_event(name), None)["statusCode"] == 200


def test_without_a_configured_key_nothing_is_checked(
    configure: Callable[..., None], load_event: Callable[[str], dict[str, Any]]
) -> None:
    configure(API_KEY=None)
    assert handler(with_key(load_event("rest-predict"), None), None)["statusCode"] == 200


@pytest.mark.parametrize("value", ["short", "fifteen-chars!!"])
def test_a_short_key_is_refused_with_how_to_make_one(value: str) -> None:
    with pytest.raises(ValueError, match=r"at least 16 characters.*secrets\.token_urlsafe"):
        Settings(api_key=value)


def test_an_empty_key_means_none() -> None:
    assert Settings(api_key="").api_key is None


def test_uvicorn_enforces_the_configured_key(
    serve_api: Callable[..., Any], error_of: Callable[..., dict[str, Any]]
) -> None:
    with serve_api({"OMP_NUM_THREADS": "1", "API_KEY": KEY}) as url:
        answers = {
            label: httpx.post(f"{url}/v1/predict", json=TYPICAL, headers=headers, timeout=10)
            for label, headers in (
                ("none", {}),
                ("wrong", {"x-api-key": "w" * 32}),
                ("right", {"x-api-key": KEY}),
            )
        }
        health = httpx.get(f"{url}/v1/health", timeout=10)
    error_of(answers["none"], 401, "missing_api_key")
    error_of(answers["wrong"], 403, "invalid_api_key")
    assert answers["right"].status_code == 200
    assert 0.0 <= answers["right"].json()["probability_of_default"] <= 1.0
    assert health.status_code == 200
