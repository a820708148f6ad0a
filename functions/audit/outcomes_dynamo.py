"""Outcomes and final decisions in the DynamoDB audit table: attributes added to the decision's own item.

Outcomes: `outcome_defaulted` (BOOL) and `outcome_observed_on` (S). Finals: `final_action`,
`final_override_reason`, `final_reviewer_hash`, `final_hash_key_version`, `final_recorded_at`. A batch is read
first (BatchGetItem, 100 keys a call), sorted by the rules of `functions.audit.outcomes`, and its new outcomes
written as conditional updates (`attribute_exists(request_id) AND
attribute_not_exists(outcome_defaulted)`), so no decision is created and no outcome overwritten. The joined
log is read day by day through the `by-day` index (keys), then BatchGetItem for the few attributes it needs.
"""

import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any, Final

from functions.audit.decision import AuditUnavailableError
from functions.audit.outcomes import (
    FinalDecision,
    FinalExistsError,
    JoinedLog,
    Outcome,
    OutcomeReceipt,
    Stored,
    UnknownDecisionError,
    iter_chunks,
    sort_outcomes,
)
from functions.audit.outcomes_sqlite import GROUP_INPUTS, to_joined
from functions.audit.stores import DAY_INDEX, DAY_SHARDS, dynamodb

GET_CHUNK: Final = 100  # BatchGetItem's limit per call
UNPROCESSED_ROUNDS: Final = 5  # BatchGetItem calls for keys DynamoDB left unprocessed
NEW_OUTCOME: Final = "attribute_exists(request_id) AND attribute_not_exists(outcome_defaulted)"
NAMES: Final = {"#k": "request_id", "#s": "synthetic", "#d": "outcome_defaulted", "#o": "outcome_observed_on"}
JOIN_NAMES: Final = {
    **{name: value for name, value in NAMES.items() if name != "#o"},
    "#at": "decided_at",
    "#v": "model_version",
    "#p": "probability_of_default",
    "#pd": "predicted_default",
    "#a": "final_action",
    "#b": "bins",
    **{f"#{name}": name for name in GROUP_INPUTS},
}
JOIN_PROJECTION: Final = "#k, #s, #d, #at, #v, #p, #pd, #a, " + ", ".join(f"#b.#{g}" for g in GROUP_INPUTS)


def days_between(since_day: str, until_day: str) -> list[str]:
    """Return the UTC days from `since_day` to `until_day` inclusive (YYYY-MM-DD)."""
    first, last = date.fromisoformat(since_day), date.fromisoformat(until_day)
    return [(first + timedelta(days=d)).isoformat() for d in range((last - first).days + 1)]


