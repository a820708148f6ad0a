"""The decision engine: a verified strategy applied to a whole book at once (numpy arrays, no loop over rows).

Public API (see docs/strategy.md):
  read_strategy(path, manifest=...) -> Strategy       load, validate and version a strategy file (StrategyError)
  Strategy.apply(raw, pd) -> Outcomes                 one strategy on rows x 23 raw inputs and their PD
  Strategy.decide(raw, pd, challenger=mask) -> Outcomes   champion, or the challenger where the mask is True
  assign_challenger(references, key=..., share=...)   the stable keyed-hash champion-challenger split
  Outcomes.records() / Outcomes.totals()              per-row dicts for answers and files; book totals in NT$
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.scoring.adverse.notice import notice_of_codes
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.strategy.cells import Cells, compile_cells
from functions.scoring.strategy.checks import (
    Place,
    check_matrix,
    check_rules,
    check_utilisation,
    resolve_bands,
)
from functions.scoring.strategy.file import (
    ACTIONS,
    DECISIONS,
    StrategyError,
    StrategyFile,
    parse_strategy_file,
)

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Labels = npt.NDArray[np.str_]

DEFAULT_FILE: Final = "strategy.yaml"  # beside the model: model/strategy.yaml
ARMS: Final = ("champion", "challenger")
_LIMIT, _BILL, _PAY_0 = (FEATURE_NAMES.index(name) for name in ("limit_bal", "bill_amt1", "pay_0"))
_ARM_LABELS: Final = {arm: np.array([arm]) for arm in ARMS}
# 1-element constants: numpy combines them with a row's arrays faster than it converts a Python number
_ZERO, _ONE, _HUNDRED = np.array([0.0]), np.array([1.0]), np.array([100.0])
_HASH_SPAN: Final = float(2**64)


@dataclass(frozen=True)
class Outcomes:
    """What a strategy decided for each of n rows (arrays of length n); money in NT$."""

    decision: Labels  # approve | refer | decline
    decided_by: Labels  # the policy rule's code, or the PD band's name
    line_action: Labels  # increase | hold | decrease | freeze
    line_percent: Vector  # percentage of the current limit (0 for hold and freeze)
    new_limit: Vector  # the credit limit after the line action, whole NT$
    exposure_at_default: Vector  # EAD = balance + CCF x unused new limit
    expected_loss: Vector  # EL = PD x LGD x EAD
    arm: Labels  # champion | challenger
    strategy_version: Labels
    adverse_action_notice: Labels  # required | exempt | not_applicable (functions.scoring.adverse.notice)
    notice_basis: Labels  # the clause of 12 CFR 1002.2(c) that decided it

    def records(self) -> list[dict[str, Any]]:
        """Return one plain dict per row (the served fields), in row order."""
        columns = {name: getattr(self, name).tolist() for name in OUTCOME_FIELDS}
        return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]

    def totals(self) -> dict[str, Any]:
        """Return the book's counts by decision, line action and arm, and its EAD, EL and limit change in NT$."""
        return {
            "decisions": _counts(self.decision, DECISIONS),
            "line_actions": _counts(self.line_action, ACTIONS),
            "arms": _counts(self.arm, ARMS),
            "exposure_at_default": float(self.exposure_at_default.sum()),
            "expected_loss": float(self.expected_loss.sum()),
        }


OUTCOME_FIELDS: Final = tuple(Outcomes.__dataclass_fields__)


def _counts(labels: Labels, names: tuple[str, ...]) -> dict[str, int]:
    return {name: int(np.count_nonzero(labels == name)) for name in names}


