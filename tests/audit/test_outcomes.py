"""Outcomes beside the decisions at scale, in SQLite and in moto's DynamoDB (rules: test_outcome_rules.py)."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.audit.decision import DecisionRecord
from functions.audit.outcomes import Outcome, OutcomeStore
from functions.clientfiles.rows import read_client_file
from functions.monitoring.cli import run_outcomes
from functions.monitoring.stats import auc, brier
from functions.scoring.model import load_model
from training.synthetic import generate_rows, to_dataset_csv

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model"
DECISIONS = 10_000
MATCHING = 9_500


@pytest.fixture(scope="module")
def book(
    tmp_path_factory: pytest.TempPathFactory, make_records: Callable[..., list[DecisionRecord]]
) -> dict[str, Any]:
    """10,000 generated clients as a labelled client file, their records and drawn outcomes."""
    rows = generate_rows(DECISIONS, seed=41)
    model = load_model(SHIPPED)
    folder = tmp_path_factory.mktemp("book")
    unlabelled = folder / "clients.csv"
    unlabelled.write_text(to_dataset_csv(rows))
    raw = read_client_file(unlabelled).raw  # the file's own rounding, so the labelled file scores alike
    pds = np.asarray(model.probabilities(raw), dtype=np.float64)
    y = (np.random.default_rng(42).random(DECISIONS) < pds).astype(int)
    labelled = folder / "joined.csv"
    labelled.write_text(to_dataset_csv(rows[:MATCHING], target=[int(v) for v in y[:MATCHING]]))
    return {"records": make_records(raw), "y": y, "labelled": labelled}


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def at_scale(
    request: pytest.FixtureRequest,
    book: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    open_store: Callable[..., AbstractContextManager[OutcomeStore]],
) -> Iterator[OutcomeStore]:
    """The 10,000 decisions in one store, SQLite and then moto's DynamoDB."""
    folder = tmp_path_factory.mktemp(request.param)
    with open_store(request.param, book["records"], folder) as store:
        yield store


def scale_outcomes(book: dict[str, Any]) -> list[Outcome]:
    """9,500 outcomes of recorded decisions and 500 for keys no decision carries."""
    known = [
        Outcome(r.key, bool(y), "2026-11-30")
        for r, y in zip(book["records"][:MATCHING], book["y"], strict=False)
    ]
    unknown = [Outcome(f"nobody-{i}#0", bool(i % 2), "2026-11-30") for i in range(DECISIONS - MATCHING)]
    return known + unknown


@pytest.mark.slow
def test_join_at_scale_records_known_lists_unknown_and_matches_the_labelled_back_test(
    at_scale: OutcomeStore, book: dict[str, Any]
) -> None:
    outcomes = scale_outcomes(book)
    receipt = at_scale.record_outcomes(outcomes)
    assert len(receipt.recorded) == MATCHING and receipt.unchanged == []
    assert receipt.unknown == [o.key for o in outcomes[MATCHING:]]
    joined = at_scale.read_joined(since_day="2026-03-01", until_day="2026-03-31")
    again = at_scale.record_outcomes(outcomes)
    assert again.recorded == [] and len(again.unchanged) == MATCHING and len(again.unknown) == 500
    rejoined = at_scale.read_joined(since_day="2026-03-01", until_day="2026-03-31")
    assert joined.outcome.size == DECISIONS and int((joined.outcome >= 0).sum()) == MATCHING
    assert sorted(rejoined.outcome.tolist()) == sorted(joined.outcome.tolist())
    has = joined.outcome >= 0
    _, labelled = run_outcomes(book["labelled"], model_dir=SHIPPED, report=None)
    assert auc(joined.outcome[has], joined.probability_of_default[has]) == pytest.approx(
        labelled["auc"], abs=1e-12
    )
    assert brier(joined.outcome[has], joined.probability_of_default[has]) == pytest.approx(
        labelled["brier"], abs=1e-12
    )
    assert int(joined.outcome[has].sum()) == labelled["defaults"]
