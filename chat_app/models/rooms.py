"""Rooms and who belongs to them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from chat_app.models.users import User

SLUG_MAX = 64


class Room(Model):
    """A place where members chat, addressed by its slug."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=SLUG_MAX, unique=True)
    name = fields.CharField(max_length=100)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rooms"

    def __str__(self) -> str:
        return self.name


class Membership(Model):
    """A user belongs to a room. Reading or posting in a room goes through this row."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="memberships", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="memberships", on_delete=fields.CASCADE
    )
    # "admin": may moderate the room (delete anyone's messages); its creator is one.
    role = fields.CharField(max_length=16, default="member", db_default="member")
    joined_at = fields.DatetimeField(auto_now_add=True)
    # The newest change of the room this member has seen (models/unread.py counts what is
    # after it); it only moves forward (actions/reads.py).
    last_read_change = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "memberships"
        unique_together = (("user", "room"),)
        indexes = (("room_id",),)  # a room's members: the unique key leads with the user


async def room_for_member(user_id: int, slug: str) -> Room | None:
    """The room called ``slug`` if ``user_id`` belongs to it, else None (outsiders get 404)."""
    # A slug from a URL can be anything: what no room can be called never reaches the database
    # (NUL, lone surrogates or 10 MB would be database errors, i.e. 500s, not 404s).
    if not 0 < len(slug) <= SLUG_MAX or not slug.isprintable():
        return None
    return await Room.filter(slug=slug, memberships__user_id=user_id).first()


async def rooms_of(user_id: int) -> list[Room]:
    """Every room the user belongs to, by name."""
    return await Room.filter(memberships__user_id=user_id).order_by("name")
