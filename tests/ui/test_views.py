"""ui/views.py: a scored file as the batch tab shows it (AppTest with fake predictions, no server)."""

import io
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from functions.scoring.contract import Prediction
from functions.scoring.manifest import Manifest, parse_manifest
from scripts.local import ROOT
from training.data import parse, table_sha256
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch, provenance, views

ROWS = 1200  # more than a thousand, so counts need their separators


HELD: dict[str, Any] = dict.fromkeys(("line_percent", "exposure_at_default", "expected_loss"), 0.0)
HELD |= {"decided_by": "band", "line_action": "hold", "arm": "champion", "strategy_version": "fake"}
HELD |= {"adverse_action_notice": "not_applicable", "notice_basis": "fake"}


def fake_prediction(applicant: dict[str, Any]) -> Prediction:
    """A PD with many decimals (e.g. 0.29684), made from the applicant alone."""
    probability = ((applicant["age"] * 7919 + applicant["pay_0"] * 104729) % 10_000) / 10_000
    return Prediction(
        probability_of_default=probability,
        predicted_default=probability >= 0.9,
        threshold=0.9,
        score=600,
        risk_grade="C",
        reasons=[],
        model_version="fake",
        request_id="r",
        decision="decline" if probability >= 0.9 else "approve",
        **HELD,  # the strategy's other fields: a hold at the current limit
        new_limit=applicant["limit_bal"],
    )


class FakeClient:
    """Answers batches from `fake_prediction`."""

    def predict_batch(self, applicants: Any, /) -> list[Prediction]:
        return [fake_prediction(applicant) for applicant in applicants]


def batch_script(parsed: "batch.ParsedFile", scored: "batch.ScoredFile", manifest: "Manifest") -> None:
    """The batch tab's results alone (AppTest runs this function's body as a page)."""
    from ui.views import show_batch

    show_batch(parsed, scored, manifest)


def shown(csv: str, manifest: Manifest) -> AppTest:
    """Read and fake-score a CSV, then show it as the batch tab does."""
    parsed = batch.read_clients(csv.encode())
    scored = batch.score_rows(FakeClient(), parsed, on_progress=lambda done, total: None)
    kwargs = {"parsed": parsed, "scored": scored, "manifest": manifest}
    return AppTest.from_function(batch_script, default_timeout=30, kwargs=kwargs).run()


def test_batch_results_show_counts_with_separators_and_pd_with_one_decimal() -> None:
    rows = generate_rows(ROWS, seed=4)
    target = [int(i < 50) for i in range(ROWS)]  # mostly no default: over a thousand true negatives
    manifest = parse_manifest((ROOT / "model" / "model.json").read_text())
    at = shown(to_dataset_csv(rows, target=target), manifest)
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rows scored"] == metrics["Rows with a target"] == "1,200"
    matrix = at.table[0].value
    true_negatives = matrix.loc["actual: no default", "predicted: no default"]
    assert re.fullmatch(r"1,\d{3}", true_negatives)
    assert sum(int(cell.replace(",", "")) for cell in matrix.to_numpy().ravel()) == ROWS
    results = next(frame for frame in at.dataframe if "top_reason" in frame.value.columns)
    expected = np.round([100 * fake_prediction(row).probability_of_default for row in rows], 1).tolist()
    assert results.value["pd"].tolist() == expected  # in percent ...
    config = json.loads(results.proto.columns)["pd"]["type_config"]
    assert (config["format"], config["max_value"]) == ("%.1f%%", 100.0)  # ... each shown as 72.1%
    assert "overstate its quality" in " ".join(c.value for c in at.caption)
    assert not at.warning


def test_batch_warns_when_the_file_is_the_models_own_data() -> None:
    rows = generate_rows(300, seed=12)
    target = [int(t) for t in np.random.default_rng(12).integers(0, 2, 300)]
    csv = to_dataset_csv(rows, target=target)
    shipped = parse_manifest((ROOT / "model" / "model.json").read_text())
    frame = parse(pd.read_csv(io.StringIO(csv), header=None, dtype=str), "generated.csv")
    data = shipped.data.model_copy(update={"rows": 300, "table_sha256": table_sha256(frame)})
    at = shown(csv, shipped.model_copy(update={"data": data}))
    assert not at.exception
    assert at.warning[0].value.startswith(f"This file is the data model {shipped.version} was built from")
    assert "225 of those rows trained the model and 75 tested it" in at.warning[0].value


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (provenance.IS_TRAINING_DATA, "This file is the data model"),
        (provenance.CONTAINS_TRAINING_DATA, "This file contains the data model"),
    ],
)
def test_in_sample_note_says_what_trained_the_model(found: str, words: str) -> None:
    shipped = parse_manifest((ROOT / "model" / "model.json").read_text())
    note = views.in_sample_note(found, shipped)
    assert note.startswith(words)
    assert "22,500 of those rows trained the model and 7,500 tested it" in note
    assert "overstate its quality" in note
    assert "overstate its quality" in views.in_sample_note(None, shipped)


def upload_script() -> None:
    """An upload widget read as the batch and monitoring tabs read theirs (AppTest runs this body as a page)."""
    import streamlit as st

    from ui.batch import UPLOAD_TYPES
    from ui.views import read_upload

    upload = st.file_uploader("Clients", type=list(UPLOAD_TYPES), key="file")
    if upload is not None and (parsed := read_upload(upload, key="parsed", scored_key="scored")) is not None:
        st.caption(
            f"{len(parsed.table):,} rows · {len(parsed.applicants):,} valid · {len(parsed.problems)} problems"
        )


def excel_export(rows: list[dict[str, Any]], target: list[int]) -> bytes:
    """What Excel in a European locale saves: `sep=;`, semicolons, Windows-1252, trailing blank rows."""
    first, *body = to_dataset_csv(rows, target=target).splitlines()
    lines = ["sep=;", f'{first},"NOTE"', *(f"{line},Peña" for line in body), *["," * 25] * 3]
    return ("\r\n".join(lines).replace(",", ";") + "\r\n").encode("cp1252")


def test_upload_reads_an_excel_export_and_says_what_it_ignored() -> None:
    rows = generate_rows(40, seed=5)
    at = AppTest.from_function(upload_script, default_timeout=30).run()
    at.file_uploader(key="file").upload(
        "clients.csv", excel_export(rows, [i % 2 for i in range(40)]), "text/csv"
    )
    at.run()
    assert not at.exception
    assert not at.error
    assert at.info[0].value == "clients.csv: 3 blank rows ignored."
    assert at.caption[0].value == "40 rows · 40 valid · 0 problems"


def test_upload_of_two_columns_with_one_meaning_names_both() -> None:
    first, *body = to_dataset_csv(generate_rows(5, seed=6)).splitlines()
    text = "\n".join([first.replace('"PAY_2"', '"PAY_1"'), *body]) + "\n"
    at = AppTest.from_function(upload_script, default_timeout=30).run()
    at.file_uploader(key="file").upload("twins.csv", text.encode(), "text/csv").run()
    assert not at.exception
    assert at.error[0].value.startswith(
        "twins.csv, line 1: columns PAY_0 (column 7) and PAY_1 (column 8) both hold PAY_0; delete one"
    )
    assert not at.caption
