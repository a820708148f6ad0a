"""The engine's lookup tables (cells.py) decide every row as the strategy's words do: a per-row reference written
from docs/strategy.md and the engine's docstrings, in plain Python, equals `Strategy.apply` and `Strategy.decide`
field by field on generated clients, PDs at and beside every band and grade edge, limits of 0, negative bills,
utilisation at its band edges, rules firing, every line action, the increase cap, and a challenger mix."""

import math
import operator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.scoring.adverse.notice import CHANGE, DELINQUENT, NONE, REFERRED, REFUSAL
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.model import to_matrix
from functions.scoring.strategy.engine import (
    DEFAULT_FILE,
    OUTCOME_FIELDS,
    Strategy,
    parse_strategy,
    read_strategy,
)
from functions.scoring.strategy.file import DECISIONS
from training.synthetic import generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
# A strategy that uses what the shipped one does not: a declining rule, decreases, a refer that decreases, a low cap.
VARIANT = (
    SHIPPED.replace("to: 0.2,", "to: 0.1,")
    .replace("from: 0.2,", "from: 0.1,")
    .replace("decision: refer\n  - code: P02", "decision: decline\n  - code: P02")
    .replace(
        "low: {action: increase, percent: 10}\n      medium: {action: increase, percent: 10}",
        "low: {action: decrease, percent: 50}\n      medium: {action: increase, percent: 40}",
    )
    .replace("refer: {action: hold}", "refer: {action: decrease, percent: 15}")
    .replace("max_increase_ntd: 50000", "max_increase_ntd: 20000")
    .replace(
        '{input: pay_0, op: ">=", value: 3}',
        '{input: pay_0, op: ">=", value: 3}\n      - {input: sex, op: "!=", value: 3}',
    )
)
NO_RULES = (
    SHIPPED[: SHIPPED.index("policy_rules:")] + "policy_rules: []\n" + SHIPPED[SHIPPED.index("pd_bands:") :]
)


def first_rule(rules: Any, value: dict[str, float]) -> int:
    """Return the index of the first rule whose conditions all hold for a client's inputs, read as their words
    say, or the number of rules when none does."""

    def holds(c: Any) -> bool:
        return bool(value[c.input] != c.value if c.op == "!=" else OPERATORS[c.op](value[c.input], c.value))

    return next((k for k, rule in enumerate(rules) if all(holds(c) for c in rule.when)), len(rules))


def expected(
    strategy: Strategy, manifest: Manifest, row: list[float], pd: float, *, arm: str = "champion"
) -> dict[str, Any]:
    """Decide one client from the strategy's words: the first rule whose conditions all hold decides if it is at
    least as severe as the PD band; the approved get the matrix's cell, the others refer's or decline's action."""
    spec, value = strategy.spec, dict(zip(FEATURE_NAMES, row, strict=True))
    band = max(i for i, b in enumerate(spec.pd_bands) if float(b.pd_from) <= pd or i == 0)
    decision, decided_by = spec.pd_bands[band].decision, spec.pd_bands[band].name
    fired = first_rule(spec.policy_rules, value)
    if fired < len(spec.policy_rules):
        rule = spec.policy_rules[fired]
        if DECISIONS.index(rule.decision) >= DECISIONS.index(decision):
            decision, decided_by = rule.decision, rule.code
    lines, limit, bill = spec.line_management, value["limit_bal"], value["bill_amt1"]
    grades = [b.max_pd for b in manifest.grade_bands]
    grade = next((i for i, top in enumerate(grades) if pd < top), len(grades) - 1)
    utilisation = bill / max(limit, 1.0)
    used = sum(1 for b in lines.utilisation_bands[1:] if b.low is not None and b.low <= utilisation)
    matrix_row = lines.matrix[manifest.grade_bands[grade].grade]
    cell = {"approve": matrix_row[lines.utilisation_bands[used].name], "refer": lines.refer}.get(
        decision, lines.decline
    )
    balance, percent = max(bill, 0.0), cell.percent
    held = min(balance, limit)
    new_limit = {
        "increase": limit + min(limit * percent / 100.0, lines.max_increase_ntd),
        "hold": limit,
        "decrease": max(limit * (1.0 - percent / 100.0), held),
        "freeze": held,
    }[cell.action]
    new_limit = float(math.floor(new_limit))
    ead = balance + spec.loss.ccf * max(new_limit - balance, 0.0)
    late = value["pay_0"] >= 1
    if decision == "decline" or new_limit < limit:
        notice, basis = (
            ("exempt", DELINQUENT) if late else ("required", REFUSAL if decision == "decline" else CHANGE)
        )
    else:
        notice, basis = "not_applicable", REFERRED if decision == "refer" else NONE
    return {
        "decision": decision,
        "decided_by": decided_by,
        "line_action": cell.action,
        "line_percent": percent,
        "new_limit": new_limit,
        "exposure_at_default": ead,
        "expected_loss": pd * spec.loss.lgd * ead,
        "arm": arm,
        "strategy_version": strategy.version,
        "adverse_action_notice": notice,
        "notice_basis": basis,
    }


