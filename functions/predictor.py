"""A gradient-boosted tree ensemble as plain numpy arrays: load without pickle, predict without scikit-learn.

The trees of all iterations share flat node arrays; a leaf is its own child, so walking every tree
`depth` steps at once lands each row on its leaf in every tree. A split sends x <= threshold left, as
scikit-learn does; inputs are finite by contract, so the missing-value branch is never needed. The raw score is the baseline plus the
leaf values; a sigmoid calibration (Platt scaling of that raw score) gives the probability of default.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # Trees deepest first, and how many of them are deeper than each level: a walk stops visiting a
    # tree once its deepest leaf is reached (the mean depth is well below the maximum).
    _order: npt.NDArray[np.intp] = field(init=False, repr=False, compare=False)
    _active: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_ensemble(self)
        n_nodes = self.value.size
        node_depth = np.full(n_nodes, -1, dtype=np.intp)
        node_depth[self.roots] = 0
        for level in range(self.depth):
            parents = np.flatnonzero(self.is_split & (node_depth == level))
            node_depth[self.children[parents].ravel()] = level + 1
        if np.any(node_depth < 0):
            raise ValueError(f"nodes unreachable within the declared depth {self.depth}")
        tree_depth = np.maximum.reduceat(node_depth, self.roots) if self.roots.size else node_depth[:0]
        object.__setattr__(self, "_order", np.argsort(-tree_depth, kind="stable"))
        object.__setattr__(
            self, "_active", tuple(int(np.sum(tree_depth > level)) for level in range(self.depth))
        )

    @property
    def is_split(self) -> npt.NDArray[np.bool_]:
        """Return which nodes are splits (a leaf is its own child)."""
        return np.asarray(self.children[:, 0] != np.arange(self.value.size))

    def _flat(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} model features, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("model features must be finite")
        return np.ascontiguousarray(X, dtype=np.float64).ravel()

    def walk(
        self, X: npt.NDArray[np.float64], *, tags: npt.NDArray[np.uint8] | None = None
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint8]]:
        """Return the leaf each row reaches in each tree and the OR of node `tags` along each path.

        Both have shape (trees, rows) with the trees deepest first (the walk's own order, see `_order`).
        """
        flat_x = self._flat(X)
        row_start = np.arange(X.shape[0]) * X.shape[1]
        flat_children = self.children.ravel()
        node = np.repeat(self.roots[self._order][:, None], X.shape[0], axis=1)
        path = np.zeros(node.shape, dtype=np.uint8)
        for active in self._active:
            walking = node[:active]
            if tags is not None:
                path[:active] |= np.take(tags, walking)
            go_right = np.take(flat_x, np.take(self.feature, walking) + row_start) > np.take(
                self.threshold, walking
            )
            walking[...] = np.take(flat_children, 2 * walking + go_right)
        return node, path

    def walk_pairs(
        self, X: npt.NDArray[np.float64], slots: npt.NDArray[np.intp], rows: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.intp]:
        """Return the leaf that row `rows[i]` reaches in the tree at walk position `slots[i]` (ascending)."""
        flat_x = self._flat(X)
        row_start = rows * X.shape[1]
        flat_children = self.children.ravel()
        node = self.roots[self._order[slots]]
        for active in self._active:
            walking = node[
                : int(np.searchsorted(slots, active))
            ]  # pairs whose tree is deeper than this level
            go_right = np.take(flat_x, np.take(self.feature, walking) + row_start[: walking.size]) > np.take(
                self.threshold, walking
            )
            walking[...] = np.take(flat_children, 2 * walking + go_right)
        return node

    def rewalk(
        self,
        X: npt.NDArray[np.float64],
        variants: Sequence[npt.NDArray[np.float64]],
        *,
        tags: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.float64]:
        """Return the log-odds of X's rows and of each variant's rows, shape (1 + variants, rows).

        Variant k may differ from X only in features read by nodes whose `tags` carry bit k; only the
        (tree, row) paths that pass such a node are walked again, the others keep X's leaf.
        """
        leaves, paths = self.walk(X, tags=tags)
        values = np.take(self.value, leaves)  # (trees, rows), trees in walk order
        base = values.sum(axis=0) + self.baseline
        stacked = [base]
        for bit, variant in enumerate(variants):
            touched = np.flatnonzero(paths & np.uint8(1 << bit))  # by tree slot: deepest trees first
            slots, rows = np.divmod(touched, X.shape[0])
            moved = self.walk_pairs(variant, slots, rows)
            change = np.take(self.value, moved) - np.take(values, touched)
            stacked.append(base + np.bincount(rows, weights=change, minlength=X.shape[0]))
        return np.vstack(stacked)

    def raw_score(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the ensemble's log-odds for each row of the model matrix."""
        return np.asarray(np.take(self.value, self.walk(X)[0]).sum(axis=0) + self.baseline, dtype=np.float64)

    def calibrate(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map log-odds to the calibrated probability of default."""
        return np.asarray(1.0 / (1.0 + np.exp(self.slope * raw + self.intercept)))

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the calibrated probability of default for each row of the model matrix."""
        return self.calibrate(self.raw_score(X))

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
    try:
        return TreeEnsemble(
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
    except ValueError as err:
        raise ValueError(f"{path.name}: {err}") from err


def check_ensemble(ensemble: TreeEnsemble) -> None:
    """Raise ValueError unless the node arrays form valid trees."""
    n_nodes = ensemble.value.size
    sizes = {len(getattr(ensemble, name)) for name in ("feature", "threshold", "children")}
    if sizes != {n_nodes} or ensemble.children.shape != (n_nodes, 2):
        raise ValueError("node arrays differ in length")
    for name in ("children", "roots"):
        index = getattr(ensemble, name)
        if index.size and (index.min() < 0 or index.max() >= n_nodes):
            raise ValueError(f"{name} points outside the {n_nodes} nodes")
    if ensemble.feature.size and (
        ensemble.feature.min() < 0 or ensemble.feature.max() >= ensemble.n_features
    ):
        raise ValueError(f"a split uses a feature outside the {ensemble.n_features} model features")
    if not (np.isfinite(ensemble.value).all() and np.isfinite([ensemble.baseline, ensemble.slope]).all()):
        raise ValueError("non-finite leaf values or calibration")
    if ensemble.slope >= 0:
        raise ValueError("calibration slope must be negative so PD rises with the raw score")