@dataclass(frozen=True)
class Strategy:
    """A strategy resolved against one model: PD band lower edges, rule tests, the line matrix, loss parameters."""

    spec: StrategyFile
    version: str  # 12 hex digits of the sha256 of the resolved strategy's canonical JSON
    band_starts: Vector  # ascending lower PD edges; band i is [start_i, start_i+1), the last includes 1
    grade_limits: Vector  # the manifest's grade upper PD edges (risk grade i holds PD < limit_i)
    utilisation_edges: Vector  # inner edges between utilisation bands
    cell_actions: npt.NDArray[np.intp]  # grades x utilisation bands: index into ACTIONS
    cell_percents: Vector  # grades x utilisation bands
    challenger: "Strategy | None" = field(default=None)

    @property
    def share(self) -> float:
        """Return the share of traffic the challenger gets (0 without one)."""
        return self.spec.challenger.share if self.spec.challenger and self.challenger else 0.0

    @cached_property
    def _compiled(self) -> Cells:
        """Return the strategy's decision per cell (PD interval, first rule, utilisation band): cells.py."""
        spec = self.spec
        return compile_cells(
            spec.pd_bands,
            spec.policy_rules,
            spec.line_management,
            band_starts=self.band_starts,
            grade_limits=self.grade_limits,
            utilisation_edges=self.utilisation_edges,
            cell_actions=self.cell_actions,
            cell_percents=self.cell_percents,
        )

    @cached_property
    def _labels(self) -> tuple[Labels, Vector]:
        """Return the version as a 1-element label and LGD as a 1-element array (repeated, multiplied per row)."""
        return np.array([self.version]), np.array([self.spec.loss.lgd], dtype=np.float64)

    @cached_property
    def _widths(self) -> dict[str, np.dtype[Any]]:
        """Return the dtype of each label field of merged champion and challenger rows (the wider of the two)."""
        empty, challenger = (np.zeros((0, len(FEATURE_NAMES))), np.zeros(0)), self.challenger
        ours = self.apply(*empty)
        theirs = challenger.apply(*empty, arm="challenger") if challenger is not None else ours
        columns = ((getattr(ours, name), getattr(theirs, name)) for name in OUTCOME_FIELDS)
        return {
            name: np.result_type(*pair)
            for name, pair in zip(OUTCOME_FIELDS, columns, strict=True)
            if pair[0].dtype.kind == "U"
        }

    def apply(self, raw: Matrix, pd: Vector, *, arm: str = "champion") -> Outcomes:
        """Decide rows x 23 raw inputs with their PD in [0, 1]: rules, then bands, then line action and EL."""
        raw, pd = np.asarray(raw, dtype=np.float64), np.asarray(pd, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != len(FEATURE_NAMES) or pd.shape != (raw.shape[0],):
            raise ValueError(
                f"expected rows x {len(FEATURE_NAMES)} inputs and one PD per row: {raw.shape}, {pd.shape}"
            )
        cells, (version, lgd) = self._compiled, self._labels
        limit, bill = raw[:, _LIMIT], raw[:, _BILL]
        cell = cells.locate(raw, pd, bill / np.maximum(limit, _ONE))
        action, percent = cells.action.take(cell), cells.percent.take(cell)
        balance = np.maximum(bill, _ZERO)
        new_limit = new_limits(
            limit, balance, action, percent, cap=self.spec.line_management.max_increase_ntd
        )
        ead = exposure_at_default(balance, new_limit, ccf=self.spec.loss.ccf)
        notice, basis = notice_of_codes(
            cells.severity.take(cell), limit=limit, new_limit=new_limit, pay_0=raw[:, _PAY_0]
        )
        n = len(pd)
        return Outcomes(
            decision=cells.decision.take(cell),
            decided_by=cells.decided_by.take(cell),
            line_action=cells.line_action.take(cell),
            line_percent=percent,
            new_limit=new_limit,
            exposure_at_default=ead,
            expected_loss=pd * lgd * ead,
            arm=_ARM_LABELS[arm].repeat(n) if arm in _ARM_LABELS else np.array([arm]).repeat(n),
            strategy_version=version.repeat(n),
            adverse_action_notice=notice,
            notice_basis=basis,
        )

    def decide(self, raw: Matrix, pd: Vector, *, challenger: Mask | None = None) -> Outcomes:
        """Apply the champion, and the challenger to the rows where `challenger` is True (if one is configured)."""
        if self.challenger is None or challenger is None or not challenger.any():
            return self.apply(raw, pd)
        widths = self._widths
        if np.shape(challenger) == np.shape(pd) and challenger.all():
            # every row the challenger's (one client drawn, say): nothing of the champion's to decide or merge
            other = self.challenger.apply(raw, pd, arm="challenger")
            return replace(
                other,
                **{name: getattr(other, name).astype(width, copy=False) for name, width in widths.items()},
            )
        champion = self.apply(raw, pd)
        rows = np.flatnonzero(challenger)
        other = self.challenger.apply(np.asarray(raw)[rows], np.asarray(pd)[rows], arm="challenger")
        merged = {name: getattr(champion, name) for name in OUTCOME_FIELDS}
        merged = {name: column.astype(widths.get(name, column.dtype)) for name, column in merged.items()}
        for name, column in merged.items():
            column[rows] = getattr(other, name)
        return Outcomes(**merged)


def exposure_at_default(balance: Vector, limit: Vector, *, ccf: float) -> Vector:
    """Return EAD in NT$: the drawn balance plus CCF x the unused limit (never negative).

    Source: Basel Committee on Banking Supervision, The Basel Framework, CRE32 (IRB risk components: EAD of
    revolving retail exposures is the drawn amount plus a credit-conversion factor times the undrawn commitment).
    """
    return np.asarray(balance + ccf * np.maximum(limit - balance, _ZERO), dtype=np.float64)


def new_limits(
    limit: Vector, balance: Vector, action: npt.NDArray[np.intp], percent: Vector, *, cap: float
) -> Vector:
    """Return the limit after each row's action (index into ACTIONS) in whole NT$: an increase capped at `cap` NT$;
    a decrease, and a freeze, never below the drawn balance (a freeze leaves no unused limit)."""
    held = np.minimum(balance, limit)
    increased = limit + np.minimum(limit * percent / _HUNDRED, cap)
    decreased = np.maximum(limit * (_ONE - percent / _HUNDRED), held)
    # Each row takes its action's candidate: the four side by side in ACTIONS' order, one take, no selections.
    by_action = {"increase": increased, "hold": limit, "decrease": decreased, "freeze": held}
    candidates, n = np.concatenate([by_action[name] for name in ACTIONS]), len(limit)
    return np.asarray(np.floor(candidates.take(action * n + np.arange(n))), dtype=np.float64)


def assign_challenger(references: Sequence[str], *, key: bytes, share: float) -> Mask:
    """Return True for the references the challenger gets: HMAC-SHA256(key, reference) read as a fraction of 2**64,
    below `share`. Stable for a key; a rotated key reassigns the arms."""
    fractions = [
        int.from_bytes(hmac.new(key, ref.encode(), hashlib.sha256).digest()[:8], "big") / _HASH_SPAN
        for ref in references
    ]
    return np.asarray(fractions, dtype=np.float64) < share


def parse_strategy(text: str, *, manifest: Manifest, name: str = DEFAULT_FILE) -> Strategy:
    """Parse, check and resolve a strategy file's text against a model (no challenger); raises StrategyError."""
    try:
        spec, data, lines = parse_strategy_file(text)
        place = Place(data, lines)
        check_rules(spec, place)
        bands = resolve_bands(spec.pd_bands, threshold=manifest.threshold, place=place)
        edges = check_utilisation(spec, place)
        grades = tuple(band.grade for band in manifest.grade_bands)
        check_matrix(spec, grades=grades, place=place)
    except StrategyError as err:
        raise StrategyError(f"{name}: {err}") from err
    spec = spec.model_copy(update={"pd_bands": bands})
    utilisation = [band.name for band in spec.line_management.utilisation_bands]
    cells = [[spec.line_management.matrix[grade][band] for band in utilisation] for grade in grades]
    return Strategy(
        spec=spec,
        version=_version(spec, None),
        band_starts=np.array([float(band.pd_from) for band in bands]),
        grade_limits=np.array([band.max_pd for band in manifest.grade_bands]),
        utilisation_edges=np.array(edges, dtype=np.float64),
        cell_actions=np.array([[ACTIONS.index(cell.action) for cell in row] for row in cells], dtype=np.intp),
        cell_percents=np.array([[cell.percent for cell in row] for row in cells], dtype=np.float64),
    )


def read_strategy(path: Path, *, manifest: Manifest) -> Strategy:
    """Read, check and version a strategy file and its challenger (a file beside it); raises StrategyError."""
    champion = parse_strategy(_read(path), manifest=manifest, name=path.name)
    config = champion.spec.challenger
    if config is None:
        return champion
    challenger = parse_strategy(_read(path.parent / config.file), manifest=manifest, name=config.file)
    if challenger.spec.challenger is not None:
        raise StrategyError(
            f"{config.file}: a challenger cannot name its own challenger; remove `challenger`"
        )
    return replace(champion, challenger=challenger, version=_version(champion.spec, challenger.version))


def _read(path: Path) -> str:
    if not path.is_file():
        raise StrategyError(f"no strategy file at {path.name}; ship one beside the model (docs/strategy.md)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StrategyError(f"{path.name}: unreadable ({err}); save it as UTF-8 text") from err


def _version(spec: StrategyFile, challenger: str | None) -> str:
    """Return 12 hex digits of the sha256 of the resolved strategy (and its challenger's version) as canonical JSON."""
    content = {"strategy": spec.model_dump(mode="json", by_alias=True), "challenger_version": challenger}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
