"""The one way functions/ makes an AWS client: lazy boto3, short timeouts, bounded retries, region from settings.

boto3 is imported on the first client only, so a Lambda that never calls AWS (or a local run) never pays for it.
"""

import threading
from typing import Any, Final

from functions.config import get_settings

CONNECT_SECONDS: Final = 2.0  # an endpoint that does not answer the TCP handshake in this long is down
READ_SECONDS: Final = 10.0  # per socket read; a caller whose answer takes longer (lambda:Invoke) says so
ATTEMPTS: Final = 3  # including the first, botocore's "standard" retry mode (jittered backoff)
_lock: Final = threading.Lock()


def client(
    service: str,
    *,
    connect_timeout: float = CONNECT_SECONDS,
    read_timeout: float = READ_SECONDS,
    attempts: int = ATTEMPTS,
) -> Any:
    """Return a boto3 client for `service` (e.g. "s3") with these timeouts (seconds) and attempts, in AWS_REGION."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        region_name=get_settings().aws_region,  # None: boto3's own chain (AWS_DEFAULT_REGION, profile)
    )
    with _lock:  # boto3 sessions are not thread-safe while creating clients
        return boto3.session.Session().client(service, config=config)
