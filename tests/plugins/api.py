"""Fixtures of the API: a live uvicorn server, a TestClient, API Gateway events and their answers."""

import base64
import copy
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.api.errors import ErrorResponse
from scripts.local import ROOT, free_port, start_server, stop

EVENTS = ROOT / "events"


@contextmanager
def uvicorn_api(env: dict[str, str]) -> Iterator[str]:
    """Serve the app with uvicorn, as `make api` does, on a free 127.0.0.1 port; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = "functions.api.app:get_app"
    args = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    process = start_server([*args, "--log-level", "warning"], f"{url}/v1/health", env=env)
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def live_api() -> Iterator[str]:
    """A uvicorn server of the app for the whole session, or E2E_API_URL (CI: `sam local`); yield its base URL."""
    if external := os.environ.get("E2E_API_URL"):
        yield external.rstrip("/")
        return
    with uvicorn_api({"OMP_NUM_THREADS": "1"}) as url:
        yield url


@pytest.fixture(scope="session")
def serve_api() -> Callable[[dict[str, str]], AbstractContextManager[str]]:
    """Start a uvicorn server of the app with extra environment: `with serve_api(env) as url: ...`."""
    return uvicorn_api


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A TestClient on the app, kept open for the module (one event loop thread, not one per request)."""
    with TestClient(get_app()) as opened:
        yield opened


def read_event(name: str) -> dict[str, Any]:
    """Read a fresh copy of an API Gateway payload saved under events/ (from `sam local generate-event`)."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def replace_body(event: dict[str, Any], body: bytes, content_type: str | None = "keep") -> dict[str, Any]:
    """Copy an event with a new base64 body and, unless "keep", a new (or no) Content-Type header."""
    changed = copy.deepcopy(event)
    changed["body"] = base64.b64encode(body).decode()
    changed["isBase64Encoded"] = True
    if content_type != "keep":
        for headers in (changed.get("headers") or {}, changed.get("multiValueHeaders") or {}):
            for name in [name for name in headers if name.lower() == "content-type"]:
                del headers[name]
        if content_type is not None:
            changed.setdefault("headers", {})["Content-Type"] = content_type
            if "multiValueHeaders" in changed:
                changed["multiValueHeaders"]["Content-Type"] = [content_type]
    return changed


def decode_body(response: dict[str, Any]) -> Any:
    """Decode a Lambda handler response's body as JSON."""
    raw = response["body"]
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    return json.loads(text)


def check_error(response: Any, status: int | None = None, code: str | None = None) -> dict[str, Any]:
    """Check an HTTP answer follows the error schema, echoes nothing and has the status and code given."""
    if status is not None:
        assert response.status_code == status, response.text[:300]
    ErrorResponse.model_validate_json(response.text)
    assert '"input"' not in response.text
    assert "Traceback" not in response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture(scope="session")
def load_event() -> Callable[[str], dict[str, Any]]:
    """Read a fresh copy of an event under events/ by name, e.g. `load_event("rest-predict")`."""
    return read_event


@pytest.fixture(scope="session")
def with_body() -> Callable[..., dict[str, Any]]:
    """Copy an event with a new body: `with_body(event, body, content_type="keep")`."""
    return replace_body


@pytest.fixture(scope="session")
def body_of() -> Callable[[dict[str, Any]], Any]:
    """Decode a Lambda handler response's JSON body."""
    return decode_body


@pytest.fixture(scope="session")
def error_of() -> Callable[..., dict[str, Any]]:
    """Check an answer is in the error schema (optionally its status and code); return the error object."""
    return check_error
