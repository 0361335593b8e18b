"""Browsers report a fragment they could not swap (its target missing): one log line each,
rate-limited per user, so a page that breaks for people shows up in the server's log."""

from __future__ import annotations

import json
import logging

from quart import Blueprint, Response, abort, current_app, request
from quart_auth import login_required

from chat_app.actions.limits import app_limiter
from chat_app.auth import viewer_user
from chat_app.logs import log_event
from chat_app.security import local_path

blueprint = Blueprint("client_errors", __name__)
log = logging.getLogger(__name__)

KINDS = frozenset({"oobErrorNoTarget", "targetError", "swapError"})  # htmx's event names
MAX_BODY_BYTES = 2048
MAX_TARGET_CHARS = 200


@blueprint.post("/client-errors")
@login_required
async def report() -> Response:
    """Log one failed swap: ``{"kind": …, "target": "#id or selector", "page": "/path"}``.
    204 when logged; 400 for anything else; 429 past the per-user limit."""
    user = await viewer_user()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        abort(413)
    body = await request.get_data(cache=False, as_text=False)
    if len(body) > MAX_BODY_BYTES:  # no (or a false) Content-Length
        abort(413)
    kind, target, page = _fields(body)
    per_minute = current_app.config["CLIENT_ERRORS_PER_MINUTE"]
    wait = app_limiter("client_errors", per_minute / 60, per_minute).take(user.id)
    if wait:
        return Response(status=429, headers={"Retry-After": str(int(wait) + 1)})
    log_event(
        log,
        "client.swap_failed",
        logging.WARNING,
        kind=kind,
        target=target,
        page=page,
        user=user.id,
    )
    return Response(status=204)


def _fields(body: str | bytes) -> tuple[str, str, str]:
    """The report's kind, target and page, checked: 400 for junk."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        abort(400, "A JSON object is expected.")
    if not isinstance(data, dict):
        abort(400, "A JSON object is expected.")
    kind, target, page = data.get("kind"), data.get("target"), data.get("page")
    if kind not in KINDS:
        abort(400, f"'kind' must be one of {', '.join(sorted(KINDS))}.")
    if not isinstance(target, str) or not target.isprintable() or len(target) > MAX_TARGET_CHARS:
        abort(400, f"'target' must be printable text of at most {MAX_TARGET_CHARS} characters.")
    path = local_path(page) if isinstance(page, str) else None
    if path is None:
        abort(400, "'page' must be a path on this site.")
    return kind, target, path