class DynamoOutcomeTable:
    """The audit table's outcomes and finals; every AWS failure becomes an AuditUnavailableError."""

    def __init__(self, table: str) -> None:
        self.table = table

    def _get(
        self, keys: Sequence[str], *, projection: str, names: dict[str, str]
    ) -> Iterator[dict[str, Any]]:
        for chunk in iter_chunks(sorted(set(keys)), GET_CHUNK):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"request_id": {"S": key}} for key in chunk],
                    "ProjectionExpression": projection,
                    "ExpressionAttributeNames": names,
                }
            }
            for attempt in range(UNPROCESSED_ROUNDS):
                answer = dynamodb().batch_get_item(RequestItems=request)
                yield from answer["Responses"].get(self.table, [])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB asks callers to back off before asking again
            else:
                raise AuditUnavailableError("DynamoDB left keys unprocessed (throttled); retry the batch")

    def _stored(self, keys: Sequence[str]) -> dict[str, Stored]:
        stored = {}
        for item in self._get(keys, projection="#k, #s, #d, #o", names=NAMES):
            outcome = None
            if "outcome_defaulted" in item:
                outcome = (item["outcome_defaulted"]["BOOL"], item["outcome_observed_on"]["S"])
            stored[item["request_id"]["S"]] = Stored(
                synthetic=item.get("synthetic", {}).get("BOOL", False), outcome=outcome
            )
        return stored

    def _update(self, outcome: Outcome) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": {"request_id": {"S": outcome.key}},
            "UpdateExpression": "SET outcome_defaulted = :d, outcome_observed_on = :o",
            "ConditionExpression": NEW_OUTCOME,
            "ExpressionAttributeValues": {
                ":d": {"BOOL": outcome.defaulted},
                ":o": {"S": outcome.observed_on},
            },
        }

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> OutcomeReceipt:
        """Record the new outcomes (conditional, 100 per transaction); raise OutcomeConflictError first."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            receipt, new = sort_outcomes(outcomes, self._stored([o.key for o in outcomes]))
            for outcome in new:
                self._write(outcome)
        except (BotoCoreError, ClientError) as err:
            raise AuditUnavailableError(f"DynamoDB refused the outcomes ({type(err).__name__})") from err
        return receipt

    def _write(self, outcome: Outcome) -> None:
        """Write one new outcome; if another writer recorded one meanwhile, refuse it when it differs."""
        from botocore.exceptions import ClientError

        try:
            dynamodb().update_item(**self._update(outcome))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            sort_outcomes([outcome], self._stored([outcome.key]))  # raises OutcomeConflictError if it differs

    def record_final(self, final: FinalDecision) -> None:
        """Record a final decision on the decision's item; raise UnknownDecisionError or FinalExistsError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            dynamodb().update_item(
                TableName=self.table,
                Key={"request_id": {"S": final.key}},
                UpdateExpression="SET final_action = :a, final_override_reason = :r, final_reviewer_hash = :h, "
                "final_hash_key_version = :v, final_recorded_at = :t",
                ConditionExpression="attribute_exists(request_id) AND attribute_not_exists(final_action)",
                ExpressionAttributeValues={
                    ":a": {"S": final.action},
                    ":r": {"S": final.override_reason},
                    ":h": {"S": final.reviewer_hash},
                    ":v": {"S": final.hash_key_version},
                    ":t": {"S": final.recorded_at},
                },
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise AuditUnavailableError(f"DynamoDB refused the final decision ({err})") from err
            if final.key not in self._stored([final.key]):
                raise UnknownDecisionError(final.key) from err
            raise FinalExistsError(final.key) from err
        except BotoCoreError as err:
            raise AuditUnavailableError(f"DynamoDB did not answer ({type(err).__name__})") from err

    def _day_keys(self, day: str) -> Iterator[str]:
        for shard in range(DAY_SHARDS):
            pages = (
                dynamodb()
                .get_paginator("query")
                .paginate(
                    TableName=self.table,
                    IndexName=DAY_INDEX,
                    KeyConditionExpression="#day = :day",
                    ProjectionExpression="#k",
                    ExpressionAttributeNames={"#day": "decided_day", "#k": "request_id"},
                    ExpressionAttributeValues={":day": {"S": f"{day}#{shard}"}},
                )
            )
            for page in pages:
                yield from (item["request_id"]["S"] for item in page["Items"])

    def read_joined(self, *, since_day: str, until_day: str) -> JoinedLog:
        """Return the non-synthetic decisions of these UTC days joined to their outcomes and finals."""
        from botocore.exceptions import BotoCoreError, ClientError

        rows = []
        try:
            for day in days_between(since_day, until_day):
                for item in self._get(
                    list(self._day_keys(day)), projection=JOIN_PROJECTION, names=JOIN_NAMES
                ):
                    if not item.get("synthetic", {}).get("BOOL", False):
                        rows.append(joined_row(item))
        except (BotoCoreError, ClientError) as err:
            raise AuditUnavailableError(f"DynamoDB refused the read ({type(err).__name__})") from err
        return to_joined(rows)


def joined_row(item: dict[str, Any]) -> tuple[object, ...]:
    """Flatten one DynamoDB item into the joined log's row (month, version, PD, ..., group bins)."""
    bins = item.get("bins", {}).get("M", {})
    defaulted = item.get("outcome_defaulted", {}).get("BOOL")
    return (
        item["decided_at"]["S"][:7],
        item["model_version"]["S"],
        float(item["probability_of_default"]["N"]),
        item["predicted_default"]["BOOL"],
        -1 if defaulted is None else int(defaulted),
        item.get("final_action", {}).get("S", ""),
        *(int(bins[name]["N"]) if name in bins else -1 for name in GROUP_INPUTS),
    )
