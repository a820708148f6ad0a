"""Client rows generated from the feature contract, for tests and benchmarks: no dataset rows are ever committed."""

from typing import Any

import numpy as np

from functions.contract import BILLS, EXAMPLES, FEATURES, PAY_STATUS, PAYMENTS

TYPICAL: dict[str, Any] = EXAMPLES["typical"]
HIGH_RISK: dict[str, Any] = EXAMPLES["high_risk"]


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
