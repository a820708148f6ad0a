"""Find each row's leaf in every tree from per-feature bit masks, not node by node (QuickScorer's idea).

Number each tree's leaves left to right. A split whose test a row fails (x > threshold, the row goes
right) rules out the leaves of the split's left subtree; the leaf a row reaches is the leftmost leaf that
none of its failed splits rules out. The splits on one feature that a value fails are those whose
threshold is below it, a prefix of that feature's thresholds in ascending order: one `searchsorted` per
feature finds the prefix, and a table holds, per prefix and tree, the AND of the prefix's masks. A row's
leaf in every tree is then the lowest bit of the AND over features of one table row each: a few
contiguous numpy passes per feature instead of several scattered look-ups per tree level.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
Masks = npt.NDArray[np.unsignedinteger]
MASK_TYPES: Final = (np.uint16, np.uint32, np.uint64)  # the narrowest that holds a tree's leaves is used
FEW_ROWS: Final = 64  # up to this many rows, one search and one gather serve all features (the API's path)
# Lowest set bit of every 16-bit mask (0 has none and never occurs: the rightmost leaf is never ruled out).
_LOWEST_BIT: Final = np.zeros(1 << 16, dtype=np.intp)  # intp: no cast before it indexes
for _bit in range(15, -1, -1):
    _LOWEST_BIT[(np.arange(1 << 16) >> _bit) & 1 == 1] = _bit


@dataclass(frozen=True)
class LeafMasks:
    """Per-feature threshold prefixes and, per prefix and tree, the leaves they leave reachable."""

    cuts: tuple[Matrix, ...]  # per model feature: ascending thresholds of the splits on it
    starts: npt.NDArray[np.intp]  # per model feature: the row of `masks` of its empty prefix
    keys: npt.NDArray[np.complex128]  # every (feature, threshold) as feature + i threshold, ascending
    masks: Masks  # (prefixes, trees): bit j set while the tree's leaf j is still reachable
    leaf_nodes: npt.NDArray[np.intp]  # (trees, widest tree's leaves): node of each leaf, left to right
    leaf_values: Matrix  # (trees, widest tree's leaves): value of each leaf, left to right

    @property
    def read(self) -> tuple[int, ...]:
        """Return the model features that some split reads."""
        return tuple(f for f, cut in enumerate(self.cuts) if cut.size)


def _number_leaves(children: npt.NDArray[np.intp], root: int) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """Return a tree's leaves left to right and, per split, the range of leaf numbers of its left subtree."""
    leaves: list[int] = []
    left_range: dict[int, tuple[int, int]] = {}
    stack: list[tuple[int, bool]] = [(root, False)]
    first: dict[int, int] = {}
    while stack:  # depth first, left before right; a split's left range closes when its right child opens
        node, left_done = stack.pop()
        left, right = int(children[node, 0]), int(children[node, 1])
        if left == node:
            leaves.append(node)
        elif left_done:
            left_range[node] = (first[node], len(leaves))
            stack.append((right, False))
        else:
            first[node] = len(leaves)
            stack.extend([(node, True), (left, False)])
    return leaves, left_range


