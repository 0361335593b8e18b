"""Clear error answers: JSON under /api/, a page elsewhere; refusals and crashes are logged."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from quart import (
    Quart,
    current_app,
    got_request_exception,
    got_websocket_exception,
    has_request_context,
    has_websocket_context,
    request,
    url_for,
    websocket,
)
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    RequestEntityTooLarge,
    RequestTimeout,
)

from chat_app import metrics
from chat_app.bodies import carries_files
from chat_app.db import UNAVAILABLE_ERRORS, database_unavailable
from chat_app.logs import log_event, log_unavailable
from chat_app.security import local_path
from chat_app.templating import render_template

log = logging.getLogger(__name__)

# The machine-readable ``code`` of a JSON error, by status (others: Werkzeug's name).
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with its own ``code`` in the JSON answer (``insufficient_scope``...)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = status
        self.error_code = code
        self.extra_headers = headers or {}  # WWW-Authenticate, Retry-After


def error_json(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The body of every error under /api/: ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}}


def _validation_message(error: RequestSchemaValidationError) -> str:
    """Which fields of the request were wrong, in one sentence."""
    cause = error.validation_error
    if isinstance(cause, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
            for item in cause.errors(include_url=False, include_input=False)[:5]
        ]
        return "The request is not valid: " + "; ".join(problems) + "."
    return "The request is not valid: send a JSON object as documented."


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
    if isinstance(error, RequestSchemaValidationError):
        return _validation_message(error)
    return error.description or error.name


async def handle_http_error(error: HTTPException) -> tuple[Any, ...]:
    """Answer an HTTP error in the format the client asked for."""
    code, description = error.code or 500, _explain(error)
    if has_websocket_context():  # a refused handshake: a plain HTTP answer, before accept
        metrics.HANDSHAKES_REJECTED.labels(str(code)).inc()
        log_event(log, "ws.rejected", logging.WARNING, code=code, path=websocket.path)
        return description, code
    # JSON under /api/ and for scripts that ask for it (the composer's uploads).
    if request.path.startswith("/api/") or request.headers.get("Accept") == "application/json":
        extra = dict(error.extra_headers) if isinstance(error, ApiError) else {}
        if code == 401 and not extra:
            extra["WWW-Authenticate"] = 'Bearer realm="api"'
            description = "Sign in, or send 'Authorization: Bearer <token>'."
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            extra["Allow"] = ", ".join(error.valid_methods)
        return error_json(code, description, getattr(error, "error_code", None)), code, extra
    page = await render_template(
        "error.html",
        code=code,
        name=error.name,
        description=description,
        login_url=_login_url(),
        retry_after=getattr(error, "retry_after", None),
    )
    return page, code


def _login_url() -> str:
    """The login form, coming back to this page afterwards (a page one reads, not a form
    post: that goes back to where it was sent from)."""
    here = request.full_path.rstrip("?") if request.method == "GET" else request.referrer
    back = local_path(here) or local_path(urlsplit(here or "").path)
    return url_for("auth.login", next=back, expired=1) if back else url_for("auth.login")


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
        return error_json(503, description), 503, retry
    if surface == "http":
        page = await render_template(
            "error.html", code=503, name="Service Unavailable", description=description
        )
        return page, 503, retry
    return description, 503, retry


async def handle_undecodable(error: UnicodeDecodeError) -> tuple[Any, int]:
    """400 for a body that is not UTF-8 where text was expected (Quart decodes JSON bodies
    itself and lets the error through: found by fuzzing the API)."""
    description = "The request body is not valid UTF-8 text."
    if has_request_context() and request.path.startswith("/api/"):
        return error_json(400, description), 400
    page = await render_template(
        "error.html", code=400, name="Bad Request", description=description
    )
    return page, 400


async def _count_crash(sender: Quart, exception: BaseException, **_: object) -> None:
    # Quart logs the traceback itself; this adds the counter and the structured line.
    surface = "websocket" if has_websocket_context() else "http"
    metrics.ERRORS.labels(surface).inc()
    log_event(log, "error", logging.ERROR, surface=surface, kind=type(exception).__name__)


def init_errors(app: Quart) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(UnicodeDecodeError, handle_undecodable)
    for kind in UNAVAILABLE_ERRORS:
        app.register_error_handler(kind, handle_database_unavailable)
    got_request_exception.connect(_count_crash, app)
    got_websocket_exception.connect(_count_crash, app)
