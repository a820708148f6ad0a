"""The what-if's tallies and summary: they add up over chunks, count notices by the regulation's words, swap sets,
selection by group, realised rates with Jeffreys intervals, the trade-off curve; the real-data acceptance."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from functions.config import MODEL_DIR
from functions.monitoring.stats import jeffreys_interval
from functions.portfolio.whatif.summary import summarise, tradeoff_of
from functions.portfolio.whatif.tally import add, adverse_actions, evaluate, new_tally, tradeoff
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Strategy, parse_strategy
from training.synthetic import TYPICAL, generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
AT = {name: i for i, name in enumerate(FEATURE_NAMES)}
GRADES = ("A", "B", "C", "D", "E")


def variant(manifest: Manifest, change: Any = None, **fields: Any) -> Strategy:
    """Parse the shipped strategy with top-level fields replaced and `change(data)` applied."""
    data = yaml.safe_load(SHIPPED) | fields
    if change is not None:
        change(data)
    return parse_strategy(yaml.safe_dump(data, sort_keys=False), manifest=manifest)


def cutoff(manifest: Manifest, decline_from: float | str) -> Strategy:
    """A strategy without rules: approve below the cut-off, decline from it."""
    bands = [
        {"name": "approve_below", "from": 0.0, "to": decline_from, "decision": "approve"},
        {"name": "decline_from", "from": decline_from, "to": 1.0, "decision": "decline"},
    ]
    return variant(manifest, policy_rules=[], pd_bands=bands)


def book(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generated clients, PDs spread over [0, 1) and 0/1/-1 targets (seeded)."""
    rng = np.random.default_rng(seed)
    raw = to_matrix(generate_rows(n, seed=seed))
    return raw, rng.uniform(0, 1, n), rng.choice([-1, 0, 1], n, p=[0.1, 0.6, 0.3])


def test_chunks_add_up_to_the_whole_book(shipped_manifest: Manifest) -> None:
    strategies = {"champion": variant(shipped_manifest), "challenger": cutoff(shipped_manifest, 0.4)}
    raw, pd, target = book(400)
    whole = evaluate(strategies, raw, pd, target, grades=GRADES)
    parts = new_tally()
    for rows in (slice(0, 137), slice(137, 300), slice(300, 400)):
        add(parts, evaluate(strategies, raw[rows], pd[rows], target[rows], grades=GRADES))
    assert {k for k, v in whole.items() if v} == {k for k, v in parts.items() if v}
    assert all(parts[k] == pytest.approx(v, abs=1e-6) for k, v in whole.items())


def test_rates_money_and_lines_match_the_engine(shipped_manifest: Manifest) -> None:
    strategy = variant(shipped_manifest)
    raw, pd, target = book(500)
    outcomes = strategy.apply(raw, pd)
    arm = summarise(
        evaluate({"champion": strategy}, raw, pd, target, grades=GRADES), {"champion": strategy},
        grades=GRADES, with_target=True,
    )["arms"]["champion"]  # fmt: skip
    approved = outcomes.decision == "approve"
    assert arm["decisions"]["approve"]["clients"] == approved.sum()
    assert sum(d["rate"] for d in arm["decisions"].values()) == pytest.approx(1.0)
    assert arm["expected_bad_rate_approved"] == pytest.approx(pd[approved].mean())
    referred = outcomes.decision == "refer"
    assert arm["decisions"]["refer"]["expected_bad_rate"] == pytest.approx(pd[referred].mean())
    assert arm["expected_loss_ntd"] == pytest.approx(outcomes.expected_loss.sum())
    assert sum(g["expected_loss_ntd"] for g in arm["by_grade"].values()) == pytest.approx(
        arm["expected_loss_ntd"]
    )
    change = outcomes.new_limit - raw[:, AT["limit_bal"]]
    assert arm["line_actions"]["limit_added_ntd"] == pytest.approx(change[change > 0].sum())
    assert arm["line_actions"]["limit_removed_ntd"] == pytest.approx(-change[change < 0].sum())
    assert arm["line_actions"]["clients"]["freeze"] == (outcomes.line_action == "freeze").sum()


