"""Client rows generated from the feature contract, for tests and benchmarks: no dataset rows are ever committed."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from functions.scoring.contract import BILLS, EXAMPLES, FEATURE_NAMES, FEATURES, PAY_STATUS, PAYMENTS, TARGET

if TYPE_CHECKING:  # the UI, benchmarks and every test import this module: keep pandas and scikit-learn out
    from functions.scoring.manifest import Manifest
    from training.data import Dataset

TYPICAL: dict[str, Any] = EXAMPLES["typical"]
HIGH_RISK: dict[str, Any] = EXAMPLES["high_risk"]
SMALL_BOOSTER: Final = (
    "hgb_raw"  # the quick protocol for tests: this one booster, at most SMALL_ROUNDS rounds
)
SMALL_ROUNDS: Final = 40


def generate_rows(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """Return `n` plausible clients drawn within the contract's ranges and codes."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        limit = float(rng.choice([10000, 20000, 50000, 100000, 200000, 360000, 500000]))
        row: dict[str, Any] = {}
        for spec in FEATURES:
            if spec.codes:
                row[spec.name] = int(rng.choice(list(spec.codes)))
        row["age"] = int(rng.integers(21, 76))
        row["limit_bal"] = limit
        status = rng.choice([-2, -1, 0, 0, 0, 1, 2, 3], size=len(PAY_STATUS))
        row.update({name: int(v) for name, v in zip(PAY_STATUS, status, strict=True)})
        if rng.random() < 0.05:  # all-zero bills, the case the reference app answered with a 500
            row.update(dict.fromkeys(BILLS + PAYMENTS, 0.0))
        else:
            row.update({name: float(round(limit * rng.uniform(-0.05, 1.1))) for name in BILLS})
            row.update({name: float(round(limit * rng.uniform(0, 0.1))) for name in PAYMENTS})
        rows.append(row)
    return rows


def to_dataset_csv(
    rows: list[dict[str, Any]], *, target: list[int] | None = None, with_id: bool = True
) -> str:
    """Render rows in the Kaggle layout: quoted upper-case header, ID first, target last."""
    columns = [spec.column for spec in FEATURES]
    header = (['"ID"'] if with_id else []) + [f'"{c}"' for c in columns]
    if target is not None:
        header.append('"default.payment.next.month"')
    lines = [",".join(header)]
    for i, row in enumerate(rows):
        values = ([str(i + 1)] if with_id else []) + [f"{row[spec.name]:g}" for spec in FEATURES]
        if target is not None:
            values.append(str(target[i]))
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def generate_dataset(n: int, *, seed: int = 0) -> "Dataset":
    """Return `n` generated clients (rows x 23 inputs) with a 0/1 default driven by repayment status and payments."""
    import pandas as pd

    from training.data import Dataset, table_sha256

    rows = generate_rows(n, seed=seed)
    frame = pd.DataFrame(rows)[list(FEATURE_NAMES)].astype(np.int64)
    latest_status = frame["pay_0"].to_numpy(dtype=np.float64)
    paid = frame["pay_amt1"].to_numpy(dtype=np.float64) / frame["limit_bal"].to_numpy(dtype=np.float64)
    logit = -1.4 + 0.9 * np.clip(latest_status, 0, 3) - 8.0 * paid
    rng = np.random.default_rng(seed)
    frame[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return Dataset(frame=frame, source=f"generated ({n} rows, seed {seed})", table_sha256=table_sha256(frame))


def train_small(dataset: "Dataset", out: Path) -> "Manifest":
    """Train a small model (one booster, few rounds) on `dataset` into the folder `out`; return its manifest."""
    from training.candidates import BOOSTERS, Search
    from training.train import train

    search = Search(boosters={SMALL_BOOSTER: BOOSTERS[SMALL_BOOSTER]}, max_rounds=40, forest_trees=10)
    return train(dataset, out, search)
