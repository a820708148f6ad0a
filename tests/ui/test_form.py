"""ui/form.py: presets, the form's table and the API body it builds, and the fields' labels."""

from typing import Any

import numpy as np
import pytest

from functions.scoring.contract import FEATURE_NAMES, Applicant
from training.synthetic import HIGH_RISK, TYPICAL
from ui import form


@pytest.mark.parametrize(("name", "expected"), [("typical", TYPICAL), ("high_risk", HIGH_RISK)])
def test_presets_equal_test_clients_and_pass_contract(name: str, expected: dict[str, Any]) -> None:
    assert form.PRESETS[name] == expected
    Applicant.model_validate(form.PRESETS[name])


@pytest.mark.parametrize("name", ["typical", "high_risk"])
def test_to_applicant_rebuilds_preset_from_form_and_table(name: str) -> None:
    preset = form.PRESETS[name]
    profile = {field: preset[field] for field in form.PROFILE}
    applicant = form.to_applicant(profile, form.history_table(preset))
    assert applicant == preset
    assert list(applicant) == list(FEATURE_NAMES)
    assert all(isinstance(applicant[f], int) for f in ("pay_0", "pay_6", "age", "education"))
    assert isinstance(applicant["bill_amt1"], float)


def test_to_applicant_turns_blank_cells_into_none() -> None:
    table = form.history_table(TYPICAL)
    table.loc[table.index[2], "bill"] = np.nan
    table.loc[table.index[0], "status"] = None
    applicant = form.to_applicant(dict(TYPICAL, sex=None), table)
    assert applicant["bill_amt3"] is None
    assert applicant["pay_0"] is None
    assert applicant["sex"] is None


def test_history_table_lays_out_six_months_newest_first() -> None:
    table = form.history_table(TYPICAL)
    assert table.shape == (6, 3)
    assert table.index[0] == "September"
    assert table["bill"].tolist() == [float(TYPICAL[f"bill_amt{k}"]) for k in range(1, 7)]


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("limit_bal", "Credit limit (NT$)"),
        ("pay_0", "September repayment status"),
        ("bill_amt3", "July bill"),
        ("pay_amt6", "April paid"),
        ("body", "body"),
    ],
)
def test_field_label_names_inputs_as_the_form_shows_them(name: str, label: str) -> None:
    assert form.field_label(name) == label
