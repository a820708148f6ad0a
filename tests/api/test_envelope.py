"""The Lambda envelope in front of Mangum: which invocations are HTTP, and the header repairs, value by value
(the events through `handler` are in tests/api/test_handler.py)."""

from typing import Any

import pytest

from functions.api.gateway.envelope import answer, first_port, kind_of, normalise, plain_host


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"resource": "/", "httpMethod": "GET", "requestContext": {}}, "http"),
        ({"version": "2.0", "requestContext": {"http": {"method": "GET"}}}, "http"),
        ({}, "unknown"),
        ({"source": "serverless-plugin-warmup"}, "warmup"),
        ({"detail-type": "Scheduled Event", "source": "aws.events"}, "scheduled"),
        ({"requestContext": {"elb": {}}}, "unknown"),
        ({"requestContext": "x", "httpMethod": "GET"}, "unknown"),
        ([], "unknown"),
        (None, "unknown"),
        ("ping", "unknown"),
    ],
)
def test_kind_of_tells_http_from_other_invocations(event: object, kind: str) -> None:
    assert kind_of(event) == kind


@pytest.mark.parametrize(
    ("value", "port"),
    [("443", "443"), ("443,80", "443"), ("443, 80", "443"), (" 80 ", "80"), ("x,8080", "8080"), ("", None)],
)
def test_first_port_takes_the_first_valid_port(value: str, port: str | None) -> None:
    assert first_port(value) == port


@pytest.mark.parametrize("value", ["0", "65536", "abc", "-1", ","])
def test_first_port_drops_invalid_ports(value: str) -> None:
    assert first_port(value) is None


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("api.example.com", "api.example.com"),
        ("api.example.com:", "api.example.com"),
        ("api.example.com:8443", "api.example.com:8443"),
        ("api.example.com:99999", "api.example.com"),
        ("[::1]:3000", None),
        ("[::1]", None),
        ("a.example, b.example", "a.example"),
        ("", None),
    ],
)
def test_plain_host_gives_a_host_mangum_can_split(value: str, host: str | None) -> None:
    assert plain_host(value) == host


def test_normalise_repairs_headers_and_copies() -> None:
    event: dict[str, Any] = {
        "httpMethod": "GET",
        "headers": {"Host": "[::1]:3000", "X-Forwarded-Port": "443,80", "Accept": "*/*", "X-None": None},
        "multiValueHeaders": {"X-Forwarded-Port": ["443", "80"], "Accept": ["a", "b"], "Host": ["[::1]"]},
    }
    repaired = normalise(event)
    assert repaired["headers"] == {"X-Forwarded-Port": "443", "Accept": "*/*"}
    assert repaired["multiValueHeaders"] == {"X-Forwarded-Port": ["443"], "Accept": ["a", "b"]}
    assert event["headers"]["Host"] == "[::1]:3000"  # the event itself is left as it came


def test_normalise_reads_null_headers_and_query_as_empty() -> None:
    repaired = normalise({"version": "2.0", "headers": None, "rawQueryString": None})
    assert (repaired["headers"], repaired["rawQueryString"]) == ({}, "")


def test_answer_turns_a_fault_into_a_500_in_the_error_schema(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> Any:
        raise RuntimeError("adapter broke")

    event = {"httpMethod": "GET", "requestContext": {"requestId": "rid-1"}}
    response = answer(event, None, adapter=broken)
    assert response["statusCode"] == 500
    assert response["headers"]["x-request-id"] == "rid-1"
    assert '"code":"internal_error"' in response["body"]
    assert "adapter broke" not in response["body"]
    assert "adapter broke" in capsys.readouterr().out


@pytest.mark.parametrize(("event", "calls"), [({"source": "serverless-plugin-warmup"}, 1), ({}, 0)])
def test_answer_warms_on_a_warm_up_ping_only(event: dict[str, Any], calls: int) -> None:
    warmed: list[int] = []

    def never() -> Any:
        raise AssertionError("a non-HTTP event must not reach the adapter")

    answered = answer(event, None, adapter=never, warm=lambda: warmed.append(1))
    assert answered["status"] == "ignored"
    assert len(warmed) == calls


def test_answer_survives_a_failing_warm_up(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise OSError("model folder unreadable")

    answered = answer({"source": "serverless-plugin-warmup"}, None, adapter=lambda: print, warm=broken)
    assert answered["event"] == "warmup"
    assert "model folder unreadable" in capsys.readouterr().out
