"""Suggestions for the composer's ``@``: members of the room whose names start as typed."""

from __future__ import annotations

import re

from quart import Blueprint, request
from quart_auth import login_required

from chat_app.actions.mentions import may_mention_everyone
from chat_app.auth import room_or_404, viewer_user
from chat_app.models.mentions import EVERYONE
from chat_app.models.rooms import Membership
from chat_app.templating import render_template

blueprint = Blueprint("mentions", __name__)

SUGGESTIONS_MAX = 8
QUERY_MAX = 32  # a username's length
TYPED_RE = re.compile(r"[a-z0-9_.-]*")  # what a username can start with


@blueprint.get("/rooms/<slug>/members")
@login_required
async def suggestions(slug: str) -> str:
    """A listbox of the room's members whose usernames start with ``q`` (``@everyone`` for
    those who may use it). Members only: anyone else gets 404, as for the room."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    typed = request.args.get("q", "")[:QUERY_MAX].strip().lstrip("@").lower()
    if not TYPED_RE.fullmatch(typed):
        return await render_template("mentions/_suggestions.html", names=[])
    rows = (
        await Membership.filter(room_id=room.id, user__username__startswith=typed)
        .order_by("user__username")
        .limit(SUGGESTIONS_MAX)
        .values_list("user__username", flat=True)
    )
    names = [str(name) for name in rows]
    if EVERYONE.startswith(typed) and await may_mention_everyone(user, room):
        names.append(EVERYONE)
    return await render_template("mentions/_suggestions.html", names=names)
