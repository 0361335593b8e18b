"""Starting a direct conversation: a picker of people (plain checkboxes), one room per set."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, redirect, request, url_for
from quart_auth import login_required

from chat_app.actions.directs import open_direct
from chat_app.actions.rooms import RoomError
from chat_app.auth import viewer_user
from chat_app.blueprints.directory import page_frame
from chat_app.models import User
from chat_app.templating import render_template

blueprint = Blueprint("directs", __name__)

PICKER_MAX = 500  # people listed in the picker (a bigger workspace types a name: see "with")


async def _picker(user: User, chosen: set[str], error: str | None, status: int) -> Any:
    people = (
        await User.filter(is_active=True)
        .exclude(id=user.id)
        .order_by("username")
        .limit(PICKER_MAX)
        .values("id", "username")
    )
    html = await render_template(
        "directs/new.html",
        **await page_frame(user, "New message"),
        candidates=people,
        chosen=chosen,
        error=error,
        most=current_app.config["DIRECT_MAX_MEMBERS"],
    )
    return html, status


@blueprint.get("/directs/new")
@login_required
async def new() -> Any:
    """The picker; ``?with=<username>`` (a person's name on a message or in the people
    list) ticks them."""
    chosen = {name for name in request.args.getlist("with") if len(name) <= 32}
    return await _picker(await viewer_user(), chosen, None, 200)


@blueprint.post("/directs")
@login_required
async def start() -> Any:
    """Open the conversation with the people ticked (the same one as before, if any)."""
    user = await viewer_user()
    form = await request.form
    try:
        room = await open_direct(user, form.getlist("member"))
    except RoomError as error:
        return await _picker(user, set(), str(error), 422)
    return redirect(url_for("rooms.show", slug=room.slug), 303)
