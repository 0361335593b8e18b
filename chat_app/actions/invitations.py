"""Invitation links: made and revoked by workspace admins (page or CLI), spent by sign-ups.

A use is spent by one conditional UPDATE inside the sign-up's transaction, so two people
racing for the last use cannot both get in (PostgreSQL re-checks the condition after the
first commits; SQLite runs one write transaction at a time), and a sign-up that fails later
(a taken username) gives its use back by rolling back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart import current_app
from tortoise.expressions import F

from chat_app.config import MAX_INVITATION_DAYS, MAX_INVITATION_USES
from chat_app.models import Invitation, User
from chat_app.models.invitations import InvitationState, invitation_for_code, new_code


class InvitationError(ValueError):
    """An invitation that cannot be made, revoked or used; ``str()`` is safe to show and
    ``status`` is the HTTP status a page about it answers with."""

    status = 422


class InvitationInvalid(InvitationError):
    """The code names no invitation (malformed, forged, or mistyped)."""

    status = 404

    def __init__(self) -> None:
        super().__init__(
            "This invitation link is not valid. Check that you copied all of it, "
            "or ask for a new one."
        )


class InvitationSpent(InvitationError):
    """The invitation exists but lets nobody in any more: expired, revoked or used up."""

    status = 410

    def __init__(self, invitation: Invitation, state: InvitationState) -> None:
        self.state = state
        who = invitation.created_by.username if invitation.created_by else "an administrator"
        reason = {
            InvitationState.EXPIRED: "This invitation expired on "
            + invitation.expires_at.strftime("%Y-%m-%d at %H:%M UTC")
            + ".",
            InvitationState.REVOKED: "This invitation was withdrawn.",
            InvitationState.USED_UP: "This invitation has been used as many times as it allows.",
        }[state]
        super().__init__(f"{reason} Ask {who} for a new one.")


class NotAnAdmin(InvitationError):
    """Only workspace admins make and revoke invitations."""

    status = 404  # the admin pages do not exist for anyone else


def _count(raw: object, what: str, default: int, highest: int) -> int:
    """A whole number 1..``highest`` from a form field, a CLI option or code; ``default`` when
    blank or None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    if isinstance(raw, bool):
        raise InvitationError(f"The number of {what} must be a whole number.")
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str):
        if not text.isascii() or not text.isdigit() or len(text) > 6:
            raise InvitationError(f"The number of {what} must be a whole number, 1 to {highest}.")
        text = int(text)
    if not isinstance(text, int) or not 1 <= text <= highest:
        raise InvitationError(f"The number of {what} must be a whole number, 1 to {highest}.")
    return text


async def create_invitation(
    inviter: User | None, uses: object = None, days: object = None
) -> tuple[Invitation, str]:
    """A new invitation and its code (shown once: only a hash is kept).

    ``inviter`` must be a workspace admin; None means the operator (the CLI). ``uses`` and
    ``days`` default to ``CHAT_INVITATION_USES`` and ``CHAT_INVITATION_DAYS``.
    """
    if inviter is not None and not (inviter.is_admin and inviter.is_active):
        raise NotAnAdmin("Only workspace administrators can invite people.")
    cfg = current_app.config
    max_uses = _count(uses, "uses", cfg["INVITATION_USES"], MAX_INVITATION_USES)
    lifetime = _count(days, "days", cfg["INVITATION_DAYS"], MAX_INVITATION_DAYS)
    code, selector, verifier_hash = new_code()
    invitation = await Invitation.create(
        selector=selector,
        verifier_hash=verifier_hash,
        created_by=inviter,
        max_uses=max_uses,
        expires_at=datetime.now(UTC) + timedelta(days=lifetime),
    )
    return invitation, code


async def revoke_invitation(admin: User | None, invitation_id: object) -> bool:
    """Stop an invitation letting anyone else in; False if it was revoked already.

    ``admin`` must be a workspace admin (None: the operator). Accounts made with it stay.
    """
    if admin is not None and not (admin.is_admin and admin.is_active):
        raise NotAnAdmin("Only workspace administrators can revoke invitations.")
    raw = invitation_id.strip() if isinstance(invitation_id, str) else invitation_id
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 12:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw < 2**31:
        raise InvitationError("There is no such invitation.")
    if not await Invitation.exists(id=raw):
        raise InvitationError("There is no such invitation.")
    revoked = await Invitation.filter(id=raw, revoked_at__isnull=True).update(
        revoked_at=datetime.now(UTC)
    )
    return revoked == 1


async def usable_invitation(code: str) -> Invitation:
    """The invitation ``code`` names, if it still lets someone in (with its inviter);
    else InvitationInvalid or InvitationSpent saying why. Reads only."""
    invitation = await invitation_for_code(code)
    if invitation is None:
        raise InvitationInvalid()
    state = invitation.state(datetime.now(UTC))
    if state is not InvitationState.ACTIVE:
        raise InvitationSpent(invitation, state)
    return invitation


async def spend_invitation(code: str) -> Invitation:
    """Take one use of ``code``'s invitation; call inside the sign-up's transaction.

    One conditional UPDATE: it matches only while the invitation is unrevoked, unexpired and
    has a use left, so of two sign-ups racing for the last use exactly one succeeds.
    """
    invitation = await usable_invitation(code)
    spent = await Invitation.filter(
        id=invitation.id,
        revoked_at__isnull=True,
        expires_at__gt=datetime.now(UTC),
        uses__lt=F("max_uses"),
    ).update(uses=F("uses") + 1)
    if spent != 1:  # someone else took the last use (or it was revoked) meanwhile
        await invitation.refresh_from_db(fields=["uses", "revoked_at", "expires_at"])
        state = invitation.state(datetime.now(UTC))
        raise InvitationSpent(
            invitation, InvitationState.USED_UP if state is InvitationState.ACTIVE else state
        )
    return invitation
