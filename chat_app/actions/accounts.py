"""Registering, signing in and out; sessions are rows so they can be revoked."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.rooms import join_room
from chat_app.models import AuthSession, User
from chat_app.realtime import publish
from chat_app.realtime.events import SessionsRevoked

USERNAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{1,31}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(ValueError):
    """A registration or login the user must correct; ``str()`` is safe to show."""


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive; store and compare them lower-cased."""
    return raw.strip().lower()


def _hash_password(password: str) -> str:
    """The hash to store, or AccountError when the password is too short or too long."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"Passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters long.")
    return _hasher.hash(password)


async def register_user(
    username: str, password: str, default_room: str = "general", *, is_admin: bool = False
) -> User:
    """Create an account and put it in the default room."""
    username = normalize_username(username)
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(
            "Usernames are 2 to 32 characters: letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_'."
        )
    password_hash = _hash_password(password)
    try:
        async with in_transaction():
            user = await User.create(
                username=username, password_hash=password_hash, is_admin=is_admin
            )
            await join_room(user, default_room)
    except IntegrityError:
        raise AccountError("That username is taken.") from None
    return user


async def authenticate(username: str, password: str) -> User:
    """The active user with these credentials; one vague error for every failure."""
    user = await User.get_or_none(username=normalize_username(username), is_active=True)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise AccountError("Wrong username or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        await user.save(update_fields=["password_hash"])
    return user


async def start_session(user: User, days: int) -> str:
    """Record a new signed-in browser and return the token its cookie will carry."""
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(days=days)
    await AuthSession.create(token=token, user=user, expires_at=expires_at)
    return token


async def end_session(token: str) -> None:
    """Revoke one session (logout); its open sockets are closed on every node."""
    session = await AuthSession.get_or_none(token=token)
    if session is not None:
        await session.delete()
        await publish(SessionsRevoked(user_id=session.user_id, session_token=token))


async def end_all_sessions(user: User) -> None:
    """Revoke every session of ``user`` ("log out everywhere"); all their sockets close."""
    await AuthSession.filter(user_id=user.id).delete()
    await publish(SessionsRevoked(user_id=user.id))


async def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password and sign them out everywhere (an old cookie may be stolen)."""
    user.password_hash = _hash_password(password)
    await user.save(update_fields=["password_hash"])
    await end_all_sessions(user)


async def deactivate_user(user: User) -> bool:
    """Stop ``user`` signing in and close their sockets. False if already inactive. Idempotent."""
    changed = user.is_active
    if changed:
        user.is_active = False
        await user.save(update_fields=["is_active"])
    # Even when already inactive: a leftover session must not keep a socket open.
    await end_all_sessions(user)
    return changed


async def prune_sessions() -> int:
    """Delete expired sessions (their cookies no longer work anyway); how many went."""
    return await AuthSession.filter(expires_at__lte=datetime.now(UTC)).delete()
