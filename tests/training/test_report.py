"""The model card quotes the manifest; fairness and grade tables count the test rows right."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import GRADE_BANDS, Manifest, read_manifest
from training import report
from training.plots import PLOTS, count_colour


@pytest.fixture(scope="module")
def manifest(synthetic_model_dir: Path) -> Manifest:
    return read_manifest(synthetic_model_dir)


def _frame(ages: list[int], outcomes: list[int], pods: list[float]) -> pd.DataFrame:
    X = np.zeros((len(ages), len(FEATURE_NAMES)))
    X[:, FEATURE_NAMES.index("age")] = ages
    X[:, FEATURE_NAMES.index("sex")] = 1
    X[:, FEATURE_NAMES.index("marriage")] = 1
    X[:, FEATURE_NAMES.index("education")] = 2
    return report.test_frame(X, np.array(outcomes), np.array(pods))


def test_fairness_table_measures_each_group_at_the_threshold() -> None:
    rows = report.fairness_table(_frame([25, 26, 45, 46], [1, 0, 1, 0], [0.9, 0.6, 0.1, 0.2]), threshold=0.5)
    by_group = {(r.attribute, r.group): r for r in rows}
    young, middle = by_group[("age", "18-29")], by_group[("age", "40-49")]
    assert (young.n, young.selection_rate, young.tpr, young.fpr) == (2, 1.0, 1.0, 1.0)
    assert (middle.n, middle.selection_rate, middle.tpr, middle.fpr) == (2, 0.0, 0.0, 0.0)
    assert by_group[("sex", "male")].n == 4
    assert ("age", "62+") not in by_group  # empty groups are left out


def test_fairness_age_bands_split_at_the_elderly_age_of_regulation_b() -> None:
    rows = report.fairness_table(_frame([61, 62, 100], [0, 1, 0], [0.1, 0.9, 0.2]), threshold=0.5)
    by_group = {(r.attribute, r.group): r.n for r in rows}
    assert by_group[("age", "50-61")] == 1 and by_group[("age", "62+")] == 2  # 12 CFR 1002.2(o): 62 or older


def test_fairness_rate_of_a_class_absent_from_a_group_is_none() -> None:
    rows = report.fairness_table(_frame([25, 45], [0, 1], [0.9, 0.1]), threshold=0.5)
    young = next(r for r in rows if r.group == "18-29")
    assert young.tpr is None and young.fpr == 1.0


def test_grade_table_puts_each_client_in_one_band() -> None:
    pods = [0.05, 0.15, 0.15, 0.3, 0.99]
    grades = report.grade_table(_frame([30] * 5, [0, 0, 1, 1, 1], pods), GRADE_BANDS)
    assert [g.grade for g in grades] == [band.grade for band in GRADE_BANDS]
    assert [g.n for g in grades] == [1, 2, 1, 0, 1]
    assert grades[1].observed_default_rate == 0.5
    assert grades[3].observed_default_rate == 0.0  # an empty band
    assert grades[-1].pd_to == 1.0


def test_model_card_quotes_the_manifest(manifest: Manifest) -> None:
    card = report.model_card(manifest)
    test_rows = report.test_rows(manifest)
    assert f"held-out test set, {test_rows:,} clients" in card
    assert "Split: 75/25 stratified (random_state 42)" in card
    assert "20 % of the training part" in card
    assert "600 points at 50:1 good:bad odds, 20 points to double the odds, clipped to 300–900" in card
    assert f"Version `{manifest.version}`" in card
    assert "precision at recall ≥ 68 %" in card
    assert all(f"({name})" in card for name in PLOTS)


def test_model_card_follows_a_changed_policy(manifest: Manifest) -> None:
    scaling = manifest.score_scaling.model_copy(update={"anchor_score": 500, "points_to_double_odds": 40})
    split = manifest.split.model_copy(update={"test_size": 0.2, "random_state": 7})
    card = report.model_card(manifest.model_copy(update={"score_scaling": scaling, "split": split}))
    assert "500 points at 50:1 good:bad odds, 40 points to double the odds" in card
    assert "Split: 80/20 stratified (random_state 7)" in card


def test_model_card_lists_every_candidate_and_fairness_row(manifest: Manifest) -> None:
    card = report.model_card(manifest)
    assert all(f"| {c.name} |" in card for c in manifest.candidates)
    assert card.count("\n| sex |") + card.count("\n| age |") >= 2


def test_summary_compares_with_the_reference_app(manifest: Manifest) -> None:
    text = report.summary(manifest)
    assert text.startswith(f"model {manifest.version}: test ROC-AUC {manifest.metrics.test.roc_auc:.4f}")
    assert "reference app: accuracy 74.0%, precision 38.0%, recall 68.0%, F1 49.0%" in text


@pytest.mark.parametrize(
    ("count", "top", "colour"),
    [(5045, 5045, "white"), (2600, 5045, "white"), (907, 5045, "black"), (0, 0, "black")],
)
def test_confusion_counts_are_white_on_dark_cells_and_black_on_light(
    count: int, top: int, colour: str
) -> None:
    assert count_colour(count, top) == colour
