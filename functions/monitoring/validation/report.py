"""The validation pack's forms: a self-contained HTML page (tables, no script), plain JSON, a one-line summary."""

import json
from dataclasses import asdict
from html import escape
from typing import Any

from functions.monitoring.report import _table, page
from functions.monitoring.validation.pack import LEVEL, ValidationPack

JEFFREYS_HEADER = ("grade", "clients N", "defaults D", "PD", "observed D/N", "p-value", "H0 at 5 %")
CONCENTRATION_HEADER = ("source", "clients", "Herfindahl HI", "sum of squared shares")
VERDICTS = ("stable", "investigate", "shifted")  # the CSS classes of report.STYLE
MIGRATION_CORNER = "first book → second"
DRIFT_HEADER = ("decision month", "decisions", "PSI of the score", "critical PSI", "verdict")


def pack_json(pack: ValidationPack) -> dict[str, Any]:
    """Shape the pack as plain JSON values."""
    value: dict[str, Any] = json.loads(json.dumps(asdict(pack)))
    return value


def pack_summary(pack: ValidationPack) -> str:
    """Say in a few lines what the report found: counts, the portfolio's Jeffreys test, the AUC test."""
    portfolio = pack.jeffreys[-1]
    lines = [
        f"model {pack.model_version}: {pack.decisions:,} decisions from {pack.since_day} to {pack.until_day}, "
        f"{pack.joined:,} with an outcome",
        f"portfolio: PD {portfolio.pd:.4f}, observed {portfolio.observed:.4f}, Jeffreys p-value "
        f"{portfolio.p_value:.4f}",
    ]
    if pack.auc is None:
        lines.append(f"AUC test not run: {pack.auc_note}")
    else:
        a = pack.auc
        lines.append(
            f"AUC initial {a.initial:.4f}, current {a.current:.4f} (s.e. {a.standard_error:.4f}), "
            f"S {a.statistic:.3f}, p-value {a.p_value:.4f}"
        )
    return "\n".join(lines)


def _jeffreys_section(pack: ValidationPack) -> str:
    rows, classes = [], []
    for t in pack.jeffreys:
        rejected = t.p_value < LEVEL
        rows.append(
            (
                t.name,
                f"{t.clients:,}",
                f"{t.defaults:,}",
                f"{t.pd:.4f}",
                f"{t.observed:.4f}",
                f"{t.p_value:.4f}",
                "rejected: PD too low" if rejected else "not rejected",
            )
        )
        classes.append("red" if rejected else "green")
    return (
        "<h2>Predictive ability: one-sided Jeffreys test (ECB 2019, 2.5.3.1)</h2>"
        "<p>Per grade and for the portfolio, over the decisions with an outcome. H0: the PD (the mean PD of the "
        "grade's decisions) is not below the true default rate; the p-value is the Beta(D + 1/2, N - D + 1/2) "
        "distribution function at the PD. A p-value below 5 % says the PD understates the defaults.</p>"
        f"{_table(JEFFREYS_HEADER, rows, classes=classes)}"
    )


def _auc_section(pack: ValidationPack) -> str:
    head = "<h2>Discriminatory power: current against initial AUC (ECB 2019, 2.5.4.1)</h2>"
    if pack.auc is None:
        return f"{head}<p>Not run: {escape(pack.auc_note)}.</p>"
    a = pack.auc
    row = (
        f"{a.initial:.4f}",
        f"{a.current:.4f}",
        f"{a.standard_error:.4f}",
        f"{a.statistic:.3f}",
        f"{a.p_value:.4f}",
    )
    return (
        f"{head}<p>Initial AUC: the test split's, recorded in model.json (metrics.test.roc_auc). S = (initial "
        "- current) / s, s the current AUC's standard error (DeLong et al. 1988); p-value 1 - &Phi;(S). A "
        "p-value below 5 % says discrimination fell.</p>"
        f"{_table(('initial AUC', 'current AUC', 's', 'S', 'p-value'), [row], classes=['red' if a.p_value < LEVEL else 'green'])}"
    )


def _concentration_section(pack: ValidationPack) -> str:
    header = (*CONCENTRATION_HEADER, *pack.grades)
    rows = [
        (
            c.source,
            f"{sum(c.counts):,}",
            f"{c.index:.4f}",
            f"{c.squares:.4f}",
            *(f"{n:,}" for n in c.counts),
        )
        for c in pack.concentration
    ]
    return (
        "<h2>Concentration of grades: Herfindahl index (ECB 2019, 2.6.1)</h2><p>HI = 1 + ln((CV&sup2; + 1)/K) "
        "/ ln K over the K grades' shares: 0 when clients spread evenly, 1 when all are in one grade.</p>"
        f"{_table(header, rows)}"
    )


def _migration_section(pack: ValidationPack) -> str:
    head = "<h2>Stability: grade migration matrix (ECB 2019, 2.6.2)</h2>"
    m = pack.migration
    if m is None:
        return f"{head}<p>Not computed: no two scored books were given (--book1, --book2).</p>"
    rows = [(grade, *(f"{n:,}" for n in row)) for grade, row in zip(pack.grades, m.matrix, strict=True)]
    return (
        f"{head}<p>{m.accounts:,} accounts graded in both books (rows: first book, columns: second); "
        f"{m.unscored:,} left out as unscored in either. Stayed {m.stayed:.2%}, moved to a riskier grade "
        f"{m.riskier:.2%}, to a safer one {m.safer:.2%}.</p>"
        f"{_table((MIGRATION_CORNER, *pack.grades), rows)}"
    )


def _drift_section(pack: ValidationPack) -> str:
    head = "<h2>Population stability of the score per decision month</h2>"
    if not pack.drift:
        return f"{head}<p>Not computed: model.json records no reference distributions.</p>"
    rows = [(d.period, f"{d.rows:,}", f"{d.psi:.4f}", f"{d.critical:.4f}", d.verdict) for d in pack.drift]
    classes = [d.verdict if d.verdict in VERDICTS else "" for d in pack.drift]
    return (
        f"{head}<p>PSI of the score points against the training reference. A month reads 'investigate' or "
        "'shifted' only when its PSI passes both the fixed line (0.10, 0.25) and the no-drift critical value "
        "at its size (the daily job's rule); months below the job's minimum are not judged.</p>"
        f"{_table(DRIFT_HEADER, rows, classes=classes)}"
    )


def validation_html(pack: ValidationPack) -> str:
    """Render the validation pack as one self-contained HTML page."""
    others = (
        f"; {pack.other_versions:,} decisions of other model versions left out" if pack.other_versions else ""
    )
    body = (
        f"<p>Model {escape(pack.model_version)}: {pack.decisions:,} decisions recorded from "
        f"{escape(pack.since_day)} to {escape(pack.until_day)}, {pack.joined:,} with an outcome{others}. "
        "Tests of the ECB's instructions for reporting the validation results of internal models (2019); "
        "this model is not an IRB model and its PD horizon is one month (see the model card).</p>"
        f"{_jeffreys_section(pack)}{_auc_section(pack)}{_concentration_section(pack)}"
        f"{_migration_section(pack)}{_drift_section(pack)}"
    )
    return page("Validation pack", body)
