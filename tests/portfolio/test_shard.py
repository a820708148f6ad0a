"""Scoring one chunk or shard: the API's decisions, invalid rows kept in place, the shard handler on S3."""

import csv
import io
import json
from typing import Any

import boto3
import numpy as np
import pytest

from functions.clientfiles.rows import data_rows, read_layout
from functions.portfolio.counts import BookCounts, book_drift
from functions.portfolio.decisions import strategy_cells
from functions.portfolio.shard import (
    SCORE_COLUMNS,
    ShardError,
    ShardItem,
    handler,
    output_header,
    score_client_rows,
    serving_model,
    serving_strategy,
)
from functions.scoring.bins import BinCounts
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows, to_dataset_csv

ROWS = generate_rows(40, seed=11)
BAD_AT = (3, 17)  # row indexes made invalid: AGE of -1


def client_csv(*, with_id: bool = True) -> str:
    """Render ROWS in the Kaggle layout with AGE = -1 in the rows at BAD_AT."""
    lines = to_dataset_csv(ROWS, with_id=with_id).splitlines()
    age = [c.strip('"') for c in lines[0].split(",")].index("AGE")
    for i in BAD_AT:
        cells = lines[i + 1].split(",")
        cells[age] = "-1"
        lines[i + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def score_text(text: str) -> tuple[list[dict[str, str]], BookCounts]:
    """Score CSV text as one chunk; return the scored rows as dicts and the tally."""
    reader = csv.reader(io.StringIO(text))
    layout = read_layout(reader, name="f.csv")
    body, tally = score_client_rows(serving_model(), serving_strategy(), layout, data_rows(reader, layout))
    return list(csv.DictReader(io.StringIO(body), fieldnames=output_header(layout))), tally


def test_chunk_scores_valid_rows_as_the_api_does_and_keeps_invalid_rows_in_place() -> None:
    scored, tally = score_text(client_csv())
    valid = [row for i, row in enumerate(ROWS) if i not in BAD_AT]
    assessed = serving_model().assess(to_matrix(valid))
    decisions = iter(assessed)
    pd = np.array([d.probability_of_default for d in assessed])
    outcomes = iter(serving_strategy().apply(to_matrix(valid), pd).records())
    assert [row["ID"] for row in scored] == [str(i) for i in range(1, len(ROWS) + 1)]
    for i, row in enumerate(scored):
        if i in BAD_AT:
            assert row["error"].startswith("AGE: Input should be greater than or equal to")
            assert row["probability_of_default"] == row["risk_grade"] == row["reason_1"] == ""
            continue
        decision = next(decisions)
        assert (
            float(row["probability_of_default"]) == decision.probability_of_default
        )  # exact: repr round-trips
        assert int(row["score"]) == decision.score
        assert row["risk_grade"] == decision.risk_grade
        assert row["predicted_default"] == str(int(decision.predicted_default))
        assert [row[f"reason_{k}"] for k in range(1, len(decision.reasons) + 1)] == [
            r.code for r in decision.reasons
        ]
        assert [row[f"statement_{k}"] for k in range(1, len(decision.reasons) + 1)] == [
            r.statement for r in decision.reasons
        ]
        outcome = next(outcomes)
        assert (row["decision"], row["decided_by"], row["line_action"]) == (
            outcome["decision"],
            outcome["decided_by"],
            outcome["line_action"],
        )
        assert float(row["new_limit"]) == outcome["new_limit"]
        assert row["adverse_action_notice"] == outcome["adverse_action_notice"]
        assert row["error"] == ""
    assert (tally.rows, tally.scored, tally.invalid) == (len(ROWS), len(ROWS) - len(BAD_AT), len(BAD_AT))
    assert sum(tally.grades.values()) == tally.scored


def test_chunk_without_id_has_no_id_column() -> None:
    scored, _ = score_text(client_csv(with_id=False))
    assert list(scored[0]) == list(SCORE_COLUMNS)


def test_chunk_of_invalid_rows_only_scores_nothing() -> None:
    header, *lines = client_csv().splitlines()
    scored, tally = score_text("\n".join([header, lines[BAD_AT[0]]]))
    assert (tally.scored, tally.invalid) == (0, 1)
    assert scored[0]["error"]


def test_tallies_add_up_and_report_the_mean_over_scored_rows() -> None:
    total = BookCounts()
    total.add(BookCounts(rows=3, scored=2, invalid=1, grades={"B": 2}, sum_probability_of_default=0.5))
    total.add(
        BookCounts(rows=2, scored=2, invalid=0, grades={"A": 1, "B": 1}, sum_probability_of_default=0.1)
    )
    assert total.report() == {
        "rows": 5,
        "scored": 4,
        "invalid": 1,
        "grades": {"A": 1, "B": 3},
        "mean_probability_of_default": pytest.approx(0.15),
        "strategy": {},  # no strategy totals in either count
    }
    assert BookCounts().report()["mean_probability_of_default"] is None


def test_tallies_add_bin_counts_and_read_them_back_from_a_summary() -> None:
    total = BookCounts()
    first = BinCounts.from_json({"age": [1, 1, 0], "score": [2, 0]})
    second = BinCounts.from_json({"age": [0, 2, 1], "score": [1, 2]})
    total.add(BookCounts(rows=2, scored=2, bins=first))
    total.add(BookCounts.from_summary(BookCounts(rows=3, scored=3, bins=second).to_json()))
    assert total.bins.to_json() == {"age": [1, 3, 1], "score": [3, 2]}
    with pytest.raises(ValueError, match="different reference bins"):
        total.add(
            BookCounts(bins=BinCounts.from_json({"age": [1]}))
        )  # counts against another reference's bins


def test_chunk_counts_its_scored_rows_per_reference_bin() -> None:
    _, tally = score_text(client_csv())
    reference = serving_model().manifest.reference
    assert reference is not None
    assert list(tally.bins.counts) == [bins.name for bins in (*reference.inputs, reference.score)]
    assert all(sum(counts) == tally.scored for counts in tally.bins.counts.values())
    assert [len(tally.bins.counts[bins.name]) for bins in reference.inputs] == [
        len(b.shares) for b in reference.inputs
    ]


def test_book_drift_needs_a_reference_and_scored_rows() -> None:
    _, tally = score_text(client_csv())
    reference = serving_model().manifest.reference
    assert book_drift(tally, None) is None
    assert book_drift(BookCounts(rows=1, invalid=1), reference) is None
    drift = book_drift(tally, reference)
    assert drift is not None
    assert drift["rows"] == tally.scored
    assert list(drift["psi"])[-1] == "score"
    judged = (
        {"stable", "investigate", "shifted"}
        if tally.scored >= 200
        else {f"too few rows to judge ({tally.scored} < 200)"}
    )
    assert set(drift["verdict"].values()) <= judged


def shard_event(bucket: str, key: str = "shards/run/part-00001.csv") -> dict[str, Any]:
    """A Map item as prepare lists it."""
    return ShardItem(
        bucket=bucket,
        key=key,
        index=1,
        first_line=20_002,
        output_bucket=bucket,
        result_key="results/run/part-00001.csv",
        summary_key="results/run/part-00001.json",
    ).model_dump()


def test_handler_writes_the_scored_shard_and_returns_a_small_summary(bucket: str) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="shards/run/part-00001.csv", Body=client_csv().encode())
    summary = handler(shard_event(bucket), None)
    assert summary["rows"] == len(ROWS)
    assert summary["invalid"] == len(BAD_AT)
    assert summary["model_version"] == serving_model().version
    assert len(json.dumps(summary)) < 4096  # no rows: counts per reference bin, a size fixed by the bins
    stored = json.loads(s3.get_object(Bucket=bucket, Key="results/run/part-00001.json")["Body"].read())
    assert stored == summary
    scored = s3.get_object(Bucket=bucket, Key="results/run/part-00001.csv")["Body"].read().decode()
    expected, _ = score_text(client_csv())
    assert list(csv.DictReader(io.StringIO(scored))) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "cannot be read"),
        (b"\xff\xfe\x00bad", "cannot be read"),
        (b'"ID","LIMIT_BAL"\n1,2\n', "missing column"),
    ],
)
def test_handler_names_an_unreadable_shard(bucket: str, body: bytes | None, message: str) -> None:
    if body is not None:
        boto3.client("s3").put_object(Bucket=bucket, Key="shards/run/part-00001.csv", Body=body)
    with pytest.raises(ShardError, match=message):
        handler(shard_event(bucket), None)


