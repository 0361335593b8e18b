"""Personal access tokens: a script's way in. Only a SHA-256 of each token is stored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from hmac import compare_digest

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from chat_app.models.users import User

TOKEN_PREFIX = "parley_"  # noqa: S105 - a prefix that marks our tokens in leaks, not a secret
NAME_MAX = 64
SCOPE_READ = "read"
SCOPE_WRITE = "read-write"
SCOPES = (SCOPE_READ, SCOPE_WRITE)


def token_digest(token: str) -> str:
    """The stored form of ``token``: hex SHA-256. The token carries 256 random bits, so a
    fast hash is enough (no guessing to slow down), and it makes the lookup one indexed query."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(Model):
    """One personal access token of a user. Deleting the row revokes it."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=NAME_MAX)
    digest = fields.CharField(max_length=64, unique=True)
    # The first characters of the token, shown in lists so people can tell theirs apart.
    hint = fields.CharField(max_length=16)
    scope = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "api_tokens"
        indexes = (("user_id",),)

    @property
    def writes(self) -> bool:
        """Whether this token may change things (POST, PATCH, DELETE…)."""
        return bool(self.scope == SCOPE_WRITE)


async def token_by_secret(token: str) -> ApiToken | None:
    """The unexpired token whose secret is ``token``, of an active user, with that user.

    Found by its digest (what an attacker controls is hashed before any comparison), and the
    digests compared once more in constant time."""
    digest = token_digest(token)
    found = (
        await ApiToken.filter(digest=digest, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=datetime.now(UTC)))
        .select_related("user")
        .first()
    )
    return found if found is not None and compare_digest(found.digest, digest) else None


async def tokens_of(user_id: int) -> list[ApiToken]:
    """``user_id``'s tokens, newest first."""
    return await ApiToken.filter(user_id=user_id).order_by("-id")
