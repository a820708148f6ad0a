"""The decision engine: bands, knock-out rules, line actions, expected loss, champion-challenger, on whole arrays."""

from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.model import ScoringModel, load_model, to_matrix
from functions.scoring.strategy.engine import (
    DEFAULT_FILE,
    Strategy,
    assign_challenger,
    exposure_at_default,
    parse_strategy,
    read_strategy,
)
from training.data import load_dataset
from training.synthetic import TYPICAL, generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def strategy(model: ScoringModel) -> Strategy:
    return read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=model.manifest)


def clients(n: int, **inputs: float) -> np.ndarray:
    """Return n copies of the typical client (rows x 23) with some inputs changed."""
    raw = to_matrix([TYPICAL] * n)
    for name, value in inputs.items():
        raw[:, COLUMN[name]] = value
    return raw


def test_declines_are_exactly_the_pds_at_or_above_the_threshold(
    model: ScoringModel, strategy: Strategy
) -> None:
    t = model.threshold
    pd = np.array([0.0, 0.1, 0.2, np.nextafter(t, 0), t, np.nextafter(t, 1), 0.9, 1.0])
    outcomes = strategy.apply(clients(len(pd)), pd)
    assert outcomes.decision.tolist() == [
        "approve",
        "approve",
        "refer",
        "refer",
        "decline",
        "decline",
        "decline",
        "decline",
    ]
    assert outcomes.decided_by.tolist()[3:5] == ["refer_below_cutoff", "decline_at_cutoff"]


def test_declines_equal_predicted_default_on_generated_clients(
    model: ScoringModel, strategy: Strategy
) -> None:
    raw = to_matrix(generate_rows(2000, seed=7))
    pd = model.probabilities(raw)
    outcomes = strategy.apply(raw, pd)
    assert np.array_equal(outcomes.decision == "decline", pd >= model.threshold)
    assert {"approve", "refer", "decline"} <= set(outcomes.decision.tolist())


def test_a_refer_rule_refers_an_approved_client_but_never_softens_a_decline(strategy: Strategy) -> None:
    raw = clients(3, pay_0=3)
    outcomes = strategy.apply(raw, np.array([0.05, 0.25, 0.6]))
    assert outcomes.decision.tolist() == ["refer", "refer", "decline"]
    assert outcomes.decided_by.tolist() == [
        "P01_SERIOUS_ARREARS_NOW",
        "P01_SERIOUS_ARREARS_NOW",
        "decline_at_cutoff",
    ]


def test_a_rule_fires_only_when_every_condition_holds_and_the_first_firing_rule_decides(
    model: ScoringModel,
) -> None:
    text = SHIPPED.replace("decision: refer\n  - code: P02", "decision: decline\n  - code: P02")
    strategy = parse_strategy(text, manifest=model.manifest)
    late_every_month = dict.fromkeys(("pay_0", "pay_2", "pay_3", "pay_4", "pay_5", "pay_6"), 2)
    rows = np.vstack(
        [
            clients(1, **late_every_month),
            clients(1, **{**late_every_month, "pay_6": 0}),
            clients(1, **{**late_every_month, "pay_0": 4}),
        ]
    )
    outcomes = strategy.apply(rows, np.full(3, 0.05))
    assert outcomes.decided_by.tolist() == [
        "P02_LATE_EVERY_MONTH",
        "approve_low_pd",
        "P01_SERIOUS_ARREARS_NOW",
    ]
    assert outcomes.decision.tolist() == ["refer", "approve", "decline"]


def test_exposure_at_default_is_the_balance_plus_ccf_times_the_unused_limit() -> None:
    """Basel Framework CRE32: EAD = drawn amount + CCF x undrawn commitment; nothing undrawn above the limit."""
    ead = exposure_at_default(
        np.array([20_000.0, 0.0, 120_000.0]), np.array([100_000.0, 50_000.0, 100_000.0]), ccf=0.5
    )
    assert ead.tolist() == [20_000 + 0.5 * 80_000, 0.5 * 50_000, 120_000]


