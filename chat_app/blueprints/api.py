"""JSON for scripts and clients that want data instead of HTML."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, current_app, request
from quart_auth import login_required

from chat_app.actions.presence import PresenceRejected, set_status
from chat_app.auth import room_or_404, viewer_user
from chat_app.blueprints.rooms import cursor_arg
from chat_app.models import Message
from chat_app.models.messages import page_before
from chat_app.models.presence import MemberPresence, presence_visible_to

blueprint = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 200


def message_json(message: Message) -> dict[str, Any]:
    """A message as the API shows it."""
    return {
        "id": message.id,
        "room_id": message.room_id,
        "author": message.author.username,
        "content": message.content,
        "content_html": message.content_html,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "reply_to": message.reply_to_id,
        "reactions": [
            {"emoji": group.emoji, "count": group.count, "users": list(group.names)}
            for group in message.reaction_groups
        ],
    }


def presence_json(member: MemberPresence) -> dict[str, Any]:
    """A person's presence as the API shows it."""
    return {
        "username": member.username,
        "online": member.online,
        "status": member.status,
        "last_seen": member.last_seen.isoformat() if member.last_seen else None,
    }


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


@blueprint.get("/rooms/<slug>/messages")
@login_required
async def room_messages(slug: str) -> dict[str, Any]:
    """A page of messages before the cursor, oldest first; ``next_before`` fetches older."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    before = cursor_arg("before")
    raw_limit = request.args.get("limit", str(current_app.config["HISTORY_PAGE_SIZE"]))
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        abort(400, f"'limit' must be an integer from 1 to {MAX_LIMIT}.")
    limit = int(raw_limit)
    messages = await page_before(room.id, before, limit)
    return {
        "messages": [message_json(m) for m in messages],
        "next_before": messages[0].id if len(messages) == limit else None,
    }