def build_masks(
    feature: npt.NDArray[np.intp],
    threshold: Matrix,
    children: npt.NDArray[np.intp],
    value: Matrix,
    roots: Iterable[int],
    n_features: int,
) -> LeafMasks:
    """Build the tables for the trees at `roots` (in that order); raises ValueError above 64 leaves a tree."""
    numbered = [_number_leaves(children, int(root)) for root in roots]
    widest = max((len(leaves) for leaves, _ in numbered), default=1)
    fitting = [t for t in MASK_TYPES if np.iinfo(t).bits >= widest]
    if not fitting:
        raise ValueError(f"a tree has {widest} leaves; at most 64 are supported")
    dtype = fitting[0]
    leaf_nodes = np.zeros((len(numbered), widest), dtype=np.intp)
    splits: list[tuple[int, int, int]] = []  # (node, tree, mask of the leaves a failed test leaves)
    full = int(np.iinfo(dtype).max)
    for tree, (leaves, left_range) in enumerate(numbered):
        leaf_nodes[tree, : len(leaves)] = leaves
        leaf_nodes[tree, len(leaves) :] = leaves[-1]  # padding, never the lowest reachable bit
        for node, (lo, hi) in left_range.items():
            splits.append((node, tree, full ^ ((1 << hi) - (1 << lo))))
    by_feature: list[list[tuple[int, int, int]]] = [[] for _ in range(n_features)]
    for split in splits:
        by_feature[int(feature[split[0]])].append(split)
    cuts, blocks = [], []
    for chosen in by_feature:
        chosen.sort(key=lambda split: float(threshold[split[0]]))
        block = np.full((len(chosen) + 1, len(numbered)), full, dtype=dtype)
        for row, (_, tree, mask) in enumerate(chosen, start=1):
            block[row, tree] = mask
        cuts.append(np.array([threshold[node] for node, _, _ in chosen], dtype=np.float64))
        blocks.append(np.bitwise_and.accumulate(block, axis=0))
    sizes = np.array([block.shape[0] for block in blocks], dtype=np.intp)
    return LeafMasks(
        cuts=tuple(cuts),
        keys=_complex(np.repeat(np.arange(n_features), sizes - 1), np.concatenate(cuts)),
        starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp),
        masks=np.ascontiguousarray(np.concatenate(blocks)),
        leaf_nodes=leaf_nodes,
        leaf_values=value[leaf_nodes],
    )


def _complex(real: npt.NDArray[np.intp], imaginary: Matrix) -> npt.NDArray[np.complex128]:
    """Pair two arrays as complex numbers, exactly (real + 1j * imaginary would turn 0 * inf into nan)."""
    paired = np.empty(np.broadcast_shapes(real.shape, imaginary.shape), dtype=np.complex128)
    paired.real, paired.imag = real, imaginary
    return paired


def reachable(tables: LeafMasks, X: Matrix, features: Iterable[int], *, into: Masks | None = None) -> Masks:
    """AND into `into` (rows x trees, default all set) the leaves reachable given X's values of `features`."""
    chosen = np.fromiter(features, dtype=np.intp)
    if chosen.size and X.shape[0] <= FEW_ROWS:
        # numpy orders complex numbers by real part, then imaginary part: one search finds, for every
        # (feature, value), the thresholds of earlier features plus this feature's thresholds below x.
        found = np.searchsorted(tables.keys, _complex(chosen, X[:, chosen]).ravel(), side="left")
        rows = np.take(tables.masks, found + np.tile(chosen, X.shape[0]), axis=0)  # + f: empty prefixes
        reduced: Masks = np.bitwise_and.reduce(rows.reshape(X.shape[0], chosen.size, -1), axis=1)
        return reduced if into is None else np.bitwise_and(into, reduced, out=into)
    for f in chosen.tolist():
        prefix = np.searchsorted(tables.cuts[f], X[:, f], side="left")  # splits whose threshold is < x
        rows = np.take(tables.masks, prefix + tables.starts[f], axis=0)
        into = rows if into is None else np.bitwise_and(into, rows, out=into)
    if into is None:
        into = np.full((X.shape[0], tables.masks.shape[1]), ~tables.masks.dtype.type(0))
    return into


def leaf_index(masks: Masks) -> npt.NDArray[np.intp]:
    """Return each (tree, row) pair's leaf number, shape (trees, rows), from masks of shape (rows, trees)."""
    transposed = np.ascontiguousarray(masks.T)
    if transposed.dtype == np.uint16:
        return np.take(_LOWEST_BIT, transposed)
    lowest = transposed & (~transposed + transposed.dtype.type(1))  # two's complement isolates the bit
    return (np.frexp(lowest.astype(np.float64))[1] - 1).astype(np.intp)


def leaf_values(tables: LeafMasks, masks: Masks, *, trees: npt.NDArray[np.intp] | None = None) -> Matrix:
    """Return the value of each (tree, row) pair's leaf, shape (trees, rows), trees in table order; with `trees`
    (table indices, ascending), the masks (rows x trees) and the answer hold only those trees."""
    if trees is None:
        index = leaf_index(masks)
        index += (np.arange(index.shape[0]) * tables.leaf_values.shape[1])[:, None]
    else:
        index = leaf_index(masks)
        index += (trees * tables.leaf_values.shape[1])[:, None]
    return np.take(tables.leaf_values, index)
