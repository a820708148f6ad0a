"""Issue 19's acceptance on the real test split: every client at or above the cut-off gets a reason, none cites
sex or marriage, and each reason carries its code's one statement."""

from pathlib import Path

import numpy as np
import pytest

from functions.scoring.contract import PROTECTED
from functions.scoring.model import ScoringModel

FORBIDDEN_WORDS = ("sex", "male", "female", "gender", "marri", "marital", "single", "spouse")


@pytest.mark.realdata
def test_every_test_client_at_or_above_the_cut_off_gets_a_reason_and_none_cites_a_protected_input(
    model: ScoringModel, real_data_path: Path
) -> None:
    from training.data import load_dataset, split_dataset

    test = split_dataset(load_dataset(real_data_path)).X_test.astype(np.float64)
    decisions = model.assess(test)
    flagged = [d for d in decisions if d.probability_of_default >= model.threshold]
    assert len(flagged) > 1000  # the split's declines at the shipped threshold: about 1,700
    assert all(d.reasons for d in flagged), "a client at or above the cut-off has no reason"
    reasons = [r for d in decisions for r in d.reasons]
    assert not {r.code for r in reasons} & set(PROTECTED)
    for reason in reasons:
        words = f"{reason.text} {reason.statement}".lower()
        assert not any(word in words for word in FORBIDDEN_WORDS), reason
    statements: dict[str, set[str]] = {}
    for reason in reasons:
        statements.setdefault(reason.code, set()).add(reason.statement)
    assert all(len(texts) == 1 for texts in statements.values()), statements  # one statement per code
