"""Where uploaded files are kept, behind one small interface: a local directory by default,
an S3-compatible bucket when several machines serve the app.

Keys are made here (``new_key``) and checked on the way in, so no key from a client ever
names a path of its own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from quart import Quart

KEY_RE = re.compile(r"^(files|thumbs|avatars)/[A-Za-z0-9_-]{16,64}$")


class FileMissing(LookupError):
    """The storage has no object under that key."""


@dataclass(frozen=True, slots=True)
class Stored:
    """An object in the storage, as the orphan sweep sees it."""

    key: str
    modified: datetime


def new_key(kind: str) -> str:
    """A fresh, unguessable key under ``kind`` (files, thumbs or avatars)."""
    key = f"{kind}/{secrets.token_urlsafe(24)}"
    check_key(key)
    return key


def check_key(key: str) -> str:
    """``key`` if it is one of ours, else ValueError (never a path of someone's choosing)."""
    if not KEY_RE.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    """What the app needs of a place to keep files."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what was there)."""

    async def get(self, key: str) -> bytes:
        """The object's bytes, or FileMissing."""

    def local_path(self, key: str) -> Path | None:
        """A file on this machine holding the object, when there is one (served streamed,
        ranges included); None for remote storage."""

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove these objects; missing ones are no error."""

    def stored(self) -> AsyncIterator[Stored]:
        """Every object, in no particular order (for the orphan sweep)."""

    async def close(self) -> None:
        """Release connections (the app is stopping)."""


def storage_from_config(config: dict[str, Any] | Any) -> Storage:
    """The storage the settings ask for."""
    if config["STORAGE"] == "s3":
        from chat_app.storage.s3 import S3Storage

        return S3Storage(
            bucket=config["S3_BUCKET"],
            prefix=config["S3_PREFIX"],
            endpoint_url=config["S3_ENDPOINT_URL"] or None,
            region=config["S3_REGION"],
            access_key_id=config["S3_ACCESS_KEY_ID"] or None,
            secret_access_key=config["S3_SECRET_ACCESS_KEY"] or None,
        )
    from chat_app.storage.local import LocalStorage

    return LocalStorage(Path(config["UPLOAD_DIR"]))


def storage_of(app: Quart) -> Storage:
    """The app's storage."""
    storage: Storage = app.extensions["storage"]
    return storage
