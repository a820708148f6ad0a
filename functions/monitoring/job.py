"""The scheduled drift job: PSI of the last period's recorded decisions against the training reference.

It reads the decisions of the last DRIFT_WINDOW_HOURS from the decision store (on AWS one Query per UTC day
on the audit table's `by-day` index, never a Scan; locally the SQLite log), keeps the served model version's
decisions that are not synthetic, counts their stored reference bin indexes, and computes PSI per input and
on the score. On AWS (`handler`, run daily by EventBridge Scheduler) it publishes them as CloudWatch metrics
`PopulationStabilityIndex` with a `Feature` dimension, beside `DriftDecisions` (the decisions counted).
Verdicts know the sample size (`noise.py`). It then joins the last OUTCOME_WINDOW_DAYS of decisions to their
outcomes and publishes expected against realised (`loop/join.py`).

python -m functions.monitoring.job --local [--hours 24] [--format table|json]   # PSI table from var/decisions.sqlite
"""

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from functions import aws
from functions.audit import stores as audit
from functions.audit.decision import DecisionLogUnreadable, DecisionStore, SqliteDecisionLog, StoredBins
from functions.config import LOCAL_DECISION_LOG, get_settings
from functions.monitoring.noise import sized_drifts
from functions.monitoring.psi import Drift, drifts_of_counts
from functions.monitoring.tables import drift_json, drift_table, emit
from functions.scoring.bins import BinCounts
from functions.scoring.manifest import ModelUnavailable, read_manifest
from functions.scoring.manifest_parts import ReferenceDistributions
from functions.telemetry import logger, start_invocation

PSI_METRIC: Final = "PopulationStabilityIndex"
COUNT_METRIC: Final = "DriftDecisions"
FEATURE_DIMENSION: Final = "Feature"
METRICS_PER_CALL: Final = 20  # PutMetricData: at most 1,000 since 2023; 20 also suits older endpoints


@dataclass
class WindowCounts:
    """The decisions of a window: rows per reference bin of each input and the score, and rows left out and why."""

    bins: BinCounts
    skipped: dict[str, int] = field(
        default_factory=lambda: {"synthetic": 0, "other_model_version": 0, "no_bins": 0, "damaged": 0}
    )

    @property
    def rows(self) -> int:
        """Return the number of decisions counted."""
        return self.bins.rows


def window(now: datetime, *, hours: int) -> tuple[str, list[str]]:
    """Return the window's start (ISO 8601, ms, UTC) and the UTC days (YYYY-MM-DD) it touches, oldest first."""
    since = now - timedelta(hours=hours)
    days = [
        (since.date() + timedelta(days=d)).isoformat() for d in range((now.date() - since.date()).days + 1)
    ]
    return since.isoformat(timespec="milliseconds"), days


def count_window(
    stored: Iterable[StoredBins], reference: ReferenceDistributions, *, model_version: str
) -> WindowCounts:
    """Count each kept decision's bin per input and for the score; skip damaged, synthetic, other versions, no
    bins (each counted in `skipped`)."""
    skipped = {"synthetic": 0, "other_model_version": 0, "no_bins": 0, "damaged": 0}

    def kept() -> Iterator[Mapping[str, int]]:
        for decision in stored:
            if decision.damaged:
                skipped["damaged"] += 1  # unreadable record: one bad record never stops the job
            elif decision.synthetic:
                skipped["synthetic"] += 1
            elif decision.model_version != model_version:
                skipped["other_model_version"] += 1  # its bins are against another reference
            elif decision.bins is None or not BinCounts.fits(decision.bins, reference):
                skipped["no_bins"] += 1
            else:
                yield decision.bins

    return WindowCounts(bins=BinCounts.of_indexes(kept(), reference), skipped=skipped)


def read_window(store: DecisionStore, *, now: datetime, hours: int) -> Iterable[StoredBins]:
    """Yield the stored bins of every decision in the window, one store read per UTC day."""
    since, days = window(now, hours=hours)
    for day in days:
        yield from store.read_day(day, since=since)


def publish(cloudwatch: Any, *, namespace: str, psi: dict[str, float], rows: int, at: datetime) -> None:
    """Put each PSI (Feature dimension) and the count of decisions compared as CloudWatch metrics."""
    data: list[dict[str, Any]] = [
        {"MetricName": COUNT_METRIC, "Value": float(rows), "Unit": "Count", "Timestamp": at}
    ]
    data += [
        {
            "MetricName": PSI_METRIC,
            "Dimensions": [{"Name": FEATURE_DIMENSION, "Value": name}],
            "Value": value,
            "Unit": "None",
            "Timestamp": at,
        }
        for name, value in psi.items()
    ]
    for start in range(0, len(data), METRICS_PER_CALL):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + METRICS_PER_CALL])


