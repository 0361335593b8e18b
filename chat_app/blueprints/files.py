"""Files: uploading one from the composer (script), and serving files, thumbnails and
avatars, each only to whom may see it and never as a page of ours."""

from __future__ import annotations

import asyncio
from io import BytesIO
from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response, abort, current_app, request, send_file
from quart.datastructures import FileStorage
from quart_auth import login_required

from chat_app.actions.attachments import UploadRejected, store_upload
from chat_app.auth import room_or_404, viewer_user
from chat_app.errors import error_json
from chat_app.models import Attachment, Room, User
from chat_app.models.attachments import attachment_for_member
from chat_app.storage import FileMissing, storage_of

blueprint = Blueprint("files", __name__)

# No script, no plugin, no form, no navigation: even a browser that ignored the type and
# rendered a file as a page would find it inert, in an opaque origin of its own.
FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
CACHE_SECONDS = 24 * 3600


async def read_upload(upload: FileStorage) -> bytes:
    """An uploaded part's bytes (it may be spooled to disk: read in a thread), at most one
    byte more than the limit, so a too-large one is told apart without reading it all."""
    limit: int = current_app.config["UPLOAD_MAX_BYTES"]
    return await asyncio.to_thread(upload.read, limit + 1)


async def upload_all(user: User, room: Room, uploads: list[FileStorage]) -> list[int]:
    """Store each chosen file of a form (empty file inputs send a nameless, empty part);
    their ids, or UploadRejected for the first one refused."""
    ids = []
    for upload in uploads:
        if not upload.filename:
            continue
        stored = await store_upload(user, room, upload.filename, await read_upload(upload))
        ids.append(stored.id)
    return ids


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    """What the composer's script learns of an upload."""
    return {
        "id": attachment.id,
        "name": attachment.name,
        "size": attachment.size,
        "type": attachment.content_type,
        "thumbnail": f"/thumbs/{attachment.id}" if attachment.thumb_key else None,
    }


@blueprint.post("/rooms/<slug>/attachments")
@login_required
async def upload(slug: str) -> tuple[dict[str, Any], int]:
    """Keep one file (field ``file``) for a message still being written: 201 with its id,
    or the reason it was refused (413 too large, 422 refused, 429 over the budget)."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    part = (await request.files).get("file")
    if part is None:
        return error_json(422, "Choose a file to upload."), 422
    try:
        stored = await store_upload(user, room, part.filename, await read_upload(part))
    except UploadRejected as error:
        return error_json(error.status, str(error)), error.status
    return attachment_json(stored), 201


def _disposition(kind: str, name: str) -> str:
    """A Content-Disposition naming ``name`` safely: an ASCII fallback, and the real name
    percent-encoded (RFC 6266), so no quote or line break in a name can end the header."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _harden(response: Response, content_type: str, disposition: str) -> Response:
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    # Private: authorized content is kept by the browser only, never by a shared cache.
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response


async def _send(key: str, content_type: str) -> Response:
    """The object's bytes; ranges (for audio and video) and conditional requests answered."""
    storage = storage_of(current_app)
    path = storage.local_path(key)
    try:
        if path is not None:
            if not path.is_file():
                raise FileMissing(key)
            return await send_file(path, mimetype=content_type, conditional=True)
        data = await storage.get(key)
    except FileMissing:
        abort(404)
    return await send_file(BytesIO(data), mimetype=content_type, conditional=True)


@blueprint.get("/files/<int:attachment_id>")
@login_required
async def full(attachment_id: int) -> Response:
    """A file as uploaded (images: cleaned): inline for safe images, audio and video, as a
    download for everything else. Outsiders get 404."""
    user = await viewer_user()
    attachment = await attachment_for_member(user.id, attachment_id)
    if attachment is None:
        abort(404)
    served = attachment.content_type if attachment.inline else "application/octet-stream"
    kind = "inline" if attachment.inline else "attachment"
    response = await _send(attachment.key, served)
    return _harden(response, served, _disposition(kind, attachment.name))


@blueprint.get("/thumbs/<int:attachment_id>")
@login_required
async def thumbnail(attachment_id: int) -> Response:
    """An image's thumbnail (WebP), to whom may see the image."""
    user = await viewer_user()
    attachment = await attachment_for_member(user.id, attachment_id)
    if attachment is None or not attachment.thumb_key:
        abort(404)
    response = await _send(attachment.thumb_key, "image/webp")
    return _harden(response, "image/webp", _disposition("inline", "thumbnail.webp"))


@blueprint.get("/avatars/<int:user_id>/<token>")
@login_required
async def avatar(user_id: int, token: str) -> Response:
    """Someone's avatar, to anyone signed in (a new picture is a new URL: cached long)."""
    await viewer_user()
    owner = await User.get_or_none(id=user_id, is_active=True)
    if owner is None or owner.avatar_key is None or owner.avatar_key != f"avatars/{token}":
        abort(404)
    response = await _send(owner.avatar_key, "image/webp")
    response = _harden(response, "image/webp", _disposition("inline", "avatar.webp"))
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
