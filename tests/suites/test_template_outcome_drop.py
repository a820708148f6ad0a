"""The outcome drop's resources in template.yaml: the bucket, the function on the same image, its trigger, its
least-privilege policy, its alarm and output (the handler itself: tests/monitoring/test_outcome_drop.py)."""

import fnmatch
from typing import Any

from functions.monitoring.loop import outcome_drop
from scripts.cfn import load_template


def resources() -> dict[str, Any]:
    """Return template.yaml's resources."""
    found: dict[str, Any] = load_template()["Resources"]
    return found


def test_the_function_runs_the_scoring_image_with_the_drop_handler() -> None:
    props = resources()["OutcomeDropFunction"]["Properties"]
    assert props["ImageUri"] == resources()["ScoringFunction"]["Properties"]["ImageUri"]
    (command,) = props["ImageConfig"]["Command"]
    module, attribute = command.rsplit(".", 1)
    assert getattr(__import__(module, fromlist=[attribute]), attribute) is outcome_drop.handler
    assert props["Environment"]["Variables"]["AUDIT_TABLE"] == {"Ref": "AuditTable"}
    assert props["Timeout"] == 900  # the most Lambda allows: DROP_MAX_LINES is sized against it


def test_an_upload_under_outcomes_invokes_it_but_its_own_result_objects_do_not() -> None:
    event = resources()["OutcomeDropFunction"]["Properties"]["Events"]["OutcomeFileUploaded"]
    pattern = event["Properties"]["Pattern"]
    assert event["Type"] == "EventBridgeRule" and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "OutcomeDropBucket"}]
    (rule,) = pattern["detail"]["object"]["key"]
    keys = ["outcomes/2026-11.csv", "outcomes/lender a/2026-11.csv"]
    ignored = ["outcomes/2026-11.csv" + outcome_drop.RESULT_SUFFIX, "incoming/2026-11.csv", "outcomes/a.xlsx"]
    # EventBridge's wildcard: `*` matches any characters, `/` included, as fnmatch's does
    assert all(fnmatch.fnmatchcase(key, rule["wildcard"]) for key in keys)
    assert not any(fnmatch.fnmatchcase(key, rule["wildcard"]) for key in ignored)
    assert all(outcome_drop.is_outcome_file(key) for key in keys)
    assert not any(outcome_drop.is_outcome_file(key) for key in ignored)
    assert resources()["OutcomeDropBucket"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_the_policy_reads_the_drop_prefix_writes_results_and_updates_decisions_only() -> None:
    (policy,) = resources()["OutcomeDropFunction"]["Properties"]["Policies"]
    granted = {
        (action, str(statement["Resource"]))
        for statement in policy["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    drop = "${OutcomeDropBucket.Arn}/" + outcome_drop.DROP_PREFIX
    table = str({"Fn::GetAtt": ["AuditTable", "Arn"]})
    assert granted == {
        ("s3:GetObject", str({"Fn::Sub": drop + "*"})),
        ("s3:GetObjectVersion", str({"Fn::Sub": drop + "*"})),
        ("s3:PutObject", str({"Fn::Sub": drop + "*" + outcome_drop.RESULT_SUFFIX})),
        ("dynamodb:BatchGetItem", table),
        ("dynamodb:UpdateItem", table),
    }


def test_the_bucket_is_encrypted_versioned_private_expiring_and_tls_only() -> None:
    props = resources()["OutcomeDropBucket"]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert list(props["PublicAccessBlockConfiguration"].values()) == [True] * 4
    (expiry,) = props["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == {"Ref": "OutcomeDropRetentionDays"}
    (deny,) = resources()["OutcomeDropBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_a_failed_file_notifies_the_alarm_topic_and_the_bucket_is_an_output() -> None:
    alarm = resources()["OutcomeDropErrorsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "OutcomeDropFunction"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # one failed event is the first attempt and Lambda's two retries of an asynchronous invocation
    assert alarm["Threshold"] == 3
    outputs = load_template()["Outputs"]
    assert outputs["OutcomeDropBucketName"]["Value"] == {"Ref": "OutcomeDropBucket"}
