"""Files in a local directory (``CHAT_UPLOAD_DIR``): one machine, or a shared mount."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

from chat_app.storage import FileMissing, Stored, check_key

KINDS = ("files", "thumbs", "avatars")


class LocalStorage:
    """Objects as files under ``root``: ``root/<kind>/<token>``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write through a temporary name and rename: a reader never sees half a file."""
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        partial.write_bytes(data)
        os.replace(partial, path)

    async def get(self, key: str) -> bytes:
        """The file's bytes, or FileMissing."""
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as error:
            raise FileMissing(key) from error

    def local_path(self, key: str) -> Path | None:
        """The file itself."""
        return self._path(key)

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove the files; missing ones are no error."""
        paths = [self._path(key) for key in keys]
        await asyncio.to_thread(self._unlink, paths)

    @staticmethod
    def _unlink(paths: list[Path]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def stored(self) -> AsyncIterator[Stored]:
        """Every object file (temporary ``.part`` files are not objects)."""
        entries = await asyncio.to_thread(self._scan)
        for entry in entries:
            yield entry

    def _scan(self) -> list[Stored]:
        found: list[Stored] = []
        for kind in KINDS:
            folder = self.root / kind
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name.startswith("."):
                    continue
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                found.append(Stored(f"{kind}/{path.name}", modified))
        return found

    async def close(self) -> None:
        """Nothing to release."""
