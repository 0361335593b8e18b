"""Posting by plain form, for browsers without JavaScript (the socket is the fast path)."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions import MessageRejected, post_message
from chat_app.actions.attachments import UploadRejected, attachment_ids_from
from chat_app.auth import room_or_404, viewer_user
from chat_app.blueprints.files import upload_all
from chat_app.blueprints.rooms import render_room, shell
from chat_app.realtime.streams import dom_id

blueprint = Blueprint("messages", __name__)


@blueprint.post("/rooms/<slug>/messages")
@login_required
async def create(slug: str) -> WerkzeugResponse | tuple[str, int]:
    """Store the message, with the files chosen in the form's file input (multipart) and
    those uploaded by script before (``attachments``), and go back to the room (303); on
    error show it, keeping the text (413 for a file too large)."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    form = await request.form
    content = form.get("content", "")
    try:
        chosen = await upload_all(user, room, (await request.files).getlist("files"))
        earlier = attachment_ids_from(form.get("attachments"))
        message = await post_message(
            user, room, content, form.get("client_id"), form.get("reply_to"), earlier + chosen
        )
    except (MessageRejected, UploadRejected) as error:
        # The page again, loaded through the membership once more (it may have gone meanwhile).
        return await render_room(
            await shell(user, slug),
            content=content,
            error=str(error),
            status=getattr(error, "status", 422),
            reply_to=form.get("reply_to"),
        )
    target = url_for("rooms.show", slug=room.slug, _anchor=dom_id("message", message.id))
    return redirect(target, 303)