def test_expected_loss_is_pd_times_lgd_times_ead(strategy: Strategy) -> None:
    raw = clients(1, limit_bal=100_000, bill_amt1=40_000)
    outcomes = strategy.apply(raw, np.array([0.5]))  # declined: frozen at the balance, so EAD is the balance
    assert outcomes.new_limit.tolist() == [40_000]
    assert outcomes.expected_loss.tolist() == pytest.approx([0.5 * 0.75 * 40_000])


@pytest.mark.parametrize(
    ("pd", "limit", "bill", "action", "percent", "new_limit"),
    [
        (0.05, 200_000, 20_000, "increase", 10, 220_000),  # grade A, low utilisation
        (0.05, 800_000, 20_000, "increase", 10, 850_000),  # the NT$ 50,000 cap
        (0.05, 100_000, 90_000, "hold", 0, 100_000),  # grade A, high utilisation
        (0.15, 100_000, 10_000, "increase", 5, 105_000),  # grade B, low
        (0.25, 100_000, 10_000, "hold", 0, 100_000),  # refer: hold
        (0.40, 100_000, 10_000, "freeze", 0, 10_000),  # decline: freeze at the balance
        (0.40, 100_000, -5_000, "freeze", 0, 0),  # a credit balance leaves nothing drawn
    ],
)
def test_line_actions_follow_the_matrix_the_cap_and_the_decision(
    strategy: Strategy, pd: float, limit: float, bill: float, action: str, percent: float, new_limit: float
) -> None:
    outcomes = strategy.apply(clients(1, limit_bal=limit, bill_amt1=bill), np.array([pd]))
    assert (outcomes.line_action[0], outcomes.line_percent[0], outcomes.new_limit[0]) == (
        action,
        percent,
        new_limit,
    )


def test_a_decrease_never_takes_the_limit_below_the_balance(model: ScoringModel) -> None:
    text = SHIPPED.replace(
        "low: {action: increase, percent: 10}\n      medium: {action: increase, percent: 10}",
        "low: {action: decrease, percent: 50}\n      medium: {action: decrease, percent: 50}",
    )
    strategy = parse_strategy(text, manifest=model.manifest)
    outcomes = strategy.apply(clients(2, limit_bal=100_000, bill_amt1=0), np.array([0.05, 0.05]))
    assert outcomes.new_limit.tolist() == [50_000, 50_000]
    outcomes = strategy.apply(clients(1, limit_bal=100_000, bill_amt1=60_000), np.array([0.05]))
    assert outcomes.new_limit.tolist() == [60_000]


def test_records_and_totals_describe_the_same_rows(strategy: Strategy) -> None:
    pd = np.array([0.05, 0.25, 0.6])
    outcomes = strategy.apply(clients(3), pd)
    records = outcomes.records()
    assert [r["decision"] for r in records] == ["approve", "refer", "decline"]
    assert {r["strategy_version"] for r in records} == {strategy.version} and records[0]["arm"] == "champion"
    totals = outcomes.totals()
    assert totals["decisions"] == {"approve": 1, "refer": 1, "decline": 1}
    assert totals["expected_loss"] == pytest.approx(sum(r["expected_loss"] for r in records))


def test_no_rows_give_no_outcomes(strategy: Strategy) -> None:
    outcomes = strategy.apply(np.zeros((0, len(FEATURE_NAMES))), np.zeros(0))
    assert outcomes.records() == [] and outcomes.totals()["decisions"]["approve"] == 0


def test_a_wrong_shape_is_refused(strategy: Strategy) -> None:
    with pytest.raises(ValueError, match="expected rows x 23 inputs and one PD per row"):
        strategy.apply(clients(2), np.zeros(3))


