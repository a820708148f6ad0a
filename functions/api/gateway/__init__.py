"""The request's front door: the event envelope in front of Mangum (envelope.py), the request guard: request
id, stage prefix, size, content type (guard.py), the JSON body parsed once with repeated keys refused
(jsonbody.py), and the per-request state and record (request_state.py).

May import the error schema (`functions.api.errors`), the synthetic-traffic check (`functions.api.synthetic`) and
the root modules (config, telemetry); nothing else of the API. Imports none of its modules here.
"""

__all__ = ["envelope", "guard", "jsonbody", "request_state"]
