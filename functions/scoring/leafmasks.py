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
# De Bruijn multipliers: for a mask type of b bits, (lowest set bit x multiplier mod 2**b) >> (b - log2 b) is a
# different number below b for each of the b bits (Leiserson, Prokop and Randall 1998, "Using de Bruijn
# Sequences to Index a 1 in a Computer Word"): a leaf's slot costs five passes of integer arithmetic and one
# gather from a table of (trees x b) values, not a look-up in a 64K table per (row, tree).
DE_BRUIJN: Final = {np.uint16: 0x0F65, np.uint32: 0x077CB531, np.uint64: 0x022FDD63CC95386D}


@dataclass(frozen=True)
class LeafMasks:
    """Per-feature threshold prefixes and, per prefix and tree, the leaves they leave reachable."""

    cuts: tuple[Matrix, ...]  # per model feature: the distinct thresholds of the splits on it, ascending
    starts: npt.NDArray[np.intp]  # per model feature: the row of `masks` of its empty prefix
    keys: npt.NDArray[np.complex128]  # every (feature, threshold) as feature + i threshold, ascending
    masks: Masks  # (prefixes, trees): bit j set while the tree's leaf j is still reachable
    slot_nodes: npt.NDArray[np.intp]  # (trees x mask bits): node of the leaf whose bit hashes to each slot
    slot_values: Matrix  # (trees x mask bits): its value (`leaf_slots`)
    slot_starts: npt.NDArray[np.intp]  # (trees): each tree's first slot

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
        ascending = np.array([threshold[node] for node, _, _ in chosen], dtype=np.float64)
        # Splits that share a threshold are passed or not together: keep the prefix after the last of each
        # (a value never stops inside such a run), so the search and the table hold distinct thresholds only.
        ends = (
            np.flatnonzero(np.append(ascending[1:] != ascending[:-1], True)) if chosen else np.empty(0, int)
        )
        cuts.append(ascending[ends])
        blocks.append(np.bitwise_and.accumulate(block, axis=0)[np.append(0, ends + 1)])
    sizes = np.array([block.shape[0] for block in blocks], dtype=np.intp)
    bits = np.iinfo(dtype).bits
    slot_nodes = np.zeros((len(numbered), bits), dtype=np.intp)
    slot_nodes[:] = leaf_nodes[:, -1:]  # slots of no leaf (never a lowest bit) hold the rightmost leaf
    slot_nodes[:, _bit_slots(dtype)[: leaf_nodes.shape[1]]] = leaf_nodes
    return LeafMasks(
        cuts=tuple(cuts),
        keys=_complex(np.repeat(np.arange(n_features), sizes - 1), np.concatenate(cuts)),
        starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp),
        masks=np.ascontiguousarray(np.concatenate(blocks)),
        slot_nodes=slot_nodes.ravel(),
        slot_values=value[slot_nodes].ravel(),
        slot_starts=np.arange(len(numbered), dtype=np.intp) * bits,
    )


def _bit_slots(dtype: type[np.unsignedinteger]) -> npt.NDArray[np.intp]:
    """Return, for each bit j of the mask type, its slot: (2**j x DE_BRUIJN[dtype] mod 2**bits) >> shift."""
    bits = np.iinfo(dtype).bits
    shift = bits - bits.bit_length() + 1  # bits - log2(bits)
    slots = np.array(
        [((1 << j) * DE_BRUIJN[dtype] % (1 << bits)) >> shift for j in range(bits)], dtype=np.intp
    )
    if np.unique(slots).size != bits:  # a wrong multiplier would send two leaves to one slot
        raise ValueError(f"DE_BRUIJN[{dtype.__name__}] is not a de Bruijn multiplier")
    return slots


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


def leaf_slots(
    tables: LeafMasks, masks: Masks, *, trees: npt.NDArray[np.intp] | None = None
) -> npt.NDArray[np.intp]:
    """Return each (tree, row) pair's slot in `slot_values` and `slot_nodes`, shape (trees, rows), from masks
    (rows x trees): the tree's first slot plus the de Bruijn hash of the mask's lowest set bit (`DE_BRUIJN`);
    with `trees` (table indices), the masks and the answer hold only those trees."""
    dtype = masks.dtype.type
    bits = np.iinfo(dtype).bits
    lowest = np.negative(masks)  # two's complement: x & -x keeps the lowest set bit
    np.bitwise_and(lowest, masks, out=lowest)
    np.multiply(lowest, dtype(DE_BRUIJN[dtype]), out=lowest)  # modulo 2**bits
    np.right_shift(lowest, dtype(bits - bits.bit_length() + 1), out=lowest)
    starts = tables.slot_starts if trees is None else tables.slot_starts[trees]
    # One pass transposes to (trees, rows), widens to intp (gathers by intp are the fastest) and adds each
    # tree's first slot: starts are multiples of `bits` and a hash is below `bits`, so or adds.
    slots: npt.NDArray[np.intp] = np.empty(masks.shape[::-1], dtype=np.intp)
    np.bitwise_or(lowest.T, starts[:, None], out=slots, dtype=np.intp, casting="unsafe")
    return slots


def leaf_values(tables: LeafMasks, masks: Masks, *, trees: npt.NDArray[np.intp] | None = None) -> Matrix:
    """Return the value of each (tree, row) pair's leaf, shape (trees, rows), trees in table order; with `trees`
    (table indices, ascending), the masks (rows x trees) and the answer hold only those trees."""
    return np.take(tables.slot_values, leaf_slots(tables, masks, trees=trees))
