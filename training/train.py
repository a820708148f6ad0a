"""Train, select, calibrate, evaluate and export the credit-default model.

python -m training.train [--data PATH] [--out model/] [--allow-other-data]

Protocol, in stages: load -> split -> candidates -> calibrate -> threshold -> evaluate -> export.
A 75/25 stratified split (random_state=42, the reference app's) holds out the test set. The training part
is split again 80/20 into fit and validation sets; the boosting rounds are picked by validation AUC, the
booster chosen is the one most precise at recall >= 0.68 on validation (the reference app's operating
point; validation and 5-fold CV AUC are reported too), and the decision threshold is the one that
maximises F1 on validation. The shipped pipeline is then refitted on the whole training part and
evaluated once on the test set; training/export.py writes model/.
"""

import argparse
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from functions.scoring.contract import FEATURE_NAMES, PAY_STATUS
from functions.scoring.elderly import ALL_NON_ELDERLY, by_rows, most_favourable_age
from functions.scoring.manifest import GRADE_BANDS, Manifest, SplitPolicy
from training import candidates, report
from training.candidates import CV_FOLDS, SEARCH, Candidate, Search
from training.data import (
    SPLIT_POLICY,
    DataError,
    Dataset,
    Splits,
    data_report,
    load_dataset,
    split_dataset,
)
from training.export import Evaluation, TrainingRun, export_model
from training.metrics import classification_metrics, threshold_for_max_f1

log = logging.getLogger(__name__)


def say(message: str) -> None:
    """Print one line of the CLI's output to stdout."""
    print(message, flush=True)


def rows_needed_per_class(policy: SplitPolicy = SPLIT_POLICY, *, folds: int = CV_FOLDS) -> int:
    """Return the fewest rows of each class (defaults, non-defaults) the protocol can train on.

    The fit rows' share of each class must reach `folds` rows (k-fold calibration and CV), the validation
    and test rows' share one row (AUC); `check_trainable` then checks the rows the split really drew.
    """
    train_share = 1 - policy.test_size
    shares_and_needs = (
        (train_share * (1 - policy.validation_size_of_train), folds),
        (train_share * policy.validation_size_of_train, 1),
        (policy.test_size, 1),
    )
    return max(math.ceil(need / share) for share, need in shares_and_needs)


def check_trainable(dataset: Dataset, policy: SplitPolicy = SPLIT_POLICY, *, folds: int = CV_FOLDS) -> None:
    """Refuse, before any work, data the protocol cannot train on; raises DataError saying what is short."""
    y = dataset.y
    need = rows_needed_per_class(policy, folds=folds)
    defaults = int(y.sum())
    counts = {"defaults": defaults, "non-defaults": len(y) - defaults}
    if min(counts.values()) >= need:
        splits = split_dataset(dataset, policy)
        parts = {"fit": (splits.y_fit, folds), "validation": (splits.y_val, 1), "test": (splits.y_test, 1)}
        short = [
            f"the {part} rows hold {int(np.sum(rows == label))} {name}"
            for part, (rows, minimum) in parts.items()
            for label, name in ((1, "defaults"), (0, "non-defaults"))
            if np.sum(rows == label) < minimum
        ]
        if not short:
            return
        raise DataError(f"{dataset.source}: after the split, {'; '.join(short)}; add rows of that class")
    held = f"{counts['defaults']:,} defaults and {counts['non-defaults']:,} non-defaults"
    raise DataError(
        f"{dataset.source}: {len(y):,} data rows ({held}); the protocol needs at least {need:,} of each"
        f" (a {policy.test_size:.0%} test split, {policy.validation_size_of_train:.0%} of the rest for"
        f" validation, and {folds}-fold calibration and CV on the remaining fit rows)"
    )


def split(dataset: Dataset) -> Splits:
    """Stage 1: hold out the test rows and split the rest into fit and validation rows."""
    splits = split_dataset(dataset)
    log.info(
        "[1/5] split: train %s (fit %s + validation %s), test %s",
        *(f"{len(y):,}" for y in (splits.y_train, splits.y_fit, splits.y_val, splits.y_test)),
    )
    return splits


def calibrate(chosen: Candidate, X: NDArray[Any], y: NDArray[Any]) -> Pipeline:
    """Stage 3: fit the chosen booster with sigmoid calibration on rows x 23 inputs; return the pipeline."""
    return candidates.make_pipeline(chosen).fit(X, y)


def pick_threshold(selection: Pipeline, splits: Splits) -> float:
    """Stage 4: return the PD threshold in [0, 1] that maximises F1 on the validation rows."""
    threshold = threshold_for_max_f1(splits.y_val, selection.predict_proba(splits.X_val)[:, 1])
    log.info("  threshold %.4f", threshold)
    return threshold


def served_pd(pipeline: Pipeline, X: NDArray[Any]) -> NDArray[Any]:
    """Return the pipeline's PD of rows x 23 inputs as served: each client aged 62+ scored at the most favourable
    age 18-61 when that is lower (12 CFR 1002.6(b)(2)(ii), as `ScoringModel` serves it; every age is tried here).
    """
    served = most_favourable_age(
        np.asarray(X, dtype=np.float64),
        ALL_NON_ELDERLY,
        scores=by_rows(lambda rows: pipeline.predict_proba(rows)[:, 1]),
    )
    return np.asarray(pipeline.predict_proba(served)[:, 1])


