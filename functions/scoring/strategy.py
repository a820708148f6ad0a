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
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.strategy_checks import (
    Place,
    check_matrix,
    check_rules,
    check_utilisation,
    resolve_bands,
)
from functions.scoring.strategy_file import (
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
_COLUMN: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}
_COMPARE: Final = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_COMPARE_EQ: Final = {"==": np.equal, "!=": np.not_equal}
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
    cell_actions: Labels  # grades x utilisation bands
    cell_percents: Vector  # grades x utilisation bands
    challenger: "Strategy | None" = field(default=None)

    @property
    def share(self) -> float:
        """Return the share of traffic the challenger gets (0 without one)."""
        return self.spec.challenger.share if self.spec.challenger and self.challenger else 0.0

    def apply(self, raw: Matrix, pd: Vector, *, arm: str = "champion") -> Outcomes:
        """Decide rows x 23 raw inputs with their PD in [0, 1]: rules, then bands, then line action and EL."""
        raw, pd = np.asarray(raw, dtype=np.float64), np.asarray(pd, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != len(FEATURE_NAMES) or pd.shape != (raw.shape[0],):
            raise ValueError(
                f"expected rows x {len(FEATURE_NAMES)} inputs and one PD per row: {raw.shape}, {pd.shape}"
            )
        band = np.clip(np.searchsorted(self.band_starts, pd, side="right") - 1, 0, len(self.band_starts) - 1)
        band_decisions = np.array([DECISIONS.index(b.decision) for b in self.spec.pd_bands])
        severity, decided_by = band_decisions[band], np.array([b.name for b in self.spec.pd_bands])[band]
        fired = self._first_rule(raw)
        rules = self.spec.policy_rules
        for index in range(len(rules)):
            wins = (fired == index) & (DECISIONS.index(rules[index].decision) >= severity)
            severity = np.where(wins, DECISIONS.index(rules[index].decision), severity)
            decided_by = np.where(wins, rules[index].code, decided_by)
        decision = np.array(DECISIONS)[severity]
        action, percent = self._line_action(raw, pd, decision)
        limit, balance = raw[:, _COLUMN["limit_bal"]], np.maximum(raw[:, _COLUMN["bill_amt1"]], 0.0)
        new_limit = new_limits(
            limit, balance, action, percent, cap=self.spec.line_management.max_increase_ntd
        )
        loss = self.spec.loss
        ead = exposure_at_default(balance, new_limit, ccf=loss.ccf)
        n = raw.shape[0]
        return Outcomes(
            decision=decision,
            decided_by=decided_by.astype(np.str_),
            line_action=action,
            line_percent=percent,
            new_limit=new_limit,
            exposure_at_default=ead,
            expected_loss=pd * loss.lgd * ead,
            arm=np.full(n, arm),
            strategy_version=np.full(n, self.version),
        )

    def decide(self, raw: Matrix, pd: Vector, *, challenger: Mask | None = None) -> Outcomes:
        """Apply the champion, and the challenger to the rows where `challenger` is True (if one is configured)."""
        champion = self.apply(raw, pd)
        if self.challenger is None or challenger is None or not challenger.any():
            return champion
        rows = np.flatnonzero(challenger)
        other = self.challenger.apply(np.asarray(raw)[rows], np.asarray(pd)[rows], arm="challenger")
        merged = {name: getattr(champion, name).copy() for name in OUTCOME_FIELDS}
        for name in OUTCOME_FIELDS:
            column = merged[name]
            if column.dtype.kind == "U":
                column = merged[name] = column.astype(np.result_type(column, getattr(other, name)))
            column[rows] = getattr(other, name)
        return Outcomes(**merged)

    def _first_rule(self, raw: Matrix) -> npt.NDArray[np.int64]:
        """Return, per row, the index of the first policy rule whose conditions all hold (-1 when none does)."""
        fired = np.full(raw.shape[0], -1, dtype=np.int64)
        for index in reversed(range(len(self.spec.policy_rules))):
            holds = np.ones(raw.shape[0], dtype=bool)
            for condition in self.spec.policy_rules[index].when:
                test = _COMPARE.get(condition.op) or _COMPARE_EQ[condition.op]
                holds &= test(raw[:, _COLUMN[condition.input]], condition.value)
            fired[holds] = index
        return fired

    def _line_action(self, raw: Matrix, pd: Vector, decision: Labels) -> tuple[Labels, Vector]:
        """Return each row's line action and percentage: the matrix for approved rows, else refer's or decline's."""
        grade = np.minimum(np.searchsorted(self.grade_limits, pd, side="right"), len(self.grade_limits) - 1)
        limit = np.maximum(raw[:, _COLUMN["limit_bal"]], 1.0)
        utilisation = raw[:, _COLUMN["bill_amt1"]] / limit
        band = np.searchsorted(self.utilisation_edges, utilisation, side="right")
        action, percent = self.cell_actions[grade, band], self.cell_percents[grade, band]
        for outcome in ("refer", "decline"):
            cell = getattr(self.spec.line_management, outcome)
            chosen = decision == outcome
            action = np.where(chosen, cell.action, action)
            percent = np.where(chosen, cell.percent, percent)
        return action.astype(np.str_), percent.astype(np.float64)


def exposure_at_default(balance: Vector, limit: Vector, *, ccf: float) -> Vector:
    """Return EAD in NT$: the drawn balance plus CCF x the unused limit (never negative).

    Source: Basel Committee on Banking Supervision, The Basel Framework, CRE32 (IRB risk components: EAD of
    revolving retail exposures is the drawn amount plus a credit-conversion factor times the undrawn commitment).
    """
    return np.asarray(balance + ccf * np.maximum(limit - balance, 0.0), dtype=np.float64)


def new_limits(limit: Vector, balance: Vector, action: Labels, percent: Vector, *, cap: float) -> Vector:
    """Return the limit after each row's action in whole NT$: an increase capped at `cap` NT$; a decrease, and a
    freeze, never below the drawn balance (a freeze leaves no unused limit)."""
    held = np.minimum(balance, limit)
    increased = limit + np.minimum(limit * percent / 100.0, cap)
    decreased = np.maximum(limit * (1.0 - percent / 100.0), held)
    choices = [action == "increase", action == "decrease", action == "freeze"]
    chosen = np.select(choices, [increased, decreased, held], default=limit)
    return np.asarray(np.floor(chosen), dtype=np.float64)


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
        cell_actions=np.array([[cell.action for cell in row] for row in cells]),
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
