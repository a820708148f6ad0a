"""The scheduled drift job against moto's DynamoDB and CloudWatch: decisions scored by the app, PSI published."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.app import get_app
from functions.api.gateway.request_state import SYNTHETIC_HEADER
from functions.audit import stores as audit
from functions.audit.decision import DecisionRecord, StoredBins
from functions.monitoring import job as drift_job
from functions.monitoring.psi import drifts_of_counts, population_drift, psi
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import read_manifest
from functions.scoring.model import Decision, to_matrix
from scripts.cfn import load_template
from training.synthetic import generate_rows

TABLE = "credit-default-audit"
NAMESPACE = "CreditDefaultTest"
SMOKE_TOKEN = "s" * 24  # the deploy-time secret the smoke test holds


@pytest.fixture
def aws(
    aws_credentials: None,
    configure: Callable[..., None],
    create_audit_table: Callable[[Any, str], None],
    referenced_model_dir: Path,
) -> Iterator[Any]:
    """Moto's DynamoDB (the audit table) and CloudWatch; the app and job use a model with reference bins."""
    with mock_aws():
        create_audit_table(boto3.client("dynamodb"), TABLE)
        configure(
            AUDIT_TABLE=TABLE,
            AUDIT_HASH_KEY="k" * 40,
            MODEL_DIR=str(referenced_model_dir),
            POWERTOOLS_METRICS_NAMESPACE=NAMESPACE,
            DRIFT_MIN_DECISIONS="50",
            SYNTHETIC_TRAFFIC_TOKEN=SMOKE_TOKEN,
        )
        yield boto3.client("cloudwatch")


def score(rows: list[dict[str, Any]], *, synthetic: bool = False) -> list[int]:
    """Score the rows through the app's batch route (as API Gateway would pass them); return their points."""
    headers = {SYNTHETIC_HEADER: SMOKE_TOKEN} if synthetic else {}
    with TestClient(get_app()) as client:
        response = client.post("/v1/predict/batch", json={"applicants": rows}, headers=headers)
    assert response.status_code == 200
    return [p["score"] for p in response.json()["predictions"]]


def published(cloudwatch: Any, feature: str | None) -> list[float]:
    """Return the values of PSI for `feature` (or, with None, of the decision count) in the last hour."""
    now = datetime.now(UTC)
    name = drift_job.COUNT_METRIC if feature is None else drift_job.PSI_METRIC
    dimensions = [] if feature is None else [{"Name": "Feature", "Value": feature}]
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in stats["Datapoints"]]


def test_job_publishes_the_psi_of_recorded_decisions(aws: Any, referenced_model_dir: Path) -> None:
    rows = generate_rows(120, seed=21)
    points = score(rows)
    score([row | {"pay_0": 8} for row in generate_rows(60, seed=22)], synthetic=True)  # excluded
    summary = drift_job.handler({}, None)
    assert summary["rows"] == 120
    assert summary["skipped"]["synthetic"] == 60
    reference = read_manifest(referenced_model_dir).reference
    assert reference is not None
    # The same PSI computed from the raw values, which the job never sees.
    expected = population_drift(to_matrix(rows), np.array(points, dtype=np.float64), reference)
    assert [d.name for d in expected] == [*FEATURE_NAMES, "score"]
    for drift in expected:
        assert published(aws, drift.name) == [pytest.approx(drift.psi, abs=1e-9)]
    assert published(aws, None) == [120.0]


def test_a_shifted_population_crosses_the_alarm_threshold(aws: Any) -> None:
    late = [row | {"pay_0": 2, "pay_2": 2} for row in generate_rows(80, seed=23)]
    score(late)
    drift_job.handler({}, None)
    assert published(aws, "pay_0")[0] >= 0.25
    assert published(aws, "score")[0] >= 0.25


def test_job_queries_the_day_index_and_never_scans(aws: Any) -> None:
    score(generate_rows(60, seed=24))
    operations: list[str] = []
    client = audit.dynamodb()
    client.meta.events.register(
        "before-parameter-build.dynamodb", lambda **kw: operations.append(kw["model"].name)
    )
    drift_job.handler({}, None)
    assert set(operations) == {"Query", "BatchGetItem"}  # drift: the index; the closed loop: its items by key


def record_at(decided_at: datetime, index: int, *, bins: dict[str, int], version: str) -> DecisionRecord:
    """A decision record of model `version` taken at `decided_at` (UTC) with the given bins."""
    decision = Decision(
        probability_of_default=0.1,
        predicted_default=False,
        threshold=0.3,
        score=650,
        risk_grade="B",
        reasons=(),
    )
    return DecisionRecord(
        key=f"old#{index}",
        request_id="old",
        decided_at=decided_at.isoformat(timespec="milliseconds"),
        model_version=version,
        input_hash="0" * 64,
        hash_key_version="v",
        decision=decision,
        batch_index=index,
        bins=bins,
    )


def test_job_reads_only_the_window(aws: Any, referenced_model_dir: Path) -> None:
    bins = dict.fromkeys(FEATURE_NAMES, 0) | {"score": 0}
    version = read_manifest(referenced_model_dir).version
    before = datetime.now(UTC) - timedelta(hours=30)
    old = [record_at(before, i, bins=bins, version=version) for i in range(70)]
    audit.DynamoDecisionTable(TABLE).write(old, deadline=None)
    score(generate_rows(60, seed=25))
    assert drift_job.handler({}, None)["rows"] == 60


