"""The scipy-free statistics checked against scipy and scikit-learn (both only in the dev environment)."""

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import roc_auc_score

from functions.monitoring.stats import (
    auc,
    beta_cdf,
    beta_ppf,
    bootstrap_interval,
    brier,
    gini,
    jeffreys_interval,
    ks_statistic,
)

SHAPES = [(0.5, 0.5), (0.5, 30.5), (2.5, 1.5), (12.5, 88.5), (128.5, 1987.5), (5000.5, 2000.5)]


@pytest.mark.parametrize(("a", "b"), SHAPES)
@pytest.mark.parametrize("x", [1e-6, 0.01, 0.06, 0.3, 0.5, 0.7142, 0.99, 1 - 1e-6])
def test_beta_cdf_matches_scipy(a: float, b: float, x: float) -> None:
    # lgamma of shapes in the thousands carries ~1e-12 relative error into the front factor
    assert beta_cdf(x, a, b) == pytest.approx(scipy_stats.beta.cdf(x, a, b), abs=1e-11)


@pytest.mark.parametrize(("a", "b"), SHAPES)
@pytest.mark.parametrize("q", [0.0005, 0.025, 0.5, 0.975, 0.9995])
def test_beta_ppf_matches_scipy(a: float, b: float, q: float) -> None:
    assert beta_ppf(q, a, b) == pytest.approx(scipy_stats.beta.ppf(q, a, b), abs=1e-10)


def test_beta_cdf_and_ppf_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        beta_cdf(0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        beta_ppf(1.5, 1.0, 1.0)
    assert (beta_cdf(0.0, 2, 3), beta_cdf(1.0, 2, 3), beta_ppf(0.0, 2, 3), beta_ppf(1.0, 2, 3)) == (
        0,
        1,
        0,
        1,
    )


@pytest.mark.parametrize(("defaults", "n"), [(1, 10), (128, 2115), (573, 836), (3, 1000), (40, 41)])
@pytest.mark.parametrize("level", [0.95, 0.999])
def test_jeffreys_interval_is_the_beta_quantiles(defaults: int, n: int, level: float) -> None:
    a, b = defaults + 0.5, n - defaults + 0.5
    lower, upper = jeffreys_interval(defaults, n, level=level)
    assert lower == pytest.approx(scipy_stats.beta.ppf((1 - level) / 2, a, b), abs=1e-10)
    assert upper == pytest.approx(scipy_stats.beta.ppf((1 + level) / 2, a, b), abs=1e-10)
    assert lower < defaults / n < upper


def test_jeffreys_interval_pins_the_ends_at_zero_and_all_defaults() -> None:
    assert jeffreys_interval(0, 50)[0] == 0.0
    assert jeffreys_interval(50, 50)[1] == 1.0
    with pytest.raises(ValueError, match="defaults"):
        jeffreys_interval(3, 2)
    with pytest.raises(ValueError, match="n >= 1"):
        jeffreys_interval(0, 0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("decimals", [1, 2, 6])  # few decimals: many tied scores
def test_auc_matches_scikit_learn_with_ties(seed: int, decimals: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=500)
    scores = np.round(np.clip(rng.normal(0.3 + 0.2 * y, 0.2), 0, 1), decimals)
    assert auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_auc_gini_and_ks_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])  # 3 of the 4 default/non-default pairs ranked right
    assert auc(y, scores) == 0.75
    assert gini(y, scores) == 0.5
    assert ks_statistic(y, scores) == 0.5
    assert auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5  # all tied: half credit each
    assert ks_statistic(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_auc_ignores_monotone_transforms_and_flips_when_reversed() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=300)
    scores = rng.random(300) + 0.3 * y
    assert auc(y, np.log(scores)) == pytest.approx(auc(y, scores), abs=1e-15)
    assert auc(y, -scores) == pytest.approx(1 - auc(y, scores), abs=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_ks_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=400)
    scores = np.round(rng.normal(y * 0.5, 1), 1)
    expected = scipy_stats.ks_2samp(scores[y == 1], scores[y == 0]).statistic
    assert ks_statistic(y, scores) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("function", [auc, ks_statistic])
def test_ranking_measures_need_both_classes(function: object) -> None:
    with pytest.raises(ValueError, match="both"):
        function(np.ones(5), np.arange(5.0))  # type: ignore[operator]


def test_brier_by_hand() -> None:
    assert brier(np.array([0, 1, 1]), np.array([0.2, 0.5, 1.0])) == pytest.approx((0.04 + 0.25 + 0) / 3)


def test_bootstrap_interval_is_reproducible_and_holds_the_estimate() -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, size=800)
    probabilities = np.clip(rng.normal(0.3 + 0.2 * y, 0.2), 0.01, 0.99)
    first = bootstrap_interval(y, probabilities, metric="auc", rounds=200)
    assert first == bootstrap_interval(y, probabilities, metric="auc", rounds=200)
    assert first != bootstrap_interval(y, probabilities, metric="auc", rounds=200, seed=1)
    assert first[0] < auc(y, probabilities) < first[1]
    low, high = bootstrap_interval(y, probabilities, metric="brier", rounds=200)
    assert low < brier(y, probabilities) < high
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_interval(y, probabilities, metric="f1")
