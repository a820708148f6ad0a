"""Re-walk only what a variant of the rows can change: the trees that split on its changed features, the rows
whose values there fall between other thresholds than the original's.

A variant's leaf differs from the row's only in a tree that splits on a feature the variant changes, and only
when the changed value passes another threshold of that feature (another prefix of its ascending thresholds,
functions/scoring/leafmasks.py). So each variant re-walks the (row, tree) pairs of those rows and those trees,
and its log-odds is the row's plus the sum, in walk order, of its leaf values minus the row's there: every
other difference is exactly 0.0, which a sum in tree order adds as nothing, so the answer is bit for bit the
one a re-walk of every tree gives (`TreeEnsemble.rewalk`'s contract), at a fraction of the work. Once a variant
moves most of a block's rows, or reads most of the trees (`DENSE`), it walks them all: the gathers that would
leave the rest out cost more than re-walking pairs whose differences are exactly 0.0, which is what the dense
re-walk adds there anyway.
"""

from collections.abc import Iterator, Sequence
from functools import reduce
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from functions.scoring.leafmasks import LeafMasks, Masks, leaf_values, reachable

Matrix = npt.NDArray[np.float64]
# The trees that split on a feature; per (tree, value) its interval; per interval its tree (position) and mask.
Intervals = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], Masks]
G = TypeVar("G", bound=np.generic)
Chosen = slice | npt.NDArray[np.intp] | None  # rows or columns to pick: None or a full slice for all
DENSE: Final = 0.75  # share of a block's rows, or of the trees, from which a variant walks them all
BLOCK_ROWS: Final = 512  # rows per block: (rows x trees) masks, slots and values stay in a core's L2 cache


def blocks(rows: int, size: int | None = None) -> Iterator[slice]:
    """Split rows into blocks of `size` (default BLOCK_ROWS) whose masks and leaf values stay in cache."""
    step = size or BLOCK_ROWS
    return (slice(start, min(start + step, rows)) for start in range(0, rows, step))


def tree_sum(values: Matrix) -> Matrix:
    """Sum (trees, rows) leaf values over trees, in tree order whatever the number of rows.

    numpy adds the rows of a (trees, n) array one after another when n >= 2, but a lone column pairwise: a
    single row then differs from the same row in a batch in the last bits. cumsum is always in order.
    """
    if values.shape[1] == 1:
        return np.asarray(np.cumsum(values[:, 0])[-1:], dtype=np.float64)
    return np.asarray(values.sum(axis=0), dtype=np.float64)


def trees_reading(tables: LeafMasks, features: Sequence[int]) -> npt.NDArray[np.intp]:
    """Return the trees (table order) that split on any of `features` (model feature indices)."""
    split = np.zeros(tables.masks.shape[1], dtype=bool)
    for f in features:
        last = tables.masks[tables.starts[f] + tables.cuts[f].size]  # every split on f applied
        split |= last != ~last.dtype.type(0)
    return np.flatnonzero(split)


def _prefix(tables: LeafMasks, X: Matrix, f: int) -> npt.NDArray[np.intp]:
    """Return the row of `tables.masks` each value of feature f selects (rows)."""
    found: npt.NDArray[np.intp] = np.searchsorted(tables.cuts[f], X[:, f], side="left")
    found += tables.starts[f]
    return found


def _fixed_prefix(tables: LeafMasks, X: Matrix, f: int) -> int | None:
    """Return the row of `tables.masks` feature f selects when all of X's rows hold one value there (a group set
    to the reference profile), else None."""
    column = X[:, f]
    if column.size == 0 or not column[0] == column.min() == column.max():
        return None
    return int(np.searchsorted(tables.cuts[f], column[0], side="left")) + int(tables.starts[f])


def _and(tables: LeafMasks, prefixes: Sequence[npt.NDArray[np.intp]], rows: int) -> Masks:
    """AND the mask rows of several features' prefixes (rows x trees); all leaves reachable for none."""
    if not prefixes:
        return np.full((rows, tables.masks.shape[1]), ~tables.masks.dtype.type(0))
    masks = np.take(tables.masks, prefixes[0], axis=0)
    for prefix in prefixes[1:]:
        np.bitwise_and(masks, np.take(tables.masks, prefix, axis=0), out=masks)
    return masks


