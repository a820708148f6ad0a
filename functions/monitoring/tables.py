"""The text and JSON forms of drift and back-test results, and the one function commands print through."""

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from functions.monitoring.psi import Drift, moved_bins

if TYPE_CHECKING:
    from functions.scoring.manifest_parts import BackTest


def drift_json(drifts: Sequence[Drift], *, rows: int) -> dict[str, Any]:
    """Shape drift as `{"psi": {name: value}, "verdict": {name: verdict}, "rows": n}` (inputs, then "score")."""
    return {
        "psi": {d.name: d.psi for d in drifts},
        "verdict": {d.name: d.verdict for d in drifts},
        "rows": rows,
    }


def drift_table(drifts: Sequence[Drift], *, rows: int) -> str:
    """Render drift as a fixed-width table, with the bins that moved most for each input that is not stable."""
    lines = [f"{rows:,} rows", f"{'input':<12} {'PSI':>8}  verdict      bins that moved most"]
    for drift in drifts:
        moved = ""
        if drift.verdict != "stable":
            moved = ", ".join(f"{b.label} {b.expected:.1%}->{b.actual:.1%}" for b in moved_bins(drift))
        lines.append(f"{drift.name:<12} {drift.psi:>8.4f}  {drift.verdict:<12} {moved}".rstrip())
    return "\n".join(lines)


def outcomes_json(outcomes: "BackTest") -> dict[str, Any]:
    """Shape a back-test as plain JSON values (intervals as two-element lists)."""
    return {**outcomes.model_dump(mode="json"), "calibration_in_the_large": outcomes.calibration_in_the_large}


def outcomes_table(outcomes: "BackTest") -> str:
    """Render a back-test as fixed-width text: summary, grades with traffic lights, gains by score band."""
    o = outcomes
    lines = [
        f"{o.rows:,} clients, {o.defaults:,} defaults",
        f"AUC   {o.auc:.4f}  (95 % bootstrap {o.auc_interval[0]:.4f}-{o.auc_interval[1]:.4f})   Gini {o.gini:.4f}   KS {o.ks:.4f}",
        f"Brier {o.brier:.4f}  (95 % bootstrap {o.brier_interval[0]:.4f}-{o.brier_interval[1]:.4f})",
        f"calibration in the large: mean PD {o.mean_pd:.4f} - default rate {o.default_rate:.4f} = {o.calibration_in_the_large:+.4f}",
        "",
        f"{'grade':<6}{'clients':>8}{'defaults':>9}{'mean PD':>9}{'observed':>9}  {'Jeffreys 95 %':<15} light",
    ]
    for g in o.grades:
        interval = f"{g.interval_95[0]:.3f}-{g.interval_95[1]:.3f}"
        light = f"{g.light} {g.direction}".strip()
        lines.append(
            f"{g.grade:<6}{g.clients:>8,}{g.defaults:>9,}{g.mean_pd:>9.4f}{g.observed_default_rate:>9.4f}  {interval:<15} {light}"
        )
    lines += ["", f"{'score band':<12}{'clients':>8}{'defaults':>9}{'rate':>8}{'odds':>8}{'captured':>10}"]
    for r in o.gains:
        odds = "-" if r.odds is None else f"{r.odds:.2f}"
        lines.append(
            f"{r.band:<12}{r.clients:>8,}{r.defaults:>9,}{r.default_rate:>8.3f}{odds:>8}{r.captured:>10.1%}"
        )
    return "\n".join(lines)


def emit(text: str, *, error: bool = False) -> None:
    """Write one block of the command's output (stdout, or stderr for errors)."""
    (sys.stderr if error else sys.stdout).write(text + "\n")
