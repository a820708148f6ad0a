"""The Strategy tab: move the refer and decline cut-offs over a scored book and see, live, the trade-off curve,
the swap matrix against the shipped strategy, expected loss and line actions; download the edited strategy.

The book is the batch tab's scored file, or an upload of a scored CSV (the 23 inputs and a
`probability_of_default` column, as the batch tab's download has). Every figure comes from the what-if's own
functions (functions/portfolio/whatif/tally.py, summary.py) and the decision engine (functions/scoring).
"""

from dataclasses import dataclass
from typing import Any, Final

import altair as alt
import numpy as np
import numpy.typing as npt
import pandas as pd
import streamlit as st
import yaml

from functions.clientfiles.rows import ClientFileError, check_cells, parse_cell, read_table
from functions.config import get_settings
from functions.portfolio.whatif.summary import summarise
from functions.portfolio.whatif.tally import evaluate, tradeoff
from functions.scoring.manifest import Manifest, ModelUnavailable, read_manifest
from functions.scoring.model import to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, Strategy, parse_strategy
from functions.scoring.strategy.file import DECISIONS, StrategyError
from ui.batch import ParsedFile, ScoredFile

PD_COLUMN: Final = "PROBABILITY_OF_DEFAULT"
STEP: Final = 0.005
CURVE_CUTOFFS: Final = np.arange(STEP, 1.0 + STEP / 2, STEP, dtype=np.float64)
EDITED_NAME: Final = "edited_in_ui"


@dataclass(frozen=True)
class ScoredBook:
    """Scored clients: rows x 23 raw inputs, their PD, 0/1 outcome (-1 unknown), where they came from."""

    raw: npt.NDArray[np.float64]
    pd: npt.NDArray[np.float64]
    target: npt.NDArray[np.int64]
    source: str
    ignored: int = 0  # rows without valid inputs or a PD in [0, 1]


def book_of_batch(parsed: ParsedFile, scored: ScoredFile) -> ScoredBook | None:
    """Return the batch tab's scored rows as a book (None when nothing was scored)."""
    kept = [(i, p) for i, p in enumerate(parsed.positions) if p in scored.predictions]
    if not kept:
        return None
    raw = to_matrix([parsed.applicants[i] for i, _ in kept])
    probabilities = np.array([scored.predictions[p].probability_of_default for _, p in kept])
    target: npt.NDArray[np.int64] = np.full(len(kept), -1, dtype=np.int64)
    if parsed.target is not None:
        flags = parsed.target[[p for _, p in kept]]
        target = np.asarray(np.where(np.isnan(flags), -1, flags), dtype=np.int64)
    return ScoredBook(
        raw, probabilities, target, "the batch tab's scored file", len(parsed.table) - len(kept)
    )


def read_scored(data: bytes, *, name: str) -> ScoredBook:
    """Read a scored CSV (23 inputs and probability_of_default); raises ClientFileError saying what is missing."""
    table = read_table(data, name=name)
    header = [column.strip().upper() for column in table.layout.header]
    if PD_COLUMN not in header:
        raise ClientFileError(
            f"{name}: no {PD_COLUMN.lower()} column; upload the batch tab's scored CSV, or score the file first"
        )
    at = header.index(PD_COLUMN)
    values, probabilities, targets = [], [], []
    for line, cells in table.rows:
        row = check_cells(cells, table.layout, line)
        probability = parse_cell(cells[at]) if at < len(cells) else None
        if row.valid and isinstance(probability, int | float) and 0 <= probability <= 1:
            values.append(row.values)
            probabilities.append(float(probability))
            targets.append(-1 if row.target is None else row.target)
    if not values:
        raise ClientFileError(f"{name}: no row has valid inputs and a {PD_COLUMN.lower()} in [0, 1]")
    raw = np.asarray(values, dtype=np.float64)
    ignored = len(table.rows) - len(values)
    return ScoredBook(raw, np.array(probabilities), np.array(targets, dtype=np.int64), name, ignored)


def cutoffs_of(strategy: Strategy) -> tuple[float, float]:
    """Return where a strategy stops approving and where it starts declining, on PD (1.0 when it never does)."""
    bands = strategy.spec.pd_bands
    refer = next((float(b.pd_from) for b in bands if b.decision != "approve"), 1.0)
    decline = next((float(b.pd_from) for b in bands if b.decision == "decline"), 1.0)
    return refer, decline


