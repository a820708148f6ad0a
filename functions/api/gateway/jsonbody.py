"""A JSON body parsed once, by the request guard, with every key repeated within one object located.

`json.loads` keeps the last of two values of one key without a word; `parse_json` finds such keys at any
depth at the cost of one small hook per object. The routes read the guard's parsed body (`ScreenedRoute`,
FastAPI's documented custom route class), so a valid body is parsed once, into the same values.
"""

import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Final

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from functions.api.errors import MAX_FIELDS

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
        seen: set[str] = set()
        repeated: dict[str, None] = {}  # insertion-ordered set: each repeated key once, in order
        for key, _ in pairs:
            if key in seen:
                repeated[key] = None
            seen.add(key)
        marked = Repeated(obj)
        marked.repeated = tuple(repeated)
        return marked

    parsed = json.loads(body, object_pairs_hook=pairs_to_object)
    return parsed, (repeated_locations(parsed) if found else [])


Trail = tuple["Trail", str | int] | None  # a path as a linked list, so each step costs O(1), not O(depth)


def spell(trail: Trail) -> Location:
    """Turn a linked trail into a location tuple, root first."""
    steps: list[str | int] = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    return tuple(reversed(steps))


def repeated_locations(value: Any, *, limit: int = MAX_FIELDS) -> list[Location]:
    """Find repeated keys in a parsed document, in document order, without recursion; at most `limit`."""
    found: list[Location] = [(key,) for key in value.repeated] if isinstance(value, Repeated) else []
    if not isinstance(value, dict | list):
        return found
    # Depth first with one lazy iterator per open container: each value is looked at once, and only
    # non-empty containers are entered (a hostile body is mostly tiny arrays and scalars).
    stack: list[tuple[Trail, Iterator[tuple[Any, Any]]]] = [(None, steps_of(value))]
    while stack and len(found) < limit:
        trail, steps = stack[-1]
        for step, child in steps:
            if child and isinstance(child, dict | list):
                here = (trail, step)
                if isinstance(child, Repeated):
                    found += [(*spell(here), key) for key in child.repeated]
                stack.append((here, steps_of(child)))
                break
        else:
            stack.pop()
    return found[:limit]


def steps_of(node: dict[str, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    """Iterate a container's (key or index, value) pairs in document order."""
    return iter(node.items()) if isinstance(node, dict) else enumerate(node)


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
