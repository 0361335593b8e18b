"""Configuration: DEFAULTS, then ``CHAT_*`` environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "sqlite://parley.sqlite3",
    "SECRET_KEY": "dev-only-insecure-secret-key-change-me",
    "BROKER_URL": "memory://",
    "BROKER_CHANNEL": "parley",
    # Where limits shared by every worker live: empty means with the broker (Redis, or
    # PostgreSQL for the postgres broker; memory for one process), or redis://… or postgres.
    "LIMITS_URL": "",
    "ALLOWED_ORIGINS": "",
    "DEFAULT_ROOM": "general",
    # Who may create rooms from the sidebar: "everyone" or "admins" (workspace admins).
    "ROOM_CREATION": "everyone",
    "DIRECT_MAX_MEMBERS": 8,  # people in one direct conversation, its starter included
    "MESSAGE_MAX_CHARS": 4000,
    "REACTIONS_PER_MESSAGE": 20,
    "MESSAGES_PER_SECOND": 5.0,
    "MESSAGES_BURST": 10,
    "HISTORY_PAGE_SIZE": 50,
    # A room page keeps at most this many messages in the DOM (static/js/window.js): older
    # ones leave while you read the newest and come back from the server as you scroll up.
    "DOM_WINDOW": 300,
    # Swaps that failed in browsers, reported to /client-errors: per user, per minute.
    "CLIENT_ERRORS_PER_MINUTE": 10,
    "WS_MAX_FRAME_BYTES": 64 * 1024,
    "WS_QUEUE_SIZE": 256,
    "WS_MAX_SOCKETS_PER_USER": 10,
    # Every frame a client sends (messages, typing, ...) spends from one budget per socket.
    "WS_FRAMES_PER_SECOND": 10.0,
    "WS_FRAMES_BURST": 30,
    "WS_FRAMES_DROPPED_BEFORE_CLOSE": 100,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "BODY_TIMEOUT": 15,  # seconds to receive a request body (Quart's setting; its default is 60)
    # Login throttling: failures per account name, attempts (logins and sign-ups) per address.
    "LOGIN_ACCOUNT_BURST": 5,
    "LOGIN_ACCOUNT_PER_MINUTE": 1.0,
    "LOGIN_ADDRESS_BURST": 20,
    "LOGIN_ADDRESS_PER_MINUTE": 10.0,
    # Requests per personal access token (every /api/ request made with it).
    "API_REQUESTS_PER_SECOND": 10.0,
    "API_REQUESTS_BURST": 60,
    # Outgoing webhooks: seconds per attempt, attempts, and (tests only) local receivers.
    "OUTGOING_TIMEOUT_SECONDS": 7.0,
    "OUTGOING_ATTEMPTS": 3,
    "OUTGOING_BACKOFF_SECONDS": 1.0,  # before the 2nd attempt; doubled before each next
    "OUTGOING_ALLOW_PRIVATE": False,
    "TRUSTED_PROXIES": 0,  # proxies in front whose X-Forwarded-For we believe; 0 = none
    "SESSION_DAYS": 14,
    # Who may create an account on /register: anyone ("open"), only people with an invitation
    # link ("invite"), or nobody ("closed": accounts come from `create-user`).
    "REGISTRATION": "open",
    # A new invitation link, unless its maker says otherwise: days it lasts, people it admits.
    "INVITATION_DAYS": 7,
    "INVITATION_USES": 1,
    "WORKSPACE_NAME": "Parley",
    # Where this site is reached; the `invite` task prints links under it (pages use the request).
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # Presence: the page heartbeats every HEARTBEAT_SECONDS; a socket silent for
    # SOCKET_IDLE_SECONDS is closed. Nodes refresh their sockets' rows every
    # PRESENCE_REFRESH_SECONDS; rows older than PRESENCE_STALE_SECONDS belong to a dead node.
    "HEARTBEAT_SECONDS": 20,
    "SOCKET_IDLE_SECONDS": 45,
    "PRESENCE_REFRESH_SECONDS": 10.0,
    "PRESENCE_STALE_SECONDS": 45.0,
    "TYPING_SIGNAL_SECONDS": 2.0,
    "TYPING_TTL_SECONDS": 6.0,
    # People lists are re-rendered at most once per this many seconds per node, and less often
    # on a busy node: each render goes to every socket, so with N sockets at most once per
    # N / PRESENCE_FRAMES_PER_SECOND seconds (10,000 sockets: every 5 s).
    "PRESENCE_RENDER_SECONDS": 0.25,
    "PRESENCE_FRAMES_PER_SECOND": 2000,
    # The people list shows a room's first PRESENCE_FULL_LIST_MAX members by name; rooms with
    # more get its counts and only the changed entries it lists, not all of it; a tab back in
    # such a room gets at most the latest PRESENCE_CATCH_UP_MAX changes.
    "PRESENCE_FULL_LIST_MAX": 100,
    "PRESENCE_CATCH_UP_MAX": 25,
    "COOKIE_SECURE": True,
    # /metrics wants this bearer token; when empty, only direct loopback clients may read it.
    "METRICS_TOKEN": "",
    "READY_TIMEOUT_SECONDS": 2.0,
    # Web Push (VAPID, RFC 8292): `python -m chat_app vapid-keys` prints the three; without
    # them push is off. The subject is how a push service reaches the operator (mailto:/https:).
    "VAPID_PRIVATE_KEY": "",
    "VAPID_PUBLIC_KEY": "",
    "VAPID_SUBJECT": "",
    "PUSH_CONCURRENCY": 8,  # requests to push services in flight at once, per process
    "PUSH_TIMEOUT_SECONDS": 10.0,
    "PUSH_TTL_SECONDS": 86400,  # how long a push service keeps one for a device that is off
    "PUSH_MAX_PENDING": 1000,  # messages waiting to be pushed; past it new ones are not pushed
    "PUSH_SUBSCRIPTIONS_PER_USER": 10,
    "PUSH_ALLOW_HTTP": False,  # plain-http endpoints: only for the tests' local push service
    # A deleted account's messages: "remove" them, or keep them shown as by "deleted user"
    # ("anonymize"). docs/privacy.md says what each does.
    "ACCOUNT_DELETION": "remove",
    # Messages older than this many days are deleted by `prune` (0: kept for ever).
    "RETENTION_DAYS": 0,
    # Where "Export my data" builds its ZIP files, and how long a finished one can be fetched.
    "EXPORT_DIR": "exports",
    "EXPORT_HOURS": 24,
    # Files: where they are kept ("local": UPLOAD_DIR; "s3": an S3-compatible bucket), and
    # the limits of an upload (docs/files.md).
    "STORAGE": "local",
    "UPLOAD_DIR": "uploads",
    "S3_BUCKET": "",
    "S3_ENDPOINT_URL": "",  # empty: AWS itself; set it for MinIO, Ceph, R2 and the like
    "S3_REGION": "us-east-1",
    "S3_ACCESS_KEY_ID": "",  # empty: botocore's usual chain (environment, profile, role)
    "S3_SECRET_ACCESS_KEY": "",
    "S3_PREFIX": "",
    "UPLOAD_MAX_BYTES": 25 * 1024 * 1024,
    "UPLOAD_MAX_FILES": 10,  # files on one message
    "UPLOAD_MAX_PIXELS": 40_000_000,  # larger images are refused (decompression bombs)
    "UPLOAD_BYTES_PER_HOUR": 500 * 1024 * 1024,  # per user; 0 turns the budget off
    "UPLOAD_TIMEOUT_SECONDS": 300,  # to receive an upload's body (other bodies: BODY_TIMEOUT)
    "UPLOAD_ORPHAN_HOURS": 24,  # files uploaded but never sent are swept after this long
    # Link previews (docs/messages.md): a message's first link gets a card, fetched after
    # posting through the guarded client (chat_app/outbound.py).
    "LINK_PREVIEWS": True,
    "LINK_PREVIEW_CONCURRENCY": 4,  # pages fetched at once, per process
    "LINK_PREVIEW_MAX_PENDING": 200,  # messages waiting for a preview; past it, none
    "LINK_PREVIEW_CACHE_SECONDS": 86400,  # a URL's card (or its absence) is kept this long
    "OUTBOUND_TIMEOUT_SECONDS": 5.0,  # one outbound request, redirects included
    "OUTBOUND_MAX_BYTES": 1024 * 1024,  # read of one answer
    # Addresses (or networks, comma-separated) the guard lets through although they are
    # private or loopback. For tests' local pages only: never set it in production.
    "OUTBOUND_ALLOW": "",
}

ENV_PREFIX = "CHAT_"
MAX_SESSION_DAYS = 14
REGISTRATION_MODES = ("open", "invite", "closed")
ACCOUNT_DELETION_MODES = ("remove", "anonymize")
MAX_INVITATION_DAYS = 365
MAX_INVITATION_USES = 10_000


def _coerce(default: Any, raw: str) -> Any:
    """Parse an environment string into the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the effective settings: defaults ← ``CHAT_*`` environment ← overrides."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + key)
        if raw is not None:
            settings[key] = _coerce(default, raw)
    settings.update(overrides or {})
    if not 1 <= settings["SESSION_DAYS"] <= MAX_SESSION_DAYS:
        raise ValueError(
            f"CHAT_SESSION_DAYS must be 1 to {MAX_SESSION_DAYS}: a stolen cookie lives that long."
        )
    if settings["REGISTRATION"] not in REGISTRATION_MODES:
        raise ValueError(f"CHAT_REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}.")
    if not 1 <= settings["INVITATION_DAYS"] <= MAX_INVITATION_DAYS:
        raise ValueError(f"CHAT_INVITATION_DAYS must be 1 to {MAX_INVITATION_DAYS}.")
    if not 1 <= settings["INVITATION_USES"] <= MAX_INVITATION_USES:
        raise ValueError(f"CHAT_INVITATION_USES must be 1 to {MAX_INVITATION_USES}.")
    if settings["STORAGE"] not in ("local", "s3"):
        raise ValueError("CHAT_STORAGE must be 'local' or 's3'.")
    if settings["STORAGE"] == "s3" and not settings["S3_BUCKET"]:
        raise ValueError("CHAT_STORAGE=s3 needs CHAT_S3_BUCKET.")
    if settings["ROOM_CREATION"] not in ("everyone", "admins"):
        raise ValueError("CHAT_ROOM_CREATION must be 'everyone' or 'admins'.")
    if settings["ACCOUNT_DELETION"] not in ACCOUNT_DELETION_MODES:
        raise ValueError("CHAT_ACCOUNT_DELETION must be 'remove' or 'anonymize'.")
    if settings["RETENTION_DAYS"] < 0:
        raise ValueError("CHAT_RETENTION_DAYS must be 0 (off) or a number of days.")
    if not 1 <= settings["EXPORT_HOURS"] <= 24 * 30:
        raise ValueError("CHAT_EXPORT_HOURS must be 1 to 720.")
    return settings


async def keep_session(connection: Any) -> None:
    """asyncpg's pool runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every connection it takes back, and Tortoise takes one per query: a second round trip
    for every query (12 % of a connect's CPU). Pooled sessions never hold what it undoes:
    advisory locks are per transaction, nothing LISTENs or SETs on them (the broker's LISTEN
    has its own connection). asyncpg still ends an open transaction before this runs."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise ORM configuration for one database URL (used by app, CLI and tests)."""
    connection: str | dict[str, Any] = database_url
    expanded = expand_db_url(database_url)
    if expanded["engine"] == "tortoise.backends.asyncpg":
        expanded["credentials"]["reset"] = keep_session
        connection = expanded
    return {
        "connections": {"default": connection},
        "apps": {
            "chat": {
                "models": ["chat_app.models"],
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` command line (`tortoise -c chat_app.config.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config(load()["DATABASE_URL"])
