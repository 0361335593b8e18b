"""Your data: "Export my data" (a job with its progress, then an expiring download that only
its owner can fetch) and "Delete my account" (the password again)."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, redirect, request, send_file
from quart import Response as QuartResponse
from quart_auth import login_required, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.accounts import AccountError, LoginThrottled
from chat_app.actions.data_exports import export_path, is_stale, start_export
from chat_app.actions.erasure import check_deletable, delete_own_account
from chat_app.auth import viewer_user
from chat_app.blueprints.forms import from_htmx
from chat_app.models import User
from chat_app.models.data_exports import export_of, latest_export
from chat_app.security import client_address, rotate_csrf_token
from chat_app.templating import render_template

blueprint = Blueprint("privacy", __name__)

EXPORT_ID_DIGITS = 9  # an INT column holds up to 2,147,483,647
Page = str | tuple[str, int] | tuple[str, int, dict[str, str]]


async def _page(user: User, error: AccountError | None = None, status: int = 200) -> Page:
    try:
        await check_deletable(user)
        refused = None
    except AccountError as why:
        refused = str(why)
    page = await render_template(
        "settings/data.html",
        viewer=user,
        export=await latest_export(user.id),
        is_stale=is_stale,
        mode=current_app.config["ACCOUNT_DELETION"],
        retention_days=current_app.config["RETENTION_DAYS"],
        refused=refused,
        error=error,
    )
    if isinstance(error, LoginThrottled):
        return page, 429, {"Retry-After": str(error.retry_after)}
    return page, status


@blueprint.get("/settings/data")
@login_required
async def show() -> Page:
    """The export's state and the deletion form."""
    return await _page(await viewer_user())


@blueprint.get("/settings/data/export")
@login_required
async def export_status() -> str:
    """The export's state alone (the page polls it while the ZIP is being built)."""
    user = await viewer_user()
    return await render_template(
        "settings/_export_status.html", export=await latest_export(user.id), is_stale=is_stale
    )


@blueprint.post("/settings/data/export")
@login_required
async def export() -> str | WerkzeugResponse:
    """Start building the viewer's ZIP; the page then shows its progress."""
    user = await viewer_user()
    job = await start_export(user)
    if from_htmx():
        return await render_template("settings/_export_status.html", export=job, is_stale=is_stale)
    return redirect("/settings/data#export", 303)


@blueprint.get("/settings/data/exports/<export_id>")
@login_required
async def download(export_id: str) -> QuartResponse:
    """The finished ZIP, to its owner only and until it expires; anyone else's, or one
    expired, does not exist (404)."""
    user = await viewer_user()
    # An id no row can have (letters, 20 digits: too big for the column) never reaches the
    # database.
    possible = export_id.isascii() and export_id.isdigit() and len(export_id) <= EXPORT_ID_DIGITS
    job = await export_of(user.id, int(export_id)) if possible else None
    if job is None or not job.downloadable() or not export_path(job).is_file():
        abort(404, "There is no such export (it may have expired): start a new one.")
    stamp = job.created_at.strftime("%Y-%m-%d")
    response = await send_file(
        export_path(job),
        mimetype="application/zip",
        as_attachment=True,
        attachment_filename=f"parley-{user.username}-{stamp}.zip",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/settings/data/delete")
@login_required
async def delete() -> Page | WerkzeugResponse:
    """Delete the viewer's account once they type their password again: signed out at once,
    the rest follows in the background."""
    user = await viewer_user()
    password = (await request.form).get("password")
    try:
        await delete_own_account(user, password, client_address())
    except LoginThrottled as error:
        return await _page(user, error)
    except AccountError as error:
        return await _page(user, error, 422)
    logout_user()
    rotate_csrf_token()
    return redirect("/goodbye", 303)


@blueprint.get("/goodbye")
async def goodbye() -> str:
    """Said once an account's deletion has begun."""
    return await render_template(
        "settings/goodbye.html", mode=current_app.config["ACCOUNT_DELETION"]
    )
