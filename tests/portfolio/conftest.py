"""Fixtures the portfolio tests share: client files with invalid cells, and an S3 bucket in moto for the Step
Functions steps and the shard handler."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from functions.portfolio import shard


@pytest.fixture
def bucket(fake_aws: None) -> Iterator[str]:
    """An S3 bucket named `book` in moto, with a fresh S3 client for the steps and the handler before and after."""
    shard.s3_client.cache_clear()
    boto3.client("s3").create_bucket(Bucket="book")
    yield "book"
    shard.s3_client.cache_clear()


def render_book(rows: list[dict[str, Any]], bad: dict[int, tuple[str, str]]) -> str:
    """Render rows in the Kaggle layout, then set cell (row index, COLUMN) to the given text."""
    from training.synthetic import to_dataset_csv

    lines = to_dataset_csv(rows).splitlines()
    header = [c.strip('"') for c in lines[0].split(",")]
    for i, (column, value) in bad.items():
        cells = lines[i + 1].split(",")
        cells[header.index(column)] = value
        lines[i + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def book_text() -> Callable[[list[dict[str, Any]], dict[int, tuple[str, str]]], str]:
    """Render a client file with invalid cells: `book_text(rows, {row_index: ("AGE", "17")})`."""
    return render_book
