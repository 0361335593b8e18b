"""A person's profile: the name others see and their avatar."""

from __future__ import annotations

import asyncio
import unicodedata

from quart import current_app

from chat_app.actions.attachments import discard
from chat_app.media import UNSEEN_RE, MediaRejected, square_avatar
from chat_app.models import User
from chat_app.storage import new_key, storage_of

DISPLAY_NAME_MAX = 64


class ProfileRejected(ValueError):
    """Nothing was changed; ``str()`` says why."""


def clean_display_name(raw: object) -> str | None:
    """The name to show, or None (the username then): without invisible or
    direction-changing characters, spaces collapsed; ProfileRejected when too long."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ProfileRejected("A name must be text.")
    name = " ".join(UNSEEN_RE.sub("", unicodedata.normalize("NFC", raw)).split())
    if len(name) > DISPLAY_NAME_MAX:
        raise ProfileRejected(f"A name is at most {DISPLAY_NAME_MAX} characters.")
    return name or None


async def update_profile(
    user: User, display_name: object, avatar: bytes | None = None, remove_avatar: bool = False
) -> User:
    """Set ``user``'s display name and, when given, a new avatar (oriented, cropped to its
    centre square, resized, metadata gone) or none; the old picture is removed afterwards.
    ProfileRejected says what was wrong; then nothing changed."""
    name = clean_display_name(display_name)
    old = user.avatar_key
    key = old
    if avatar:
        limit: int = current_app.config["UPLOAD_MAX_BYTES"]
        if len(avatar) > limit:
            raise ProfileRejected(f"An avatar is at most {limit / 1048576:g} MB.")
        try:
            pixels = current_app.config["UPLOAD_MAX_PIXELS"]
            square = await asyncio.to_thread(square_avatar, avatar, pixels)
        except MediaRejected as error:
            raise ProfileRejected(str(error)) from error
        key = new_key("avatars")
        await storage_of(current_app).put(key, square, "image/webp")
    elif remove_avatar:
        key = None
    await User.filter(id=user.id).update(display_name=name, avatar_key=key)
    user.display_name, user.avatar_key = name, key
    if old and old != key:
        await discard([old])
    return user