def evaluate(pipeline: Pipeline, splits: Splits, *, threshold: float, forest_trees: int) -> Evaluation:
    """Stage 5: score the refitted pipeline (its served PD) and the reference approach once on the test rows."""
    pod_test = served_pd(pipeline, splits.X_test)
    test = classification_metrics(splits.y_test, pod_test, threshold=threshold)
    baseline = candidates.make_forest(forest_trees).fit(splits.X_train, splits.y_train)
    baseline_test = classification_metrics(
        splits.y_test, baseline.predict_proba(splits.X_test)[:, 1], threshold=0.5
    )
    log.info(
        "  test AUC %.4f, F1 %.4f, Brier %.4f, ECE %.4f (reference approach: AUC %.4f)",
        test.roc_auc,
        test.f1,
        test.brier,
        test.ece,
        baseline_test.roc_auc,
    )
    frame = report.test_frame(splits.X_test, splits.y_test, pod_test)
    return Evaluation(
        probability_of_default=pod_test,
        test=test,
        baseline_test=baseline_test,
        fairness=report.fairness_table(frame, threshold=threshold),
        grades_observed=report.grade_table(frame, GRADE_BANDS),
    )


def reference_profile(X_train: NDArray[Any], y_train: NDArray[Any]) -> dict[str, float]:
    """Return the low-risk reference client (23 inputs): non-defaulters' medians, repayment status 'paid in full'."""
    medians = np.median(X_train[y_train == 0], axis=0)
    profile = {name: float(value) for name, value in zip(FEATURE_NAMES, medians, strict=True)}
    profile.update(dict.fromkeys(PAY_STATUS, -1.0))
    return profile


def run_protocol(dataset: Dataset, search: Search = SEARCH) -> TrainingRun:
    """Run split -> candidates -> calibrate -> threshold -> evaluate on rows x 23 inputs; write nothing."""
    started = time.perf_counter()
    check_trainable(dataset)
    splits = split(dataset)
    log.info("[2/5] comparing candidates on validation")
    compared = candidates.compare_candidates(splits, search)
    chosen = candidates.choose(compared)
    log.info("  chosen: %s (%s rounds)", chosen.name, chosen.rounds)
    without = candidates.fit_without_age_education(chosen, splits, max_rounds=search.max_rounds)
    log.info("[3/5] calibrating on the fit split; threshold = max F1 on validation")
    threshold = pick_threshold(calibrate(chosen, splits.X_fit, splits.y_fit), splits)
    log.info("[4/5] refitting on the whole training part; evaluating once on the test set")
    pipeline = calibrate(chosen, splits.X_train, splits.y_train)
    evaluation = evaluate(pipeline, splits, threshold=threshold, forest_trees=search.forest_trees)
    # The training inputs travel to export, which freezes their reference distributions (and the scores the
    # exported serving ensemble gives them) into the manifest for drift monitoring.
    return TrainingRun(
        dataset=dataset,
        y_test=splits.y_test,
        candidates=(*compared, without),
        chosen=chosen,
        without_age_education=without,
        pipeline=pipeline,
        threshold=threshold,
        evaluation=evaluation,
        reference_profile=reference_profile(splits.X_train, splits.y_train),
        X_train=splits.X_train,
        X_test=splits.X_test,
        started=started,
    )


def train(dataset: Dataset, out: Path, search: Search = SEARCH) -> Manifest:
    """Run the whole protocol and replace the folder `out` with its artifacts at once; return the manifest.

    Raises DataError for data the protocol cannot use and RuntimeError when the serving ensemble does not
    reproduce scikit-learn; either way `out` is untouched.
    """
    # One thread everywhere: OpenMP histogram sums in the booster differ in the last bits with the
    # thread count, and the same data and seed must give the same manifest on any machine.
    with threadpool_limits(limits=1):
        run = run_protocol(dataset, search)
        log.info("[5/5] exporting artifacts")
        return export_model(run, out)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, print the summary; return 0, or 2 when the data cannot be used."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="CSV, .xls or UCI zip; omitted: download the UCI zip")
    parser.add_argument("--out", type=Path, default=Path("model"), help="artifact folder (default: model/)")
    parser.add_argument("--cache", type=Path, help="download cache folder")
    parser.add_argument(
        "--allow-other-data", action="store_true", help="train on data that differs from the pin"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        dataset = load_dataset(args.data, cache_dir=args.cache, allow_other_data=args.allow_other_data)
        check_trainable(dataset)
    except DataError as err:
        say(f"error: {err}")
        return 2
    say(data_report(dataset))
    try:
        manifest = train(dataset, args.out)
    except DataError as err:  # the rows load and split, yet the fitted model cannot be served
        say(f"error: {err}")
        return 2
    say(report.summary(manifest))
    say(f"  card: {args.out / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
