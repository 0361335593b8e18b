"""Bot accounts and their incoming webhooks.

A bot is a user (``User.is_bot``) made by an admin; its ``Bot`` row says who made it and, for
outgoing webhooks, where it is called and with which secret it signs. An incoming webhook is a
secret URL that posts to one room as its bot; like tokens, only a SHA-256 of it is kept.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.tokens import token_digest
from chat_app.models.users import User

URL_MAX = 2048


class Bot(Model):
    """What a bot account has besides its user row."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "chat.User", related_name="bot", on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="bots_made", null=True, on_delete=fields.SET_NULL
    )
    # Outgoing: POSTed to when the bot is mentioned or sent a direct message (empty: never).
    outgoing_url = fields.CharField(max_length=URL_MAX, default="", db_default="")
    signing_secret = fields.CharField(max_length=64)
    # The last delivery that failed after its retries, shown to admins on the bots page.
    last_failure = fields.CharField(max_length=500, default="", db_default="")
    last_failure_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int
    created_by_id: int | None

    class Meta:
        table = "bots"


class Webhook(Model):
    """An incoming webhook: its secret URL posts to ``room`` as ``bot``. Deleting revokes it."""

    id = fields.IntField(primary_key=True)
    bot: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="webhooks", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="webhooks", on_delete=fields.CASCADE
    )
    digest = fields.CharField(max_length=64, unique=True)
    hint = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    bot_id: int
    room_id: int

    class Meta:
        table = "webhooks"
        indexes = (("bot_id",),)


async def webhook_by_secret(secret: str) -> Webhook | None:
    """The webhook whose secret is ``secret``, with its active bot and its room."""
    return (
        await Webhook.filter(digest=token_digest(secret), bot__is_active=True)
        .select_related("bot", "room")
        .first()
    )


async def bots() -> list[Bot]:
    """Every bot, by name, with its user."""
    return await Bot.all().select_related("user").order_by("user__username")


async def webhooks_of(bot_user_id: int) -> list[Webhook]:
    """The incoming webhooks of a bot, with their rooms."""
    return await Webhook.filter(bot_id=bot_user_id).select_related("room").order_by("id")
