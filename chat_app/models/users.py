"""Users and their server-side login sessions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A person who can sign in."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=32, unique=True)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    is_admin = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"

    def __str__(self) -> str:
        return self.username


class AuthSession(Model):
    """One signed-in browser. The cookie holds only the token, and deleting the row revokes it."""

    id = fields.IntField(primary_key=True)
    token = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    user_id: int

    class Meta:
        table = "auth_sessions"
