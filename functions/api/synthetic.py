"""Who may mark a request as synthetic traffic (kept out of decision metrics and drift): only a caller that
sends the deploy-time secret as the value of `X-Synthetic-Traffic`.

The secret is SYNTHETIC_TRAFFIC_TOKEN, or on AWS the Secrets Manager secret SYNTHETIC_TRAFFIC_SECRET_ARN names
(read once per container, and only when a request carries the header). The deploy hook and the smoke test hold
it; any other value, or any value while no secret is configured, is ignored (the decision counts as real) and
counted (`synthetic_mark_ignored` in the access log, the `SyntheticMarkIgnored` metric).
"""

import hmac
import logging
from functools import lru_cache

from functions.config import get_settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def synthetic_token() -> str | None:
    """Return the secret that marks synthetic traffic (None when none is configured); raises on an AWS error."""
    settings = get_settings()
    if settings.synthetic_traffic_token is not None:
        return settings.synthetic_traffic_token.get_secret_value()
    if settings.synthetic_traffic_secret_arn:
        from functions.audit.key import aws_client

        answer = aws_client("secretsmanager").get_secret_value(SecretId=settings.synthetic_traffic_secret_arn)
        return str(answer["SecretString"])
    return None


def honoured(value: str) -> bool:
    """Return whether a header value proves the caller holds the synthetic-traffic secret (constant time)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        token = synthetic_token()
    except (
        BotoCoreError,
        ClientError,
        KeyError,
    ):  # an unreadable secret honours no mark: the decision is real
        logger.warning("synthetic-traffic secret unreadable; the mark is ignored", exc_info=True)
        return False
    return token is not None and hmac.compare_digest(value.strip().encode(), token.encode())
