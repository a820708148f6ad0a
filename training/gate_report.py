"""The champion-challenger gate's comparison as markdown: what a validator pastes into the pull request."""

from collections.abc import Sequence

from functions.monitoring.psi import verdict
from functions.scoring.manifest_parts import REFERENCE_RECALL
from training.gate import (
    AUC_DROP,
    BOOTSTRAP_ROUNDS,
    BRIER_RISE,
    ECE_RISE,
    PRECISION_DROP,
    SEED,
    Comparison,
    Figures,
)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool]) -> str:
    """Render a markdown table whose columns are padded, so it also reads well as plain text."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    widths = [max(width, 3) for width in widths]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (width - 1) + (":" if flush else "-") for width, flush in zip(widths, right, strict=True)]
    return "\n".join([line(header), line(rule), *(line(row) for row in rows)])


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _metric_rows(c: Comparison) -> list[list[str]]:
    first, second = c.champion, c.challenger
    low, high = c.auc_difference.interval

    def row(name: str, pick: str, rule: str, broken: bool | None) -> list[str]:
        a, b = getattr(first, pick), getattr(second, pick)
        result = "-" if broken is None else "**worse**" if broken else "ok"
        return [name, f"{a:.4f}", f"{b:.4f}", f"{b - a:+.4f}", rule, result]

    broken = {failure.metric for failure in c.failures}
    auc_row = row("AUC", "auc", f"drop <= {AUC_DROP} or interval holds 0", "auc" in broken)
    auc_row[3] += f" ({low:+.4f} to {high:+.4f})"
    return [
        auc_row,
        row("Brier score", "brier", f"rise <= {BRIER_RISE}", "brier" in broken),
        row("ECE (10 PD deciles)", "ece", f"rise <= {ECE_RISE}", "ece" in broken),
        row(
            f"precision at recall {REFERENCE_RECALL}",
            "precision_at_recall",
            f"drop <= {PRECISION_DROP}",
            "precision_at_recall" in broken,
        ),
        row("threshold", "threshold", "-", None),
        row("predicted defaults (share)", "selection_rate", "-", None),
    ]


def _fairness_rows(c: Comparison) -> list[list[str]]:
    return [
        [
            g.attribute,
            g.group,
            f"{g.clients:,}",
            *(f"{_rate(pair[0])} -> {_rate(pair[1])}" for pair in (g.selection_rate, g.tpr, g.fpr)),
        ]
        for g in c.fairness
    ]


def _title(first: Figures, second: Figures) -> str:
    same = " (the same model)" if first.version == second.version else ""
    return f"### Champion `{first.version}` vs challenger `{second.version}`{same}"


def comparison_markdown(c: Comparison) -> str:
    """Render the verdict, the metrics with their tolerances, PSI of scores, fairness and notes as markdown."""
    if c.acceptable:
        verdict_lines = ["**Verdict: acceptable** - every tolerance holds."]
    else:
        verdict_lines = ["**Verdict: refused** - the challenger is worse beyond tolerance:", ""]
        verdict_lines += [f"- {failure.sentence}" for failure in c.failures]
    metrics = markdown_table(
        ["metric", "champion", "challenger", "change (95 % paired bootstrap)", "tolerance", "result"],
        _metric_rows(c),
        right=[False, True, True, True, False, False],
    )
    fairness = markdown_table(
        ["attribute", "group", "clients", "selection rate", "TPR", "FPR"],
        _fairness_rows(c),
        right=[False, False, True, False, False, False],
    )
    psi = f"{c.score_psi:.4f} ({verdict(c.score_psi)})"
    return (
        "\n".join(
            [
                _title(c.champion, c.challenger),
                "",
                *verdict_lines,
                "",
                f"{c.rows:,} held-out clients ({c.defaults:,} defaults): {c.split}. "
                f"Bootstrap: {BOOTSTRAP_ROUNDS:,} paired resamples, seed {SEED}.",
                "",
                metrics,
                "",
                f"PSI of the challenger's score points over the champion's score deciles: {psi}.",
                "",
                "Fairness at each model's own threshold (champion -> challenger); SEX and MARRIAGE are not inputs.",
                "",
                fairness,
                "",
                *(f"- {note}" for note in c.notes),
            ]
        ).rstrip()
        + "\n"
    )
