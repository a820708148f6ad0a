"""Override analysis: injected overrides are counted exactly, overall and per group, with their outcomes."""

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from functions.monitoring.loop.overrides import analyse, figures

Array = npt.NDArray[Any]
GROUPS = {"sex": ("1", "2"), "marriage": ("1", "2", "3"), "age": ("<= 25", "(25, 35]", "(35, 50]", "> 50")}


def generated_decisions(n: int, seed: int) -> dict[str, Any]:
    """n decisions: model declines, groups, outcomes; 8 % overrides injected, half on each side."""
    rng = np.random.default_rng(seed)
    declines = rng.random(n) < 0.25
    groups = {name: rng.choice(values, n) for name, values in GROUPS.items()}
    actions = np.where(declines, "decline", "approve").astype("<U8")
    actions[rng.random(n) < 0.3] = ""  # not reviewed yet: keeps no final action
    reviewed = actions != ""
    overrides = round(0.08 * n)  # 800 of 10,000: half low side, half high side
    low = rng.choice(np.flatnonzero(reviewed & declines), overrides // 2, replace=False)
    high = rng.choice(np.flatnonzero(reviewed & ~declines), overrides - overrides // 2, replace=False)
    actions[low] = "approve"
    actions[high] = "decline"
    outcomes = rng.choice([1, 0, -1], n, p=[0.2, 0.5, 0.3])
    return {
        "declines": declines,
        "actions": actions,
        "outcomes": outcomes,
        "groups": groups,
        "low": low,
        "high": high,
    }


def test_injected_overrides_are_reproduced_exactly_overall_and_by_group() -> None:
    d = generated_decisions(10_000, seed=9)
    result = analyse(d["declines"], d["actions"], d["outcomes"], groups=d["groups"])
    assert result.overall.decisions == 10_000
    assert result.overall.low_side == d["low"].size
    assert result.overall.high_side == d["high"].size
    assert (result.overall.low_side, result.overall.high_side) == (400, 400)
    assert result.overall.low_side_defaults == int((d["outcomes"][d["low"]] == 1).sum())
    assert result.overall.high_side_joined == int((d["outcomes"][d["high"]] >= 0).sum())
    for name, values in GROUPS.items():
        labels = d["groups"][name]
        assert set(result.groups[name]) == set(values)
        for value in values:
            group = result.groups[name][value]
            assert group.low_side == int((labels[d["low"]] == value).sum())
            assert group.high_side == int((labels[d["high"]] == value).sum())
            assert group.reviewed == int(((labels == value) & (d["actions"] != "")).sum())
        assert sum(g.low_side for g in result.groups[name].values()) == result.overall.low_side


def test_rates_and_realised_default_rates_of_each_side() -> None:
    declines = np.array([True, True, False, False, True, False])
    actions = np.array(["approve", "decline", "decline", "approve", "", "refer"])
    outcomes = np.array([1, 0, 0, 1, 1, -1])
    f = figures(declines, actions, outcomes)
    assert (f.reviewed, f.low_side, f.high_side) == (5, 1, 1)
    assert f.low_side_rate == pytest.approx(0.2) and f.high_side_rate == pytest.approx(0.2)
    assert f.low_side_default_rate == 1.0 and f.high_side_default_rate == 0.0
    empty = figures(np.array([True]), np.array([""]), np.array([-1]))
    assert empty.low_side_rate is None and empty.low_side_default_rate is None


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one decline flag"):
        analyse(np.array([True]), np.array(["", ""]), np.array([0]), groups={})
    with pytest.raises(ValueError, match="'sex' needs one label"):
        analyse(np.array([True]), np.array([""]), np.array([0]), groups={"sex": ["1", "2"]})