def decrease_everything(data: dict[str, Any]) -> None:
    """Make every approved client's line action a 10 % decrease."""
    for row in data["line_management"]["matrix"].values():
        for band in row:
            row[band] = {"action": "decrease", "percent": 10}


def test_notices_follow_12_cfr_1002_2_c(shipped_manifest: Manifest) -> None:
    # 1002.2(c)(1)(i) "a refusal to grant credit": a decline; (c)(1)(ii) "an unfavorable change in the terms of
    # an account": a lower limit; (c)(2)(ii) not "any action ... taken in connection with ... delinquency as to
    # that account": a lower limit on an account a month or more late (PAY_0 >= 1) sends no notice.
    strategy = variant(shipped_manifest, decrease_everything, policy_rules=[])
    raw = to_matrix([TYPICAL] * 4)
    raw[:, AT["bill_amt1"]] = 0.0  # nothing drawn: a decrease lowers the limit
    raw[2, AT["pay_0"]] = 2  # two months late: delinquent
    raw[3, AT["pay_0"]] = -1  # paid duly
    pd = np.array([0.9, 0.05, 0.05, 0.05])
    declined, lowered = adverse_actions(strategy.apply(raw, pd))
    assert declined.tolist() == [True, False, False, False]
    assert lowered.tolist() == [False, True, False, True]
    arm = summarise(
        evaluate({"champion": strategy}, raw, pd, np.full(4, -1), grades=GRADES), {"champion": strategy},
        grades=GRADES, with_target=False,
    )["arms"]["champion"]  # fmt: skip
    assert arm["adverse_action_notices"] == {"total": 3, "declines": 1, "line_decreases": 2}


def test_an_increase_or_a_hold_sends_no_notice(shipped_manifest: Manifest) -> None:
    strategy = variant(shipped_manifest, policy_rules=[])
    raw = to_matrix([TYPICAL] * 2)
    raw[:, AT["bill_amt1"]] = 0.0
    outcomes = strategy.apply(raw, np.array([0.01, 0.15]))  # grade A low: increase; grade B low: increase 5 %
    assert set(outcomes.line_action.tolist()) <= {"increase", "hold"}
    assert not adverse_actions(outcomes)[1].any()


def test_swap_matrix_and_swap_sets(shipped_manifest: Manifest) -> None:
    champion, challenger = cutoff(shipped_manifest, 0.3), variant(shipped_manifest)
    raw, pd, target = book(600, seed=8)
    before, after = champion.apply(raw, pd).decision, challenger.apply(raw, pd).decision
    result = summarise(
        evaluate({"champion": champion, "challenger": challenger}, raw, pd, target, grades=GRADES),
        {"champion": champion, "challenger": challenger}, grades=GRADES, with_target=True,
    )  # fmt: skip
    matrix = result["swaps"]["matrix"]
    for b in ("approve", "refer", "decline"):
        for a in ("approve", "refer", "decline"):
            assert matrix[b][a] == ((before == b) & (after == a)).sum()
    swapped = next(
        s for s in result["swaps"]["swap_sets"] if (s["champion"], s["challenger"]) == ("approve", "refer")
    )
    rows = (before == "approve") & (after == "refer")
    assert swapped["clients"] == rows.sum() > 0
    assert swapped["expected_bad_rate"] == pytest.approx(pd[rows].mean())
    known = rows & (target >= 0)
    assert swapped["realised"]["defaults"] == target[known].sum()


