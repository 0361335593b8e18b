"""Settings → API tokens: make one (its secret shown once), see when each was used, revoke."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.tokens import TOKEN_DAYS_MAX, TokenError, create_token, revoke_token
from chat_app.auth import viewer_user
from chat_app.models import User
from chat_app.models.tokens import SCOPE_READ, SCOPE_WRITE, tokens_of
from chat_app.templating import render_template

blueprint = Blueprint("tokens", __name__)

EXPIRY_CHOICES = ((7, "7 days"), (30, "30 days"), (90, "90 days"), (TOKEN_DAYS_MAX, "1 year"))


async def _page(user: User, status: int = 200, **extra: object) -> tuple[str, int]:
    page = await render_template(
        "settings/tokens.html",
        viewer=user,
        tokens=await tokens_of(user.id),
        expiry_choices=EXPIRY_CHOICES,
        scopes=((SCOPE_READ, "Read"), (SCOPE_WRITE, "Read and write")),
        **extra,
    )
    return page, status


@blueprint.get("/settings/tokens")
@login_required
async def settings() -> tuple[str, int]:
    """The viewer's tokens and the form that makes one."""
    return await _page(await viewer_user())


@blueprint.post("/settings/tokens")
@login_required
async def create() -> tuple[str, int]:
    """Make a token and show its secret on this page, the only time it is shown."""
    user = await viewer_user()
    form = await request.form
    try:
        token, secret = await create_token(
            user, form.get("name"), form.get("scope"), form.get("days")
        )
    except TokenError as error:
        return await _page(user, 422, error=str(error), name=form.get("name", ""))
    return await _page(user, 201, made=token, secret=secret)


@blueprint.post("/settings/tokens/<token_id>/revoke")
@login_required
async def revoke(token_id: str) -> WerkzeugResponse:
    """Revoke one of the viewer's tokens (one already gone is no error)."""
    await revoke_token(await viewer_user(), token_id)
    return redirect(url_for("tokens.settings"), 303)
