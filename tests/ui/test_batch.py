"""ui/batch.py: upload parsing, chunking, orchestration and summary metrics, with a fake API client."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from functions.api.errors import FieldError
from functions.clientfiles.rows import check_cells, read_table
from functions.scoring.contract import (
    FEATURE_BY_NAME,
    FEATURES,
    MAX_BATCH,
    Applicant,
    Prediction,
)
from scripts.local import free_port
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch
from ui import results as ui_results
from ui.client import ApiCallError, ApiClient, Endpoint

HELD: dict[str, Any] = dict.fromkeys(("line_percent", "exposure_at_default", "expected_loss"), 0.0)
HELD |= {"decided_by": "band", "line_action": "hold", "arm": "champion", "strategy_version": "fake"}
HELD |= {"adverse_action_notice": "not_applicable", "notice_basis": "fake"}


def fake_prediction(applicant: dict[str, Any]) -> Prediction:
    """A prediction whose PD is a function of the applicant, so a misplaced answer shows."""
    probability = (applicant["limit_bal"] % 997) / 997
    return Prediction(
        probability_of_default=probability,
        predicted_default=probability >= 0.5,
        threshold=0.5,
        score=round(900 - 600 * probability),
        risk_grade="E" if probability >= 0.5 else "A",
        reasons=[
            {
                "code": "latest_status",
                "text": f"reason of {applicant['limit_bal']:g}",
                "impact": 0.1,
                "statement": "s",
            }
        ],
        model_version="fake",
        request_id="r",
        decision="decline" if probability >= 0.5 else "approve",
        **HELD,  # the strategy's other fields: a hold at the current limit
        new_limit=applicant["limit_bal"],
    )


class FakeClient:
    """Answers batches like the API; refuses applicants with pay_0 > 8 (422), or fails from a call on."""

    def __init__(self, *, fail_from_call: int | None = None) -> None:
        self.sizes: list[int] = []
        self.fail_from_call = fail_from_call

    def predict_batch(self, applicants: Sequence[dict[str, Any]], /) -> list[Prediction]:
        self.sizes.append(len(applicants))
        assert 1 <= len(applicants) <= MAX_BATCH
        if self.fail_from_call is not None and len(self.sizes) > self.fail_from_call:
            raise ApiCallError("The gateway timed out (HTTP 504).", status=504)
        refused = [
            FieldError(field=f"applicants[{i}].pay_0", index=i, type="less_than_equal", message="too high")
            for i, applicant in enumerate(applicants)
            if applicant["pay_0"] > 8
        ]
        if refused:
            raise ApiCallError("refused", status=422, fields=refused)
        return [fake_prediction(applicant) for applicant in applicants]


def lower_case_csv(rows: list[dict[str, Any]]) -> str:
    """Render rows with the contract's lower-case names, no ID and no target."""
    names = [spec.name for spec in FEATURES]
    return "\n".join([",".join(names), *(",".join(f"{row[n]:g}" for n in names) for row in rows)]) + "\n"


def parsed_of(rows: list[dict[str, Any]], **options: Any) -> batch.ParsedFile:
    """Parse generated rows written in the dataset's layout."""
    return batch.read_clients(to_dataset_csv(rows, **options).encode())


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        ("2", "pay_0", 2),
        ("2.0", "pay_0", 2),
        (" 5000 ", "bill_amt1", 5000.0),
        ("-12.5", "bill_amt1", -12.5),
        ("", "age", None),
        ("abc", "age", "abc"),
        (np.int64(3), "education", 3),
        (np.float64(1.5), "pay_0", 1.5),
        (float("nan"), "limit_bal", None),
        (True, "pay_0", True),
    ],
)
def test_coerce_gives_contract_types_and_leaves_the_rest_to_it(value: Any, name: str, expected: Any) -> None:
    result = batch.coerce(value, FEATURE_BY_NAME[name])
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "id_column", "has_target"),
    [
        (to_dataset_csv(generate_rows(12, seed=1), target=[0, 1] * 6), "ID", True),
        (to_dataset_csv(generate_rows(12, seed=1), with_id=False), None, False),
        (lower_case_csv(generate_rows(12, seed=1)), None, False),
        ("\ufeff" + to_dataset_csv(generate_rows(12, seed=1), target=[0] * 12), "ID", True),
    ],
    ids=["dataset-layout", "no-id-no-target", "lower-case-names", "excel-bom"],
)
def test_read_clients_accepts_each_layout(text: str, id_column: str | None, has_target: bool) -> None:
    parsed = batch.read_clients(text.encode())
    assert parsed.problems == []
    assert parsed.positions == list(range(12))
    assert parsed.applicants == [
        Applicant.model_validate(row).model_dump() for row in generate_rows(12, seed=1)
    ]
    assert parsed.id_column == id_column
    assert (parsed.target is not None) == has_target


