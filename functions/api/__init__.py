"""The scoring API: event envelope, request guard, JSON body, routes, error schema, docs pages, the per-request
state, Lambda's `app.handler` and CodeDeploy's pre-traffic hook (`pretraffic.handler`).

May import every package below it (monitoring, audit, clientfiles, scoring) and the root modules; nothing
imports it but the UI, scripts and tests; it is independent of `functions.portfolio`.
"""

__all__ = ["app", "docs", "envelope", "errors", "guard", "jsonbody", "pretraffic", "request_state"]
