"""Render what benchmarks.strategy measured as the Strategy section of docs/benchmarks.md."""

import os
import platform
from datetime import UTC, datetime
from typing import Final

from benchmarks.results import cpu_name

HEADING: Final = "## Strategy"
COMMAND: Final = ".venv/bin/python -m benchmarks.strategy"


def _share_row(
    label: str, key: str, figured: dict[str, float], *, other: str, digits: int, target: bool
) -> str:
    """Render one measure: `other`'s and `with`'s medians, the change by medians, by best rounds, in CPU time."""
    before, after = figured[f"{other}_{key}"], figured[f"with_{key}"]
    added, best = figured[f"{key}_vs_{other}"], figured[f"best_{key}_vs_{other}"]
    cpu = figured[f"{key.replace('_ms', '_cpu_ms')}_vs_{other}"]
    cells = [
        label,
        f"{before:.{digits}f}",
        f"{after:.{digits}f}",
        f"{added:+.1%}",
        f"{best:+.1%}",
        f"{cpu:+.1%}",
    ]
    if target:
        cells += ["< +10 %", "met" if added < 0.10 else "**missed**"]
    return f"| {' | '.join(cells)} |"


def busy(load: tuple[float, float]) -> str:
    """Warn, when the machine had more runnable work than CPUs, that wall times measured its scheduler."""
    if max(load) < (os.cpu_count() or 1):
        return ""
    return (
        "\nThe load average exceeded the CPUs: each process got a share of a CPU, so wall times (a single call's p50"
        "\nespecially) measure the scheduler's time slices more than the code; read the CPU-time columns and the"
        "\nalternating figures below."
    )


def report(
    figured: dict[str, float],
    *,
    before: str | None,
    same_answers: bool | None,
    rounds: int,
    calls: int,
    load: tuple[float, float],
    pairs: int,
) -> str:
    """Render the Strategy section of docs/benchmarks.md."""
    labels = (
        (f"Warm /v1/predict p50, {calls} calls (ms)", "p50_ms", 3),
        ("/v1/predict/batch, 1,000 applicants, median of 10 (ms)", "batch_ms", 1),
    )
    added = "\n".join(
        _share_row(label, key, figured, other="without", digits=digits, target=True)
        for label, key, digits in labels
    )
    command = COMMAND + (f" --before {before}" if before else "") + f" --rounds {rounds} --write-docs"
    against = ""
    if before:
        changed = "\n".join(
            _share_row(label, key, figured, other="before", digits=digits, target=False)
            for label, key, digits in labels
        )
        verdict = "yes" if same_answers else "**no**"
        against = f"""
Against `{before}` (the same strategy served before issue 17's rework of the answers), the same rounds:

| measure | `{before}` | this tree | change (medians) | change (best rounds) | change, CPU time (medians) |
| --- | --- | --- | --- | --- | --- |
{changed}

Answers byte-identical to `{before}`'s in every round (sha256 of the /v1/predict answer and of the 1,000-applicant
batch answer): {verdict}.
"""
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load[0]:.1f} at the
start and {load[1]:.1f} at the end), Python {platform.python_version()}, with

```
{command}
```

What the credit strategy (arm, decision, rule or band, line action, EL: docs/strategy.md) adds to serving: this
tree with it against the same tree without it (`benchmarks.strategy.WITHOUT` switches the serving path's strategy
steps off in the runner: no arm, no engine, answers without the strategy's fields; the strategy, loaded once,
stays a route dependency), {rounds} rounds of the serving benchmark's warm runner (the same REST v1 events through
the Mangum handler, fresh processes, OMP_NUM_THREADS=1), the variants' order rotated each round. Medians over
rounds; the share also from each variant's best round and in the process's CPU time, which other work on the
machine disturbs less than wall time.{busy(load)}

| measure | without strategy | with strategy | added (medians) | added (best rounds) | added, CPU time (medians) | target | |
| --- | --- | --- | --- | --- | --- | --- | --- |
{added}

In one process, answering each event with and without the strategy in turn ({calls} pairs of /v1/predict calls,
{pairs} pairs of batches; CPU time, medians), so that both meet the same load: /v1/predict
{figured.get("p50_cpu_alternating", 0):+.1%}, batch of 1,000 {figured.get("batch_cpu_alternating", 0):+.1%}.
{against}
The answers are built column-wise as plain dicts (`app.prediction_rows`, no per-item validation;
tests/api/test_prediction_rows.py proves them equal to the validated `Prediction`s) and serialised once with
`pydantic_core.to_json` (`app.json_response`). When that landed, 975 answers (700 single, 275 batches of 1 to 1,000
applicants; the shipped strategy and a 30 % challenger) were byte-identical (sha256) to `f24d611`'s.
"""
