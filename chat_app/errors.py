"""Clear error answers: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from typing import Any

from quart import Quart, has_websocket_context, render_template, request
from werkzeug.exceptions import HTTPException


async def handle_http_error(error: HTTPException) -> tuple[Any, int]:
    """Answer an HTTP error in the format the client asked for."""
    code = error.code or 500
    if has_websocket_context():  # a refused handshake: a plain HTTP answer, before accept
        return error.description or error.name, code
    if request.path.startswith("/api/"):
        return {"error": error.description, "status": code}, code
    page = await render_template(
        "error.html", code=code, name=error.name, description=error.description
    )
    return page, code


def init_errors(app: Quart) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http_error)
