"""A JSON body parsed once, by the request guard, with every key repeated within one object located.

`json.loads` keeps the last of two values of one key without a word; `parse_json` finds such keys at any
depth at the cost of one small hook per object. The routes read the guard's parsed body (`ScreenedRoute`,
FastAPI's documented custom route class), so a valid body is parsed once, into the same values.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from functions.errors import MAX_FIELDS

PARSED_KEY: Final = "credit_parsed_body"  # the parsed JSON body in the ASGI scope's state
Location = tuple[str | int, ...]


class Repeated(dict[str, Any]):
    """A JSON object in which some keys appeared more than once (`repeated`, in order)."""

    repeated: tuple[str, ...] = ()


def parse_json(body: bytes) -> tuple[Any, list[Location]]:
    """Parse JSON as `json.loads` does; also return where keys repeat (`("applicants", 3, "pay_0")`)."""
    found = False

    def pairs_to_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        found = True
        marked = Repeated(obj)
        keys = [key for key, _ in pairs]
        marked.repeated = tuple(dict.fromkeys(k for i, k in enumerate(keys) if k in keys[:i]))
        return marked

    parsed = json.loads(body, object_pairs_hook=pairs_to_object)
    return parsed, (repeated_locations(parsed) if found else [])


def repeated_locations(value: Any, *, limit: int = MAX_FIELDS) -> list[Location]:
    """Find repeated keys in a parsed document, in document order, without recursion; at most `limit`."""
    found: list[Location] = []
    pending: list[tuple[Location, Any]] = [((), value)]
    while pending and len(found) < limit:
        location, node = pending.pop()
        if isinstance(node, Repeated):
            found += [(*location, key) for key in node.repeated]
        children = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        pending += reversed([((*location, key), child) for key, child in children])
    return found[:limit]


class ScreenedRequest(Request):
    """A request whose JSON body the guard has already parsed (and checked for repeated keys)."""

    async def json(self) -> Any:
        """Return the body the guard parsed, or parse it as Starlette does if the guard did not."""
        state = self.scope.get("state", {})
        return state[PARSED_KEY] if PARSED_KEY in state else await super().json()


class ScreenedRoute(APIRoute):
    """A route that reads the guard's parsed body instead of parsing the JSON a second time."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so that it receives a `ScreenedRequest`."""
        handle = super().get_route_handler()

        async def screened(request: Request) -> Response:
            return await handle(ScreenedRequest(request.scope, request.receive))

        return screened
