"""The sparse re-walk equals a dense oracle bit for bit: every tree walked from its root for the row and for its
variant, the leaf differences added in walk order, at every block size and for every kind of variant."""

import numpy as np
import numpy.typing as npt
import pytest

from functions.scoring import rewalk
from functions.scoring.features import engineer
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.reasons import REASON_GROUPS, counterfactuals
from functions.scoring.trees import TreeEnsemble
from training.synthetic import generate_rows

Matrix = npt.NDArray[np.float64]


def leaf_values(ensemble: TreeEnsemble, X: Matrix) -> Matrix:
    """Walk every tree from its root for every row (x <= threshold goes left); leaf values (trees, rows)."""
    rows = np.arange(len(X))
    found = np.empty((ensemble.roots.size, len(X)), dtype=np.float64)
    for slot, tree in enumerate(ensemble.walk_order):
        node = np.full(len(X), ensemble.roots[tree])
        for _ in range(ensemble.depth):
            left = X[rows, ensemble.feature[node]] <= ensemble.threshold[node]
            node = np.where(left, ensemble.children[node, 0], ensemble.children[node, 1])
        found[slot] = ensemble.value[node]
    return found


def oracle(ensemble: TreeEnsemble, X: Matrix, variant: Matrix) -> list[float]:
    """X's log-odds plus, tree by tree in walk order, the variant's leaf value minus X's (rewalk's contract)."""
    own, now, was = ensemble.raw_score(X), leaf_values(ensemble, variant), leaf_values(ensemble, X)
    answers = []
    for row in range(len(X)):
        change = 0.0
        for tree in range(now.shape[0]):
            change += now[tree, row] - was[tree, row]
        answers.append(float(own[row] + change))
    return answers


@pytest.fixture(params=[None, 7], ids=["default-blocks", "blocks-of-7"])
def block_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with the shipped block size and with blocks of 7 rows (a block boundary inside every batch)."""
    if request.param is not None:
        monkeypatch.setattr(rewalk, "BLOCK_ROWS", request.param)


@pytest.fixture(params=[None, 0.0, 2.0], ids=["shipped-dense-share", "always-dense", "never-dense"])
def dense(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walk a variant's moved rows and its trees only (never dense), all of them (always), or as shipped."""
    if request.param is not None:
        monkeypatch.setattr(rewalk, "DENSE", request.param)


@pytest.mark.usefixtures("block_rows", "dense")
@pytest.mark.parametrize("rows", [1, 2, 31])
def test_counterfactual_variants_equal_the_dense_oracle_bit_for_bit(model: ScoringModel, rows: int) -> None:
    raw = to_matrix(generate_rows(rows, seed=rows))
    X = engineer(raw)
    variants = [engineer(v) for v in counterfactuals(raw, model.manifest.reference_profile)]
    stacked = model.ensemble.rewalk(X, variants, tags=model.node_tags)
    assert stacked.shape == (1 + len(REASON_GROUPS), rows)
    assert stacked[0].tolist() == model.ensemble.raw_score(X).tolist()
    for k, variant in enumerate(variants):
        assert stacked[1 + k].tolist() == oracle(model.ensemble, X, variant), list(REASON_GROUPS)[k]


@pytest.mark.usefixtures("block_rows", "dense")
def test_a_variant_equal_to_the_rows_gives_their_own_log_odds(model: ScoringModel) -> None:
    X = engineer(to_matrix(generate_rows(20, seed=4)))
    stacked = model.ensemble.rewalk(X, [X.copy()] * len(REASON_GROUPS), tags=model.node_tags)
    assert all(row.tolist() == stacked[0].tolist() for row in stacked[1:])


def test_blocks_cover_every_row_once_in_order() -> None:
    assert [(s.start, s.stop) for s in rewalk.blocks(10, 4)] == [(0, 4), (4, 8), (8, 10)]
    assert list(rewalk.blocks(0, 4)) == []
    assert [(s.start, s.stop) for s in rewalk.blocks(3)] == [(0, 3)]


def test_tree_sum_adds_in_tree_order_for_one_row_as_for_many() -> None:
    values = np.array([[1e16, 1e16], [1.0, 1.0], [-1e16, -1e16], [1.0, 1.0]])
    in_order = ((1e16 + 1.0) + -1e16) + 1.0  # 1.0: the first 1.0 is lost against 1e16
    assert rewalk.tree_sum(values).tolist() == [in_order, in_order]
    assert rewalk.tree_sum(values[:, :1]).tolist() == [in_order]


@pytest.mark.usefixtures("block_rows", "dense")
@pytest.mark.parametrize("rows", [1, 31])
def test_variants_that_differ_row_by_row_equal_the_dense_oracle(model: ScoringModel, rows: int) -> None:
    """Each group's features taken from other clients (a value per row, not the reference's one value)."""
    ensemble = model.ensemble
    X, other = (engineer(to_matrix(generate_rows(rows, seed=seed))) for seed in (rows, rows + 100))
    variants = []
    for bit in range(len(REASON_GROUPS)):
        read = np.unique(ensemble.feature[ensemble.is_split & (model.node_tags & (1 << bit) != 0)])
        variant = X.copy()
        variant[:, read] = other[:, read]
        variants.append(variant)
    stacked = ensemble.rewalk(X, variants, tags=model.node_tags)
    for k, variant in enumerate(variants):
        assert stacked[1 + k].tolist() == oracle(ensemble, X, variant), list(REASON_GROUPS)[k]
