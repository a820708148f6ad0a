"""The typed record of one request, written by the guard, the routes and the error handlers."""

from dataclasses import dataclass, field
from typing import Final

from starlette.requests import Request
from starlette.types import Scope

from functions.api.synthetic import honoured

RECORD_KEY: Final = "credit_record"  # the one key of the record in the ASGI scope's state
# Marks requests of the deploy hook and the smoke test, whose value is the deploy-time secret
# (functions/api/synthetic.py): they are audited with `synthetic: true` and counted as requests, but kept out of
# the decision metrics and of drift. Any other value is ignored and counted.
SYNTHETIC_HEADER: Final = "X-Synthetic-Traffic"


@dataclass
class RequestRecord:
    """What the access log and metrics line report about a request: ids, codes, counts, never values."""

    request_id: str
    probabilities: list[float] = field(default_factory=list)  # PD in [0, 1] of each decision made
    predicted_defaults: int = 0
    error_code: str | None = None
    invalid_fields: list[str] | None = None  # names of contract fields only, never unknown keys
    synthetic: bool = False  # the request carried SYNTHETIC_HEADER with the deploy-time secret
    synthetic_ignored: bool = False  # it carried SYNTHETIC_HEADER without the secret: a real decision


def start_record(scope: Scope, request_id: str) -> RequestRecord:
    """Attach a fresh record to the request's scope state and return it."""
    marker = SYNTHETIC_HEADER.lower().encode()
    marks = [value for name, value in scope.get("headers", ()) if name.lower() == marker and value.strip()]
    synthetic = bool(marks) and all(honoured(value.decode("latin-1")) for value in marks)
    record = RequestRecord(
        request_id=request_id, synthetic=synthetic, synthetic_ignored=bool(marks) and not synthetic
    )
    scope.setdefault("state", {})[RECORD_KEY] = record
    return record


def record_of(request: Request) -> RequestRecord:
    """Return the record the guard attached to this request; KeyError if the guard did not run."""
    record: RequestRecord = request.scope["state"][RECORD_KEY]
    return record
