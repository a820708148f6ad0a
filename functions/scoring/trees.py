"""A gradient-boosted tree ensemble as plain numpy arrays: load without pickle, predict without scikit-learn.

The trees of all iterations share flat node arrays; a leaf is its own child. A split sends x <= threshold
left, as scikit-learn does; inputs are finite by contract, so the missing-value branch is never needed.
Rows find their leaves in blocks, through bit-mask tables built at load (functions/scoring/leafmasks.py), not node
by node. The raw score is the baseline plus the leaf values, summed tree by tree in one fixed order; a
sigmoid calibration (Platt scaling of that raw score) gives the probability of default.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.leafmasks import LeafMasks, build_masks, leaf_slots, leaf_values, reachable
from functions.scoring.rewalk import Intervals, at_values, blocks, raw_score_with, rewalk, tree_sum

FORMAT: Final = "credit-default-trees/1"
ARRAYS: Final = ("feature", "threshold", "children", "value", "roots", "scalars")
PREPARED: Final = 8  # sets of values kept prepared for `raw_score_with` (the elderly rule uses one)


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
    # Trees deepest first (the order every sum over trees takes, so answers never depend on the walk)
    # and the bit-mask tables that find each row's leaf in all of them (functions/scoring/leafmasks.py).
    _order: npt.NDArray[np.intp] = field(init=False, repr=False, compare=False)
    _masks: LeafMasks = field(init=False, repr=False, compare=False)
    _prepared: dict[tuple[int, bytes], Intervals] = field(init=False, repr=False, compare=False)

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
        order = np.argsort(-tree_depth, kind="stable")
        object.__setattr__(self, "_order", order)
        masks = build_masks(
            self.feature, self.threshold, self.children, self.value, self.roots[order], self.n_features
        )
        object.__setattr__(self, "_masks", masks)
        object.__setattr__(self, "_prepared", {})

    @property
    def is_split(self) -> npt.NDArray[np.bool_]:
        """Return which nodes are splits (a leaf is its own child)."""
        return np.asarray(self.children[:, 0] != np.arange(self.value.size))

    @property
    def read_features(self) -> tuple[int, ...]:
        """Return the model features (indices, ascending) that some split reads."""
        return self._masks.read

    @property
    def walk_order(self) -> npt.NDArray[np.intp]:
        """Return the trees (indices into `roots`) in the order leaves and sums list them."""
        return self._order.copy()

    def _flat(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} model features, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("model features must be finite")
        return np.ascontiguousarray(X, dtype=np.float64)

    def leaves(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Return the leaf node each row reaches in each tree, shape (trees, rows), trees in `walk_order`."""
        X = self._flat(X)
        found = np.empty((self._order.size, X.shape[0]), dtype=np.intp)
        for block in blocks(X.shape[0]):
            reached = reachable(self._masks, X[block], self._masks.read)
            found[:, block] = self._masks.slot_nodes[leaf_slots(self._masks, reached)]
        return found

    def rewalk(
        self,
        X: npt.NDArray[np.float64],
        variants: Sequence[npt.NDArray[np.float64]],
        *,
        tags: npt.NDArray[np.unsignedinteger],
    ) -> npt.NDArray[np.float64]:
        """Return the log-odds of X's rows and of each variant's rows, shape (1 + variants, rows).

        Variant k may differ from X only in features read by nodes whose `tags` carry bit k (a uint8 tags up to
        8 variants, a uint64 up to 64): only those features of the variant are read, the others are X's. Each
        variant's log-odds is X's plus the sum, over trees in walk order, of its leaf value minus X's (the same
        arithmetic whatever the batch); only the trees and rows the change can reach are walked again
        (functions/scoring/rewalk.py). Raises ValueError for a variant of another shape than X.
        """
        X = self._flat(X)
        if any(variant.shape != X.shape for variant in variants):
            raise ValueError(f"every variant must have the shape of X, {X.shape}")
        changed = [
            np.unique(self.feature[self.is_split & (tags & tags.dtype.type(1 << bit) != 0)]).tolist()
            for bit in range(len(variants))
        ]
        flat = [
            self._flat(variant) if cols else variant for variant, cols in zip(variants, changed, strict=True)
        ]
        return rewalk(self._masks, self.baseline, X, flat, changed)

    def raw_score(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the ensemble's log-odds for each row of the model matrix."""
        X = self._flat(X)
        raw = np.empty(X.shape[0], dtype=np.float64)
        for block in blocks(X.shape[0]):
            reached = reachable(self._masks, X[block], self._masks.read)
            raw[block] = tree_sum(leaf_values(self._masks, reached)) + self.baseline
        return raw

    def raw_score_with(
        self, X: npt.NDArray[np.float64], feature: int, values: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return the log-odds of X's rows (rows x model features), and with `feature` set to each of `values`
        (rows x values): X's log-odds plus, over the trees that split on `feature` (in walk order), the leaf
        value at that value minus X's. X's rows are walked once and only those trees again; a value that
        reaches X's own leaves gives X's log-odds exactly.
        """
        key = (feature, np.asarray(values, dtype=np.float64).tobytes())
        prepared = self._prepared.get(key)  # one lookup: another thread may clear the cache between two
        if prepared is None:  # the elderly rule asks for the same ages every time: prepare them once
            prepared = at_values(self._masks, feature, values)
            if len(self._prepared) >= PREPARED:
                self._prepared.clear()
            self._prepared[key] = prepared
        return raw_score_with(self._masks, self.baseline, self._flat(X), feature, values, prepared=prepared)

    def raw_score_at(
        self, X: npt.NDArray[np.float64], feature: int, values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Return the log-odds (rows x values) of X's rows with `feature` set to each of `values` (see
        `raw_score_with`)."""
        return self.raw_score_with(X, feature, values)[1]

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
