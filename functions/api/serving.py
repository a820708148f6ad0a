"""What the API serves, loaded once per container: the verified model and the verified credit strategy beside it,
and the champion-challenger arm of each client (docs/strategy.md).
"""

import time
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from functions.audit.decision import AuditUnavailableError
from functions.audit.key import hash_key
from functions.config import Settings, get_settings
from functions.scoring.manifest import ModelUnavailable
from functions.scoring.model import Decision, Matrix, ScoringModel, load_model
from functions.scoring.strategy.engine import Outcomes, Strategy, assign_challenger, read_strategy
from functions.scoring.strategy.file import StrategyError
from functions.telemetry import logger


@lru_cache(maxsize=1)
def load_serving_model() -> ScoringModel | ModelUnavailable:
    """Load and verify the model once per container; remember a refusal rather than retrying it."""
    started = time.perf_counter()
    try:
        model = load_model(get_settings().model_dir)
    except ModelUnavailable as err:
        logger.error("model unavailable, refusing to score", extra={"problem": str(err)})
        return err
    seconds = round(time.perf_counter() - started, 4)
    logger.info("model loaded and verified", extra={"model_version": model.version, "seconds": seconds})
    return model


@lru_cache(maxsize=1)
def load_serving_strategy() -> Strategy | StrategyError:
    """Load and verify the strategy once per container against the served model; remember a refusal (one log line)."""
    model = load_serving_model()
    if isinstance(model, ModelUnavailable):
        return StrategyError("no verified model to resolve the strategy against")
    settings = get_settings()
    try:
        strategy = read_strategy(settings.strategy_path, manifest=model.manifest)
        if (
            strategy.challenger is not None
            and settings.strategy_arm_key is None
            and not settings.audit_enabled
        ):
            raise StrategyError(
                f"{settings.strategy_path.name}: a challenger needs a key for the arm hash: set STRATEGY_ARM_KEY "
                "(32+ characters) or turn auditing on"
            )
        if strategy.challenger is not None:
            arm_key(settings)  # read once now (Secrets Manager at most once per container), not per request
    except AuditUnavailableError as err:
        logger.error("strategy unavailable, refusing to score", extra={"problem": f"no arm key: {err}"})
        return StrategyError(f"the challenger's arm key cannot be read ({err})")
    except StrategyError as err:
        logger.error("strategy unavailable, refusing to score", extra={"problem": str(err)})
        return err
    share = strategy.share
    logger.info(
        "strategy loaded and verified",
        extra={"strategy_version": strategy.version, "challenger_share": share},
    )
    return strategy


def arm_key(settings: Settings) -> bytes:
    """Return the key of the arm hash: STRATEGY_ARM_KEY, else the audit HMAC key; raises AuditUnavailableError."""
    if settings.strategy_arm_key is not None:
        return settings.strategy_arm_key.get_secret_value().encode()
    return hash_key().secret


def arm_references(client_references: Sequence[str | None], *, request_id: str, batch: bool) -> list[str]:
    """Return what decides each client's arm: its client reference, else the request id (`<id>#<i>` in a batch)."""
    return [
        f"ref:{reference}"
        if reference is not None
        else f"rid:{request_id}#{i}"
        if batch
        else f"rid:{request_id}"
        for i, reference in enumerate(client_references)
    ]


def decide(
    strategy: Strategy,
    raw: Matrix,
    decisions: Sequence[Decision],
    references: Sequence[str],
    *,
    settings: Settings,
) -> Outcomes:
    """Apply the strategy to the model's decisions (rows x 23 inputs), the challenger to the clients it draws."""
    pd = np.array([d.probability_of_default for d in decisions], dtype=np.float64)
    if strategy.challenger is None:
        return strategy.apply(raw, pd)
    drawn = assign_challenger(references, key=arm_key(settings), share=strategy.share)
    return strategy.decide(raw, pd, challenger=drawn)
