"""The reason statements: one per code, versioned by content, never about sex or marital status."""

import re

import numpy as np

from functions.scoring.adverse.statements import (
    STATEMENTS,
    VERSION,
    statement,
    statement_table,
    table_version,
)
from functions.scoring.contract import PROTECTED
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.reasons import REASON_GROUPS
from training.synthetic import generate_rows

PROTECTED_WORDS = re.compile(
    r"\b(sex|gender|male|female|marri\w*|marital|single|spouse|husband|wife)\b", re.I
)


def test_every_code_has_exactly_one_statement() -> None:
    assert sorted(STATEMENTS) == sorted(REASON_GROUPS)
    assert len(set(STATEMENTS.values())) == len(STATEMENTS)  # no two codes share a statement
    assert all(statement(code) == STATEMENTS[code] for code in REASON_GROUPS)


def test_no_code_or_statement_cites_sex_or_marriage() -> None:
    assert not set(REASON_GROUPS) & set(PROTECTED)
    assert not set().union(*REASON_GROUPS.values()) & set(PROTECTED)
    assert [text for text in STATEMENTS.values() if PROTECTED_WORDS.search(text)] == []


def test_version_is_the_content_hash() -> None:
    assert VERSION == table_version(STATEMENTS) == statement_table().version
    assert re.fullmatch(r"[0-9a-f]{12}", VERSION)
    changed = dict(STATEMENTS, age=STATEMENTS["age"] + " ")
    assert table_version(changed) != VERSION


def test_every_reason_carries_its_codes_statement(model: ScoringModel) -> None:
    raw = to_matrix(generate_rows(300, seed=3))
    for size in (5, 300):  # the small-batch walk and the re-walk
        decisions = model.assess(raw[:size])
        reasons = [reason for decision in decisions for reason in decision.reasons]
        assert reasons, "no reasons to check"
        assert all(reason.statement == STATEMENTS[reason.code] for reason in reasons)
        assert not {reason.code for reason in reasons} & set(PROTECTED)
    assert np.isfinite([r.impact for d in decisions for r in d.reasons]).all()
