"""The model card's first section: each item a validator asks first, checked in the shipped card's words."""

from pathlib import Path

import pytest

from functions.scoring.manifest import read_manifest
from training.report import model_card

SHIPPED = Path(__file__).resolve().parents[2] / "model"


def scope(card: str) -> str:
    """Return the card's first section (its text up to the next heading)."""
    sections = card.split("\n## ")
    assert sections[1].startswith("Scope for a validator"), "the scope section must come first"
    return sections[1]


@pytest.fixture(scope="module")
def shipped_scope() -> str:
    """The shipped card's scope section, which must equal what the manifest renders."""
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert card == model_card(read_manifest(SHIPPED)), "MODEL_CARD.md is stale: refresh it from the manifest"
    return scope(card)


def test_the_horizon_is_one_month_and_not_basel_or_ifrs9(shipped_scope: str) -> None:
    assert "Horizon: **one month**" in shipped_scope
    assert (
        "not Basel's one-year PD" in shipped_scope and "not IFRS 9's 12-month or lifetime PD" in shipped_scope
    )


def test_the_default_definition_is_the_next_months_payment(shipped_scope: str) -> None:
    assert "*default payment next month*" in shipped_scope and "October 2005" in shipped_scope


def test_the_development_window_and_its_crisis_and_rate(shipped_scope: str) -> None:
    assert "April–September 2005" in shipped_scope and "Taiwan's card-debt crisis" in shipped_scope
    assert "default rate 22.1% of 30,000 clients" in shipped_scope


def test_no_long_run_average_no_margin_of_conservatism_not_irb(shipped_scope: str) -> None:
    assert "No long-run average, no margin of conservatism, not an IRB model" in shipped_scope


def test_the_repayment_code_finding_quotes_the_manifest_counts(shipped_scope: str) -> None:
    counts = read_manifest(SHIPPED).data.late_one_month
    assert counts == {"pay_0": 3688, "pay_2": 28, "pay_3": 4, "pay_4": 2, "pay_5": 0, "pay_6": 0}
    assert "`PAY_0 = 1` (one month late) for 3,688 clients" in shipped_scope
    assert "`PAY_2` 28, `PAY_3` 4, `PAY_4` 2, `PAY_5` 0, `PAY_6` 0" in shipped_scope
    assert "not a consistent delinquency counter" in shipped_scope


def test_a_manifest_without_counts_says_to_retrain() -> None:
    manifest = read_manifest(SHIPPED)
    bare = manifest.model_copy(update={"data": manifest.data.model_copy(update={"late_one_month": None})})
    assert "Repayment codes: not counted in this manifest; run `make train`." in scope(model_card(bare))


@pytest.mark.realdata
def test_the_counts_are_the_datas(real_data_path: Path) -> None:
    from training.data import late_one_month, load_dataset

    assert late_one_month(load_dataset(real_data_path)) == read_manifest(SHIPPED).data.late_one_month
