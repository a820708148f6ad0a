"""The bit-mask leaf search equals a plain walk, one tree at a time, on generated, edge and real rows."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from functions.config import MODEL_DIR
from functions.scoring import leafmasks, rewalk
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.model import load_model, to_matrix
from functions.scoring.trees import TreeEnsemble
from training.data import load_dataset
from training.export import export_ensemble
from training.synthetic import generate_rows

N_FEATURES = len(MODEL_FEATURES)
Matrix = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]


def plain_leaves(ensemble: TreeEnsemble, X: Matrix) -> Index:
    """Walk each tree from its root for all rows at once: x <= threshold goes left; (trees, rows)."""
    found = np.empty((ensemble.roots.size, len(X)), dtype=np.intp)
    rows = np.arange(len(X))
    for slot, tree in enumerate(ensemble.walk_order):
        node: Index = np.full(len(X), ensemble.roots[tree])
        for _ in range(ensemble.depth):
            left = X[rows, ensemble.feature[node]] <= ensemble.threshold[node]
            node = np.where(left, ensemble.children[node, 0], ensemble.children[node, 1])
        found[slot] = node
    return found


def plain_leaf(ensemble: TreeEnsemble, tree: int, x: Matrix) -> int:
    """Walk one tree for one row until a leaf (a node that is its own child)."""
    node = int(ensemble.roots[tree])
    while ensemble.children[node, 0] != node:
        go_left = x[ensemble.feature[node]] <= ensemble.threshold[node]
        node = int(ensemble.children[node, 0 if go_left else 1])
    return node


def plain_raw_score(ensemble: TreeEnsemble, X: Matrix) -> Matrix:
    """Add the leaf values tree by tree in walk order, then the baseline: the predictor's arithmetic."""
    leaves = plain_leaves(ensemble, X)
    total = ensemble.value[leaves[0]].copy()
    for slot in range(1, len(leaves)):
        total += ensemble.value[leaves[slot]]
    return np.asarray(total + ensemble.baseline, dtype=np.float64)


def fitted(max_leaf_nodes: int) -> TreeEnsemble:
    """Fit a small booster on generated clients and export its trees (no calibration needed here)."""
    X = engineer(to_matrix(generate_rows(2000, seed=max_leaf_nodes)))
    y = (X[:, MODEL_FEATURES.index("max_delay")] + np.random.default_rng(0).normal(size=len(X)) > 1).astype(
        int
    )
    booster = HistGradientBoostingClassifier(
        max_iter=15, max_leaf_nodes=max_leaf_nodes, min_samples_leaf=5, early_stopping=False, random_state=0
    ).fit(X, y)
    calibrated = CalibratedClassifierCV(booster, method="sigmoid", cv=2, ensemble=False).fit(X, y)
    return export_ensemble(calibrated, columns=list(range(N_FEATURES)), n_features=N_FEATURES)


def edge_rows(ensemble: TreeEnsemble, seed: int) -> Matrix:
    """Generated rows, then each split's threshold hit exactly and just above, one feature at a time."""
    X = engineer(to_matrix(generate_rows(300, seed=seed)))
    split = np.flatnonzero(ensemble.is_split)
    exact = X[np.arange(split.size) % len(X)].copy()
    exact[np.arange(split.size), ensemble.feature[split]] = ensemble.threshold[split]
    above = exact.copy()
    above[np.arange(split.size), ensemble.feature[split]] = np.nextafter(ensemble.threshold[split], np.inf)
    return np.vstack([X, exact, above])


@pytest.mark.parametrize("max_leaf_nodes", [8, 16, 17, 33, 64], ids=lambda n: f"{n}-leaves")
def test_leaves_equal_a_plain_walk_on_generated_and_edge_rows(max_leaf_nodes: int) -> None:
    """16 leaves fit uint16 masks, 17 need uint32, 33 uint64: every width finds the same leaves."""
    ensemble = fitted(max_leaf_nodes)
    X = edge_rows(ensemble, seed=max_leaf_nodes)
    np.testing.assert_array_equal(ensemble.leaves(X), plain_leaves(ensemble, X))
    assert np.array_equal(ensemble.raw_score(X), plain_raw_score(ensemble, X))


def test_leaves_equal_a_walk_of_one_row_in_one_tree() -> None:
    ensemble = load_model(MODEL_DIR).ensemble
    X = edge_rows(ensemble, seed=3)[::37]
    leaves = ensemble.leaves(X)
    for slot, tree in enumerate(ensemble.walk_order):
        assert leaves[slot].tolist() == [plain_leaf(ensemble, int(tree), x) for x in X]


