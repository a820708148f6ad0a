"""The request guard on JSON bodies with a repeated key: 400 naming the path, at any depth, parsed once."""

import json
from collections.abc import Callable
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.api.gateway.jsonbody import parse_json
from functions.config import MIB
from training.synthetic import TYPICAL

JSON: Final = {"content-type": "application/json"}
MEMORY_BOUND: Final = 64 * MIB  # Python allocations while answering one hostile body
TIME_BOUND: Final = 5.0  # seconds for one hostile body, traced by tracemalloc (about 2x slower)


# --- repeated keys (issue 10 B) ----------------------------------------------------------------------------
def repeat(applicant: dict[str, Any], key: str, value: object) -> str:
    """Return an applicant's JSON with `key` sent a second time, last, with `value`."""
    return json.dumps(applicant)[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"


def test_repeated_key_gets_400_naming_it(client: TestClient, error_of: Callable[..., dict[str, Any]]) -> None:
    body = repeat({**TYPICAL, "pay_0": 0}, "pay_0", 8)
    response = client.post("/v1/predict", content=body, headers=JSON)
    error = error_of(response, 400, "duplicate_key")
    assert "`pay_0`" in error["message"]
    assert [(f["field"], f["index"], f["type"]) for f in error["fields"]] == [
        ("pay_0", None, "duplicate_key")
    ]
    assert error["fields"][0]["hint"] == "an integer code from -2 to 9"


def test_repeated_key_in_a_batch_names_its_path(
    client: TestClient, error_of: Callable[..., dict[str, Any]]
) -> None:
    applicants = [json.dumps(TYPICAL)] * 3 + [repeat(TYPICAL, "pay_0", 8)] + [repeat(TYPICAL, "age", 30)]
    body = '{"applicants": [' + ", ".join(applicants) + "]}"
    response = client.post("/v1/predict/batch", content=body, headers=JSON)
    error = error_of(response, 400, "duplicate_key")
    assert "`applicants[3].pay_0`" in error["message"]
    assert [(f["field"], f["index"]) for f in error["fields"]] == [
        ("applicants[3].pay_0", 3),
        ("applicants[4].age", 4),
    ]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"applicants": [], "applicants": []}', "applicants"),
        ('{"a": {"b": [{"c": 1, "c": 2}]}}', "a.b[0].c"),
        ('[{"x": 1}, {"y": [1, {"z": 0, "z": 0}]}]', "[1].y[1].z"),
        ('{"pay_0": 1, "pay_0": 1}', "pay_0"),
    ],
)
def test_repeated_key_at_any_depth_is_refused(
    client: TestClient, body: str, path: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict/batch", content=body, headers=JSON)
    assert error_of(response, 400, "duplicate_key")["fields"][0]["field"] == path


def test_repeated_key_logs_code_and_known_field_only(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    body = repeat({**TYPICAL, "secret-name": 1}, "secret-name", 2)[:-1] + ', "pay_2": 0, "pay_2": 1}'
    client.post("/v1/predict", content=body, headers=JSON)
    line = next(json.loads(x) for x in capsys.readouterr().out.splitlines() if '"message":"request"' in x)
    assert (line["status"], line["error_code"], line["invalid_fields"]) == (400, "duplicate_key", ["pay_2"])


def test_valid_body_is_parsed_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = json.loads

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    response = client.post("/v1/predict", content=json.dumps(TYPICAL).encode(), headers=JSON)
    assert response.status_code == 200
    assert len(calls) == 1


def test_parse_json_equals_json_loads_for_valid_bodies() -> None:
    body = json.dumps({"applicants": [TYPICAL, {**TYPICAL, "age": 61}], "n": [1.5, None, True]}).encode()
    assert parse_json(body) == (json.loads(body), [])
