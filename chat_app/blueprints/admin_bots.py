"""Administration of bots: accounts, their tokens, incoming webhooks and outgoing URL.
Workspace admins only; 404 for everyone else."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.bots import (
    BotError,
    bot_user,
    create_bot,
    create_bot_token,
    create_webhook,
    revoke_webhook,
    set_outgoing,
)
from chat_app.actions.tokens import TokenError
from chat_app.blueprints.admin import admin_or_404
from chat_app.models import Room, User
from chat_app.models.bots import bots, webhooks_of
from chat_app.models.rooms import RoomKind
from chat_app.models.tokens import tokens_of
from chat_app.templating import render_template

blueprint = Blueprint("admin_bots", __name__, url_prefix="/admin")


async def _page(admin: User, status: int = 200, **extra: object) -> tuple[str, int]:
    listed = await bots()
    return await render_template(
        "admin/bots.html",
        viewer=admin,
        bots=listed,
        tokens={b.user_id: await tokens_of(b.user_id) for b in listed},
        webhooks={b.user_id: await webhooks_of(b.user_id) for b in listed},
        rooms=await Room.exclude(kind=RoomKind.DIRECT).order_by("name"),
        **extra,
    ), status


@blueprint.get("/bots")
async def index() -> tuple[str, int]:
    """Every bot with its tokens and webhooks, and the form that makes one."""
    return await _page(await admin_or_404())


@blueprint.post("/bots")
async def create() -> tuple[str, int]:
    """Make a bot, a member of the rooms ticked."""
    admin = await admin_or_404()
    form = await request.form
    try:
        await create_bot(admin, form.get("username"), form.getlist("rooms"))
    except BotError as error:
        return await _page(admin, 422, error=str(error))
    return await _page(admin, 201)


@blueprint.post("/bots/<bot_id>/tokens")
async def make_token(bot_id: str) -> tuple[str, int]:
    """A token for the bot, shown on the page this once."""
    admin = await admin_or_404()
    try:
        bot = await bot_user(admin, bot_id)
        _, secret = await create_bot_token(admin, bot, (await request.form).get("name"))
    except (BotError, TokenError) as error:
        return await _page(admin, 422, error=str(error))
    return await _page(admin, 201, secret=secret, secret_for=bot.username)


@blueprint.post("/bots/<bot_id>/webhooks")
async def make_webhook(bot_id: str) -> tuple[str, int]:
    """An incoming webhook into the room chosen, its URL shown this once."""
    admin = await admin_or_404()
    try:
        bot = await bot_user(admin, bot_id)
        _, secret = await create_webhook(admin, bot, (await request.form).get("room", ""))
    except BotError as error:
        return await _page(admin, 422, error=str(error))
    url = url_for("webhooks.incoming", secret=secret, _external=True)
    return await _page(admin, 201, secret=url, secret_for=bot.username)


@blueprint.post("/bots/<bot_id>/outgoing")
async def outgoing(bot_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Set (or clear) the URL the bot is called at when mentioned or sent a DM."""
    admin = await admin_or_404()
    try:
        await set_outgoing(admin, await bot_user(admin, bot_id), (await request.form).get("url"))
    except BotError as error:
        return await _page(admin, 422, error=str(error))
    return redirect(url_for("admin_bots.index"), 303)


@blueprint.post("/webhooks/<webhook_id>/revoke")
async def revoke(webhook_id: str) -> WerkzeugResponse:
    """Revoke an incoming webhook (idempotent)."""
    await revoke_webhook(await admin_or_404(), webhook_id)
    return redirect(url_for("admin_bots.index"), 303)
