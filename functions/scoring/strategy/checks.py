"""The checks of a strategy file that need the model: PD bands resolved against the manifest's threshold with no
gap or overlap, utilisation bands that tile the line, a line matrix with one row per risk grade of the manifest;
and the policy rules compiled into array tests for the engine.

Each check raises StrategyError naming the line, the field and what is allowed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.strategy.file import (
    MODEL_THRESHOLD,
    Condition,
    Located,
    PdBand,
    StrategyError,
    StrategyFile,
    line_of,
)

_COLUMN: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}


class Place:
    """Word a place in the file as `line N, `path`` from the raw data and the key lines."""

    def __init__(self, data: Any, lines: Located) -> None:
        self.data, self.lines = data, lines

    def __call__(self, *loc: int | str) -> str:
        """Return `line N, `a.b[1].c`` for a path of keys and indexes (without the line when unknown)."""
        path = ".".join(f"[{s}]" if isinstance(s, int) else str(s) for s in loc).replace(".[", "[")
        line = line_of(self.data, loc, self.lines)
        return f"line {line}, `{path}`" if line is not None else f"`{path}`"


def _unique(names: Sequence[str], what: str, place: Place, *loc: int | str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise StrategyError(f"{place(*loc, index)}: {what} `{name}` appears twice; each must be unique")
        seen.add(name)


def resolve_bands(bands: Sequence[PdBand], *, threshold: float, place: Place) -> tuple[PdBand, ...]:
    """Replace `model_threshold` by the manifest's PD threshold and check the bands tile [0, 1] in order."""

    def bound(value: float | str) -> float:
        return threshold if value == MODEL_THRESHOLD else float(value)

    resolved = tuple(
        b.model_copy(update={"pd_from": bound(b.pd_from), "pd_to": bound(b.pd_to)}) for b in bands
    )
    _unique([b.name for b in resolved], "band name", place, "pd_bands")
    for index, band in enumerate(resolved):
        low, high = float(band.pd_from), float(band.pd_to)
        if low >= high:
            raise StrategyError(
                f"{place('pd_bands', index)}: band `{band.name}` runs from {low:g} to {high:g}; "
                "`from` must be below `to`"
            )
    first, last = float(resolved[0].pd_from), float(resolved[-1].pd_to)
    if first != 0.0:
        raise StrategyError(
            f"{place('pd_bands', 0)}: the first band starts at PD {first:g}; it must start at 0"
        )
    if last != 1.0:
        raise StrategyError(
            f"{place('pd_bands', len(resolved) - 1)}: the last band ends at PD {last:g}; it must end at 1"
        )
    for index in range(1, len(resolved)):
        end, start = float(resolved[index - 1].pd_to), float(resolved[index].pd_from)
        if start > end:
            raise StrategyError(
                f"{place('pd_bands', index)}: gap between bands: PD from {end:g} to {start:g} is in no "
                f"band; band `{resolved[index].name}` must start where the band before ends ({end:g})"
            )
        if start < end:
            raise StrategyError(
                f"{place('pd_bands', index)}: bands overlap: PD from {start:g} to {end:g} is in two "
                f"bands; band `{resolved[index].name}` must start where the band before ends ({end:g})"
            )
    return resolved


def check_utilisation(spec: StrategyFile, place: Place) -> tuple[float, ...]:
    """Check the utilisation bands tile the line (first `from` and last `to` null); return the inner edges."""
    bands = spec.line_management.utilisation_bands
    loc = ("line_management", "utilisation_bands")
    _unique([b.name for b in bands], "utilisation band", place, *loc)
    if bands[0].low is not None:
        raise StrategyError(
            f"{place(*loc, 0)}: the first utilisation band must have `from: null` (no lower end)"
        )
    if bands[-1].high is not None:
        raise StrategyError(
            f"{place(*loc, len(bands) - 1)}: the last utilisation band must have `to: null` (no upper end)"
        )
    edges: list[float] = []
    for index in range(1, len(bands)):
        end, start = bands[index - 1].high, bands[index].low
        if end is None or start is None:
            raise StrategyError(
                f"{place(*loc, index)}: only the first band's `from` and the last band's `to` may be null"
            )
        if start != end:
            kind = "gap between" if start > end else "overlap of"
            raise StrategyError(
                f"{place(*loc, index)}: {kind} utilisation bands at {min(start, end):g}-"
                f"{max(start, end):g}; band `{bands[index].name}` must start at {end:g}"
            )
        if index > 1 and end <= edges[-1]:
            raise StrategyError(
                f"{place(*loc, index - 1)}: utilisation band ends at {end:g}, not above its start"
            )
        edges.append(end)
    return tuple(edges)


