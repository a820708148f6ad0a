"""The one AWS client factory: short timeouts, bounded retries, the region from the settings, boto3 on demand."""

import subprocess
import sys
from collections.abc import Callable

from functions import aws


def test_clients_carry_short_timeouts_and_bounded_attempts(aws_credentials: None) -> None:
    config = aws.client("s3").meta.config
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_SECONDS, aws.READ_SECONDS)
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.ATTEMPTS}
    slow = aws.client("lambda", connect_timeout=5, read_timeout=60, attempts=1).meta.config
    assert (slow.connect_timeout, slow.read_timeout, slow.retries["total_max_attempts"]) == (5, 60, 1)


def test_the_region_comes_from_the_settings(aws_credentials: None, configure: Callable[..., None]) -> None:
    configure(AWS_REGION="eu-west-1")
    assert aws.client("cloudwatch").meta.region_name == "eu-west-1"
    configure(AWS_REGION=None)
    assert aws.client("cloudwatch").meta.region_name == "us-east-1"  # boto3's chain: AWS_DEFAULT_REGION


def test_importing_the_factory_does_not_import_boto3() -> None:
    code = "import sys, functions.aws; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
