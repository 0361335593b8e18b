"""Clear error answers: JSON under /api/, a page elsewhere; refusals and crashes are logged."""

from __future__ import annotations

import logging
from typing import Any

from quart import (
    Quart,
    current_app,
    got_request_exception,
    got_websocket_exception,
    has_request_context,
    has_websocket_context,
    render_template,
    request,
    websocket,
)
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from chat_app import metrics
from chat_app.bodies import carries_files
from chat_app.db import UNAVAILABLE_ERRORS, database_unavailable
from chat_app.logs import log_event, log_unavailable

log = logging.getLogger(__name__)


def _explain(error: HTTPException) -> str:
    """Werkzeug's wording for the limits we set is vague: say which limit was hit."""
    if (
        isinstance(error, RequestEntityTooLarge)
        and has_request_context()
        and carries_files(request.method, request.path, request.content_type or "")
    ):
        size = current_app.config["UPLOAD_MAX_BYTES"] / 1024 / 1024
        return f"Files are at most {size:g} MB (without JavaScript: all of one message's files)."
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
        return f"This request is too large: the server accepts at most {limit:,} KiB."
    if isinstance(error, RequestTimeout):
        return "The request body arrived too slowly; try again."
    return error.description or error.name


async def handle_http_error(error: HTTPException) -> tuple[Any, int]:
    """Answer an HTTP error in the format the client asked for."""
    code, description = error.code or 500, _explain(error)
    if has_websocket_context():  # a refused handshake: a plain HTTP answer, before accept
        metrics.HANDSHAKES_REJECTED.labels(str(code)).inc()
        log_event(log, "ws.rejected", logging.WARNING, code=code, path=websocket.path)
        return description, code
    # JSON under /api/ and for scripts that ask for it (the composer's uploads).
    if request.path.startswith("/api/") or request.headers.get("Accept") == "application/json":
        return {"error": description, "status": code}, code
    page = await render_template("error.html", code=code, name=error.name, description=description)
    return page, code


async def handle_database_unavailable(error: Exception) -> tuple[Any, int, dict[str, str]]:
    """503 with Retry-After while the database is away: a page, JSON under /api/, or a
    refused handshake (the tab retries). One log line per interval, not a traceback each."""
    if not database_unavailable(error):
        raise error  # a bug, not an outage: Quart logs it and answers 500 as usual
    surface = "websocket" if has_websocket_context() else "http"
    log_unavailable(log, surface, error)
    description = "The server cannot reach its database right now. Try again in a moment."
    retry = {"Retry-After": "5"}
    if surface == "http" and request.path.startswith("/api/"):
        return {"error": description, "status": 503}, 503, retry
    if surface == "http":
        page = await render_template(
            "error.html", code=503, name="Service Unavailable", description=description
        )
        return page, 503, retry
    return description, 503, retry


async def _count_crash(sender: Quart, exception: BaseException, **_: object) -> None:
    # Quart logs the traceback itself; this adds the counter and the structured line.
    surface = "websocket" if has_websocket_context() else "http"
    metrics.ERRORS.labels(surface).inc()
    log_event(log, "error", logging.ERROR, surface=surface, kind=type(exception).__name__)


def init_errors(app: Quart) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
    for kind in UNAVAILABLE_ERRORS:
        app.register_error_handler(kind, handle_database_unavailable)
    got_request_exception.connect(_count_crash, app)
    got_websocket_exception.connect(_count_crash, app)