def test_read_clients_reports_bad_rows_and_keeps_the_rest() -> None:
    text = to_dataset_csv(generate_rows(6, seed=2), target=[0, 1, 0, 1, 0, 1]).splitlines()
    cells = [line.split(",") for line in text]
    header = [name.strip('"') for name in cells[0]]
    cells[2][header.index("PAY_0")] = "12"  # row 2: out of range
    cells[4][header.index("LIMIT_BAL")] = "lots"  # row 4: not a number
    cells[5][header.index("AGE")] = ""  # row 5: missing
    parsed = batch.read_clients("\n".join(",".join(line) for line in cells).encode())
    assert parsed.positions == [0, 2, 5]
    assert [(p.row, p.column) for p in parsed.problems] == [(2, "PAY_0"), (4, "LIMIT_BAL"), (5, "AGE")]
    assert "less than or equal to 9" in parsed.problems[0].message
    assert "accepts an integer code from -2 to 9" in parsed.problems[0].message


def test_read_clients_rewords_the_shared_row_checkers_problems() -> None:
    rows = [dict(row) for row in generate_rows(4, seed=4)]
    rows[1]["pay_0"], rows[3]["age"] = 12, 5
    data = to_dataset_csv(rows).encode()
    table = read_table(data, name="upload.csv")
    checked = [check_cells(cells, table.layout, line) for line, cells in table.rows]
    shared = [(i + 1, p.field.upper(), p.problem) for i, row in enumerate(checked) for p in row.problems]
    parsed = batch.read_clients(data)
    assert [
        (p.row, p.column, p.message.split(": ", 1)[1].split(" (accepts")[0]) for p in parsed.problems
    ] == shared
    assert parsed.applicants == [row.applicant.model_dump() for row in checked if row.applicant is not None]


def test_read_clients_keeps_unreadable_targets_out_of_metrics() -> None:
    parsed = parsed_of(generate_rows(3, seed=3), target=[1, 0, 7])
    assert parsed.target is not None
    assert parsed.target[:2].tolist() == [1.0, 0.0]
    assert np.isnan(parsed.target[2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'"ID","LIMIT_BAL","AGE"\n1,20000,30\n', "no column EDUCATION, PAY_0"),
        (to_dataset_csv([]).encode(), "no rows"),
        (b"", "empty file"),
    ],
    ids=["missing-columns", "header-only", "empty"],
)
def test_read_clients_rejects_unreadable_file(data: bytes, message: str) -> None:
    with pytest.raises(batch.UnreadableFileError, match=message):
        batch.read_clients(data)


@pytest.mark.parametrize("n", [0, 1, MAX_BATCH - 1, MAX_BATCH, MAX_BATCH + 1, 2 * MAX_BATCH + 500])
def test_chunks_cover_all_rows_within_batch_limit(n: int) -> None:
    parts = list(batch.chunks(list(range(n)), MAX_BATCH))
    assert all(1 <= len(part) <= MAX_BATCH for part in parts)
    assert [i for part in parts for i in part] == list(range(n))


def test_score_rows_sends_chunks_within_limit_and_keeps_order() -> None:
    rows = generate_rows(25, seed=4) * 90  # 2,250 rows: three requests
    parsed = parsed_of(rows)
    client, progress = FakeClient(), []
    scored = batch.score_rows(client, parsed, on_progress=lambda done, total: progress.append((done, total)))
    assert client.sizes == [1000, 1000, 250]
    assert progress == [(1000, 2250), (2000, 2250), (2250, 2250)]
    assert scored.problems == []
    assert scored.stopped is None
    assert sorted(scored.predictions) == list(range(2250))
    assert all(scored.predictions[p] == fake_prediction(parsed.applicants[p]) for p in (0, 7, 7 + 25, 2249))


def test_score_rows_scores_rows_as_single_predictions_do(live_api: str) -> None:
    parsed = parsed_of(generate_rows(25, seed=4) * 44)  # 1,100 rows: two requests to the real app
    client = ApiClient(Endpoint(live_api))
    scored = batch.score_rows(client, parsed, on_progress=lambda done, total: None)
    first = client.predict(parsed.applicants[7])
    for position in (7, 7 + 25, 7 + 1075):
        answer = scored.predictions[position].probability_of_default
        assert answer == pytest.approx(first.probability_of_default)


def test_score_chunk_reports_refused_row_and_scores_the_rest() -> None:
    rows = generate_rows(4, seed=5)
    bad = dict(rows[1], pay_0=9)  # past local validation, as if the API's contract were stricter
    part = [(10, rows[0]), (11, bad), (12, rows[2]), (13, rows[3])]
    client = FakeClient()
    predictions, problems = batch.score_chunk(client, part)
    assert client.sizes == [4, 3]
    assert sorted(predictions) == [10, 12, 13]
    assert predictions[12] == fake_prediction(rows[2])
    assert [(p.row, p.column) for p in problems] == [(12, "PAY_0")]
    assert problems[0].message == "PAY_0: too high"