def book(shipped_manifest: Manifest, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return generated clients with the edge cases mixed in, and PDs, a third of them at or beside an edge."""
    rng = np.random.default_rng(seed)
    raw = to_matrix(generate_rows(3000, seed=seed))
    kind = rng.integers(0, 10, len(raw))
    raw[kind == 0, COLUMN["limit_bal"]] = 0.0
    raw[kind == 1, COLUMN["bill_amt1"]] = -rng.integers(1, 100_000, (kind == 1).sum())
    for k, share in ((2, 0.3), (3, 0.7), (4, 0.95), (5, 2.0)):
        raw[kind == k, COLUMN["bill_amt1"]] = raw[kind == k, COLUMN["limit_bal"]] * share
    raw[kind == 6, COLUMN["limit_bal"]] = 900_000.0  # an increase above the cap
    raw[kind == 7, COLUMN["pay_0"]] = 3
    raw[np.ix_(kind == 8, [COLUMN[f"pay_{i}"] for i in (0, 2, 3, 4, 5, 6)])] = 1
    edges = {
        0.0,
        1.0,
        0.1,
        0.2,
        shipped_manifest.threshold,
        *(b.max_pd for b in shipped_manifest.grade_bands),
    }
    near = [x for e in sorted(edges) for x in (e, np.nextafter(e, 0), np.nextafter(e, 1)) if 0 <= x <= 1]
    pd = rng.random(len(raw))
    at_edge = rng.random(len(raw)) < 0.35
    pd[at_edge] = rng.choice(near, at_edge.sum())
    return raw, pd


@pytest.mark.parametrize("text", [SHIPPED, VARIANT, NO_RULES], ids=["shipped", "variant", "no-rules"])
def test_apply_decides_each_row_as_the_strategys_words_do(shipped_manifest: Manifest, text: str) -> None:
    strategy = parse_strategy(text, manifest=shipped_manifest)
    raw, pd = book(shipped_manifest, seed=len(text))
    got = strategy.apply(raw, pd).records()
    assert got == [
        expected(strategy, shipped_manifest, row, p) for row, p in zip(raw.tolist(), pd.tolist(), strict=True)
    ]
    actions = {r["line_action"] for r in got}
    assert actions == {"increase", "hold", "decrease", "freeze"} or text != VARIANT
    assert {r["decision"] for r in got} == set(DECISIONS)
    assert text == NO_RULES or any(r["decided_by"].startswith("P0") for r in got)


def test_decide_gives_the_challengers_rows_the_challengers_decision(
    shipped_manifest: Manifest, tmp_path: Path
) -> None:
    short = VARIANT.replace("P01_SERIOUS_ARREARS_NOW", "P01_LATE").replace("P02_LATE_EVERY_MONTH", "P02_LATE")
    (tmp_path / "challenger.yaml").write_text(short)  # shorter codes: a merge widens the challenger's labels
    (tmp_path / DEFAULT_FILE).write_text(SHIPPED + "challenger: {file: challenger.yaml, share: 0.5}\n")
    strategy = read_strategy(tmp_path / DEFAULT_FILE, manifest=shipped_manifest)
    assert strategy.challenger is not None
    raw, pd = book(shipped_manifest, seed=3)
    drawn = np.random.default_rng(4).random(len(pd)) < 0.5
    want = [
        expected(strategy.challenger, shipped_manifest, row, p, arm="challenger")
        if d
        else expected(strategy, shipped_manifest, row, p)
        for row, p, d in zip(raw.tolist(), pd.tolist(), drawn.tolist(), strict=True)
    ]
    assert strategy.decide(raw, pd, challenger=drawn).records() == want
    assert {True, False} == set(drawn[:20].tolist())
    for one in range(20):  # a lone client drawn takes the challenger's path alone
        rows = strategy.decide(raw[one : one + 1], pd[one : one + 1], challenger=drawn[one : one + 1])
        assert rows.records() == want[one : one + 1]
    everyone = strategy.decide(raw[:5], pd[:5], challenger=np.ones(5, dtype=bool))
    mixed = strategy.decide(raw[:5], pd[:5], challenger=np.array([True, False, True, True, True]))
    assert [getattr(everyone, name).dtype for name in OUTCOME_FIELDS] == [
        getattr(mixed, name).dtype for name in OUTCOME_FIELDS
    ]
    assert everyone.decided_by.dtype == strategy.apply(raw[:1], pd[:1]).decided_by.dtype


def test_the_first_rule_holding_is_the_number_of_rules_where_none_holds(shipped_manifest: Manifest) -> None:
    strategy = parse_strategy(VARIANT, manifest=shipped_manifest)
    tests, rules = strategy._compiled.rules, strategy.spec.policy_rules
    assert tests is not None
    raw, _ = book(shipped_manifest, seed=9)
    holding = tests.holding(raw)
    assert set(holding.tolist()) == {0, 1, len(rules)}
    assert holding.tolist() == [
        first_rule(rules, dict(zip(FEATURE_NAMES, row, strict=True))) for row in raw.tolist()
    ]


def test_the_outcome_fields_keep_their_types(shipped_manifest: Manifest) -> None:
    strategy = parse_strategy(SHIPPED, manifest=shipped_manifest)
    raw, pd = book(shipped_manifest, seed=5)
    for rows in (slice(0, 0), slice(0, 1), slice(None)):
        outcomes = strategy.apply(raw[rows], pd[rows])
        kinds = {name: getattr(outcomes, name).dtype.kind for name in OUTCOME_FIELDS}
        assert kinds == {
            **dict.fromkeys(OUTCOME_FIELDS, "U"),
            **dict.fromkeys(("line_percent", "new_limit", "exposure_at_default", "expected_loss"), "f"),
            "notice_basis": "O",
        }
