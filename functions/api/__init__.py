"""The scoring API: the request's front door (`gateway/`: event envelope, request guard, JSON body, per-request
state), routes, error schema, docs pages, Lambda's `app.handler` and CodeDeploy's pre-traffic hook (`pretraffic.handler`).

May import every package below it (monitoring, audit, clientfiles, scoring) and the root modules; nothing
imports it but the UI, scripts and tests; it is independent of `functions.portfolio`.
"""

__all__ = [
    "app",
    "card",
    "deps",
    "docs",
    "errors",
    "gateway",
    "outcomes",
    "pretraffic",
    "recording",
    "recourse",
    "serving",
    "synthetic",
]
