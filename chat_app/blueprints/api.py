"""The unversioned JSON endpoints the pages' scripts use (the API for scripts is /api/v1/)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, current_app, request
from quart_auth import login_required

from chat_app.actions.presence import PresenceRejected, set_status
from chat_app.auth import room_or_404, viewer_user
from chat_app.blueprints.api_models import MessageOut, PresenceOut
from chat_app.blueprints.rooms import cursor_arg
from chat_app.models import Message
from chat_app.models.messages import page_before
from chat_app.models.presence import MemberPresence, presence_visible_to
from chat_app.search import SearchError, search_text

blueprint = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 200


def message_json(message: Message) -> dict[str, Any]:
    """A message as this API shows it: /api/v1/'s shape without the fields added there."""
    return MessageOut.of(message).model_dump(mode="json", exclude={"author_is_bot"})


def presence_json(member: MemberPresence) -> dict[str, Any]:
    """A person's presence as the API shows it."""
    return PresenceOut.of(member).model_dump(mode="json")


@blueprint.get("/presence")
@login_required
async def presence() -> dict[str, Any]:
    """Presence of everyone who shares a room with you."""
    user = await viewer_user()
    return {"users": [presence_json(m) for m in await presence_visible_to(user.id)]}


@blueprint.post("/presence")
@login_required
async def set_presence() -> dict[str, Any]:
    """Set your status: ``{"status": "online" | "away"}``."""
    user = await viewer_user()
    data = await request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, 'Send a JSON object such as {"status": "away"}.')
    try:
        await set_status(user, data.get("status"))
    except PresenceRejected as error:
        abort(400, str(error))
    return {"users": [presence_json(m) for m in await presence_visible_to(user.id)]}


def limit_arg() -> int:
    """``limit`` from the query string (the history page size when absent); 400 unless it is
    an integer from 1 to MAX_LIMIT."""
    raw_limit = request.args.get("limit", str(current_app.config["HISTORY_PAGE_SIZE"]))
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        abort(400, f"'limit' must be an integer from 1 to {MAX_LIMIT}.")
    return int(raw_limit)


@blueprint.get("/rooms/<slug>/messages")
@login_required
async def room_messages(slug: str) -> dict[str, Any]:
    """A page of messages before the cursor, oldest first; ``next_before`` fetches older."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    before = cursor_arg("before")
    limit = limit_arg()
    messages = await page_before(room.id, before, limit)
    return {
        "messages": [message_json(m) for m in messages],
        "next_before": messages[0].id if len(messages) == limit else None,
    }


@blueprint.get("/search")
@login_required
async def search_messages() -> dict[str, Any]:
    """What ``GET /search`` finds for ``q``, newest first, each with its room's slug;
    ``next_before`` continues below the last one; ``notice`` says why nothing was looked for."""
    user = await viewer_user()
    before, limit = cursor_arg("before"), limit_arg()
    try:
        results = await search_text(user.id, request.args.get("q", ""), before, limit)
    except SearchError as error:
        abort(400, str(error))
    return {
        "messages": [message_json(m) | {"room": m.room.slug} for m in results.messages],
        "next_before": results.next_before,
        "notice": results.notice,
    }
