"""What the page shows and offers for download after a batch: one line per row, the scored CSV, the target check."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from functions.clientfiles.cells import neutralise
from functions.monitoring import stats
from ui.batch import ParsedFile, ScoredFile, decision_text


def results_table(parsed: ParsedFile, scored: ScoredFile) -> pd.DataFrame:
    """One line per uploaded row: PD, grade, score, decision, top reason and its statement, the adverse-action
    notice, or why it was not scored."""
    problems: dict[int, list[str]] = {}
    for problem in [*parsed.problems, *scored.problems]:
        problems.setdefault(problem.row, []).append(problem.message)
    lines = []
    for position in range(len(parsed.table)):
        prediction = scored.predictions.get(position)
        line: dict[str, Any] = {"row": position + 1}
        if parsed.id_column is not None:
            line["ID"] = parsed.table[parsed.id_column].iloc[position]
        if prediction is None:
            line.update(
                pd=None, grade="", score=None, decision="", top_reason="", top_statement="", notice=""
            )
        else:
            line.update(
                pd=prediction.probability_of_default,
                grade=prediction.risk_grade,
                score=prediction.score,
                decision=decision_text(prediction.predicted_default),
                top_reason=prediction.reasons[0].text if prediction.reasons else "",
                top_statement=prediction.reasons[0].statement if prediction.reasons else "",
                notice=prediction.adverse_action_notice,
            )
        line["problem"] = "; ".join(problems.get(position + 1, []))
        lines.append(line)
    return pd.DataFrame(lines).astype({"pd": "float64", "score": "Int64"})


def scored_csv(parsed: ParsedFile, results: pd.DataFrame) -> bytes:
    """Return the uploaded file with the prediction columns appended, as CSV bytes."""
    scored = parsed.table.copy()
    scored["probability_of_default"] = results["pd"].to_numpy()
    scored["risk_grade"] = results["grade"].to_numpy()
    scored["score"] = results["score"].astype("Int64").to_numpy()
    scored["predicted_default"] = results["decision"].map({decision_text(True): 1, decision_text(False): 0})
    scored["top_reason"] = results["top_reason"].to_numpy()
    scored["top_statement"] = results["top_statement"].to_numpy()
    scored["adverse_action_notice"] = results["notice"].to_numpy()
    scored["problem"] = results["problem"].to_numpy()
    return str(spreadsheet_safe(scored).to_csv(index=False)).encode()


def _safe_cell(value: Any) -> Any:
    return neutralise(value) if isinstance(value, str) else value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` with text cells and column names neutralised against formula injection."""
    safe = frame.copy()
    for at in range(safe.shape[1]):  # by position: an upload may repeat a column name
        if not pd.api.types.is_numeric_dtype(safe.dtypes.iloc[at]):
            safe.isetitem(at, safe.iloc[:, at].map(_safe_cell))
    safe.columns = [neutralise(str(name)) for name in safe.columns]
    return safe


def auc(labels: NDArray[Any], scores: NDArray[Any]) -> float | None:
    """Return the ROC AUC of 0/1 labels against scores (functions.monitoring.stats.auc), or None when one class is missing."""
    if np.unique(labels).size < 2:
        return None
    return stats.auc(labels, scores)


def confusion(labels: NDArray[Any], predicted: NDArray[Any]) -> dict[str, int]:
    """Count true and false negatives and positives of 0/1 labels against boolean decisions."""
    actual, flagged = labels == 1, predicted.astype(bool)
    return {
        "tn": int((~actual & ~flagged).sum()),
        "fp": int((~actual & flagged).sum()),
        "fn": int((actual & ~flagged).sum()),
        "tp": int((actual & flagged).sum()),
    }


@dataclass(frozen=True)
class TargetSummary:
    """The scored rows against the file's own target: AUC, precision, recall and the confusion counts."""

    rows: int  # scored rows whose target is 0 or 1
    auc: float | None  # None unless both classes are present
    precision: float | None  # None when nothing was flagged
    recall: float | None  # None when no row defaulted
    counts: dict[str, int]  # tn, fp, fn, tp


def target_summary(parsed: ParsedFile, scored: ScoredFile) -> TargetSummary | None:
    """Compare the scored rows' PD and decisions with the file's target; None without a target column."""
    if parsed.target is None or not scored.predictions:
        return None
    positions = np.array(sorted(scored.predictions))
    labels = parsed.target[positions]
    known = ~np.isnan(labels)
    pds = np.array([scored.predictions[p].probability_of_default for p in positions])
    flagged = np.array([scored.predictions[p].predicted_default for p in positions])
    counts = confusion(labels[known], flagged[known])
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return TargetSummary(
        rows=int(known.sum()),
        auc=auc(labels[known], pds[known]),
        precision=tp / (tp + fp) if tp + fp else None,
        recall=tp / (tp + fn) if tp + fn else None,
        counts=counts,
    )