def test_selection_rate_by_group_and_the_ratio_of_lowest_to_highest(shipped_manifest: Manifest) -> None:
    strategy = cutoff(shipped_manifest, 0.5)
    raw = to_matrix([TYPICAL] * 10)
    raw[:5, AT["sex"]], raw[5:, AT["sex"]] = 1, 2
    raw[:, AT["age"]] = [22, 22, 35, 35, 61, 22, 22, 35, 35, 61]
    pd = np.array([0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9])  # men 3/5 approved, women 1/5
    arm = summarise(
        evaluate({"champion": strategy}, raw, pd, np.full(10, -1), grades=GRADES), {"champion": strategy},
        grades=GRADES, with_target=False,
    )["arms"]["champion"]  # fmt: skip
    sex = arm["selection"]["sex"]
    assert sex["groups"]["male"]["approval_rate"] == pytest.approx(0.6)
    assert sex["groups"]["female"]["approval_rate"] == pytest.approx(0.2)
    assert sex["lowest_to_highest"] == pytest.approx(0.2 / 0.6)
    ages = arm["selection"]["age_band"]["groups"]
    assert ages["18-29"] == {"clients": 4, "approved": 3, "approval_rate": 0.75}
    assert ages["50-61"]["approved"] == 0 and "62+" not in ages  # the 61-year-olds; nobody is 62+
    assert arm["selection"]["age_band"]["lowest_to_highest"] == 0.0


def test_realised_bad_rates_carry_the_jeffreys_interval(shipped_manifest: Manifest) -> None:
    strategy = cutoff(shipped_manifest, 0.5)
    raw, pd, target = book(300, seed=5)
    arm = summarise(
        evaluate({"champion": strategy}, raw, pd, target, grades=GRADES), {"champion": strategy},
        grades=GRADES, with_target=True,
    )["arms"]["champion"]  # fmt: skip
    approved = arm["realised_by_decision"]["approve"]
    rows = (pd < 0.5) & (target >= 0)
    assert approved["clients"] == rows.sum()
    assert approved["realised_bad_rate"] == pytest.approx(target[rows].mean())
    assert approved["jeffreys_95"] == pytest.approx(
        list(jeffreys_interval(int(target[rows].sum()), int(rows.sum())))
    )
    assert arm["bands"][0]["realised"]["clients"] == approved["clients"]
    assert arm["realised_by_decision"]["refer"] is None  # no refer band, no rule


def test_the_tradeoff_curve_of_the_histogram_matches_the_direct_one(shipped_manifest: Manifest) -> None:
    raw, pd, target = book(1000, seed=2)
    points = tradeoff_of(
        evaluate({"champion": cutoff(shipped_manifest, 0.5)}, raw, pd, target, grades=GRADES)
    )
    cutoffs = np.array([p["cutoff"] for p in points])
    rates, bad = tradeoff(pd, cutoffs)
    assert [p["approval_rate"] for p in points] == pytest.approx(rates.tolist())
    assert [p["expected_bad_rate"] for p in points] == pytest.approx(bad.tolist())
    assert np.all(np.diff(rates) >= 0) and points[-1]["approval_rate"] == 1.0


@pytest.fixture(scope="module")
def test_split(
    real_data_path: Path, shipped_model: ScoringModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The real test split as training/data.py defines it: inputs, the shipped model's PDs, outcomes."""
    from training.data import load_dataset, split_dataset

    splits = split_dataset(load_dataset(real_data_path))
    return splits.X_test, shipped_model.probabilities(splits.X_test), splits.y_test.astype(np.int64)


@pytest.mark.realdata
@pytest.mark.parametrize("decline_from", [0.10, 0.20, "model_threshold", 0.35, 0.55])
def test_expected_bad_rate_of_approved_lies_in_the_realised_jeffreys_interval_on_the_test_split(
    test_split: tuple[np.ndarray, np.ndarray, np.ndarray],
    shipped_manifest: Manifest,
    decline_from: float | str,
) -> None:
    raw, pd, target = test_split
    strategy = cutoff(shipped_manifest, decline_from)
    arm = summarise(
        evaluate({"champion": strategy}, raw, pd, target, grades=GRADES), {"champion": strategy},
        grades=GRADES, with_target=True,
    )["arms"]["champion"]  # fmt: skip
    approved = arm["realised_by_decision"]["approve"]
    assert (
        approved["clients"] == arm["decisions"]["approve"]["clients"] == (pd < strategy.band_starts[1]).sum()
    )
    low, high = approved["jeffreys_95"]
    assert low <= arm["expected_bad_rate_approved"] <= high, approved
