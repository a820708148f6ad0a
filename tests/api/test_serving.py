"""The served strategy: verified at cold start beside the model (a refusal is remembered and logged once), and the
champion-challenger arm drawn from the client reference or the request id."""

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from functions.api import serving
from functions.config import MODEL_DIR, get_settings
from functions.scoring.model import ScoringModel, load_model, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Strategy
from functions.scoring.strategy.file import StrategyError
from training.synthetic import generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
ARM_KEY = "a" * 40


@pytest.fixture
def fresh(configure: Callable[..., None]) -> Iterator[Callable[..., None]]:
    """Set the environment and forget the served model and strategy before and after the test."""

    def apply(**env: str | None) -> None:
        configure(**env)
        serving.load_serving_model.cache_clear()
        serving.load_serving_strategy.cache_clear()

    yield apply
    serving.load_serving_model.cache_clear()
    serving.load_serving_strategy.cache_clear()


def with_challenger(folder: Path, *, share: float = 0.3) -> Path:
    (folder / "challenger.yaml").write_text(
        SHIPPED.replace("to: 0.2,", "to: 0.1,").replace("from: 0.2,", "from: 0.1,")
    )
    path = folder / DEFAULT_FILE
    path.write_text(SHIPPED + f"challenger: {{file: challenger.yaml, share: {share}}}\n")
    return path


def test_the_shipped_strategy_is_served_and_logged_once(
    fresh: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    fresh(STRATEGY_FILE=None)
    with caplog.at_level(logging.INFO):
        first, second = serving.load_serving_strategy(), serving.load_serving_strategy()
    assert isinstance(first, Strategy) and first is second
    assert [r.getMessage() for r in caplog.records].count("strategy loaded and verified") == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [(None, "no strategy file at"), ("- not a mapping\n", "the file must be a mapping")],
    ids=["missing", "invalid"],
)
def test_a_missing_or_invalid_strategy_is_refused_with_one_log_line(
    fresh: Callable[..., None],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    text: str | None,
    problem: str,
) -> None:
    path = tmp_path / DEFAULT_FILE
    if text is not None:
        path.write_text(text)
    fresh(STRATEGY_FILE=str(path))
    with caplog.at_level(logging.INFO):
        refused = serving.load_serving_strategy()
        assert serving.load_serving_strategy() is refused
    assert isinstance(refused, StrategyError) and problem in str(refused)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["strategy unavailable, refusing to score"]


def test_a_challenger_without_any_key_is_refused(fresh: Callable[..., None], tmp_path: Path) -> None:
    fresh(
        STRATEGY_FILE=str(with_challenger(tmp_path)),
        STRATEGY_ARM_KEY=None,
        AUDIT_TABLE=None,
        DECISION_LOG=None,
    )
    refused = serving.load_serving_strategy()
    assert isinstance(refused, StrategyError) and "set STRATEGY_ARM_KEY" in str(refused)


def test_a_client_reference_decides_the_arm_else_the_request_id() -> None:
    assert serving.arm_references(["c-1", None], request_id="r", batch=True) == ["ref:c-1", "rid:r#1"]
    assert serving.arm_references([None], request_id="r", batch=False) == ["rid:r"]


def test_the_challenger_decides_the_clients_it_draws_and_always_the_same(
    fresh: Callable[..., None], tmp_path: Path
) -> None:
    fresh(STRATEGY_FILE=str(with_challenger(tmp_path, share=0.3)), STRATEGY_ARM_KEY=ARM_KEY)
    strategy = serving.load_serving_strategy()
    assert isinstance(strategy, Strategy) and strategy.challenger is not None
    model: ScoringModel = load_model(MODEL_DIR)
    raw = to_matrix(generate_rows(400, seed=3))
    decisions = model.assess(raw, explain=False)
    references = serving.arm_references([f"client-{i}" for i in range(400)], request_id="r", batch=True)
    settings = get_settings()
    first = serving.decide(strategy, raw, decisions, references, settings=settings)
    again = serving.decide(strategy, raw, decisions, references, settings=settings)
    assert np.array_equal(first.arm, again.arm) and 0.2 < (first.arm == "challenger").mean() < 0.4
    drawn = first.arm == "challenger"
    assert set(first.strategy_version[drawn].tolist()) == {strategy.challenger.version}
    assert set(first.strategy_version[~drawn].tolist()) == {strategy.version}
