"""Registering, signing in and out; sessions are rows so they can be revoked."""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.invitations import spend_invitation
from chat_app.actions.limits import SharedLimit, shared_limiter
from chat_app.actions.rooms import join_room
from chat_app.db import finish_even_if_cancelled
from chat_app.models import AuthSession, User
from chat_app.realtime import publish
from chat_app.realtime.events import SessionsRevoked

USERNAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{1,31}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256

# The advisory lock taken while deciding whether a sign-up is the first (admin) account.
FIRST_ADMIN = 0x7061726C  # "parl"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(ValueError):
    """A registration or login the user must correct; ``str()`` is safe to show."""


class RegistrationClosed(AccountError):
    """This workspace does not take sign-ups from the form (or not without an invitation)."""

    status = 403


class LoginThrottled(AccountError):
    """Too many attempts from this address or on this account; ``retry_after`` in seconds."""

    def __init__(self, wait: float) -> None:
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(f"Too many sign-in attempts. Wait {self.retry_after} s, then try again.")


def _login_limiters() -> tuple[SharedLimit, SharedLimit]:
    """Failed logins per account name, and password hashes (any attempt) per client address."""
    cfg = current_app.config
    per_account = shared_limiter(
        "login_accounts", cfg["LOGIN_ACCOUNT_PER_MINUTE"] / 60, cfg["LOGIN_ACCOUNT_BURST"]
    )
    per_address = shared_limiter(
        "login_addresses", cfg["LOGIN_ADDRESS_PER_MINUTE"] / 60, cfg["LOGIN_ADDRESS_BURST"]
    )
    return per_account, per_address


async def _spend_attempt(address: str | None, account: str | None = None) -> None:
    """Raise LoginThrottled before any hashing if the address (or account) is out of tries."""
    per_account, per_address = _login_limiters()
    wait = max(
        await per_account.wait(account) if account is not None else 0.0,
        await per_address.wait(address) if address is not None else 0.0,
    )
    if wait:
        raise LoginThrottled(wait)
    if address is not None:
        await per_address.take(address)


def _secret(password: str) -> bytes:
    # A lone surrogate (possible from code or JSON, never from a form) must not crash hashing.
    return password.encode("utf-8", "surrogatepass")


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive; store and compare them lower-cased."""
    return raw.strip().lower()


def _hash_password(password: str) -> str:
    """The hash to store, or AccountError when the password is too short or too long."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"Passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters long.")
    return _hasher.hash(_secret(password))


async def register_user(
    username: str,
    password: str,
    default_room: str = "general",
    address: str | None = None,
    *,
    is_admin: bool = False,
    admin_if_first: bool = False,
    invitation: str | None = None,
) -> User:
    """Create an account and put it in the default room.

    ``address`` (the client's) shares the login budget: each registration costs a hash too.
    ``admin_if_first``: the first account of an empty database becomes an admin (the web form
    and the CLI ask for that; test fixtures do not). ``invitation``: a code whose use is spent
    in the same transaction (InvitationError, and no account, when it has none left).
    """
    username = normalize_username(username)
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(
            "Usernames are 2 to 32 characters: letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_'."
        )
    if address is not None:  # sign-ups from code (CLI, tests) have no address to limit
        await _spend_attempt(address)
    password_hash = _hash_password(password)
    # Nearly always there are users already: only an empty-looking table pays for the lock.
    maybe_first = admin_if_first and not is_admin and not await User.exists()
    try:
        return await finish_even_if_cancelled(
            _create_user(username, password_hash, default_room, is_admin, maybe_first, invitation)
        )
    except IntegrityError:
        raise AccountError("That username is taken.") from None


async def sign_up(
    username: str, password: str, address: str | None, invitation: str | None = None
) -> User:
    """Registration from the web form, under ``CHAT_REGISTRATION``: ``open`` takes anyone
    (with an invitation, its use is spent too), ``invite`` needs an invitation, ``closed``
    takes nobody. The first account of an empty database is an admin."""
    refused = registration_refused(invitation is not None)
    if refused:
        raise RegistrationClosed(refused)
    return await register_user(
        username,
        password,
        current_app.config["DEFAULT_ROOM"],
        address,
        admin_if_first=True,
        invitation=invitation,
    )


def registration_refused(has_invitation: bool) -> str | None:
    """Why the register form takes no sign-up now (None: it does), for the page to say."""
    cfg = current_app.config
    mode, workspace = cfg["REGISTRATION"], cfg["WORKSPACE_NAME"]
    if mode == "closed":
        return (
            f"Registration is closed: {workspace} does not take new sign-ups. "
            "Ask an administrator to create an account for you."
        )
    if mode == "invite" and not has_invitation:
        return (
            f"Joining {workspace} needs an invitation. "
            "Ask an administrator for an invitation link, then open it."
        )
    return None


async def _create_user(
    username: str,
    password_hash: str,
    default_room: str,
    is_admin: bool,
    maybe_first: bool,
    invitation: str | None,
) -> User:
    async with in_transaction() as connection:
        if invitation is not None:
            await spend_invitation(invitation)
        if maybe_first:
            if connection.capabilities.dialect == "postgres":
                # Two sign-ups on an empty database must not both become the first admin.
                # (SQLite runs one write transaction at a time already.)
                await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [FIRST_ADMIN])
            is_admin = not await User.exists()
        user = await User.create(username=username, password_hash=password_hash, is_admin=is_admin)
        await join_room(user, default_room)
    return user


async def authenticate(username: str, password: str, address: str | None = None) -> User:
    """The active user with these credentials; one vague error for every failure.

    Failures are throttled per account name (known or not, so the throttle reveals nothing)
    and attempts per client ``address``: both raise LoginThrottled before any hashing.
    """
    name = normalize_username(username)
    # Names that cannot exist share one bucket and never reach the database.
    account = name if USERNAME_RE.fullmatch(name) else None
    await _spend_attempt(address, account or "")
    user = await User.get_or_none(username=account, is_active=True) if account else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, _secret(password))
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        await _login_limiters()[0].take(account or "")
        raise AccountError("Wrong username or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(_secret(password))
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