def test_score_chunk_refusing_every_row_sends_no_second_request() -> None:
    client = FakeClient()
    predictions, problems = batch.score_chunk(client, [(0, dict(generate_rows(1, seed=5)[0], pay_0=9))])
    assert (predictions, [p.row for p in problems], client.sizes) == ({}, [1], [1])


def test_score_rows_stops_at_a_failure_and_lists_the_unsent_rows() -> None:
    parsed = parsed_of(generate_rows(5, seed=6) * 300)  # 1,500 rows: the second request fails
    scored = batch.score_rows(FakeClient(fail_from_call=1), parsed, on_progress=lambda done, total: None)
    assert sorted(scored.predictions) == list(range(1000))
    assert scored.stopped == "The gateway timed out (HTTP 504)."
    assert [p.row for p in scored.problems] == list(range(1001, 1501))


def test_score_rows_stops_when_endpoint_is_down() -> None:
    parsed = parsed_of(generate_rows(5, seed=6))
    down = ApiClient(Endpoint(f"http://127.0.0.1:{free_port()}"))
    scored = batch.score_rows(down, parsed, on_progress=lambda done, total: None)
    assert scored.predictions == {}
    assert scored.stopped is not None
    assert "Cannot reach" in scored.stopped
    assert [p.row for p in scored.problems] == [1, 2, 3, 4, 5]


def test_results_and_scored_csv_carry_predictions_and_row_errors() -> None:
    rows = generate_rows(4, seed=7)
    rows[2]["age"] = 12
    parsed = parsed_of(rows, target=[0, 1, 0, 1])
    scored = batch.score_rows(FakeClient(), parsed, on_progress=lambda done, total: None)
    results = ui_results.results_table(parsed, scored)
    assert list(results.columns) == [
        "row", "ID", "pd", "grade", "score", "decision", "top_reason", "top_statement", "notice", "problem"
    ]  # fmt: skip
    assert results["pd"].notna().tolist() == [True, True, False, True]
    assert results["problem"].iloc[2].startswith("AGE: ")
    assert results["top_reason"].iloc[0] == f"reason of {rows[0]['limit_bal']:g}"
    assert (results["top_statement"].iloc[0], results["notice"].iloc[0]) == ("s", "not_applicable")
    csv_lines = ui_results.scored_csv(parsed, results).decode().splitlines()
    assert csv_lines[0].endswith(
        "probability_of_default,risk_grade,score,predicted_default,top_reason,top_statement,adverse_action_notice,problem"
    )
    assert len(csv_lines) == 5


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) * 0.5 + labels * 0.2, 2)  # rounded: many ties
    assert ui_results.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("labels", [np.zeros(5), np.ones(5), np.array([])])
def test_auc_is_undefined_with_one_class(labels: np.ndarray) -> None:
    assert ui_results.auc(labels, np.linspace(0, 1, len(labels))) is None


def test_confusion_counts_each_cell() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    flagged = np.array([False, True, False, True, True, False, True])
    assert ui_results.confusion(labels, flagged) == {"tn": 2, "fp": 1, "fn": 1, "tp": 3}


def test_target_summary_counts_only_scored_rows_with_a_readable_target() -> None:
    rows = generate_rows(40, seed=9)
    target = [int(t) for t in np.random.default_rng(9).integers(0, 2, 40)]
    target[3] = 7  # unreadable: left out
    parsed = parsed_of(rows, target=target)
    scored = batch.score_rows(FakeClient(), parsed, on_progress=lambda done, total: None)
    summary = ui_results.target_summary(parsed, scored)
    assert summary is not None
    assert summary.rows == 39 == sum(summary.counts.values())
    kept = [p for p in range(40) if p != 3]
    labels = np.array([target[p] for p in kept])
    pds = np.array([scored.predictions[p].probability_of_default for p in kept])
    assert summary.auc == pytest.approx(roc_auc_score(labels, pds))
    tp, fp, fn = summary.counts["tp"], summary.counts["fp"], summary.counts["fn"]
    assert summary.precision == (tp / (tp + fp) if tp + fp else None)
    assert summary.recall == (tp / (tp + fn) if tp + fn else None)


def test_target_summary_is_none_without_a_target_column() -> None:
    parsed = parsed_of(generate_rows(3, seed=9))
    scored = batch.score_rows(FakeClient(), parsed, on_progress=lambda done, total: None)
    assert ui_results.target_summary(parsed, scored) is None


@pytest.mark.parametrize(("flag", "text"), [(True, "default predicted"), (False, "no default predicted")])
def test_decision_text_words_the_decision(flag: bool, text: str) -> None:
    assert batch.decision_text(flag) == text
