"""Configuration: DEFAULTS, then ``CHAT_*`` environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "sqlite://parley.sqlite3",
    "SECRET_KEY": "dev-only-insecure-secret-key-change-me",
    "BROKER_URL": "memory://",
    "BROKER_CHANNEL": "parley",
    "ALLOWED_ORIGINS": "",
    "DEFAULT_ROOM": "general",
    "MESSAGE_MAX_CHARS": 4000,
    "MESSAGES_PER_SECOND": 5.0,
    "MESSAGES_BURST": 10,
    "HISTORY_PAGE_SIZE": 50,
    "WS_MAX_FRAME_BYTES": 64 * 1024,
    "WS_QUEUE_SIZE": 256,
    "WS_MAX_SOCKETS_PER_USER": 10,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SESSION_DAYS": 14,
    # Presence: the page heartbeats every HEARTBEAT_SECONDS; a socket silent for
    # SOCKET_IDLE_SECONDS is closed. Nodes refresh their sockets' rows every
    # PRESENCE_REFRESH_SECONDS; rows older than PRESENCE_STALE_SECONDS belong to a dead node.
    "HEARTBEAT_SECONDS": 20,
    "SOCKET_IDLE_SECONDS": 45,
    "PRESENCE_REFRESH_SECONDS": 10.0,
    "PRESENCE_STALE_SECONDS": 45.0,
    "TYPING_SIGNAL_SECONDS": 2.0,
    "TYPING_TTL_SECONDS": 6.0,
    "COOKIE_SECURE": True,
    # /metrics wants this bearer token; when empty, only direct loopback clients may read it.
    "METRICS_TOKEN": "",
    "READY_TIMEOUT_SECONDS": 2.0,
}

ENV_PREFIX = "CHAT_"


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
    return settings


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise ORM configuration for one database URL (used by app, CLI and tests)."""
    return {
        "connections": {"default": database_url},
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
