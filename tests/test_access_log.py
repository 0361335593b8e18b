"""The access log writes the lines Hypercorn's own atoms would, from lazily made values."""

from __future__ import annotations

from typing import Any

import pytest
from hypercorn.config import Config
from hypercorn.logging import AccessLogAtoms

from chat_app.access_log import AccessLogger, LazyAtoms
from chat_app.serve import hypercorn_config

HTTP: dict[str, Any] = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "https",
    "path": "/rooms/general/messages",
    "query_string": b"a=1",
    "client": ("203.0.113.9", 51234),
    "headers": [(b"User-Agent", b'Firefox "quoted"'), (b"Referer", b"https://chat/")],
}
WEBSOCKET: dict[str, Any] = {
    "type": "websocket",
    "http_version": "1.1",
    "scheme": "wss",
    "path": "/rooms/general/live",
    "query_string": b"",
    "client": None,
    "headers": [],
}
RESPONSE = {"status": 303, "headers": [(b"content-length", b"42"), (b"Location", b"/x")]}
FORMATS = [
    Config.access_log_format,
    '%(h)s "%(R)s" %(st)s %(S)s %(m)s %(U)s %(q)s %(H)s %(B)s %(p)s %({location}o)s %(X)s',
]


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize(
    ("request_scope", "response"),
    [(HTTP, RESPONSE), (WEBSOCKET, None), (HTTP, {"status": 999, "headers": []})],
)
def test_lines_are_those_hypercorn_writes(
    log_format: str, request_scope: dict[str, Any], response: dict[str, Any] | None
) -> None:
    ours = log_format % LazyAtoms(request_scope, response, 0.25)
    hypercorns = log_format % AccessLogAtoms(request_scope, response, 0.25)  # type: ignore[arg-type]
    assert ours == hypercorns
    assert "%(" not in ours


def test_a_line_of_the_default_format_reads_no_environment() -> None:
    atoms = LazyAtoms(HTTP, RESPONSE, 0.25)
    Config.access_log_format % atoms
    assert "{path}e" not in atoms and atoms._full is None


def test_the_server_logs_through_it() -> None:
    assert isinstance(hypercorn_config({"WS_MAX_FRAME_BYTES": 1}, "h", 1).log, AccessLogger)
