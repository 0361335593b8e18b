"""Workspace administration: invitation links. Workspace admins only; 404 for everyone else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from quart import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions import InvitationError, create_invitation, revoke_invitation
from chat_app.auth import current_viewer
from chat_app.models import User
from chat_app.models.invitations import recent_invitations
from chat_app.templating import render_template

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

Page = str | tuple[str, int]


async def admin_or_404() -> User:
    """The signed-in workspace admin; anyone else (signed in or not) finds no page here."""
    user = await current_viewer().user()
    if user is None or not user.is_admin:
        abort(404)
    return user


@blueprint.get("/invitations")
async def invitations() -> Page:
    """Every recent invitation: uses left, expiry, maker, state; a form for a new one."""
    return await _page(await admin_or_404())


@blueprint.post("/invitations")
async def create() -> Page:
    """Make an invitation and show its link, this once (only a hash of it is kept)."""
    admin = await admin_or_404()
    form = await request.form
    try:
        _, code = await create_invitation(admin, form.get("uses"), form.get("days"))
    except InvitationError as error:
        return await _page(admin, error=str(error), sent=form), error.status
    return await _page(admin, new_link=url_for("auth.join", code=code, _external=True)), 201


@blueprint.post("/invitations/<invitation_id>/revoke")
async def revoke(invitation_id: str) -> WerkzeugResponse:
    """Withdraw an invitation (idempotent); back to the list."""
    admin = await admin_or_404()
    try:
        await revoke_invitation(admin, invitation_id)
    except InvitationError as error:
        abort(404, str(error))
    return redirect(url_for("admin.invitations"), 303)


async def _page(
    admin: User,
    *,
    new_link: str | None = None,
    error: str | None = None,
    sent: Mapping[str, str] | None = None,
) -> str:
    cfg = current_app.config
    sent = sent or {}
    return await render_template(
        "admin/invitations.html",
        viewer=admin,
        invitations=await recent_invitations(),
        now=datetime.now(UTC),
        new_link=new_link,
        error=error,
        uses=str(sent.get("uses", cfg["INVITATION_USES"]))[:8],
        days=str(sent.get("days", cfg["INVITATION_DAYS"]))[:8],
    )