def _row_by_row(text: str) -> str:
    """The scored lines as they were written before bulk writing: assess, then csv.writer one row at a time."""
    from functions.clientfiles.cells import neutralise
    from functions.clientfiles.rows import check_cells

    reader = csv.reader(io.StringIO(text))
    layout = read_layout(reader, name="f.csv")
    rows = [check_cells(cells, layout, line) for line, cells in data_rows(reader, layout)]
    raw = to_matrix([vars(r.applicant) for r in rows if r.valid])
    assessed = serving_model().assess(raw)
    decisions = iter(assessed)
    pds = np.asarray([d.probability_of_default for d in assessed], dtype=np.float64)
    decided = iter(strategy_cells(serving_strategy().apply(raw, pds)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        head = [neutralise(row.client_id or "")] if layout.id_at is not None else []
        if not row.valid:
            writer.writerow(head + [""] * (len(SCORE_COLUMNS) - 1) + [neutralise(row.error)])
            continue
        d = next(decisions)
        reasons = list(d.reasons) + [None] * (4 - len(d.reasons))
        writer.writerow(
            [
                *head,
                repr(d.probability_of_default),
                str(d.score),
                d.risk_grade,
                "1" if d.predicted_default else "0",
            ]
            + [r.code if r else "" for r in reasons]
            + [f"{r.impact:.6f}" if r else "" for r in reasons]
            + [r.statement if r else "" for r in reasons]
            + next(decided)
            + [""]
        )
    return out.getvalue()


@pytest.mark.parametrize("with_id", [True, False])
def test_bulk_lines_equal_row_by_row_lines_byte_for_byte(with_id: bool) -> None:
    rows = generate_rows(300, seed=5)
    lines = to_dataset_csv(rows, with_id=with_id).splitlines()
    header = [c.strip('"') for c in lines[0].split(",")]
    ids = ['"a,b"', '"say ""hi"""', "=cmd()", "-12", "+x", '"line\nbreak"', "  7 "]
    for k, client_id in enumerate(ids if with_id else []):
        lines[k + 1] = ",".join([client_id, *lines[k + 1].split(",")[1:]])
    for k, (column, value) in enumerate(
        [("AGE", "-1"), ("PAY_0", "x"), ("LIMIT_BAL", ""), ("BILL_AMT1", "=1+1")]
    ):
        cells = lines[20 + k].split(",")
        cells[header.index(column)] = value
        lines[20 + k] = ",".join(cells)
    text = "\n".join(lines) + "\n"
    reader = csv.reader(io.StringIO(text))
    layout = read_layout(reader, name="f.csv")
    body, tally = score_client_rows(serving_model(), serving_strategy(), layout, data_rows(reader, layout))
    assert tally.invalid == 4
    assert body == _row_by_row(text)
