"""Clear error answers: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from typing import Any

from quart import Quart, current_app, has_websocket_context, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout


def _explain(error: HTTPException) -> str:
    """Werkzeug's wording for the limits we set is vague: say which limit was hit."""
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
        return description, code
    if request.path.startswith("/api/"):
        return {"error": description, "status": code}, code
    page = await render_template("error.html", code=code, name=error.name, description=description)
    return page, code


def init_errors(app: Quart) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
