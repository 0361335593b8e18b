"""Reacting to a message: one button per emoji (htmx or a plain form), and a page to pick
any emoji without JavaScript."""

from __future__ import annotations

from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from chat_app.actions import MessageRejected, toggle_reaction
from chat_app.auth import viewer_user
from chat_app.blueprints.edits import in_room, message_page
from chat_app.blueprints.forms import back_to, done, message_or_refuse, refuse

blueprint = Blueprint("reactions", __name__)


@blueprint.post("/messages/<int:message_id>/reactions")
@login_required
async def toggle(message_id: int) -> ResponseReturnValue:
    """Add or take back your reaction; the change reaches every tab through the socket."""
    user = await viewer_user()
    form = await request.form
    message = await message_or_refuse(user, message_id)
    try:
        await toggle_reaction(user, message_id, form.get("emoji"))
    except MessageRejected as error:
        refuse(error)
    return done(back_to(in_room(message), form.get("next")))


@blueprint.get("/messages/<int:message_id>/react")
@login_required
async def picker(message_id: int) -> str:
    """Pick any emoji for a reaction (the quick row covers the usual ones)."""
    user = await viewer_user()
    message = await message_or_refuse(user, message_id)
    return await message_page("messages/react.html", message, user)
