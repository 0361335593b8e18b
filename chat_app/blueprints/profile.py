"""People: one's profile settings (display name, avatar), and each room's grouping
stylesheet (consecutive messages by one author share one header)."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.attachments import UploadRejected
from chat_app.actions.profile import ProfileRejected, update_profile
from chat_app.auth import room_or_404, viewer_user
from chat_app.blueprints.files import read_upload
from chat_app.models.messages import recent_author_ids
from chat_app.templating import render_template

blueprint = Blueprint("profile", __name__)

GROUPED_AUTHORS_MAX = 1000


@blueprint.get("/settings/profile")
@login_required
async def settings() -> str:
    """The profile form."""
    return await render_template("settings/profile.html", viewer=await viewer_user())


@blueprint.post("/settings/profile")
@login_required
async def save() -> WerkzeugResponse | tuple[str, int]:
    """Save the name and the avatar (multipart), then back to the form (303)."""
    user = await viewer_user()
    form = await request.form
    part = (await request.files).get("avatar")
    try:
        avatar = await read_upload(part) if part is not None and part.filename else None
        await update_profile(user, form.get("display_name"), avatar, "remove_avatar" in form)
    except (ProfileRejected, UploadRejected) as error:
        page = await render_template(
            "settings/profile.html",
            viewer=user,
            error=str(error),
            display_name=form.get("display_name", ""),
        )
        return page, 422
    return redirect(url_for("profile.settings", saved=1), 303)


@blueprint.get("/rooms/<slug>/authors.css")
@login_required
async def authors_css(slug: str) -> Response:
    """One rule per recent author of the room: a message right after one by the same author
    hides its avatar and name (its time, permalink and "edited" mark stay). Pure CSS on
    data-author-id, so the full page, history pages, live appends and catch-up group alike
    (an author new since the sheet loaded is simply not grouped until the next load)."""
    room = await room_or_404(await viewer_user(), slug)
    ids = await recent_author_ids(room.id, GROUPED_AUTHORS_MAX)
    pairs = [f'.chat[data-author-id="{i}"]+.chat[data-author-id="{i}"]' for i in ids]
    css = ""
    if pairs:
        css = (
            ",\n".join(f"{p}>.chat-header>[data-role=author]" for p in pairs)
            + "{display:none}\n"
            + ",\n".join(f"{p}>.chat-image" for p in pairs)
            + "{visibility:hidden}\n"
        )
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