def edited_text(shipped: str, *, refer_from: float, decline_from: float) -> str:
    """Return the shipped strategy file with its PD bands replaced: approve below `refer_from`, refer up to
    `decline_from`, decline from it (a band of no width is left out); rules, lines and loss are kept."""
    data = yaml.safe_load(shipped)
    bands = [
        ("approve_below_refer", 0.0, refer_from, "approve"),
        ("refer_below_decline", refer_from, decline_from, "refer"),
        ("decline_from_cutoff", decline_from, 1.0, "decline"),
    ]
    data["pd_bands"] = [
        {"name": name, "from": round(low, 4), "to": round(high, 4), "decision": decision}
        for name, low, high, decision in bands
        if high > low
    ]
    origin, data["name"] = data.get("name", "the shipped strategy"), EDITED_NAME
    data["description"] = (
        f"Edited in the Strategy tab from {origin}: approve PD below "
        f"{refer_from:.4g}, refer below {decline_from:.4g}, decline from {decline_from:.4g}."
    )
    data.pop("challenger", None)  # the edited file stands alone
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def compare(
    book: ScoredBook, shipped: Strategy, edited: Strategy, *, grades: tuple[str, ...]
) -> dict[str, Any]:
    """Return the what-if of the shipped strategy (champion) and the edited one (challenger) on the book."""
    strategies = {"champion": shipped, "challenger": edited}
    sums = evaluate(strategies, book.raw, book.pd, book.target, grades=grades)
    return summarise(sums, strategies, grades=grades, with_target=bool((book.target >= 0).any()))


