"""Personal access tokens: made (shown once), used, revoked."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from chat_app.models import ApiToken, User
from chat_app.models.tokens import NAME_MAX, SCOPES, TOKEN_PREFIX, token_digest

TOKEN_DAYS_MAX = 366
TOKENS_PER_USER = 50
# last_used_at is a write per request otherwise; a minute is as precise as anyone needs.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made as asked; ``str()`` says why."""


def _clean_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(text) <= NAME_MAX or not text.isprintable():
        raise TokenError(f"A token needs a name: 1 to {NAME_MAX} characters on one line.")
    return text


def _clean_days(days: object) -> int | None:
    if days in (None, "", 0, "0"):
        return None
    text = str(days) if isinstance(days, int | str) else ""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= TOKEN_DAYS_MAX):
        raise TokenError(f"A token lasts 1 to {TOKEN_DAYS_MAX} days, or until it is revoked.")
    return int(text)


async def create_token(
    user: User, name: object, scope: object, days: object = None
) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its secret, which is shown this once and never stored."""
    if scope not in SCOPES:
        raise TokenError("A token reads (read) or reads and writes (read-write).")
    clean_name, clean_days = _clean_name(name), _clean_days(days)
    if await ApiToken.filter(user_id=user.id).count() >= TOKENS_PER_USER:
        raise TokenError(f"At most {TOKENS_PER_USER} tokens per account: revoke one first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=clean_days) if clean_days else None
    token = await ApiToken.create(
        user_id=user.id,
        name=clean_name,
        digest=token_digest(secret),
        hint=secret[: len(TOKEN_PREFIX) + 4],
        scope=str(scope),
        expires_at=expires,
    )
    return token, secret


async def revoke_token(user: User, token_id: object) -> bool:
    """Delete ``user``'s token ``token_id``; False if they have no such token."""
    text = str(token_id) if isinstance(token_id, int | str) else ""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 18):
        return False
    return bool(await ApiToken.filter(id=int(text), user_id=user.id).delete())


async def note_use(token: ApiToken) -> None:
    """Remember when ``token`` was last used, at most once a minute (one UPDATE then)."""
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        await ApiToken.filter(id=token.id).update(last_used_at=now)