def test_the_challenger_decides_only_its_rows(tmp_path: Path, model: ScoringModel) -> None:
    challenger = SHIPPED.replace("to: 0.2,", "to: 0.1,").replace("from: 0.2,", "from: 0.1,")
    (tmp_path / "challenger.yaml").write_text(challenger)
    (tmp_path / DEFAULT_FILE).write_text(SHIPPED + "challenger: {file: challenger.yaml, share: 0.5}\n")
    strategy = read_strategy(tmp_path / DEFAULT_FILE, manifest=model.manifest)
    assert strategy.challenger is not None
    mask = np.array([False, True, False, True])
    outcomes = strategy.decide(clients(4), np.full(4, 0.15), challenger=mask)
    assert outcomes.decision.tolist() == ["approve", "refer", "approve", "refer"]
    assert outcomes.arm.tolist() == ["champion", "challenger", "champion", "challenger"]
    assert outcomes.strategy_version.tolist() == [strategy.version, strategy.challenger.version] * 2


def test_without_a_challenger_every_row_is_the_champions(strategy: Strategy) -> None:
    outcomes = strategy.decide(clients(2), np.array([0.1, 0.5]), challenger=np.array([True, True]))
    assert outcomes.arm.tolist() == ["champion", "champion"] and strategy.share == 0.0


@pytest.mark.parametrize("share", [0.05, 0.1, 0.5])
def test_assignment_is_within_half_a_point_of_the_share_and_stable(share: float) -> None:
    references = [f"client-{i}" for i in range(100_000)]
    first = assign_challenger(references, key=b"k" * 32, share=share)
    assert abs(first.mean() - share) <= 0.005
    assert np.array_equal(first, assign_challenger(list(references), key=b"k" * 32, share=share))
    # a larger share only adds references: nobody in the challenger moves back when the share grows
    assert not (first & ~assign_challenger(references, key=b"k" * 32, share=min(share * 2, 0.99))).any()


def test_assignment_depends_on_the_key() -> None:
    references = [f"client-{i}" for i in range(2000)]
    one = assign_challenger(references, key=b"a" * 32, share=0.5)
    other = assign_challenger(references, key=b"b" * 32, share=0.5)
    assert 0.3 < (one != other).mean() < 0.7


@pytest.mark.realdata
def test_the_shipped_strategy_declines_exactly_todays_predicted_defaults_on_the_real_rows(
    real_data_path: Path, model: ScoringModel, strategy: Strategy
) -> None:
    raw = load_dataset(real_data_path).X
    decisions = model.assess(raw, explain=False)
    outcomes = strategy.apply(raw, np.array([d.probability_of_default for d in decisions]))
    assert len(decisions) == 30_000
    assert np.array_equal(outcomes.decision == "decline", np.array([d.predicted_default for d in decisions]))


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_each_operator_fires_exactly_where_python_says(model: ScoringModel, op: str) -> None:
    rule = (
        "policy_rules:\n  - code: T01_TEST\n    statement: A rule that tests one operator exactly.\n"
        f'    when:\n      - {{input: bill_amt1, op: "{op}", value: 1000.5}}\n'
        '      - {input: pay_0, op: "!=", value: -2}\n    decision: decline\n'
    )
    text = SHIPPED[: SHIPPED.index("policy_rules:")] + rule + SHIPPED[SHIPPED.index("pd_bands:") :]
    strategy = parse_strategy(text, manifest=model.manifest)
    bills = [1000.5, np.nextafter(1000.5, 0), np.nextafter(1000.5, 2000), -3.0, 5e6]
    raw = clients(len(bills) * 2)
    raw[:, COLUMN["bill_amt1"]] = bills * 2
    raw[:, COLUMN["pay_0"]] = [0] * len(bills) + [-2] * len(bills)
    python = {
        "<": float.__lt__,
        "<=": float.__le__,
        ">": float.__gt__,
        ">=": float.__ge__,
        "==": float.__eq__,
        "!=": float.__ne__,
    }[op]
    expected = [
        python(float(b), 1000.5) and p != -2
        for b, p in raw[:, [COLUMN["bill_amt1"], COLUMN["pay_0"]]].tolist()
    ]
    outcomes = strategy.apply(raw, np.full(len(raw), 0.05))
    assert (outcomes.decided_by == "T01_TEST").tolist() == expected
