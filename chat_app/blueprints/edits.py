"""Editing, deleting and replying to a message: htmx fragments, plain forms and no-JS pages."""

from __future__ import annotations

from quart import Blueprint, current_app, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions import (
    MessageNotFound,
    MessageRejected,
    NotAllowed,
    delete_message,
    edit_message,
)
from chat_app.actions.changes import is_moderator
from chat_app.auth import viewer_user
from chat_app.blueprints.forms import back_to, done, from_htmx, message_or_refuse, refuse
from chat_app.models import Message, User
from chat_app.models.messages import shown
from chat_app.realtime.streams import dom_id
from chat_app.security import csrf_token
from chat_app.templating import render_template

blueprint = Blueprint("edits", __name__)


def in_room(message: Message) -> str:
    """The room page at this message: where a change to it goes back to by default."""
    return url_for("rooms.show", slug=message.room.slug, _anchor=dom_id("message", message.id))


async def message_page(template: str, message: Message, viewer: User) -> str:
    """A no-JS page about one message (delete, react), shown as it is now, with the way back."""
    await shown([message])
    return await render_template(
        template,
        message=message,
        viewer_id=viewer.id,
        back=back_to(in_room(message), request.args.get("next")),
    )


async def editable(user: User, message_id: int) -> Message:
    """The viewer's own message, or the refusal (404 / 403) that editing it would get."""
    message = await message_or_refuse(user, message_id)
    if message.author_id != user.id:
        refuse(NotAllowed("You can only edit your own messages."))
    return message


async def render_editor(
    message: Message,
    content: str | None = None,
    error: str | None = None,
    status: int = 200,
    sent_next: str | None = None,
) -> tuple[str, int]:
    """The inline editor (for htmx) or the edit page, keeping ``content`` and showing ``error``.
    ``sent_next`` is the ``next`` a refused form carried: the page shown again keeps it (its
    Referer is now the edit page itself, not where the person came from)."""
    template = "messages/_editor.html" if from_htmx() else "messages/edit.html"
    html = await render_template(
        template,
        message=message,
        content=message.content if content is None else content,
        error=error,
        max_chars=current_app.config["MESSAGE_MAX_CHARS"],
        back=back_to(in_room(message), sent_next or request.args.get("next")),
    )
    return html, status


@blueprint.get("/messages/<int:message_id>/edit")
@login_required
async def edit_form(message_id: int) -> tuple[str, int]:
    """The editor for one of your messages."""
    return await render_editor(await editable(await viewer_user(), message_id))


@blueprint.post("/messages/<int:message_id>/edit")
@login_required
async def edit(message_id: int) -> ResponseReturnValue:
    """Save the new text. htmx gets the message back in place; a form goes back (303)."""
    user = await viewer_user()
    form = await request.form
    content = form.get("content", "")
    message = await editable(user, message_id)
    try:
        message = await edit_message(user, message_id, content)
    except (MessageNotFound, NotAllowed) as error:
        refuse(error)
    except MessageRejected as error:  # the text: the editor again, keeping it
        return await render_editor(
            message, content=content, error=str(error), status=422, sent_next=form.get("next")
        )
    if not from_htmx():
        return redirect(back_to(in_room(message), form.get("next")), 303)
    await shown([message])
    return await render_template(
        "messages/_message.html", message=message, viewer_id=user.id, csrf=csrf_token()
    )


@blueprint.get("/messages/<int:message_id>/delete")
@login_required
async def delete_form(message_id: int) -> str:
    """Asks before deleting (the page for browsers without JavaScript)."""
    user = await viewer_user()
    message = await message_or_refuse(user, message_id)
    if message.author_id != user.id and not await is_moderator(user, message.room):
        refuse(NotAllowed("You can only delete your own messages."))
    return await message_page("messages/delete.html", message, user)


@blueprint.post("/messages/<int:message_id>/delete")
@login_required
async def delete(message_id: int) -> ResponseReturnValue:
    """Delete the message; everyone's tabs remove it. htmx gets 204, a form goes back."""
    user = await viewer_user()
    form = await request.form
    try:
        message = await delete_message(user, message_id)
    except MessageRejected as error:
        refuse(error)
    default = url_for("rooms.show", slug=message.room.slug)
    return done(back_to(default, form.get("next")))


@blueprint.get("/messages/<int:message_id>/reply")
@login_required
async def reply(message_id: int) -> WerkzeugResponse:
    """The room's composer, set to reply to this message."""
    user = await viewer_user()
    message = await message_or_refuse(user, message_id)
    target = url_for("rooms.show", slug=message.room.slug, reply_to=message.id, _anchor="composer")
    return redirect(target, 303)