def measure(
    store: DecisionStore, *, now: datetime, hours: int, min_decisions: int
) -> tuple[WindowCounts, tuple[Drift, ...], str]:
    """Count the window's decisions for the served model and compute drift (none below `min_decisions`).

    Returns the counts, the drifts (inputs, then the score) and the model version; raises ModelUnavailable
    when the model cannot be read or its manifest has no reference distributions.
    """
    manifest = read_manifest(get_settings().model_dir)
    if manifest.reference is None:
        raise ModelUnavailable("the model's manifest has no reference distributions; retrain to freeze them")
    stored = read_window(store, now=now, hours=hours)
    counted = count_window(stored, manifest.reference, model_version=manifest.version)
    enough = counted.rows >= min_decisions
    measured = drifts_of_counts(counted.bins, manifest.reference) if enough else ()
    return counted, sized_drifts(measured, manifest.reference, counted.rows), manifest.version


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Measure the last window's drift and publish it to CloudWatch; return a summary (Lambda's entry point)."""
    start_invocation(context)
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        counted, measured, version = measure(
            audit.decision_store(),
            now=now,
            hours=settings.drift_window_hours,
            min_decisions=settings.drift_min_decisions,
        )
    except ModelUnavailable as err:
        logger.warning("drift not measured", extra={"problem": str(err)})
        return {"published": False, "problem": str(err)}
    psi = {d.name: d.psi for d in measured}
    publish(
        aws.client("cloudwatch"),
        namespace=settings.powertools_metrics_namespace,
        psi=psi,
        rows=counted.rows,
        at=now,
    )
    summary = {
        "published": bool(psi),
        "model_version": version,
        "rows": counted.rows,
        "skipped": counted.skipped,
    }
    logger.info(
        "drift measured", extra={**summary, "psi": psi, "min_decisions": settings.drift_min_decisions}
    )
    from functions.monitoring.loop.join import (
        job_step,  # the closed loop: expected against realised, overrides
    )

    outcomes = job_step(now)
    logger.info("outcomes compared", extra=outcomes)
    return {**summary, "psi": psi, "verdict": {d.name: d.verdict for d in measured}, "outcomes": outcomes}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m functions.monitoring.job", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"read the SQLite decision log (DECISION_LOG, default {LOCAL_DECISION_LOG.name} under var/) and print",
    )
    parser.add_argument("--hours", type=int, default=settings.drift_window_hours, help="window in hours")
    parser.add_argument(
        "--min-decisions", type=int, default=settings.drift_min_decisions, help="fewest decisions for a PSI"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.min_decisions < 1:
        parser.error(
            f"--min-decisions must be at least 1 (got {args.min_decisions}): PSI of no decisions is undefined"
        )
    if args.hours < 1:
        parser.error(f"--hours must be at least 1 (got {args.hours})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Print the drift of the last window's decisions (`--local`: the SQLite log); 1 when none can be measured."""
    args = parse_args(argv)
    if not args.local:
        emit(json.dumps(handler({}, None), indent=2))
        return 0
    path = get_settings().decision_log or LOCAL_DECISION_LOG
    if not path.is_file():
        emit(f"No decision log at {path}: `make run` records decisions there.", error=True)
        return 1
    try:
        counted, measured, _ = measure(
            SqliteDecisionLog(path), now=datetime.now(UTC), hours=args.hours, min_decisions=args.min_decisions
        )
    except ModelUnavailable as err:
        emit(f"Drift not measured: {err}.", error=True)
        return 1
    except DecisionLogUnreadable as err:
        emit(f"Drift not measured: {err}.", error=True)
        return 2
    if damaged := counted.skipped["damaged"]:
        emit(f"{damaged:,} damaged decision record(s) could not be read and were skipped.", error=True)
    if not measured:
        left_out = ", ".join(f"{count} {why}" for why, count in counted.skipped.items())
        emit(
            f"{counted.rows} decisions in the last {args.hours} h, fewer than {args.min_decisions}: no PSI "
            f"(left out: {left_out}).",
            error=True,
        )
        return 1
    emit(
        json.dumps(drift_json(measured, rows=counted.rows))
        if args.format == "json"
        else drift_table(measured, rows=counted.rows)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
