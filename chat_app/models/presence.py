"""Presence: one row per user (status, last seen) and one per open socket (heartbeats)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.users import User


class UserPresence(Model):
    """Whether a user is online, their chosen status, and when they were last seen."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "chat.User", related_name="presence", on_delete=fields.CASCADE
    )
    is_online = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16, default="online")
    last_seen = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_presence"

    user_id: int


class LiveSocket(Model):
    """An open websocket on some node. A row whose heartbeat stops is swept as dead."""

    id = fields.CharField(max_length=36, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="live_sockets", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="live_sockets", on_delete=fields.CASCADE
    )
    node = fields.CharField(max_length=64)
    opened_at = fields.DatetimeField(auto_now_add=True)
    seen_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "live_sockets"

    user_id: int
    room_id: int
