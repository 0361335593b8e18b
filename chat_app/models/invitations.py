"""Invitation links: who may register when ``CHAT_REGISTRATION=invite``.

A code is ``<selector><verifier>``: the selector (public, unique) finds the row, the verifier
is stored only as its SHA-256 and compared in constant time. A leaked database therefore holds
no usable link, and a lookup's timing says nothing about the secret half. The verifier has
256 random bits, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from enum import StrEnum
from hmac import compare_digest

from tortoise import fields
from tortoise.models import Model

from chat_app.models.users import User

SELECTOR_LEN = 16  # token_urlsafe(12)
VERIFIER_LEN = 43  # token_urlsafe(32)
CODE_RE = re.compile(rf"[A-Za-z0-9_-]{{{SELECTOR_LEN + VERIFIER_LEN}}}")
LIST_LIMIT = 200


class InvitationState(StrEnum):
    """Whether a link still works, and if not, why."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used up"


class Invitation(Model):
    """A link that lets up to ``max_uses`` people register until ``expires_at``."""

    id = fields.IntField(primary_key=True)
    selector = fields.CharField(max_length=SELECTOR_LEN, unique=True)
    verifier_hash = fields.CharField(max_length=64)
    # None: made from the command line, by the operator rather than a person in the workspace.
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="invitations", null=True, on_delete=fields.SET_NULL
    )
    max_uses = fields.IntField()
    uses = fields.IntField(default=0, db_default=0)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    created_by_id: int | None

    class Meta:
        table = "invitations"

    def state(self, now: datetime) -> InvitationState:
        """Active, or the reason it no longer lets anyone in (revoked wins over the rest)."""
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.uses >= self.max_uses:
            return InvitationState.USED_UP
        if self.expires_at <= now:
            return InvitationState.EXPIRED
        return InvitationState.ACTIVE

    @property
    def uses_left(self) -> int:
        """How many more people may register with it (ignoring expiry and revocation)."""
        return max(0, self.max_uses - self.uses)


def new_code() -> tuple[str, str, str]:
    """A fresh code and what to store of it: ``(code, selector, verifier_hash)``."""
    selector, verifier = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    return selector + verifier, selector, _digest(verifier)


def _digest(verifier: str) -> str:
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def split_code(code: str) -> tuple[str, str] | None:
    """``(selector, verifier_hash)`` of a well-formed code, else None (never hits the database:
    10 KB, control characters or a lone surrogate stop here)."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        return None
    return code[:SELECTOR_LEN], _digest(code[SELECTOR_LEN:])


async def invitation_for_code(code: str) -> Invitation | None:
    """The invitation ``code`` names (with its inviter), in any state; None if the code is
    malformed, unknown or forged. One query."""
    parts = split_code(code)
    if parts is None:
        return None
    selector, verifier_hash = parts
    invitation = await Invitation.filter(selector=selector).select_related("created_by").first()
    if invitation is None or not compare_digest(invitation.verifier_hash, verifier_hash):
        return None
    return invitation


async def recent_invitations(limit: int = LIST_LIMIT) -> list[Invitation]:
    """The newest invitations with their inviters, for the admin page."""
    return await Invitation.all().select_related("created_by").order_by("-id").limit(limit)
