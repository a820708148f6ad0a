"""The scoring routes' shared dependencies: the verified model and strategy (503 naming the problem), the request
id and the settings, as named `Annotated` aliases.
"""

from typing import Annotated

from fastapi import Depends, Request

from functions.api.errors import ApiError
from functions.api.gateway.request_state import record_of
from functions.api.serving import load_serving_model, load_serving_strategy
from functions.config import Settings, get_settings
from functions.scoring.manifest import ModelUnavailable
from functions.scoring.model import ScoringModel
from functions.scoring.strategy.engine import Strategy
from functions.scoring.strategy.file import StrategyError


async def serving_model() -> ScoringModel:
    """Return the verified model, or answer 503 naming the problem."""
    loaded = load_serving_model()
    if isinstance(loaded, ModelUnavailable):
        raise ApiError(503, "model_unavailable", f"The model is unavailable: {loaded}")
    return loaded


async def serving_strategy() -> Strategy:
    """Return the verified strategy, or answer 503 naming the problem (never a decision without one)."""
    loaded = load_serving_strategy()
    if isinstance(loaded, StrategyError):
        raise ApiError(503, "strategy_unavailable", f"The credit strategy is unavailable: {loaded}")
    return loaded


async def request_id(request: Request) -> str:
    """Return this request's id: API Gateway's request id under Lambda, else a fresh UUID."""
    return record_of(request).request_id


async def current_settings() -> Settings:
    """Return the cached settings (async, so FastAPI does not send it to a worker thread)."""
    return get_settings()


ModelDep = Annotated[ScoringModel, Depends(serving_model)]
StrategyDep = Annotated[Strategy, Depends(serving_strategy)]
RequestId = Annotated[str, Depends(request_id)]
SettingsDep = Annotated[Settings, Depends(current_settings)]
