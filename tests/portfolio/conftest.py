"""Fixtures the portfolio tests share: an S3 bucket in moto for the Step Functions steps and the shard handler."""

from collections.abc import Iterator

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