def rewalk(
    tables: LeafMasks,
    baseline: float,
    X: Matrix,
    variants: Sequence[Matrix],
    changed: Sequence[Sequence[int]],
) -> Matrix:
    """Return the log-odds of X's rows and of each variant's, shape (1 + variants, rows).

    Variant k differs from X (rows x model features) at most in features `changed[k]`; raises nothing itself
    (the caller checks shapes and finiteness).
    """
    trees = [trees_reading(tables, cols) for cols in changed]
    parts: dict[int, list[int]] = {}  # features by the set of variants that change them (bit k: variant k)
    for f in tables.read:
        parts.setdefault(sum(1 << k for k, cols in enumerate(changed) if f in cols), []).append(f)
    keys = list(parts)
    stacked = np.empty((1 + len(variants), X.shape[0]), dtype=np.float64)
    fixed = [
        {f: _fixed_prefix(tables, v, f) for f in cols} for v, cols in zip(variants, changed, strict=True)
    ]
    # Per variant, the AND of the table rows its one-value columns select (1 x trees): one AND a block for all.
    fixed_rows = [_fixed_row(tables, [at for at in by.values() if at is not None]) for by in fixed]
    for block in blocks(X.shape[0]):
        x, n = X[block], block.stop - block.start
        prefix = {f: _prefix(tables, x, f) for f in tables.read}
        kept = [_and(tables, [prefix[f] for f in parts[key]], n) for key in keys]
        before, after = _running_and(kept), _running_and(kept[::-1])[::-1]
        reached = before[-1] if kept else _and(tables, [], n)
        values = leaf_values(tables, reached)  # (trees, rows)
        stacked[0, block] = tree_sum(values) + baseline
        for k, variant in enumerate(variants):
            change = np.zeros(n, dtype=np.float64)
            moved = {
                f: _prefix(tables, variant[block], f) if at is None else at for f, at in fixed[k].items()
            }
            moving = reduce(np.logical_or, (moved[f] != prefix[f] for f in moved), np.zeros(n, bool))
            count = int(np.count_nonzero(moving))
            if count and trees[k].size:
                # Past DENSE of the rows or trees, walk them all: their differences are exactly 0.0 (what the
                # dense re-walk adds) and the gathers that would leave them out cost more than they save.
                rows = slice(None) if count >= DENSE * n else np.flatnonzero(moving)
                on = None if trees[k].size >= DENSE * values.shape[0] else trees[k]
                kept_k = _all_but(k, keys, kept, before, after)
                kept_k = _and(tables, [], n) if kept_k is None else kept_k  # it changes every part
                masks, fixed_row = _pick(kept_k, rows, on), fixed_rows[k]
                if fixed_row is not None:  # a new array either way: kept_k stays as it was
                    picked = _pick(fixed_row, None, on)
                    masks = np.bitwise_and(masks, picked, out=None if masks is kept_k else masks)
                elif masks is kept_k:
                    masks = masks.copy()  # ANDed in place below
                for chosen in moved.values():
                    if not isinstance(chosen, int):  # a value per row: a table row per row
                        at = np.take(tables.masks, chosen[rows], axis=0)
                        np.bitwise_and(masks, _pick(at, None, on), out=masks)
                now = leaf_values(tables, masks, trees=on)  # (trees, rows)
                np.subtract(now, _pick(values, on, rows), out=now)
                change[rows] = tree_sum(now)
            stacked[1 + k, block] = stacked[0, block] + change
    return stacked


def _fixed_row(tables: LeafMasks, prefixes: Sequence[int]) -> Masks | None:
    """Return the AND of the table rows at `prefixes` (1 x trees), None for none."""
    rows = [tables.masks[at : at + 1] for at in prefixes]
    return reduce(np.bitwise_and, rows) if rows else None


def _pick(array: npt.NDArray[G], rows: Chosen, cols: Chosen) -> npt.NDArray[G]:
    """Return `array`'s chosen rows and columns (None or a slice: all of them), `array` itself if all."""
    picked = array if rows is None or isinstance(rows, slice) else np.take(array, rows, axis=0)
    return picked if cols is None or isinstance(cols, slice) else np.take(picked, cols, axis=1)


