"""Structured JSON logs (Powertools Logger) and one CloudWatch EMF metrics line per request.

Nothing here ever receives an applicant's field values: callers pass counts, codes, field names and PDs.
"""

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

from functions.config import Settings, get_settings

MAX_VALUES: Final = 100  # EMF limit of values per metric in one record


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to the current `sys.stdout`: Lambda ships it to CloudWatch, pytest captures it."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted record to whatever `sys.stdout` is now."""
        self.stream = sys.stdout
        super().emit(record)


def make_logger() -> Logger:
    """Build the service's JSON logger with the settings' defaults (`configure_logger` applies the environment)."""
    defaults = Settings.model_fields
    return Logger(
        service=defaults["powertools_service_name"].default,
        level=defaults["log_level"].default,
        logger_handler=StdoutHandler(),
    )


def configure_logger(settings: Settings) -> None:
    """Apply the service name and level of these settings to the logger (called when the app is built)."""
    logger.append_keys(service=settings.powertools_service_name)
    logger.setLevel(settings.log_level)


logger: Final = make_logger()  # built at import from class defaults only: no environment is read here
_cold_start = True


def bind_lambda_context(context: Any) -> None:
    """Add the Lambda context fields and cold start flag to every log line (one invocation at a time)."""
    global _cold_start
    fields = build_lambda_context_model(context).__dict__
    logger.append_keys(cold_start=_cold_start, **fields)
    _cold_start = False


def emit_metrics(
    *,
    route: str,
    status: int,
    latency_ms: float,
    probabilities: Sequence[float] = (),
    predicted_defaults: int = 0,
    synthetic: bool = False,
) -> None:
    """Print this request's metrics as CloudWatch EMF; PDs (each in [0, 1]) beyond 100 go on extra lines.

    A synthetic request (deploy hook, smoke test) counts as a request but adds no decisions or PDs.
    """
    settings = get_settings()
    if settings.powertools_metrics_disabled:
        return
    if synthetic:
        probabilities, predicted_defaults = (), 0
    values: dict[str, tuple[str, float | list[float]]] = {
        "Requests": ("Count", 1),
        "ClientErrors": ("Count", int(400 <= status < 500)),
        "ServerErrors": ("Count", int(status >= 500)),
        "Latency": ("Milliseconds", round(latency_ms, 3)),
    }
    if probabilities:
        values["Decisions"] = ("Count", len(probabilities))
        values["PredictedDefaults"] = ("Count", predicted_defaults)
        values["ProbabilityOfDefault"] = ("None", [round(p, 6) for p in probabilities[:MAX_VALUES]])
    lines = [_emf_line(values, route=route)]
    for start in range(MAX_VALUES, len(probabilities), MAX_VALUES):
        chunk = [round(p, 6) for p in probabilities[start : start + MAX_VALUES]]
        lines.append(_emf_line({"ProbabilityOfDefault": ("None", chunk)}, route=route))
    sys.stdout.write("".join(lines))
    sys.stdout.flush()


def _emf_line(values: dict[str, tuple[str, float | list[float]]], *, route: str) -> str:
    settings = get_settings()
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": settings.powertools_metrics_namespace,
                    "Dimensions": [["service", "route"]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in values.items()],
                }
            ],
        },
        "service": settings.powertools_service_name,
        "route": route,
        **{name: value for name, (_, value) in values.items()},
    }
    return json.dumps(record, separators=(",", ":")) + "\n"
