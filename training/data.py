"""Load, validate and verify the UCI "Default of Credit Card Clients" data, in any of its layouts."""

import csv
import hashlib
import io
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from functions.clientfiles.layout import TARGET_NAMES, decode, split_lines
from functions.clientfiles.rows import ClientFileError, table_of
from functions.scoring.contract import BILLS, FEATURE_BY_NAME, FEATURE_NAMES, TARGET
from functions.scoring.manifest import SplitPolicy

log = logging.getLogger(__name__)

UCI_URL: Final = "https://archive.ics.uci.edu/static/public/350/default+of+credit+card+clients.zip"
# sha256 of the 30,000 x 24 values (23 inputs + target, contract order, rows by ID, int64 little-endian):
# identical for the UCI .xls and the Kaggle CSV.
PINNED_TABLE_SHA256: Final = "9dc981540a6e93a868c943fd1b08dea87a123132108396c6bc5c7b0590f125a4"
MAX_PROBLEMS: Final = 10
# The reference app's split: 75/25 stratified with seed 42 holds out the test set; 20 % of the rest validates.
SPLIT_POLICY: Final = SplitPolicy(
    test_size=0.25, validation_size_of_train=0.20, random_state=42, stratified=True
)


class DataError(ValueError):
    """The data file cannot be used: the message names file, row, column and problem."""


@dataclass(frozen=True)
class Dataset:
    """Validated inputs (contract names, int64) and target, with where they came from."""

    frame: pd.DataFrame
    source: str
    table_sha256: str

    @property
    def X(self) -> NDArray[Any]:
        """Return the inputs as rows x 23 float64 (contract order; amounts in NT$)."""
        return np.asarray(self.frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float64))

    @property
    def y(self) -> NDArray[Any]:
        """Return the target as rows of int64 0/1 (1: default next month)."""
        return np.asarray(self.frame[TARGET].to_numpy(dtype=np.int64))


@dataclass(frozen=True)
class Splits:
    """Rows x 23 inputs (float64) and 0/1 targets: train = fit + validation; test is held out."""

    X_train: NDArray[Any]
    y_train: NDArray[Any]
    X_fit: NDArray[Any]
    y_fit: NDArray[Any]
    X_val: NDArray[Any]
    y_val: NDArray[Any]
    X_test: NDArray[Any]
    y_test: NDArray[Any]


