"""The decision audit trail: the decision record and its canonical bytes, the store protocol, the DynamoDB
and local SQLite stores, the HMAC key of the applicants' inputs.

May import `functions.scoring` and the root modules (config, telemetry, aws).
"""

__all__ = ["decision", "key", "stores"]
