"""The answers' rows built column-wise (`prediction_rows`) equal the validated `Prediction`s, field for field and byte
for byte once serialised by `json_response`; without the strategy's columns only the model's fields remain."""

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from functions.api.app import MODEL_FIELDS, STRATEGY_FIELDS, json_response, prediction_rows, strategy_columns
from functions.config import MODEL_DIR
from functions.scoring.contract import BatchPredictions, Prediction
from functions.scoring.model import Decision, ScoringModel, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Outcomes, read_strategy
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()


def validated(decision: Decision, outcome: dict[str, Any], *, model_version: str, rid: str) -> Prediction:
    """Build one prediction the validated way: every field through `Prediction`'s schema."""
    return Prediction(
        **outcome,
        probability_of_default=decision.probability_of_default,
        predicted_default=decision.predicted_default,
        threshold=decision.threshold,
        score=decision.score,
        risk_grade=decision.risk_grade,
        reasons=list(decision.reasons),
        model_version=model_version,
        request_id=rid,
    )


@pytest.fixture(scope="module")
def answered(
    model: ScoringModel, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Decision], Outcomes]:
    """Decisions and outcomes of 300 generated clients and two typical ones, a third of them on a challenger."""
    folder: Path = tmp_path_factory.mktemp("strategy")
    (folder / "challenger.yaml").write_text(
        SHIPPED.replace("to: 0.2,", "to: 0.1,").replace("from: 0.2,", "from: 0.1,")
    )
    (folder / DEFAULT_FILE).write_text(SHIPPED + "challenger: {file: challenger.yaml, share: 0.3}\n")
    strategy = read_strategy(folder / DEFAULT_FILE, manifest=model.manifest)
    raw = to_matrix(generate_rows(300, seed=23) + [TYPICAL, HIGH_RISK])
    decisions = model.assess(raw)
    pd = np.array([d.probability_of_default for d in decisions])
    drawn = np.arange(raw.shape[0]) % 3 == 0
    return decisions, strategy.decide(raw, pd, challenger=drawn)


def test_prediction_rows_equal_the_validated_predictions(answered: tuple[list[Decision], Outcomes]) -> None:
    decisions, outcomes = answered
    rows = prediction_rows(decisions, strategy_columns(outcomes), model_version="v1", rid="req-1")
    expected = [
        validated(d, o, model_version="v1", rid="req-1")
        for d, o in zip(decisions, outcomes.records(), strict=True)
    ]
    assert {row["arm"] for row in rows} == {"champion", "challenger"}
    assert [Prediction.model_validate(row) for row in rows] == expected
    assert [json_response(row).body for row in rows] == [p.model_dump_json().encode() for p in expected]


def test_a_batch_answer_is_the_bytes_of_the_validated_batch(
    answered: tuple[list[Decision], Outcomes],
) -> None:
    decisions, outcomes = answered
    rows = prediction_rows(decisions, strategy_columns(outcomes), model_version="v1", rid="req-2")
    body = {"predictions": rows, "model_version": "v1", "request_id": "req-2"}
    expected = BatchPredictions(
        predictions=[Prediction.model_validate(r) for r in rows], model_version="v1", request_id="req-2"
    )
    assert json_response(body).body == expected.model_dump_json().encode()


def test_prediction_rows_keep_the_answers_field_order(answered: tuple[list[Decision], Outcomes]) -> None:
    decisions, outcomes = answered
    row = prediction_rows(decisions, strategy_columns(outcomes), model_version="v1", rid="r")[0]
    assert list(row) == list(Prediction.model_fields)


def test_prediction_rows_without_strategy_columns_hold_the_models_fields(
    answered: tuple[list[Decision], Outcomes],
) -> None:
    decisions, _ = answered
    rows = prediction_rows(decisions, {}, model_version="v1", rid="r")
    assert len(rows) == len(decisions)
    assert list(rows[0]) == [*MODEL_FIELDS, "model_version", "request_id"]


def test_json_response_writes_nan_and_infinity_as_null_as_pydantic_does() -> None:
    body = json_response({"a": math.nan, "b": math.inf, "c": 0.1 + 0.2, "d": 1e-07})
    assert body.body == b'{"a":null,"b":null,"c":0.30000000000000004,"d":1e-7}'
    assert body.media_type == "application/json"


def test_prediction_rows_refuse_strategy_columns_of_another_length(
    answered: tuple[list[Decision], Outcomes],
) -> None:
    decisions, outcomes = answered
    with pytest.raises(ValueError, match="zip"):
        prediction_rows(decisions[:1], strategy_columns(outcomes), model_version="v1", rid="r")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("new_limit", -1.0),
        ("expected_loss", math.nan),
        ("exposure_at_default", math.inf),
        ("line_percent", 100.5),
        ("line_percent", -0.5),
    ],
)
def test_strategy_columns_refuse_numbers_the_answer_schema_refuses(
    answered: tuple[list[Decision], Outcomes], field: str, value: float
) -> None:
    """Outside `StrategyAnswer`'s bounds a number is refused, as the per-item validation refused it: a 500."""
    decisions, outcomes = answered
    column = getattr(outcomes, field).copy()
    column[len(column) // 2] = value
    broken = dataclasses.replace(outcomes, **{field: column})
    with pytest.raises(ValueError, match="bounds"):
        strategy_columns(broken)
    if math.isfinite(
        value
    ):  # the schema's own bounds say the same (it lets infinity through; the check does not)
        row = {name: getattr(broken, name).tolist()[len(column) // 2] for name in STRATEGY_FIELDS}
        with pytest.raises(ValidationError, match=r"greater than or equal to 0|less than or equal to 100"):
            validated(decisions[len(column) // 2], row, model_version="v1", rid="r")
