"""The champion-challenger gate: compare two model folders on the same held-out rows (change control, SR 11-7).

python -m training.compare CHAMPION_DIR CHALLENGER_DIR [--data PATH] [--challenger-data PATH]
                           [--format table|json] [--report FILE.md]

Both models score the champion's test split, rebuilt from the evaluation data (the champion's table:
`--data`, or the downloaded UCI zip) with the split policy its manifest records, exactly as training draws
it. A challenger trained on another table is compared only with `--challenger-data` (its training file),
so the report can say how many held-out rows it saw in training. Exit 0: the challenger is acceptable;
1: it is worse beyond a tolerance of `training.gate`; 2: the folders or the data cannot be compared.
"""

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from functions.monitoring.tables import emit
from functions.scoring.manifest import Manifest, ModelUnavailable, SplitPolicy
from functions.scoring.model import ScoringModel, load_model, points_of
from training.data import DataError, Dataset, load_dataset, split_positions
from training.gate import Comparison, Scored, compare_scores
from training.gate_report import comparison_markdown


class CompareError(RuntimeError):
    """The two models cannot be compared: the message names the folder or file, the problem and the fix."""


def split_rows(y: NDArray[Any], policy: SplitPolicy) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Return the (training, test) row positions training draws from `y` under a split policy."""
    train_rows, test_rows = split_positions(y, policy)
    return train_rows.astype(np.intp), test_rows.astype(np.intp)


def describe(policy: SplitPolicy) -> str:
    """Describe a split policy in words: test share, seed, stratification."""
    kind = "stratified" if policy.stratified else "not stratified"
    return f"test {policy.test_size:.0%}, seed {policy.random_state}, {kind}"


def same_split(first: SplitPolicy, second: SplitPolicy) -> bool:
    """Return whether two policies draw the same test rows from the same table."""
    keys = ("test_size", "random_state", "stratified")
    return all(getattr(first, k) == getattr(second, k) for k in keys)


def load_data(path: Path | None, *, expected: str, role: str) -> Dataset:
    """Load a table and check its content hash against a manifest's; raises CompareError."""
    try:
        dataset = load_dataset(path, allow_other_data=True)
    except DataError as err:
        raise CompareError(str(err)) from err
    if dataset.table_sha256 != expected:
        raise CompareError(
            f"{dataset.source}: table sha256 {dataset.table_sha256[:12]}... is not the {role}'s "
            f"({expected[:12]}...); pass the file the {role} was trained on"
        )
    return dataset


def overlap_notes(
    champion: Manifest,
    challenger: Manifest,
    held_out: Dataset,
    test_rows: NDArray[np.intp],
    other: Path | None,
) -> list[str]:
    """Check the challenger's training data against the held-out rows; return notes; raises CompareError."""
    if challenger.data.table_sha256 == champion.data.table_sha256:
        return ["Both models were trained on the same table with the same split: no held-out row was seen."]
    if other is None:
        raise CompareError(
            f"the challenger was trained on {challenger.data.source} (table {challenger.data.table_sha256[:12]}...), "
            f"the champion on {champion.data.source} ({champion.data.table_sha256[:12]}...); pass "
            "--challenger-data PATH (the challenger's training file) so its overlap with the held-out rows is checked"
        )
    theirs = load_data(other, expected=challenger.data.table_sha256, role="challenger")
    their_train, _ = split_rows(theirs.y, challenger.split)
    columns = theirs.frame.columns
    seen = {row.tobytes() for row in theirs.frame.to_numpy(dtype="<i8")[their_train]}
    ours = held_out.frame[columns].to_numpy(dtype="<i8")[test_rows]
    overlap = sum(row.tobytes() in seen for row in ours)
    note = (
        f"The challenger was trained on other data ({theirs.source}, {len(theirs.frame):,} rows); "
        f"{overlap:,} of the {len(test_rows):,} held-out rows ({overlap / len(test_rows):.1%}) are identical "
        "to rows of its training part"
    )
    return [note + (": its figures here are optimistic." if overlap else ".")]


def load(model_dir: Path, *, role: str) -> ScoringModel:
    """Load and verify a model folder; raises CompareError naming the role and the folder."""
    try:
        return load_model(model_dir)
    except ModelUnavailable as err:
        raise CompareError(f"{role} {model_dir}: {err}") from err


def compare_folders(
    champion_dir: Path, challenger_dir: Path, *, data: Path | None, challenger_data: Path | None
) -> Comparison:
    """Score both folders on the champion's held-out rows and compare them; raises CompareError."""
    champion, challenger = load(champion_dir, role="champion"), load(challenger_dir, role="challenger")
    first, second = champion.manifest, challenger.manifest
    if not same_split(first.split, second.split):
        raise CompareError(
            f"the challenger's split ({describe(second.split)}) is not the champion's ({describe(first.split)}): "
            "its training rows would overlap the held-out rows; retrain it with the champion's split policy"
        )
    dataset = load_data(data, expected=first.data.table_sha256, role="champion")
    _, test_rows = split_rows(dataset.y, first.split)
    notes = overlap_notes(first, second, dataset, test_rows, challenger_data)
    X, y = dataset.X[test_rows], dataset.y[test_rows]
    scaling = (
        first.score_scaling
    )  # both models' points on the champion's scale, so PSI compares like with like

    def scored(model: ScoringModel) -> Scored:
        probabilities = np.asarray(model.probabilities(X), dtype=np.float64)
        return Scored(model.version, model.threshold, probabilities, points_of(probabilities, scaling))

    split = f"the champion's test split ({describe(first.split)}) of {dataset.source}"
    return compare_scores(X, y, scored(champion), scored(challenger), split=split, notes=notes)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """Shape a comparison as plain JSON values, with `acceptable` first."""
    value: dict[str, Any] = json.loads(json.dumps(asdict(comparison)))
    return {"acceptable": comparison.acceptable, **value}


def main(argv: Sequence[str] | None = None) -> int:
    """Compare two model folders; return 0 (acceptable), 1 (worse beyond tolerance) or 2 (cannot compare)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.compare",
        description=__doc__.splitlines()[0],
        epilog="exit status: 0 acceptable, 1 worse beyond a tolerance, 2 cannot be compared",
    )
    parser.add_argument("champion", type=Path, help="the model folder in service (e.g. model)")
    parser.add_argument("challenger", type=Path, help="the candidate model folder")
    parser.add_argument(
        "--data", type=Path, metavar="PATH", help="the champion's training table; omitted: the UCI zip"
    )
    parser.add_argument(
        "--challenger-data", type=Path, metavar="PATH", help="the challenger's table, if it is another one"
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="stdout (default: table)"
    )
    parser.add_argument("--report", type=Path, metavar="FILE.md", help="also write the markdown table here")
    args = parser.parse_args(argv)
    try:
        comparison = compare_folders(
            args.champion, args.challenger, data=args.data, challenger_data=args.challenger_data
        )
        markdown = comparison_markdown(comparison)
        if args.report is not None:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(markdown)
    except (CompareError, OSError) as err:
        emit(f"error: {err}", error=True)
        return 2
    emit(json.dumps(comparison_json(comparison)) if args.format == "json" else markdown)
    return 0 if comparison.acceptable else 1


if __name__ == "__main__":
    raise SystemExit(main())
