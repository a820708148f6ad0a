"""The HMAC key that hashes applicants' inputs in decision records, and the AWS clients of the audit trail.

The key comes from Secrets Manager (AUDIT_KEY_SECRET_ARN, read once per container), from AUDIT_HASH_KEY, or,
for the local decision log only, from a key file generated once beside it (`var/decisions.key`, mode 0600).
"""

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from functions import aws
from functions.audit.decision import AuditUnavailableError
from functions.config import HMAC_KEY_MIN_LENGTH, get_settings

KEY_BYTES: Final = HMAC_KEY_MIN_LENGTH  # random bytes of a new local key, written as twice as many hex digits
KEY_WAIT_SECONDS: Final = 2.0  # how long a start waits for another start to finish writing the key


@dataclass(frozen=True)
class HashKey:
    """The HMAC key and the version to record with each hash, so a rotated key stays verifiable."""

    secret: bytes
    version: str


def input_hash(canonical: bytes, *, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of an applicant's canonical JSON."""
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def aws_client(service: str, *, timeout: float | None = None) -> Any:
    """Create an audit client with the settings' short timeouts (or `timeout` s) and attempts: outages fail fast."""
    settings = get_settings()
    seconds = settings.audit_timeout_seconds if timeout is None else timeout
    return aws.client(
        service, connect_timeout=seconds, read_timeout=seconds, attempts=settings.audit_max_attempts
    )


@lru_cache(maxsize=1)
def hash_key() -> HashKey:
    """Read the HMAC key once: Secrets Manager, else AUDIT_HASH_KEY, else the local log's key file."""
    settings = get_settings()
    if settings.audit_key_secret_arn:
        return secret_key(settings.audit_key_secret_arn)
    if settings.audit_hash_key is not None:
        return HashKey(
            secret=settings.audit_hash_key.get_secret_value().encode(), version="env:AUDIT_HASH_KEY"
        )
    if settings.audit_table is None and settings.decision_log is not None:
        return local_key(settings.decision_log.with_suffix(".key"))
    if settings.audit_table is None:
        raise AuditUnavailableError(
            "neither AUDIT_TABLE nor DECISION_LOG is set, so there is no HMAC key: set one of them"
        )
    raise AuditUnavailableError(
        "AUDIT_TABLE is set but no HMAC key is configured: set AUDIT_KEY_SECRET_ARN or AUDIT_HASH_KEY"
    )


def secret_key(arn: str) -> HashKey:
    """Read the key from Secrets Manager; raises AuditUnavailableError naming the cause (never the key)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        secret = aws_client("secretsmanager").get_secret_value(SecretId=arn)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "ClientError")
        raise AuditUnavailableError(f"Secrets Manager refused the call ({code})") from err
    except BotoCoreError as err:
        raise AuditUnavailableError(f"Secrets Manager did not answer ({type(err).__name__})") from err
    value = secret.get("SecretString") or secret.get("SecretBinary") or b""
    key = value.encode() if isinstance(value, str) else bytes(value)
    if len(key) < HMAC_KEY_MIN_LENGTH:
        raise AuditUnavailableError(
            f"the audit HMAC key in Secrets Manager is shorter than {HMAC_KEY_MIN_LENGTH} bytes"
        )
    return HashKey(secret=key, version=str(secret.get("VersionId", "unknown")))


def local_key(path: Path) -> HashKey:
    """Read the local decision log's key from `path`, creating it (64 random hex digits, mode 0600) once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_key(path)
        key = _read_key(path)
    except OSError as err:
        raise AuditUnavailableError(f"cannot read or create the decision log's key {path} ({err})") from err
    if len(key) < HMAC_KEY_MIN_LENGTH:
        raise AuditUnavailableError(
            f"the decision log's key {path} is shorter than {HMAC_KEY_MIN_LENGTH} bytes; delete it"
        )
    return HashKey(secret=key, version=f"file:{path.name}")


def _create_key(path: Path) -> None:
    """Create the key file exclusively (O_EXCL), write and fsync it; a file that exists already is left alone."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process or thread won the race: read its key
    try:
        data = memoryview(os.urandom(KEY_BYTES).hex().encode())
        while data:
            data = data[os.write(descriptor, data) :]
        os.fsync(descriptor)
    except BaseException:
        path.unlink(missing_ok=True)  # never leave an empty key behind: the next start creates it again
        raise
    finally:
        os.close(descriptor)


def _read_key(path: Path) -> bytes:
    """Read the key, waiting up to KEY_WAIT_SECONDS while a fresh file is still shorter than a full key."""
    deadline = time.monotonic() + KEY_WAIT_SECONDS
    while True:
        key = path.read_bytes().strip()
        if len(key) >= 2 * KEY_BYTES or time.monotonic() >= deadline:
            return key
        if time.time() - path.stat().st_mtime > KEY_WAIT_SECONDS:
            return key  # an old file, not one being written now
        time.sleep(0.01)
