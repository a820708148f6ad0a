"""Structured JSON logs (Powertools Logger) and one CloudWatch EMF metrics line per request.

Under Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) the logs are JSON and the metrics EMF lines for CloudWatch;
elsewhere no EMF is written, and `LOG_FORMAT=line` (as `make run` sets) logs one short line per request.
Nothing here ever receives an applicant's field values: callers pass counts, codes, field names and PDs.
"""

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

from functions.config import Settings, get_settings

MAX_VALUES: Final = 100  # EMF limit of values per metric in one record
QUIET_KEYS: Final = frozenset(
    {"level", "location", "message", "timestamp", "service", "sampling_rate", "xray_trace_id", "stack_trace"}
)


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to the current `sys.stdout`: Lambda ships it to CloudWatch, pytest captures it."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted record to whatever `sys.stdout` is now."""
        self.stream = sys.stdout
        super().emit(record)


class SwitchableFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter that writes one short line instead under `LOG_FORMAT=line` (local runs)."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        """Write the record as JSON, or as `HH:MM:SS LEVEL message key=value ...` under LOG_FORMAT=line."""
        if get_settings().log_format != "line":
            return super().serialize(log)
        clock = str(log.get("timestamp", ""))[11:19]
        if log.get("message") == "request":
            code = f" {log['error_code']}" if "error_code" in log else ""
            text = f"{log['method']} {log['route']} {log['status']}{code} {log['latency_ms']:.1f} ms"
            return f"{clock} {text} id={log['request_id']}"
        extras = "".join(
            f" {key}={value}" for key, value in log.items() if key not in QUIET_KEYS and key != "exception"
        )
        trace = f"\n{log['exception']}" if "exception" in log else ""
        return f"{clock} {log.get('level', '')} {log.get('message', '')}{extras}{trace}"


def make_logger() -> Logger:
    """Build the service's JSON logger with the settings' defaults (`configure_logger` applies the environment)."""
    defaults = Settings.model_fields
    return Logger(
        service=defaults["powertools_service_name"].default,
        level=defaults["log_level"].default,
        logger_handler=StdoutHandler(),
        logger_formatter=SwitchableFormatter(),
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


def start_invocation(context: Any) -> None:
    """Set up logging for one Lambda invocation as the API does: service and level from the settings, and the
    Lambda context keys (function, request id, cold start) when `context` is Lambda's (not None or a test's)."""
    configure_logger(get_settings())
    if hasattr(context, "aws_request_id"):
        bind_lambda_context(context)


def emit_metrics(
    *,
    route: str,
    status: int,
    latency_ms: float,
    probabilities: Sequence[float] = (),
    predicted_defaults: int = 0,
    synthetic: bool = False,
    synthetic_ignored: bool = False,
) -> None:
    """Print this request's metrics as CloudWatch EMF under Lambda; PDs (each in [0, 1]) beyond 100 go on extra lines.

    A synthetic request (deploy hook, smoke test) counts as a request but adds no decisions or PDs; a synthetic
    mark sent without the deploy-time secret counts as `SyntheticMarkIgnored` (its decisions count as real).
    """
    if not metrics_enabled():
        return
    if synthetic:
        probabilities, predicted_defaults = (), 0
    values: dict[str, tuple[str, float | list[float]]] = {
        "Requests": ("Count", 1),
        "ClientErrors": ("Count", int(400 <= status < 500)),
        "ServerErrors": ("Count", int(status >= 500)),
        "Latency": ("Milliseconds", round(latency_ms, 3)),
    }
    if synthetic_ignored:
        values["SyntheticMarkIgnored"] = ("Count", 1)
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


def metrics_enabled() -> bool:
    """Whether EMF lines are written: only under Lambda, where CloudWatch reads them, unless disabled."""
    settings = get_settings()
    return settings.aws_lambda_function_name is not None and not settings.powertools_metrics_disabled


def emit_event_metric(kind: str) -> None:
    """Count one invocation that was not an HTTP request (a warm-up, a schedule, other), by its kind."""
    if metrics_enabled():
        sys.stdout.write(_emf_line({"IgnoredEvents": ("Count", 1)}, route=f"event:{kind}"))
        sys.stdout.flush()


def emit_job_metrics(values: dict[str, tuple[str, float]], *, route: str) -> None:
    """Print a scheduled job's metrics (name -> (unit, value)) as one EMF line under Lambda, with its route."""
    if metrics_enabled() and values:
        sys.stdout.write(_emf_line(dict(values), route=route))
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
