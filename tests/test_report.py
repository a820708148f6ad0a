"""training/report.py: the model card's plots stay readable."""

import pytest

from training.report import count_colour


@pytest.mark.parametrize(
    ("count", "top", "colour"),
    [(5045, 5045, "white"), (2600, 5045, "white"), (907, 5045, "black"), (0, 0, "black")],
)
def test_confusion_counts_are_white_on_dark_cells_and_black_on_light(
    count: int, top: int, colour: str
) -> None:
    assert count_colour(count, top) == colour
