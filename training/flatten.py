"""Flatten a fitted, calibrated scikit-learn booster into the pickle-free serving ensemble (numpy arrays)."""

from typing import Any

import numpy as np

from functions.scoring.trees import TreeEnsemble


def export_ensemble(calibrated: Any, *, columns: list[int], n_features: int) -> TreeEnsemble:
    """Flatten a CalibratedClassifierCV(HistGradientBoostingClassifier, sigmoid, ensemble=False).

    `columns` maps the booster's inputs to the model matrix of `n_features` columns it was selected from.
    Raises ValueError for any other estimator, calibrator, class count or categorical split.
    """
    if len(calibrated.calibrated_classifiers_) != 1:
        raise ValueError("export needs CalibratedClassifierCV(ensemble=False): one estimator, one calibrator")
    pair = calibrated.calibrated_classifiers_[0]
    booster = pair.estimator
    calibrator = pair.calibrators[0]
    if type(booster).__name__ != "HistGradientBoostingClassifier" or booster.n_trees_per_iteration_ != 1:
        raise ValueError(
            f"export supports a binary HistGradientBoostingClassifier, got {type(booster).__name__}"
        )
    if not (hasattr(calibrator, "a_") and hasattr(calibrator, "b_")):
        raise ValueError(f"export supports sigmoid calibration, got {type(calibrator).__name__}")
    if booster.n_features_in_ != len(columns):
        raise ValueError(f"the booster has {booster.n_features_in_} inputs, `columns` maps {len(columns)}")
    if booster.is_categorical_ is not None and np.any(booster.is_categorical_):
        raise ValueError("export does not support categorical splits")

    features, thresholds, children, values, roots = [], [], [], [], []
    offset, depth = 0, 0
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes
        n = len(nodes)
        leaf = nodes["is_leaf"].astype(bool)
        own = np.arange(offset, offset + n)
        # A leaf points to itself and never moves: feature 0, threshold +inf.
        features.append(np.where(leaf, 0, np.asarray(columns)[nodes["feature_idx"]]))
        thresholds.append(np.where(leaf, np.inf, nodes["num_threshold"]))
        left = np.where(leaf, own, nodes["left"].astype(np.int64) + offset)
        right = np.where(leaf, own, nodes["right"].astype(np.int64) + offset)
        children.append(np.column_stack([left, right]))
        values.append(np.where(leaf, nodes["value"], 0.0))
        roots.append(offset)
        depth = max(depth, int(nodes["depth"].max()))
        offset += n
    return TreeEnsemble(
        feature=np.concatenate(features).astype(np.intp),
        threshold=np.concatenate(thresholds).astype(np.float64),
        children=np.concatenate(children).astype(np.intp),
        value=np.concatenate(values).astype(np.float64),
        roots=np.array(roots, dtype=np.intp),
        depth=depth,
        baseline=float(np.ravel(booster._baseline_prediction)[0]),
        slope=float(calibrator.a_),
        intercept=float(calibrator.b_),
        n_features=n_features,
    )