def test_too_few_decisions_publish_the_count_only(aws: Any) -> None:
    score(generate_rows(10, seed=26))
    summary = drift_job.handler({}, None)
    assert summary == {
        "published": False,
        "model_version": summary["model_version"],
        "rows": 10,
        "skipped": {"synthetic": 0, "other_model_version": 0, "no_bins": 0, "damaged": 0},
        "psi": {},
        "verdict": {},
        "outcomes": summary["outcomes"],
    }
    assert (
        summary["outcomes"]["metrics"]["OutcomeDecisions"] == 10
    )  # the closed loop counts them all the same
    assert published(aws, None) == [10.0]
    assert published(aws, "score") == []


def test_no_reference_means_nothing_published(
    aws: Any, configure: Callable[..., None], unreferenced_model_dir: Path
) -> None:
    configure(MODEL_DIR=str(unreferenced_model_dir))
    summary = drift_job.handler({}, None)
    assert summary["published"] is False
    assert "no reference distributions" in summary["problem"]
    assert published(aws, None) == []


def test_window_count_skips_other_versions_and_unreadable_bins(referenced_model_dir: Path) -> None:
    reference = read_manifest(referenced_model_dir).reference
    assert reference is not None
    good = dict.fromkeys(FEATURE_NAMES, 0) | {"score": 9}
    stored = [
        StoredBins(model_version="v1", synthetic=False, bins=good),
        StoredBins(model_version="v0", synthetic=False, bins=good),
        StoredBins(model_version="v1", synthetic=True, bins=good),
        StoredBins(model_version="v1", synthetic=False, bins=None),
        StoredBins(model_version="v1", synthetic=False, bins=good | {"pay_0": 99}),
    ]
    counted = drift_job.count_window(stored, reference, model_version="v1")
    assert counted.rows == 1
    assert counted.skipped == {"synthetic": 1, "other_model_version": 1, "no_bins": 2, "damaged": 0}
    score_bins = len(reference.score.shares)
    assert counted.bins.counts["score"].tolist() == [0] * 9 + [1] + [0] * (score_bins - 10)
    [*_, score_drift] = drifts_of_counts(counted.bins, reference)
    assert score_drift.psi == pytest.approx(
        psi(np.array(reference.score.shares), counted.bins.counts["score"] / 1.0)
    )


def test_window_touches_each_utc_day() -> None:
    since, days = drift_job.window(datetime(2026, 3, 2, 0, 15, tzinfo=UTC), hours=24)
    assert since == "2026-03-01T00:15:00.000+00:00"
    assert days == ["2026-03-01", "2026-03-02"]


def test_template_runs_the_job_daily_on_the_same_image_with_least_privilege() -> None:
    resources = load_template()["Resources"]
    job, scoring = resources["DriftJob"]["Properties"], resources["ScoringFunction"]["Properties"]
    assert job["ImageUri"] == scoring["ImageUri"] and job["PackageType"] == "Image"
    assert job["ImageConfig"]["Command"] == ["functions.monitoring.job.handler"]
    [event] = job["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "DriftSchedule"}
    statements = [s for policy in job["Policies"] for s in policy["Statement"]]
    assert {(s["Action"], json.dumps(s["Resource"])) for s in statements} == {
        ("dynamodb:Query", json.dumps({"Fn::Sub": "${AuditTable.Arn}/index/" + audit.DAY_INDEX})),
        ("dynamodb:BatchGetItem", json.dumps({"Fn::GetAtt": ["AuditTable", "Arn"]})),
        ("cloudwatch:PutMetricData", '"*"'),
    }
    namespace = job["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert statements[2]["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace}}


def test_template_indexes_the_table_by_day_as_the_job_queries_it() -> None:
    table = load_template()["Resources"]["AuditTable"]["Properties"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == audit.DAY_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["decided_day", "decided_at"]
    assert tuple(index["Projection"]["NonKeyAttributes"]) == audit.DAY_INDEX_ATTRIBUTES


def test_template_alarms_on_shifted_score_and_leading_inputs() -> None:
    resources = load_template()["Resources"]
    namespace = resources["DriftJob"]["Properties"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    watched = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("MetricName") == drift_job.PSI_METRIC:
            assert props["Namespace"] == namespace
            assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
            [dimension] = props["Dimensions"]
            assert dimension["Name"] == drift_job.FEATURE_DIMENSION
            watched[dimension["Value"]] = props["Threshold"]
    assert watched == {"score": 0.25, "pay_0": 0.25, "pay_2": 0.25, "limit_bal": 0.25}


def test_template_alarms_when_realised_defaults_exceed_the_expected() -> None:
    resources = load_template()["Resources"]
    alarm = resources["OutcomeGapAlarm"]["Properties"]
    job = resources["DriftJob"]["Properties"]["Environment"]["Variables"]
    assert alarm["MetricName"] == "DefaultRateGap" and alarm["Threshold"] == 0.03
    assert alarm["Namespace"] == job["POWERTOOLS_METRICS_NAMESPACE"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "service": job["POWERTOOLS_SERVICE_NAME"],
        "route": "job:outcomes",
    }
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
