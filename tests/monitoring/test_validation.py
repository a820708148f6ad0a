"""The ECB's validation tests, each built from the instructions' own definitions."""

import math

import numpy as np
import pytest

from functions.monitoring.stats import beta_cdf
from functions.monitoring.validation.ecb import (
    auc_standard_error,
    current_versus_initial_auc,
    herfindahl,
    jeffreys_one_sided,
    migration_matrix,
    migration_shares,
)


def test_jeffreys_p_value_is_the_beta_cdf_at_the_pd_with_half_added() -> None:
    # ECB 2019, 2.5.3.1: p-value = Beta(D + 1/2, N - D + 1/2) CDF at PD; small when the PD understates defaults
    test = jeffreys_one_sided("B", 30, 200, 0.10)
    assert test.p_value == pytest.approx(beta_cdf(0.10, 30.5, 170.5))
    assert test.p_value < 0.05  # 15 % observed against a 10 % PD
    assert jeffreys_one_sided("B", 20, 200, 0.10).p_value == pytest.approx(0.5, abs=0.05)
    assert jeffreys_one_sided("B", 10, 200, 0.10).p_value > 0.95
    with pytest.raises(ValueError, match="clients >= 1"):
        jeffreys_one_sided("B", 1, 0, 0.1)


def test_auc_standard_error_matches_the_pairwise_delong_variance() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.8, 1), 1)  # ties included
    bad, good = s[y == 1], s[y == 0]
    kernel = (bad[:, None] > good[None, :]) + 0.5 * (bad[:, None] == good[None, :])
    v10, v01 = kernel.mean(axis=1), kernel.mean(axis=0)
    expected = math.sqrt(v10.var(ddof=1) / bad.size + v01.var(ddof=1) / good.size)
    assert auc_standard_error(y, s) == pytest.approx(expected, rel=1e-12)


def test_current_versus_initial_auc_flags_a_fall_and_not_a_rise() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 4000)
    s = rng.normal(y * 1.0, 1)
    test = current_versus_initial_auc(0.85, y, s)  # current about 0.76: a fall
    assert test.statistic == pytest.approx((0.85 - test.current) / test.standard_error)
    assert test.p_value < 0.001
    assert current_versus_initial_auc(test.current, y, s).p_value == pytest.approx(0.5)
    assert current_versus_initial_auc(0.6, y, s).p_value > 0.999


def test_herfindahl_is_zero_for_even_grades_and_one_for_a_single_grade() -> None:
    assert herfindahl([100, 100, 100, 100, 100])[0] == pytest.approx(0.0, abs=1e-12)
    assert herfindahl([0, 0, 500, 0, 0]) == pytest.approx((1.0, 1.0))
    hi, squares = herfindahl([50, 150, 300])
    assert squares == pytest.approx((1 / 10) ** 2 + (3 / 10) ** 2 + (6 / 10) ** 2)
    assert 0 < hi < 1


def test_migration_matrix_counts_accounts_and_splits_them_by_direction() -> None:
    before = ["A", "A", "B", "C", "E", "B"]
    after = ["A", "B", "B", "A", "E", "D"]
    matrix = migration_matrix(before, after, ["A", "B", "C", "D", "E"])
    assert matrix.sum() == 6 and matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 0] == 1
    assert migration_shares(matrix) == pytest.approx((3 / 6, 2 / 6, 1 / 6))
    with pytest.raises(ValueError, match="same accounts"):
        migration_matrix(["A"], [], ["A"])
    with pytest.raises(ValueError, match="not in the scale"):
        migration_matrix(["Z"], ["A"], ["A"])