def curve_chart(book: ScoredBook, result: dict[str, Any]) -> alt.LayerChart:
    """Draw approval rate against expected bad rate as the approve cut-off moves, with both strategies' points."""
    rates, bad = tradeoff(book.pd, CURVE_CUTOFFS)
    curve = pd.DataFrame(
        {"approval rate": rates, "expected bad rate": bad, "cut-off": CURVE_CUTOFFS}
    ).dropna()
    names = {"champion": "shipped", "challenger": "edited"}
    points = pd.DataFrame(
        [
            {
                "strategy": names[arm],
                "approval rate": figures["decisions"]["approve"]["rate"],
                "expected bad rate": figures["expected_bad_rate_approved"] or 0.0,
            }
            for arm, figures in result["arms"].items()
        ]
    )
    x = alt.X("approval rate:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("expected bad rate:Q", axis=alt.Axis(format="%"))
    line = alt.Chart(curve).mark_line(color="#555").encode(x=x, y=y, tooltip=["cut-off", "approval rate"])
    colours = alt.Scale(domain=["shipped", "edited"], range=["#999", "#c62828"])
    dots = (
        alt.Chart(points)
        .mark_point(size=140, filled=True)
        .encode(x=x, y=y, color=alt.Color("strategy:N", scale=colours), tooltip=["strategy", "approval rate"])
    )
    return alt.LayerChart(layer=[line, dots]).properties(height=300)


def swap_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Return the swap matrix: shipped decision (rows) x edited decision (columns), clients in each cell."""
    matrix = result["swaps"]["matrix"]
    frame = pd.DataFrame([[matrix[b][a] for a in DECISIONS] for b in DECISIONS], dtype="int64")
    frame.index = pd.Index([f"shipped: {b}" for b in DECISIONS])
    frame.columns = pd.Index([f"edited: {a}" for a in DECISIONS])
    return frame


def money_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Return expected loss, EAD, line actions and notices of both strategies, side by side (NT$)."""
    rows: dict[str, dict[str, Any]] = {}
    for arm, name in (("champion", "shipped"), ("challenger", "edited")):
        f = result["arms"][arm]
        lines = f["line_actions"]
        column = {"expected loss (NT$)": f"{f['expected_loss_ntd']:,.0f}"}
        column |= {
            f"expected loss, grade {g} (NT$)": f"{v['expected_loss_ntd']:,.0f}"
            for g, v in f["by_grade"].items()
        }
        column |= {f"line {a} (clients)": f"{n:,}" for a, n in lines["clients"].items()}
        column["limit added (NT$)"] = f"{lines['limit_added_ntd']:,.0f}"
        column["limit removed (NT$)"] = f"{lines['limit_removed_ntd']:,.0f}"
        column["adverse-action notices"] = f"{f['adverse_action_notices']['total']:,}"
        rows[name] = column
    return pd.DataFrame(rows)


def model_and_strategy(manifest: Manifest | None) -> tuple[Manifest, str, Strategy]:
    """Return the served manifest (else the local one), the shipped strategy's text and the strategy resolved on it;
    raises ModelUnavailable or StrategyError."""
    model_dir = get_settings().model_dir
    manifest = manifest or read_manifest(model_dir)
    path = model_dir / DEFAULT_FILE
    if not path.is_file():
        raise StrategyError(f"no strategy file at {path.name}; ship one beside the model (docs/strategy.md)")
    text = path.read_text(encoding="utf-8")
    return manifest, text, parse_strategy(text, manifest=manifest)


def choose_book() -> ScoredBook | None:
    """Return the uploaded scored CSV's book, else the batch tab's scored file's, else None (with a hint)."""
    upload = st.file_uploader(
        "Scored CSV (optional)",
        type=["csv"],
        key="strategy_file",
        help="The batch tab's download: the 23 inputs and probability_of_default. Without one, the tab uses "
        "the file scored on the batch tab.",
    )
    if upload is not None:
        if st.session_state.get("strategy_book_id") != upload.file_id:
            try:
                st.session_state.strategy_book = read_scored(upload.getvalue(), name=upload.name)
            except ClientFileError as problem:
                st.session_state.strategy_book = problem
            st.session_state.strategy_book_id = upload.file_id
        book = st.session_state.strategy_book
        if isinstance(book, Exception):
            st.error(str(book))
            return None
        return book  # type: ignore[no-any-return]
    parsed, scored = st.session_state.get("parsed"), st.session_state.get("scored")
    if isinstance(parsed, ParsedFile) and isinstance(scored, ScoredFile):
        return book_of_batch(parsed, scored)
    st.info("Score a file on the Batch file tab, or upload a scored CSV, to simulate a strategy on it.")
    return None


def strategy_tab(manifest: Manifest | None) -> None:
    """Render the tab: the book, the two cut-off sliders, the live what-if against the shipped strategy, download."""
    try:
        manifest, shipped_text, shipped = model_and_strategy(manifest)
    except (ModelUnavailable, StrategyError) as problem:
        st.error(f"The shipped strategy is unavailable: {problem}")
        return
    book = choose_book()
    if book is None:
        return
    ignored = f" · {book.ignored:,} rows without valid inputs or a PD left out" if book.ignored else ""
    st.caption(
        f"{len(book.pd):,} scored clients from {book.source}{ignored} · shipped strategy {shipped.version}"
    )
    refer_default, decline_default = cutoffs_of(shipped)
    left, right = st.columns(2)
    refer = left.slider("Refer from PD", 0.0, 1.0, refer_default, STEP, format="%.3f", key="strategy_refer")
    decline = right.slider(
        "Decline from PD", 0.0, 1.0, decline_default, STEP, format="%.3f", key="strategy_decline"
    )
    if refer > decline:
        st.warning(
            f"The refer cut-off ({refer:.3f}) is above the decline cut-off: no refer band; declining from {decline:.3f}."
        )
        refer = decline
    text = edited_text(shipped_text, refer_from=refer, decline_from=decline)
    try:
        edited = parse_strategy(text, manifest=manifest, name=f"{EDITED_NAME}.yaml")
    except StrategyError as problem:
        st.error(f"These cut-offs do not make a valid strategy: {problem}")
        return
    grades = tuple(band.grade for band in manifest.grade_bands)
    result = compare(book, shipped, edited, grades=grades)
    show_result(book, result)
    st.download_button(
        "Download the edited strategy (YAML)", text, file_name="strategy.yaml", mime="application/yaml",
        key="strategy_download", help=f"Checked by the engine (version {edited.version}); the same format as model/strategy.yaml.",
    )  # fmt: skip


def show_result(book: ScoredBook, result: dict[str, Any]) -> None:
    """Show the headline metrics, the trade-off curve with both points, the swap matrix and the money table."""
    shipped, edited = result["arms"]["champion"], result["arms"]["challenger"]
    approve, was = edited["decisions"]["approve"]["rate"], shipped["decisions"]["approve"]["rate"]
    bad, bad_was = edited["expected_bad_rate_approved"] or 0.0, shipped["expected_bad_rate_approved"] or 0.0
    columns = st.columns(4)
    columns[0].metric("Approval rate", f"{approve:.1%}", f"{100 * (approve - was):+.1f} pp vs shipped")
    columns[1].metric(
        "Expected bad rate of approved",
        f"{bad:.2%}",
        f"{100 * (bad - bad_was):+.2f} pp",
        delta_color="inverse",
    )
    columns[2].metric("Expected loss (NT$)", f"{edited['expected_loss_ntd']:,.0f}")
    columns[3].metric("Adverse-action notices", f"{edited['adverse_action_notices']['total']:,}")
    st.subheader("Trade-off")
    st.altair_chart(curve_chart(book, result), width="stretch")
    st.caption(
        f"Edited point: approval {approve:.1%}, expected bad rate {bad:.2%} · shipped: approval {was:.1%}, "
        f"expected bad rate {bad_was:.2%}. The line: approve every PD below a cut-off."
    )
    st.subheader("Swap matrix (clients)")
    st.table(swap_frame(result))
    st.subheader("Expected loss and line actions")
    st.table(money_frame(result))
