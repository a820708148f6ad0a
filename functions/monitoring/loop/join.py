"""The closed loop over the joined decision log: expected against realised per month and grade, overrides.

Reads what `functions.audit` joined (decisions, their outcomes, reviewers' final decisions), compares the PDs'
promise with the outcomes (`expected`), counts overrides by side and by group (`overrides`), and publishes the
gap as CloudWatch metrics (EMF, `functions.telemetry`): `DefaultRateGap` (realised minus expected default rate
over decisions with an outcome; positive when the PDs are too low), `AucGap`, and the counts behind them.
"""

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.audit.outcomes import JoinedLog, OutcomeStore
from functions.monitoring.loop.expected import Comparison, by_window, compare
from functions.monitoring.loop.overrides import OverrideAnalysis, analyse
from functions.scoring.manifest import GradeBand, Manifest
from functions.scoring.manifest_parts import ReferenceDistributions
from functions.scoring.reference import bin_labels
from functions.telemetry import emit_job_metrics

BOOTSTRAP_DRAWS: Final = 20_000_000  # rows x bootstrap rounds per comparison: 1,000 rounds up to 20,000 rows
MIN_ROUNDS: Final = 100
JOB_ROUTE: Final = "job:outcomes"


@dataclass(frozen=True)
class LoopReport:
    """Expected against realised over the whole span and per decision month, with the override analysis."""

    since_day: str
    until_day: str
    overall: Comparison | None  # None when the span holds no decision
    months: tuple[Comparison, ...]
    overrides: OverrideAnalysis | None


def rounds_for(rows: int) -> int:
    """Return the bootstrap rounds for `rows` joined rows: 1,000, fewer for large windows (at least 100)."""
    return int(min(1000, max(MIN_ROUNDS, BOOTSTRAP_DRAWS // max(rows, 1))))


def group_labels(joined: JoinedLog, reference: ReferenceDistributions | None) -> dict[str, npt.NDArray[Any]]:
    """Name each decision's group (sex, marriage, age band) by its reference bin label; "unknown" without one."""
    bins = {b.name: b for b in reference.inputs} if reference is not None else {}
    labels = {}
    for name, index in joined.groups.items():
        names = np.asarray([*bin_labels(bins[name]), "unknown"] if name in bins else ["unknown"])
        position = np.where((index >= 0) & (index < names.size - 1), index, names.size - 1)
        labels[name] = names[position]
    return labels


def close_loop(
    joined: JoinedLog,
    *,
    bands: tuple[GradeBand, ...],
    reference: ReferenceDistributions | None,
    since_day: str,
    until_day: str,
) -> LoopReport:
    """Compare expected with realised over the joined log, overall and per month, and analyse overrides."""
    p, o = joined.probability_of_default, joined.outcome
    if p.size == 0:
        return LoopReport(since_day, until_day, None, (), None)
    rounds = rounds_for(int((o >= 0).sum()))
    overall = compare(p, o, bands=bands, window=f"{since_day}..{until_day}", rounds=rounds)
    months = by_window(joined.month, p, o, bands=bands, rounds=rounds)
    overrides = analyse(
        joined.predicted_default, joined.final_action, o, groups=group_labels(joined, reference)
    )
    return LoopReport(since_day, until_day, overall, months, overrides)


def gap_metrics(report: LoopReport) -> dict[str, tuple[str, float]]:
    """Return the metrics to publish (name -> (unit, value)); the gaps only once outcomes are joined."""
    if report.overall is None:
        return {"OutcomeDecisions": ("Count", 0.0)}
    values: dict[str, tuple[str, float]] = {
        "OutcomeDecisions": ("Count", float(report.overall.expected.rows)),
        "ExpectedDefaultRate": ("None", report.overall.expected.default_rate),
    }
    realised = report.overall.realised
    if realised is not None:
        values["OutcomesJoined"] = ("Count", float(realised.rows))
        values["RealisedDefaultRate"] = ("None", realised.default_rate)
        values["DefaultRateGap"] = ("None", realised.rate_gap)
        if realised.auc_gap is not None:
            values["AucGap"] = ("None", realised.auc_gap)
    if report.overrides is not None:
        overall = report.overrides.overall
        for name, rate in (
            ("LowSideOverrideRate", overall.low_side_rate),
            ("HighSideOverrideRate", overall.high_side_rate),
        ):
            if rate is not None:
                values[name] = ("None", rate)
    return values


def publish(report: LoopReport) -> dict[str, tuple[str, float]]:
    """Write the gap metrics as one EMF line (under Lambda; nothing elsewhere) and return them."""
    values = gap_metrics(report)
    emit_job_metrics(values, route=JOB_ROUTE)
    return values


def loop_json(report: LoopReport) -> dict[str, Any]:
    """Shape the report as plain JSON values."""
    value: dict[str, Any] = json.loads(json.dumps(asdict(report), default=lambda record: record.model_dump()))
    if report.overrides is not None:  # the side default rates are properties: add them where they belong
        value["overrides"]["overall"]["low_side_default_rate"] = (
            report.overrides.overall.low_side_default_rate
        )
        value["overrides"]["overall"]["high_side_default_rate"] = (
            report.overrides.overall.high_side_default_rate
        )
    return value


def run_loop(store: OutcomeStore, manifest: Manifest, *, now: datetime, days: int) -> LoopReport:
    """Read the last `days` UTC days of the joined log up to `now` and close the loop over them."""
    until = now.date().isoformat()
    since = (now.date() - timedelta(days=days)).isoformat()
    joined = store.read_joined(since_day=since, until_day=until)
    return close_loop(
        joined, bands=manifest.grade_bands, reference=manifest.reference, since_day=since, until_day=until
    )


def loop_summary(report: LoopReport, published: dict[str, tuple[str, float]]) -> dict[str, Any]:
    """Summarise the loop for the job's answer and log line: span, counts and the published values."""
    return {
        "since_day": report.since_day,
        "until_day": report.until_day,
        "metrics": {name: value for name, (_, value) in published.items()},
    }


def job_step(now: datetime) -> dict[str, Any]:
    """Close the loop over the configured store's last OUTCOME_WINDOW_DAYS and publish the gap (the daily job)."""
    from functions.audit.decision import AuditUnavailableError
    from functions.audit.feedback import outcome_store
    from functions.config import get_settings
    from functions.scoring.manifest import ModelUnavailable, read_manifest

    settings = get_settings()
    try:
        manifest = read_manifest(settings.model_dir)
        report = run_loop(outcome_store(), manifest, now=now, days=settings.outcome_window_days)
    except (AuditUnavailableError, ModelUnavailable) as err:
        return {"published": False, "problem": str(err)}
    return {"published": True, **loop_summary(report, publish(report))}
