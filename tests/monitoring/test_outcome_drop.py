"""The S3 drop of outcome files recording them: moto's S3 and DynamoDB, events as AWS sends them (conftest.py);
faults of AWS and stray events: test_outcome_drop_faults.py."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.monitoring.loop import outcome_drop
from functions.monitoring.loop.outcome_drop import handler

HEADER = "decision_key,defaulted,observed_on"


@pytest.mark.parametrize("shape", ["s3-put", "eventbridge"])
def test_a_good_file_records_its_outcomes_and_says_so_beside_it(drop: Any, shape: str) -> None:
    key = "outcomes/november 2026.csv"  # a space: S3's notification sends it as "+"
    answer = handler(drop.put(key, drop.file(extra=("nobody#1,false,2026-11-30",)), shape=shape), None)
    written = drop.result(key)
    assert answer == {"results": [written]}
    assert (written["status"], written["file"]) == ("recorded", key)
    assert (written["recorded"], written["synthetic_skipped"], written["unknown"]) == (18, 2, 1)
    assert written["unknown_keys"] == ["nobody#1"]
    stored, records = drop.outcomes(), drop.records
    assert [stored[r.key] for r in records[1:4]] == [
        (False, "2026-11-30"),
        (False, "2026-11-30"),
        (True, "2026-11-30"),
    ]
    assert stored[records[0].key] is None and stored[records[10].key] is None  # synthetic: skipped
    assert all(stored[r.key] is None for r in records[20:])


def test_a_bom_and_crlf_saved_by_a_spreadsheet_read_as_the_plain_file(drop: Any) -> None:
    text = "\ufeff" + drop.file().replace("\n", "\r\n")
    handler(drop.put("outcomes/excel.csv", text.encode()), None)
    assert drop.result("outcomes/excel.csv")["recorded"] == 18


def test_a_repeated_drop_changes_nothing(drop: Any) -> None:
    handler(drop.put("outcomes/a.csv", drop.file()), None)
    before = drop.outcomes()
    handler(drop.put("outcomes/a.csv", drop.file()), None)
    again = drop.result("outcomes/a.csv")
    assert (again["recorded"], again["already_recorded"]) == (0, 18)
    assert drop.outcomes() == before


def test_a_conflicting_file_records_nothing_and_names_the_keys(drop: Any) -> None:
    handler(drop.put("outcomes/a.csv", drop.file()), None)
    before = drop.outcomes()
    new = tuple(f"{r.key},true,2026-11-30" for r in drop.records[21:25])  # beside the conflicts: not written
    handler(drop.put("outcomes/b.csv", drop.file(flip=True, extra=new)), None)
    refused = drop.result("outcomes/b.csv")
    assert (refused["status"], refused["recorded"], refused["conflicts"]) == ("refused", 0, 18)
    assert refused["conflicting_keys"][:2] == [drop.records[1].key, drop.records[2].key]
    assert "nothing was recorded" in refused["message"]
    assert drop.outcomes() == before


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            f"{HEADER}\nreq-0000#1,true,2026-11-30\nreq-0000#2,maybe,2026-11-30\nreq 0000,true,2026-11-30\n",
            ["line 3: defaulted must be true, false, 1 or 0", "line 4: decision_key is not a decision key"],
        ),
        (f"{HEADER}\nreq-0000#1,true,2999-01-01\n", ["line 2: observed_on must be a date"]),
        ("decision_key,defaulted\nreq-0000#1,true\n", ["line 1: no column observed_on"]),
        (f"{HEADER}\n", ["line 2: no outcomes in the file"]),
        (
            f"{HEADER}\nreq-0000#1,true,2026-11-30\nreq-0000#2,\xe9,2026\n".encode("latin-1"),
            ["line 3: not UTF-8"],
        ),
        (f'{HEADER}\nreq-0000#1,"{"x" * 140_000}",2026-11-30\n', ["line 2: field larger than field limit"]),
    ],
    ids=["flag and key", "future day", "no column", "empty", "not utf-8", "huge cell"],
)
def test_a_malformed_file_records_nothing_and_names_line_and_field(
    drop: Any, text: str | bytes, problems: list[str]
) -> None:
    answer = handler(drop.put("outcomes/bad.csv", text), None)
    refused = drop.result("outcomes/bad.csv")
    assert answer == {"results": [refused]} and (refused["status"], refused["recorded"]) == ("refused", 0)
    assert len(refused["problems"]) == len(problems)
    assert all(got.startswith(want) for got, want in zip(refused["problems"], problems, strict=True))
    assert "bad.csv" in refused["message"]
    assert drop.nothing_recorded()


def test_a_file_over_the_line_limit_is_refused_before_it_is_read(
    drop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcome_drop, "DROP_MAX_LINES", 5)
    handler(drop.put("outcomes/long.csv", drop.file()), None)  # 20 lines: more than 5
    assert "more than 5 outcome lines" in drop.result("outcomes/long.csv")["message"]
    handler(drop.put("outcomes/big.csv", HEADER + "\n" + "x" * 2000), None)  # above (5 + 1) x 256 bytes
    assert "above the limit of 1,536 bytes" in drop.result("outcomes/big.csv")["message"]
    assert drop.nothing_recorded()


def test_each_file_logs_one_json_line_and_publishes_its_counts(
    drop: Any, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(
        AWS_LAMBDA_FUNCTION_NAME="credit-default-outcome-drop",
        POWERTOOLS_SERVICE_NAME="credit-default-outcomes",
    )
    handler(drop.put("outcomes/a.csv", drop.file(extra=("nobody#1,false,2026-11-30",))), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (logged,) = [line for line in lines if line.get("message") == "outcome file checked"]
    assert (logged["file"], logged["status"], logged["recorded"], logged["unknown"]) == (
        "outcomes/a.csv",
        "recorded",
        18,
        1,
    )
    assert logged["service"] == "credit-default-outcomes"
    (metrics,) = [line for line in lines if "_aws" in line]
    assert metrics["route"] == "drop:outcomes"
    counts = (metrics["OutcomesRecorded"], metrics["OutcomeKeysUnknown"], metrics["OutcomeFilesRefused"])
    assert counts == (18, 1, 0)
