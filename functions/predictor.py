"""A gradient-boosted tree ensemble as plain numpy arrays: load without pickle, predict without scikit-learn.

The trees of all iterations share flat node arrays; a leaf is its own child, so walking every tree
`depth` steps at once lands each row on its leaf in every tree. A split sends x <= threshold left, as
scikit-learn does; inputs are finite by contract, so the missing-value branch is never needed. The raw score is the baseline plus the
leaf values; a sigmoid calibration (Platt scaling of that raw score) gives the probability of default.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

FORMAT: Final = "credit-default-trees/1"
ARRAYS: Final = ("feature", "threshold", "children", "value", "roots", "scalars")


@dataclass(frozen=True)
class TreeEnsemble:
    """Flat arrays of a fitted binary HistGradientBoostingClassifier plus its sigmoid calibration."""

    feature: npt.NDArray[np.intp]
    threshold: npt.NDArray[np.float64]
    children: npt.NDArray[np.intp]  # (nodes, 2): left and right child; a leaf is its own children
    value: npt.NDArray[np.float64]
    roots: npt.NDArray[np.intp]
    depth: int
    baseline: float
    slope: float  # calibrated PD = 1 / (1 + exp(slope * raw + intercept))
    intercept: float
    n_features: int

    def raw_score(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the ensemble's log-odds for each row of the model matrix."""
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} model features, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("model features must be finite")
        flat_x = np.ascontiguousarray(X, dtype=np.float64).ravel()
        row_start = (np.arange(X.shape[0]) * X.shape[1])[:, None]
        flat_children = self.children.ravel()
        node = np.broadcast_to(self.roots, (X.shape[0], self.roots.size))
        for _ in range(self.depth):
            go_right = flat_x[row_start + self.feature[node]] > self.threshold[node]
            node = flat_children[2 * node + go_right]
        return np.asarray(self.value[node].sum(axis=1) + self.baseline, dtype=np.float64)

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the calibrated probability of default for each row of the model matrix."""
        return np.asarray(1.0 / (1.0 + np.exp(self.slope * self.raw_score(X) + self.intercept)))

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Return the arrays to store with `numpy.savez`."""
        scalars = np.array(
            [self.depth, self.baseline, self.slope, self.intercept, self.n_features], dtype=np.float64
        )
        return {
            "feature": self.feature.astype(np.int32),
            "threshold": self.threshold,
            "children": self.children.astype(np.int32),
            "value": self.value,
            "roots": self.roots.astype(np.int32),
            "scalars": scalars,
        }


def save_ensemble(ensemble: TreeEnsemble, path: Path) -> None:
    """Write the ensemble as an uncompressed .npz of plain arrays (no pickled objects)."""
    with path.open("wb") as handle:
        np.savez(handle, **ensemble.to_arrays())  # type: ignore[arg-type]  # numpy stubs mistype **arrays


def load_ensemble(path: Path) -> TreeEnsemble:
    """Read an ensemble written by `save_ensemble`; object arrays are refused (no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        missing = sorted(set(ARRAYS) - set(data.files))
        if missing:
            raise ValueError(f"{path.name}: missing arrays {missing}")
        arrays = {name: data[name] for name in ARRAYS}
    depth, baseline, slope, intercept, n_features = arrays["scalars"].tolist()
    ensemble = TreeEnsemble(
        feature=arrays["feature"].astype(np.intp),
        threshold=arrays["threshold"].astype(np.float64),
        children=arrays["children"].astype(np.intp).reshape(-1, 2),
        value=arrays["value"].astype(np.float64),
        roots=arrays["roots"].astype(np.intp),
        depth=int(depth),
        baseline=float(baseline),
        slope=float(slope),
        intercept=float(intercept),
        n_features=int(n_features),
    )
    check_ensemble(ensemble, source=path.name)
    return ensemble


def check_ensemble(ensemble: TreeEnsemble, *, source: str) -> None:
    """Raise ValueError unless the node arrays form valid trees."""
    n_nodes = ensemble.value.size
    sizes = {len(getattr(ensemble, name)) for name in ("feature", "threshold", "children")}
    if sizes != {n_nodes} or ensemble.children.shape != (n_nodes, 2):
        raise ValueError(f"{source}: node arrays differ in length")
    for name in ("children", "roots"):
        index = getattr(ensemble, name)
        if index.size and (index.min() < 0 or index.max() >= n_nodes):
            raise ValueError(f"{source}: {name} points outside the {n_nodes} nodes")
    if ensemble.feature.size and (
        ensemble.feature.min() < 0 or ensemble.feature.max() >= ensemble.n_features
    ):
        raise ValueError(f"{source}: a split uses a feature outside the {ensemble.n_features} model features")
    if not (np.isfinite(ensemble.value).all() and np.isfinite([ensemble.baseline, ensemble.slope]).all()):
        raise ValueError(f"{source}: non-finite leaf values or calibration")
    if ensemble.slope >= 0:
        raise ValueError(f"{source}: calibration slope must be negative so PD rises with the raw score")
