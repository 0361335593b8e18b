"""Hypercorn's access log, with each line's values made only when its format asks for them.

Hypercorn builds every value a format could name for every request, copying all the
process's environment variables and headers into it first: about 3 % of the server's CPU in a
connect storm, for a line that uses eight of them. Same format, same lines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from hypercorn.logging import AccessLogAtoms, Logger

type Scope = Any  # Hypercorn's WWWScope
type Summary = Any  # Hypercorn's ResponseSummary (None when a websocket was refused early)


def _header(headers: Any, name: bytes) -> str:
    for key, value in headers or ():
        if key.lower() == name:
            return str(value.decode("latin1"))
    return "-"


def _client(request: Scope, response: Summary, request_time: float) -> str:
    client = request.get("client")
    if client is None:
        return "None"  # as Hypercorn writes it
    return f"{client[0]}:{client[1]}" if len(client) == 2 else str(client[0])


def _request_line(request: Scope, response: Summary, request_time: float) -> str:
    method = request["method"] if request["type"] == "http" else "GET"
    return f"{method} {request['path']} {request.get('http_version', 'ws')}"


def _status(request: Scope, response: Summary, request_time: float) -> str:
    return "-" if response is None else str(response["status"])


def _bytes(request: Scope, response: Summary, request_time: float) -> str:
    return "-" if response is None else _header(response.get("headers"), b"content-length")


# The atoms of Hypercorn's default format, made as Hypercorn makes them.
QUICK_ATOMS: dict[str, Callable[[Scope, Summary, float], str]] = {
    "h": _client,
    "t": lambda *_: time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
    "r": _request_line,
    "s": _status,
    "b": _bytes,
    "f": lambda request, *_: _header(request["headers"], b"referer"),
    "a": lambda request, *_: _header(request["headers"], b"user-agent"),
    "p": lambda *_: f"<{os.getpid()}>",
}


class LazyAtoms(dict[str, str]):
    """An access line's values, each made the first time the format reads it; any atom but
    the default format's comes from Hypercorn's own (built then, once)."""

    def __init__(self, request: Scope, response: Summary, request_time: float) -> None:
        # Never empty: logging treats a lone empty mapping argument as no mapping at all.
        super().__init__(l="-")
        self._args = (request, response, request_time)
        self._full: Mapping[str, str] | None = None

    def __missing__(self, key: str) -> str:
        quick = QUICK_ATOMS.get(key)
        if quick is not None:
            value = quick(*self._args)
        else:
            if self._full is None:
                self._full = AccessLogAtoms(*self._args)
            value = self._full[key]
        self[key] = value
        return value


class AccessLogger(Logger):
    """Hypercorn's logger, whose access lines are made from ``LazyAtoms``."""

    def atoms(self, request: Scope, response: Summary, request_time: float) -> Mapping[str, str]:
        return LazyAtoms(request, response, request_time)
