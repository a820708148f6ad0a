"""JSON logs and CloudWatch embedded-metric-format lines."""

import json

import pytest

from functions.telemetry import emit_metrics, logger


def test_logger_writes_json_to_current_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    logger.info("hello", extra={"request_id": "r1"})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["service"], line["level"]) == (
        "hello",
        "r1",
        "credit-default",
        "INFO",
    )


@pytest.mark.parametrize(("count", "records"), [(0, 1), (1, 1), (100, 1), (101, 2), (1000, 10)])
def test_emf_splits_pds_into_records_of_100(
    capsys: pytest.CaptureFixture[str], count: int, records: int
) -> None:
    emit_metrics(
        route="/v1/predict/batch", status=200, latency_ms=12.5, pds=[0.5] * count, predicted_defaults=count
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == records
    assert sum(len(line.get("ProbabilityOfDefault", [])) for line in lines) == count
    for line in lines:
        definition = line["_aws"]["CloudWatchMetrics"][0]
        declared = {metric["Name"] for metric in definition["Metrics"]}
        assert declared <= set(line)
        assert definition["Dimensions"] == [["service", "route"]]
        assert line["route"] == "/v1/predict/batch"


@pytest.mark.parametrize(("status", "client", "server"), [(200, 0, 0), (422, 1, 0), (503, 0, 1)])
def test_emf_counts_errors_by_class(
    capsys: pytest.CaptureFixture[str], status: int, client: int, server: int
) -> None:
    emit_metrics(route="/v1/health", status=status, latency_ms=1.0)
    line = json.loads(capsys.readouterr().out)
    assert (line["Requests"], line["ClientErrors"], line["ServerErrors"]) == (1, client, server)
