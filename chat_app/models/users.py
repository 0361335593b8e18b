"""Users and their server-side login sessions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

# Long IN lists go in batches: the ORM takes ~25 ms to build one of 10,000 values, all of it on
# the event loop, so housekeeping with 10,000 sockets would hold up every socket's frames.
IN_LIST_BATCH = 500

# The one account that messages kept after their author deleted theirs belong to
# (CHAT_ACCOUNT_DELETION=anonymize). No one can sign up as it: a username has no spaces.
DELETED_USERNAME = "deleted user"
# The password hash of an account being deleted: no password matches it, and `prune` finishes
# the deletion of any account left with it (a server stopped half-way through).
DELETION_PENDING = "!deletion pending"


class User(Model):
    """A person who can sign in."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=32, unique=True)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    is_admin = fields.BooleanField(default=False, db_default=False)
    # A bot is an account an admin made for an integration: it has tokens, never a password.
    is_bot = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Profile: shown instead of the username when set; the avatar's key in the storage.
    display_name = fields.CharField(max_length=64, null=True)
    avatar_key = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "users"

    def __str__(self) -> str:
        return self.username

    @property
    def is_deleted_placeholder(self) -> bool:
        """Whether this is the "deleted user" that anonymized messages are shown as by."""
        return self.username == DELETED_USERNAME

    @property
    def shown_name(self) -> str:
        """What messages and lists call this person."""
        return self.display_name or self.username

    @property
    def initials(self) -> str:
        """Up to two letters for an avatar without a picture."""
        words = self.shown_name.split()
        letters = "".join(w[0] for w in words[:2]) if len(words) > 1 else self.shown_name[:2]
        return letters.upper()

    @property
    def avatar_url(self) -> str | None:
        """Where the avatar is served (the key's token in the path: a new one is a new URL,
        so browsers may cache each for long)."""
        if not self.avatar_key:
            return None
        return f"/avatars/{self.id}/{self.avatar_key.rsplit('/', 1)[1]}"


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
        indexes = (("user_id",),)  # "log out everywhere" and deactivation find them by user


def in_session(token: str, via: str = "", now: datetime | None = None) -> Q:
    """The filter for the active user whose session ``token`` is, unexpired at ``now`` (by
    default the present), on a query that reaches the user through ``via`` (a relation path
    ending in ``__``, or none: users)."""
    conditions: dict[str, Any] = {
        f"{via}sessions__token": token,
        f"{via}sessions__expires_at__gt": now or datetime.now(UTC),
        f"{via}is_active": True,
    }
    return Q(**conditions)


async def session_user(token: str) -> User | None:
    """The active user whose unexpired session ``token`` is, or None: one query."""
    return await User.filter(in_session(token)).first()


async def valid_session_tokens(tokens: set[str]) -> set[str]:
    """Those of ``tokens`` whose session exists, has not expired and belongs to an active user."""
    valid: set[str] = set()
    now = datetime.now(UTC)
    for batch in itertools.batched(sorted(tokens), IN_LIST_BATCH, strict=False):
        rows = await AuthSession.filter(
            token__in=batch, expires_at__gt=now, user__is_active=True
        ).values_list("token", flat=True)
        valid.update(str(token) for token in rows)
    return valid