def hand_built() -> TreeEnsemble:
    """Four trees on two features: a stump at 0.5, a lone leaf, a split at -inf and one at +inf."""
    inf = np.inf
    # node: 0 stump, 1-2 its leaves; 3 lone leaf; 4 split at -inf, 5-6; 7 split at +inf, 8-9.
    feature = np.array([0, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    threshold = np.array([0.5, inf, inf, inf, -inf, inf, inf, inf, inf, inf])
    children = np.array([[1, 2], [1, 1], [2, 2], [3, 3], [5, 6], [5, 5], [6, 6], [8, 9], [8, 8], [9, 9]])
    value = np.array([0.0, 1.0, 2.0, 4.0, 0.0, 8.0, 16.0, 0.0, 32.0, 64.0])
    return TreeEnsemble(
        feature=feature,
        threshold=threshold,
        children=children,
        value=value,
        roots=np.array([0, 3, 4, 7]),
        depth=1,
        baseline=0.25,
        slope=-1.0,
        intercept=0.0,
        n_features=2,
    )


@pytest.mark.parametrize(
    ("x0", "raw"),
    [(0.5, 0.25 + 1 + 4 + 16 + 32), (np.nextafter(0.5, 1), 0.25 + 2 + 4 + 16 + 32), (-1e308, 53.25)],
    ids=["threshold-hit-goes-left", "just-above-goes-right", "far-below"],
)
def test_depth_one_trees_lone_leaves_and_infinite_thresholds(x0: float, raw: float) -> None:
    ensemble = hand_built()
    X = np.array([[x0, -1e308], [x0, 1e308]])
    assert ensemble.raw_score(X).tolist() == [raw, raw]
    np.testing.assert_array_equal(ensemble.leaves(X), plain_leaves(ensemble, X))


def test_trees_of_more_than_64_leaves_are_refused() -> None:
    """A caterpillar of 64 splits: each sends x <= k to a leaf on the left, the rest on to the right."""
    splits = 64
    children = [[splits + 1 + k, k + 1] for k in range(splits)] + [[splits, splits]]
    children += [[splits + 1 + k, splits + 1 + k] for k in range(splits)]
    n = len(children)
    with pytest.raises(ValueError, match="at most 64"):
        TreeEnsemble(
            feature=np.zeros(n, dtype=np.intp),
            threshold=np.where(np.arange(n) < splits, np.arange(n, dtype=np.float64), np.inf),
            children=np.array(children),
            value=np.zeros(n),
            roots=np.array([0]),
            depth=splits,
            baseline=0.0,
            slope=-1.0,
            intercept=0.0,
            n_features=1,
        )


@pytest.mark.realdata
def test_every_leaf_of_the_shipped_model_equals_a_plain_walk_on_the_real_rows(real_data_path: Path) -> None:
    ensemble = load_model(MODEL_DIR).ensemble
    X = engineer(load_dataset(real_data_path).X)
    np.testing.assert_array_equal(ensemble.leaves(X), plain_leaves(ensemble, X))
    assert np.array_equal(ensemble.raw_score(X), plain_raw_score(ensemble, X))


def test_answers_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 7 rows (ragged last block) give the same PDs and reasons, bit for bit, as one block."""
    model = load_model(MODEL_DIR)
    raw = to_matrix(generate_rows(50, seed=4))
    whole = (model.ensemble.raw_score(engineer(raw)), model.assess(raw))
    monkeypatch.setattr(rewalk, "BLOCK_ROWS", 7)
    assert np.array_equal(model.ensemble.raw_score(engineer(raw)), whole[0])
    assert model.assess(raw) == whole[1]


@pytest.mark.parametrize("rows", [1, 5, 64, 65], ids=lambda n: f"{n}-rows")
def test_few_rows_take_one_search_and_find_the_same_leaves(rows: int) -> None:
    """Up to FEW_ROWS rows, all features share one search of (feature, threshold) complex keys."""
    ensemble = load_model(MODEL_DIR).ensemble
    X = edge_rows(ensemble, seed=rows)[-rows * 7 :: 7]
    np.testing.assert_array_equal(ensemble.leaves(X), plain_leaves(ensemble, X))
    # numpy sums one row's (trees x 1) values pairwise, not tree by tree, as the walk before this one did.
    np.testing.assert_allclose(ensemble.raw_score(X), plain_raw_score(ensemble, X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", list(leafmasks.MASK_TYPES), ids=lambda t: t.__name__)
def test_the_de_bruijn_hash_finds_the_lowest_set_bit_of_every_mask(dtype: type[np.unsignedinteger]) -> None:
    """Every mask with a lowest set bit j (all 65,536 for uint16; each j with random higher bits for the wider
    types) lands in tree t's slot for bit j: t x bits + the hash of 2**j."""
    bits = np.iinfo(dtype).bits
    rng = np.random.default_rng(bits)
    if dtype is np.uint16:
        masks = np.arange(1, 1 << 16, dtype=np.uint16)
    else:
        high = rng.integers(0, np.iinfo(np.int64).max, size=(bits, 50), dtype=np.int64).astype(dtype)
        lowest = (dtype(1) << np.arange(bits, dtype=dtype))[:, None]
        masks = ((high << dtype(1)) * lowest | lowest).ravel()  # bit j set, everything below it clear
    expected = np.array([(int(m) & -int(m)).bit_length() - 1 for m in masks.tolist()])
    slots = leafmasks._bit_slots(dtype)
    tables = SimpleNamespace(slot_starts=np.array([0, bits, 2 * bits], dtype=np.intp))
    found = leafmasks.leaf_slots(tables, np.stack([masks] * 3, axis=1))  # type: ignore[arg-type]
    for tree in range(3):
        assert found[tree].tolist() == (tree * bits + slots[expected]).tolist()


def test_a_multiplier_that_is_not_de_bruijn_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(leafmasks.DE_BRUIJN, np.uint16, 0x0F64)  # even: bit 15 and bit 14 collide
    with pytest.raises(ValueError, match="not a de Bruijn multiplier"):
        leafmasks._bit_slots(np.uint16)


def test_the_tables_hold_each_threshold_once() -> None:
    """Splits sharing a threshold share one prefix: the shipped model's 3,500 splits on 21 features need only
    the distinct thresholds (a search of a few levels for a payment status, not one per split)."""
    ensemble = load_model(MODEL_DIR).ensemble
    tables = ensemble._masks
    for f, cuts in enumerate(tables.cuts):
        assert np.all(np.diff(cuts) > 0), f
        split_on_f = ensemble.is_split & (ensemble.feature == f)
        assert cuts.tolist() == np.unique(ensemble.threshold[split_on_f]).tolist()
    assert tables.masks.shape[0] == sum(cuts.size + 1 for cuts in tables.cuts)