def split_positions(y: NDArray[Any], policy: SplitPolicy = SPLIT_POLICY) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return the (train, test) row positions of 0/1 targets `y` under a split policy (stratified, seeded)."""
    train_rows, test_rows = train_test_split(
        np.arange(len(y)),
        test_size=policy.test_size,
        stratify=y if policy.stratified else None,
        random_state=policy.random_state,
    )
    return np.asarray(train_rows), np.asarray(test_rows)


def split_dataset(dataset: Dataset, policy: SplitPolicy = SPLIT_POLICY) -> Splits:
    """Split the rows into train (fit + validation) and test, stratified by the target, with a fixed seed."""
    train_rows, test_rows = split_positions(dataset.y, policy)
    X_train, X_test = dataset.X[train_rows], dataset.X[test_rows]
    y_train, y_test = dataset.y[train_rows], dataset.y[test_rows]
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train,
        y_train,
        test_size=policy.validation_size_of_train,
        stratify=y_train if policy.stratified else None,
        random_state=policy.random_state,
    )
    return Splits(X_train, y_train, X_fit, y_fit, X_val, y_val, X_test, y_test)


def default_cache_dir() -> Path:
    """Return the download cache folder ($XDG_CACHE_HOME/credit-default or ~/.cache/credit-default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "credit-default"


def download_uci(cache_dir: Path, *, url: str = UCI_URL, timeout: float = 60.0) -> Path:
    """Download the UCI zip into `cache_dir` once, keeping it only if it is a readable zip."""
    target = cache_dir / "default_of_credit_card_clients.zip"
    if target.exists() and zipfile.is_zipfile(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not url.startswith(("https://", "http://")):
        raise DataError(f"{url}: only http(s) downloads are supported")
    log.info("downloading %s", url)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".part", delete=False) as part:
        try:
            # Scheme checked above: only http(s), never file:/ or a custom scheme.
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # nosec B310
                shutil.copyfileobj(response, part)
        except OSError as err:
            Path(part.name).unlink(missing_ok=True)
            raise DataError(f"{url}: download failed ({err}); check the network or pass --data PATH") from err
    part_path = Path(part.name)
    try:
        with zipfile.ZipFile(part_path) as archive:
            broken = archive.testzip()
    except zipfile.BadZipFile as err:
        part_path.unlink(missing_ok=True)
        raise DataError(f"{url}: the download is not a valid zip ({err}); it was deleted, try again") from err
    if broken is not None:
        part_path.unlink(missing_ok=True)
        raise DataError(f"{url}: {broken} is corrupt in the downloaded zip; it was deleted, try again")
    part_path.replace(target)
    return target


def _is_table(member: str) -> bool:
    """Whether a zip member is a table, not a folder or macOS's resource fork (`__MACOSX/`, `._name`)."""
    base = member.rsplit("/", 1)[-1]
    return (
        not member.startswith("__MACOSX/")
        and not base.startswith("._")
        and base.lower().endswith((".csv", ".xls", ".xlsx"))
    )


def read_raw(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV, .xls/.xlsx or a zip holding one, as strings with no header; return it and its name."""
    if not path.exists():
        raise DataError(f"{path}: no such file; pass --data PATH or omit it to download the UCI data")
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if _is_table(m)]
            if len(members) != 1:
                raise DataError(f"{path}: expected one .csv/.xls/.xlsx inside the zip, found {members}")
            payload = archive.read(members[0])
        return _read_bytes(payload, members[0]), f"{path.name}!{members[0]}"
    return _read_bytes(path.read_bytes(), path.name), path.name


def _read_bytes(payload: bytes, name: str) -> pd.DataFrame:
    """Return a file's cells as strings (header rows included); CSV decoding and delimiter are the shared rules."""
    if name.lower().endswith((".xls", ".xlsx")):
        try:
            return pd.read_excel(io.BytesIO(payload), header=None, dtype=str, engine="calamine").fillna("")
        except ValueError as err:
            raise DataError(f"{name}: cannot be read as a workbook ({err})") from err
    try:
        rows = list(split_lines(io.StringIO(decode(payload, name=name), newline=""), name=name))
    except ClientFileError as err:
        raise DataError(str(err)) from err
    except csv.Error as err:
        raise DataError(f"{name}: not a readable CSV ({err})") from err
    width = max(len(row) for row in rows)
    return pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=str)


def parse(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Turn a header-less string table in the UCI or Kaggle layout into validated int64 columns."""
    try:
        table = table_of(raw.fillna("").astype(str).to_numpy().tolist(), name=name)
    except ClientFileError as err:
        raise DataError(str(err)) from err
    layout = table.layout
    if layout.target_at is None:
        raise DataError(
            f"{name}: missing column(s) {TARGET_NAMES[0].lower()} in the header (line {layout.first_line - 1}); "
            "training needs the default flag (0/1)"
        )
    if table.blank_rows:
        log.warning("%s: %s", name, table.note)
    lines = np.array([line for line, _ in table.rows], dtype=np.int64)
    cells = [cells + [""] * (len(layout.header) - len(cells)) for _, cells in table.rows]
    body = pd.DataFrame(cells, dtype=str).iloc[:, : len(layout.header)] if cells else pd.DataFrame()
    where = {**layout.where, TARGET: layout.target_at}
    if layout.id_at is not None:
        where["ID"] = layout.id_at
    problems: list[str] = []
    columns: dict[str, NDArray[Any]] = {}
    for field, at in where.items():
        column = layout.header[at]
        text = body[at].str.strip() if len(body) else pd.Series([], dtype=str)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        problems.extend(_cell_problems(field, column, text, values, lines))
        columns[field] = values
    if problems:
        shown = "\n  ".join(problems[:MAX_PROBLEMS])
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise DataError(f"{name}: {len(problems)} problem(s); fix the file:\n  {shown}{more}")
    frame = pd.DataFrame({c: columns[c].astype(np.int64) for c in columns})
    if "ID" in frame:
        frame = frame.sort_values("ID", kind="stable").set_index("ID")
    return frame[list(FEATURE_NAMES) + [TARGET]]


def _cell_problems(
    field: str, column: str, text: "pd.Series[str]", values: NDArray[Any], lines: NDArray[Any]
) -> list[str]:
    """List a column's missing, non-numeric, fractional and out-of-range cells by row, as the file names it."""
    problems = []
    for i in np.flatnonzero(~np.isfinite(values)):
        problem = "missing value" if text.iloc[i] in ("", "nan") else f"non-numeric value {text.iloc[i]!r}"
        problems.append(f"row {lines[i]}, column {column}: {problem}")
    finite = np.isfinite(values)
    for i in np.flatnonzero(finite & (values != np.round(values))):
        problems.append(f"row {lines[i]}, column {column}: {values[i]:g} is not a whole number")
    return problems + _range_problems(field, column, values, lines)


def _range_problems(field: str, column: str, values: NDArray[Any], lines: NDArray[Any]) -> list[str]:
    if field == TARGET:
        bad = np.isfinite(values) & ~np.isin(values, (0, 1))
        return [
            f"row {lines[i]}, column {column}: target {values[i]:g} is not 0 or 1"
            for i in np.flatnonzero(bad)
        ]
    spec = FEATURE_BY_NAME.get(field)
    if spec is None:
        return []
    low_bad = values <= spec.minimum if spec.exclusive_minimum else values < spec.minimum
    bad = np.isfinite(values) & (low_bad | (values > spec.maximum))
    what = "unknown code" if spec.codes else "out of range"
    allowed = f"{'>' if spec.exclusive_minimum else ''}{spec.minimum:g}..{spec.maximum:g}"
    return [
        f"row {lines[i]}, column {column}: {what} {values[i]:g} (allowed {allowed})"
        for i in np.flatnonzero(bad)
    ]


def table_sha256(frame: pd.DataFrame) -> str:
    """Hash the values in canonical form: contract columns + target, rows in order, int64 little-endian."""
    values = np.ascontiguousarray(frame[list(FEATURE_NAMES) + [TARGET]].to_numpy(dtype="<i8"))
    return hashlib.sha256(values.tobytes()).hexdigest()


def load_dataset(
    path: Path | None = None, *, cache_dir: Path | None = None, allow_other_data: bool = False
) -> Dataset:
    """Load the data from `path` (or the downloaded UCI zip) and verify it against the pinned hash."""
    source = path if path is not None else download_uci(cache_dir or default_cache_dir())
    raw, name = read_raw(source)
    frame = parse(raw, name)
    digest = table_sha256(frame)
    if digest != PINNED_TABLE_SHA256 and not allow_other_data:
        raise DataError(
            f"{name}: content hash {digest[:12]}... differs from the pinned UCI data "
            f"({PINNED_TABLE_SHA256[:12]}...); pass --allow-other-data to train on other data on purpose"
        )
    return Dataset(frame=frame, source=name, table_sha256=digest)


def late_one_month(dataset: Dataset) -> dict[str, int]:
    """Count the clients whose repayment status is 1 (one month late) in each repayment column, pay_0 first."""
    statuses = [name for name in FEATURE_NAMES if name.startswith("pay_") and name[4:].isdigit()]
    return {name: int((dataset.frame[name] == 1).sum()) for name in statuses}


def data_report(dataset: Dataset) -> str:
    """Summarise rows, class balance, undocumented codes and duplicates as a few lines of text."""
    frame = dataset.frame
    positives = int(frame[TARGET].sum())
    undocumented = {
        "education": int(frame["education"].isin((0, 5, 6)).sum()),
        "marriage": int((frame["marriage"] == 0).sum()),
    }
    duplicates = int(frame[list(FEATURE_NAMES)].duplicated().sum())
    zero_bills = int((frame[list(BILLS)] == 0).all(axis=1).sum())
    return "\n".join(
        [
            f"data: {dataset.source}, {len(frame):,} rows, table sha256 {dataset.table_sha256[:12]}...",
            f"  defaults: {positives:,} ({positives / len(frame):.2%}); non-defaults {len(frame) - positives:,}",
            f"  undocumented codes kept: education 0/5/6 in {undocumented['education']} rows, "
            f"marriage 0 in {undocumented['marriage']} rows",
            f"  duplicate input rows (kept): {duplicates}; clients with all-zero bills: {zero_bills}",
        ]
    )