def check_matrix(spec: StrategyFile, *, grades: Sequence[str], place: Place) -> None:
    """Check the line matrix has exactly one row per risk grade and one cell per utilisation band in each row."""
    matrix, loc = spec.line_management.matrix, ("line_management", "matrix")
    bands = [b.name for b in spec.line_management.utilisation_bands]
    for grade in grades:
        if grade not in matrix:
            raise StrategyError(
                f"{place(*loc)}: no row for risk grade `{grade}`; the model's grades are "
                f"{', '.join(grades)} and each needs a row"
            )
    for grade, row in matrix.items():
        if grade not in grades:
            raise StrategyError(
                f"{place(*loc, grade)}: `{grade}` is not a risk grade of the model; allowed: "
                f"{', '.join(grades)}"
            )
        for band in bands:
            if band not in row:
                raise StrategyError(
                    f"{place(*loc, grade)}: grade `{grade}` has no cell for utilisation band "
                    f"`{band}`; each row needs {', '.join(bands)}"
                )
        for band in row:
            if band not in bands:
                raise StrategyError(
                    f"{place(*loc, grade, band)}: `{band}` is not a utilisation band; allowed: "
                    f"{', '.join(bands)}"
                )


def check_rules(spec: StrategyFile, place: Place) -> None:
    """Check the policy rule codes are unique (each is its own reason code)."""
    _unique([rule.code for rule in spec.policy_rules], "rule code", place, "policy_rules")


@dataclass(frozen=True)
class RuleTests:
    """All policy rules as arrays: condition k holds where (lower_k <= x <= upper_k) != negate_k on column_k;
    rule r holds where all its conditions (from starts_r) do."""

    columns: npt.NDArray[np.intp]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    negate: npt.NDArray[np.bool_]
    starts: npt.NDArray[np.intp]

    def holding(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Return, per row of raw inputs (rows x 23), the index of the first rule that holds, or the number of
        rules when none does."""
        columns, lower, upper, negate, starts = self._with_sentinel
        values = raw.take(columns, axis=1)
        met = values >= lower
        met &= values <= upper
        met ^= negate  # != on truth values
        holds = np.logical_and.reduceat(met, starts, axis=1)
        first: npt.NDArray[np.intp] = holds.argmax(axis=1)  # the sentinel's when no other rule holds
        return first

    @cached_property
    def _with_sentinel(self) -> tuple[npt.NDArray[Any], ...]:
        """Return the arrays with a last rule that always holds: one negated condition that never does."""
        return (
            np.append(self.columns, 0),
            np.append(self.lower, np.inf),
            np.append(self.upper, -np.inf),  # inf <= x <= -inf holds for no x, not even NaN or infinity
            np.append(self.negate, True),
            np.append(self.starts, len(self.columns)),
        )


def rule_tests(rules: Sequence[Sequence[Condition]]) -> RuleTests | None:
    """Compile each rule's `input op value` conditions into bounds (x > v is x >= the float after v, exactly)."""
    conditions = [condition for rule in rules for condition in rule]
    if not conditions:
        return None
    above = {">=": lambda v: v, ">": lambda v: np.nextafter(v, np.inf)}
    below = {"<=": lambda v: v, "<": lambda v: np.nextafter(v, -np.inf)}
    lower = [
        v if c.op in ("==", "!=") else above[c.op](v) if c.op in above else -np.inf
        for c, v in _valued(conditions)
    ]
    upper = [
        v if c.op in ("==", "!=") else below[c.op](v) if c.op in below else np.inf
        for c, v in _valued(conditions)
    ]
    return RuleTests(
        columns=np.array([_COLUMN[c.input] for c in conditions], dtype=np.intp),
        lower=np.array(lower, dtype=np.float64),
        upper=np.array(upper, dtype=np.float64),
        negate=np.array([c.op == "!=" for c in conditions], dtype=np.bool_),
        starts=np.cumsum([0] + [len(rule) for rule in rules[:-1]], dtype=np.intp),
    )


def _valued(conditions: Sequence[Condition]) -> list[tuple[Condition, float]]:
    return [(condition, float(condition.value)) for condition in conditions]