def _running_and(masks: Sequence[Masks]) -> list[Masks]:
    """Return the AND of masks[0..i] for each i (new arrays, the inputs untouched)."""
    running: list[Masks] = []
    for m in masks:
        running.append(m.copy() if not running else np.bitwise_and(running[-1], m))
    return running


def _all_but(
    k: int, keys: Sequence[int], kept: Sequence[Masks], before: Sequence[Masks], after: Sequence[Masks]
) -> Masks | None:
    """Return the AND of the parts (`kept`, by `keys`) variant k leaves as X's, from the running ANDs when one
    part holds all it changes; None when it changes every part."""
    mine = [i for i, key in enumerate(keys) if key >> k & 1]
    if len(mine) == 1:
        i = mine[0]
        sides = [before[i - 1]] if i else []
        sides += [after[i + 1]] if i + 1 < len(kept) else []
    else:
        sides = [masks for key, masks in zip(keys, kept, strict=True) if not key >> k & 1]
    return reduce(np.bitwise_and, sides) if sides else None


def at_values(tables: LeafMasks, feature: int, values: Matrix) -> Intervals:
    """Return what `raw_score_with` needs of `values` (of model feature `feature`), once per values: the trees
    that split on the feature, and the intervals of the values each of them tells apart (`_intervals`)."""
    trees = trees_reading(tables, [feature])
    at = np.zeros((values.size, len(tables.cuts)), dtype=np.float64)
    at[:, feature] = values
    return (trees, *_intervals(reachable(tables, at, (feature,))[:, trees]))


def raw_score_with(
    tables: LeafMasks,
    baseline: float,
    X: Matrix,
    feature: int,
    values: Matrix,
    *,
    prepared: Intervals | None = None,
) -> tuple[Matrix, Matrix]:
    """Return X's log-odds (rows) and those with `feature` set to each of `values` (rows x values).

    A value's log-odds is X's plus, over the trees that split on `feature` (in walk order), the leaf value at
    that value minus X's; only those trees are walked again, and X's rows are walked once. A tree tells apart
    only the values between its own thresholds: each row finds its leaf once per such interval of each tree.
    `prepared` is `at_values(tables, feature, values)`, computed here when not given.
    """
    trees, pair_of, pair_tree, pair_masks = prepared or at_values(tables, feature, values)
    others = tuple(f for f in tables.read if f != feature)
    own, raw = np.empty(X.shape[0], dtype=np.float64), np.empty((X.shape[0], values.size), dtype=np.float64)
    step = max(1, 4 * BLOCK_ROWS // max(1, values.size))  # (trees x values x rows) changes stay a few MB
    for block in blocks(X.shape[0], step):
        kept = reachable(tables, X[block], others)
        mine = leaf_values(tables, reachable(tables, X[block], (feature,), into=kept.copy()))  # (trees, rows)
        own[block] = tree_sum(mine) + baseline
        if trees.size == 0:
            raw[block] = own[block, None]
            continue
        both = np.take(np.take(kept, trees, axis=1), pair_tree, axis=1) & pair_masks  # (rows, intervals)
        at = leaf_values(tables, both, trees=trees[pair_tree])  # (intervals, rows)
        change = np.take(at, pair_of, axis=0)  # (trees, values, rows)
        change -= mine[trees][:, None, :]
        raw[block] = own[block, None] + tree_sum(change.reshape(trees.size, -1)).reshape(values.size, -1).T
    return own, raw


def _intervals(
    by_value: Masks,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Masks]:
    """Group the values' masks (values x trees) by tree into distinct ones (intervals): return each (tree,
    value)'s interval (trees x values), and each interval's tree (position in by_value's columns) and mask."""
    keys = np.ascontiguousarray(by_value.T)  # (trees, values)
    order = np.argsort(keys, axis=1, kind="stable")
    ranked = np.take_along_axis(keys, order, axis=1)
    first = np.ones(ranked.shape, dtype=bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    numbered = np.cumsum(first.ravel()).reshape(ranked.shape) - 1  # intervals tree by tree
    pair_of = np.empty_like(numbered)
    np.put_along_axis(pair_of, order, numbered, axis=1)
    pair_tree = np.repeat(np.arange(keys.shape[0]), first.sum(axis=1))
    return pair_of, pair_tree, ranked[first]
