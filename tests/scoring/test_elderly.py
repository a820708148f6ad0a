"""The elderly rule of Regulation B in the served PD and reasons: from its words, on the test split, on generated
applicants (Hypothesis), through every path (`probabilities`, `rank`, `assess`)."""

import re
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.scoring.contract import EXAMPLES, FEATURE_NAMES
from functions.scoring.elderly import (
    AGE_COLUMN,
    ALL_NON_ELDERLY,
    ELDERLY_AGE,
    by_rows,
    by_walk,
    most_favourable_age,
    non_elderly_ages,
)
from functions.scoring.features import engineer
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.reasons import REASON_GROUPS
from training.synthetic import generate_rows

Matrix = npt.NDArray[np.float64]

# 12 CFR 1002.6(b)(2)(ii), 1002.2(o) and 1002.2(v), quoted.
USE_OF_AGE: Final = (
    "In an empirically derived, demonstrably and statistically sound, credit scoring system, a creditor may use "
    "an applicant's age as a predictive variable, provided that the age of an elderly applicant is not assigned "
    "a negative factor or value."
)
ELDERLY: Final = "Elderly means age 62 or older."
NEGATIVE_FACTOR: Final = (
    "Negative factor or value, in relation to the age of elderly applicants, means utilizing a factor, value, or "
    "weight that is less favorable regarding elderly applicants than the creditor's experience warrants or is "
    "less favorable than the factor, value, or weight assigned to the class of applicants that are not "
    "classified as elderly and are most favored by a creditor on the basis of age."
)
AGE: Final = list(REASON_GROUPS).index("age")
TOLERANCE: Final = 1e-12


def unfloored(model: ScoringModel, raw: Matrix) -> Matrix:
    """The ensemble's own PD (rows), without the rule."""
    return np.asarray(model.ensemble.predict_proba(engineer(raw)), dtype=np.float64)


def most_favoured(model: ScoringModel, raw: Matrix) -> Matrix:
    """The lowest PD (rows) over every age 18..61, every other input unchanged."""
    at_age = []
    for age in ALL_NON_ELDERLY:
        variant = raw.copy()
        variant[:, AGE_COLUMN] = age
        at_age.append(unfloored(model, variant))
    return np.min(at_age, axis=0)


def check_rule(model: ScoringModel, raw: Matrix) -> None:
    """Every path serves the same PD; an elderly row's is never above the most favoured non-elderly PD and
    never cites age; a younger row is served its own PD."""
    pd = model.probabilities(raw)
    ranked_pd, ranked = model.rank(raw)
    decisions = model.assess(raw)
    assert np.array_equal(pd, ranked_pd)
    assert [d.probability_of_default for d in decisions] == pd.tolist()
    elderly = raw[:, AGE_COLUMN] >= ELDERLY_AGE
    assert np.all(pd[elderly] <= most_favoured(model, raw[elderly]) + TOLERANCE)
    assert np.array_equal(pd[~elderly], unfloored(model, raw[~elderly]))
    listed = np.arange(ranked.groups.shape[1]) < ranked.listed[:, None]
    assert not np.any((ranked.groups[elderly] == AGE) & listed[elderly])
    assert not any(
        r.code == "age" for d, old in zip(decisions, elderly, strict=True) if old for r in d.reasons
    )


def test_the_rule_starts_at_the_age_the_regulation_names() -> None:
    named = re.search(r"age (\d+) or older", ELDERLY)
    assert named is not None and int(named.group(1)) == ELDERLY_AGE
    assert "not assigned a negative factor or value" in USE_OF_AGE
    assert "not classified as elderly and are most favored" in NEGATIVE_FACTOR


@pytest.mark.parametrize("age", [62, 63, 70, 85, 100])
def test_elderly_applicant_is_never_less_favoured_than_the_most_favoured_non_elderly_age(
    model: ScoringModel, age: int
) -> None:
    # "less favorable than the factor ... assigned to the class of applicants that are not classified as
    # elderly and are most favored ... on the basis of age": the PD at the best age 18-61 bounds theirs.
    raw = to_matrix([{**example, "age": age} for example in EXAMPLES.values()])
    check_rule(model, raw)


def test_a_younger_applicant_keeps_the_pd_of_their_own_age(model: ScoringModel) -> None:
    raw = to_matrix([{**EXAMPLES["high_risk"], "age": ELDERLY_AGE - 1}])
    assert model.served_inputs(raw) is raw
    assert model.probabilities(raw).tolist() == unfloored(model, raw).tolist()


def test_the_ages_the_trees_tell_apart_reach_every_pd_of_18_to_61(model: ScoringModel) -> None:
    raw = to_matrix(generate_rows(300, seed=7))
    ages = non_elderly_ages(model.ensemble)
    assert ages[0] == 18 and ages[-1] <= 61 and ages.size < len(ALL_NON_ELDERLY)
    for age in ALL_NON_ELDERLY:
        stands_for = ages[ages <= age].max()
        at_age, at_representative = raw.copy(), raw.copy()
        at_age[:, AGE_COLUMN], at_representative[:, AGE_COLUMN] = age, stands_for
        assert np.array_equal(unfloored(model, at_age), unfloored(model, at_representative)), age
    elderly = raw.copy()
    elderly[:, AGE_COLUMN] = 70
    walked = by_rows(lambda rows: unfloored(model, rows))
    searched = most_favourable_age(elderly, ages, scores=by_walk(model.ensemble))
    assert np.array_equal(searched, most_favourable_age(elderly, ALL_NON_ELDERLY, scores=walked))
    assert not np.array_equal(searched, elderly)


def test_the_rule_lowers_some_elderly_pds_of_the_shipped_model(model: ScoringModel) -> None:
    raw = to_matrix(generate_rows(300, seed=11))
    raw[:, AGE_COLUMN] = 70
    lowered = model.probabilities(raw) < unfloored(model, raw)
    assert lowered.any()  # the shipped trees do use age: the rule is not vacuous here


PROPERTY: Final = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    ages=st.lists(st.integers(18, 100), min_size=1, max_size=24),
)
def test_generated_applicants_obey_the_rule_on_every_path(
    model: ScoringModel, seed: int, ages: list[int]
) -> None:
    raw = to_matrix(generate_rows(len(ages), seed=seed))
    raw[:, AGE_COLUMN] = ages
    check_rule(model, raw)
    alone = [model.assess(raw[i : i + 1])[0].probability_of_default for i in range(raw.shape[0])]
    assert alone == model.probabilities(raw).tolist()  # a row's answer does not depend on its batch


@pytest.mark.realdata
def test_every_elderly_test_client_gets_at_most_the_most_favoured_pd_and_no_age_reason(
    model: ScoringModel, real_data_path: Path
) -> None:
    from training.data import load_dataset, split_dataset

    test = split_dataset(load_dataset(real_data_path)).X_test.astype(np.float64)
    elderly = test[:, FEATURE_NAMES.index("age")] >= ELDERLY_AGE
    assert elderly.sum() >= 50  # the split holds 60
    check_rule(model, test)
    _, ranked = model.rank(test)
    listed = np.arange(ranked.groups.shape[1]) < ranked.listed[:, None]
    assert np.any((ranked.groups[~elderly] == AGE) & listed[~elderly])  # age still counts below 62
