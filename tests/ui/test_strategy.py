"""ui/strategy.py: the Strategy tab over a scored book (AppTest, the shipped model's PDs, no server)."""

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from functions.config import MODEL_DIR
from functions.scoring.contract import Prediction
from functions.scoring.manifest import Manifest
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, parse_strategy
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch, strategy

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
ROWS = generate_rows(400, seed=12)


class ModelClient:
    """Answers batches with the shipped model's PDs (the API's numbers without a server)."""

    def __init__(self, model: ScoringModel) -> None:
        self.model = model

    def predict_batch(self, applicants: Any, /) -> list[Prediction]:
        probabilities = self.model.probabilities(to_matrix(list(applicants)))
        # Only the PD matters here; model_construct leaves the strategy's answer fields unset.
        return [Prediction.model_construct(probability_of_default=float(p)) for p in probabilities]


def tab_script(parsed: "batch.ParsedFile | None", scored: "batch.ScoredFile | None") -> None:
    """The Strategy tab alone, the batch tab's file in session state (AppTest runs this body as a page)."""
    import streamlit as st

    from ui.strategy import strategy_tab

    if parsed is not None and "parsed" not in st.session_state:
        st.session_state.parsed, st.session_state.scored = parsed, scored
    strategy_tab(None)


@pytest.fixture(scope="module")
def batch_book(shipped_model: ScoringModel) -> dict[str, Any]:
    parsed = batch.read_clients(to_dataset_csv(ROWS, target=[i % 4 == 0 for i in range(400)]).encode())
    scored = batch.score_rows(ModelClient(shipped_model), parsed, on_progress=lambda done, total: None)
    return {"parsed": parsed, "scored": scored}


def run_tab(batch_book: dict[str, Any]) -> AppTest:
    return AppTest.from_function(tab_script, default_timeout=30, kwargs=batch_book).run()


def swaps(at: AppTest) -> pd.DataFrame:
    frame: pd.DataFrame = at.table[0].value
    return frame


def test_at_the_shipped_cutoffs_nobody_swaps(batch_book: dict[str, Any]) -> None:
    at = run_tab(batch_book)
    assert not at.exception and not at.error
    assert at.slider(key="strategy_refer").value == pytest.approx(0.2)
    matrix = swaps(at).to_numpy()
    assert matrix.sum() == 400 and np.count_nonzero(matrix - np.diag(np.diag(matrix))) == 0
    assert "400 scored clients from the batch tab's scored file" in at.caption[0].value


def test_moving_the_decline_cutoff_down_moves_referred_clients_to_decline(
    batch_book: dict[str, Any], shipped_model: ScoringModel
) -> None:
    at = run_tab(batch_book)
    before = at.caption[1].value
    at.slider(key="strategy_decline").set_value(0.25).run()
    assert not at.exception
    pd_ = shipped_model.probabilities(to_matrix(ROWS))
    shipped = parse_strategy(SHIPPED, manifest=shipped_model.manifest)
    was = shipped.apply(to_matrix(ROWS), pd_).decision
    moved = ((was == "refer") & (pd_ >= 0.25)).sum()
    assert moved > 0
    assert swaps(at).loc["shipped: refer", "edited: decline"] == moved
    assert at.caption[1].value == before  # approvals did not change: the curve's point stays
    at.slider(key="strategy_refer").set_value(0.1).run()
    assert at.caption[1].value != before  # fewer approvals: the edited point moved down the curve
    assert swaps(at).loc["shipped: approve", "edited: refer"] > 0
    (download,) = at.get("download_button")
    assert download.label == "Download the edited strategy (YAML)"


def test_a_refer_cutoff_above_the_decline_cutoff_warns_and_drops_the_refer_band(
    batch_book: dict[str, Any], shipped_model: ScoringModel
) -> None:
    at = run_tab(batch_book)
    decline = at.slider(key="strategy_decline").value
    at.slider(key="strategy_refer").set_value(0.5).run()
    assert "no refer band" in at.warning[0].value
    text = strategy.edited_text(SHIPPED, refer_from=decline, decline_from=decline)
    raw = to_matrix(ROWS)
    decided = parse_strategy(text, manifest=shipped_model.manifest).apply(
        raw, shipped_model.probabilities(raw)
    )
    assert list(swaps(at).sum(axis=0)) == [
        (decided.decision == d).sum() for d in ("approve", "refer", "decline")
    ]


def test_the_edited_file_is_the_shipped_one_with_new_bands(shipped_manifest: Manifest) -> None:
    text = strategy.edited_text(SHIPPED, refer_from=0.15, decline_from=0.4)
    edited = parse_strategy(text, manifest=shipped_manifest)
    data, shipped = yaml.safe_load(text), yaml.safe_load(SHIPPED)
    assert [(b["from"], b["to"], b["decision"]) for b in data["pd_bands"]] == [
        (0.0, 0.15, "approve"), (0.15, 0.4, "refer"), (0.4, 1.0, "decline")
    ]  # fmt: skip
    assert data["line_management"] == shipped["line_management"] and data["loss"] == shipped["loss"]
    assert strategy.cutoffs_of(edited) == (0.15, 0.4)
    same = strategy.edited_text(SHIPPED, refer_from=0.3, decline_from=0.3)
    assert [b["decision"] for b in yaml.safe_load(same)["pd_bands"]] == ["approve", "decline"]


def test_the_shipped_cutoffs_are_its_refer_and_decline_band_starts(shipped_manifest: Manifest) -> None:
    assert strategy.cutoffs_of(parse_strategy(SHIPPED, manifest=shipped_manifest)) == (
        0.2,
        pytest.approx(shipped_manifest.threshold),
    )


def upload_script() -> None:
    from ui.strategy import strategy_tab

    strategy_tab(None)


def scored_csv(model: ScoringModel, *, with_pd: bool = True) -> bytes:
    lines = to_dataset_csv(ROWS[:50]).splitlines()
    if not with_pd:
        return ("\n".join(lines) + "\n").encode()
    probabilities = model.probabilities(to_matrix(ROWS[:50]))
    cells = [repr(p) for p in probabilities.tolist()]
    cells[3] = "1.5"  # not a PD: the row is left out and counted
    rows = [f"{line},{cell}" for line, cell in zip(lines[1:], cells, strict=True)]
    return ("\n".join([lines[0] + ",probability_of_default", *rows]) + "\n").encode()


def test_an_uploaded_scored_csv_is_simulated_and_bad_pds_are_counted(shipped_model: ScoringModel) -> None:
    at = AppTest.from_function(upload_script, default_timeout=30).run()
    assert "Score a file on the Batch file tab" in at.info[0].value
    at.file_uploader(key="strategy_file").upload("scored.csv", scored_csv(shipped_model), "text/csv").run()
    assert not at.exception and not at.error
    assert at.caption[0].value.startswith("49 scored clients from scored.csv · 1 rows without valid inputs")
    assert swaps(at).to_numpy().sum() == 49


def test_an_upload_without_pds_says_what_to_upload(shipped_model: ScoringModel) -> None:
    at = AppTest.from_function(upload_script, default_timeout=30).run()
    at.file_uploader(key="strategy_file").upload(
        "clients.csv", scored_csv(shipped_model, with_pd=False), "text/csv"
    ).run()
    assert at.error[0].value == (
        "clients.csv: no probability_of_default column; upload the batch tab's scored CSV, or score the file first"
    )
