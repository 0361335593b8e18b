"""Files: uploads by script and by the plain form, on both storages; refused types and
sizes; hostile names; who may fetch a file and with which headers; deletion and the sweep."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from quart import Quart
from quart.datastructures import FileStorage
from quart.testing import QuartClient
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Response

from chat_app.actions import delete_message
from chat_app.actions.attachments import sweep_orphans
from chat_app.actions.rooms import create_room_by
from chat_app.models import Attachment, Message, User
from chat_app.storage import Storage, new_key
from tests.blueprints.test_live import drain, receive_until
from tests.conftest import ORIGIN, csrf_from, send_frame
from tests.hostile import CORPUS, assert_inert, short
from tests.storing import MP3, exists, multipart, photo, png, png_claiming

LIVE = "/rooms/general/live?after=0"


async def token_of(client: QuartClient, slug: str = "general") -> str:
    return csrf_from(await (await client.get(f"/rooms/{slug}")).get_data(as_text=True))


async def upload(
    client: QuartClient, name: str, data: bytes, slug: str = "general", token: str | None = None
) -> Response:
    """What the composer's script does: one file, the page's CSRF token as a header."""
    return await client.post(
        f"/rooms/{slug}/attachments",
        files={"file": FileStorage(io.BytesIO(data), filename=name, content_type="image/png")},
        headers={"X-CSRF-Token": token or await token_of(client, slug)},
    )


async def client_upload_json(client: QuartClient, data: bytes, token: str) -> Response:
    """An upload as the composer's script sends it, asking for JSON answers."""
    return await client.post(
        "/rooms/general/attachments",
        files={"file": FileStorage(io.BytesIO(data), filename="huge.bin")},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def uploaded(client: QuartClient, name: str, data: bytes, slug: str = "general") -> dict:
    response = await upload(client, name, data, slug)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return dict(await response.get_json())


@pytest.fixture
def small_limits(app: Quart) -> Iterator[None]:
    saved = {k: app.config[k] for k in ("UPLOAD_MAX_BYTES", "UPLOAD_MAX_PIXELS")}
    app.config.update(UPLOAD_MAX_BYTES=2000, UPLOAD_MAX_PIXELS=10_000)
    yield
    app.config.update(saved)


async def test_an_image_sent_over_the_socket_arrives_with_its_thumbnail(
    app: Quart, storage: Storage, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    file = await uploaded(alice_client, "holiday.jpg", photo(64, 32))
    assert file["type"] == "image/jpeg" and file["thumbnail"] == f"/thumbs/{file['id']}"
    async with (
        alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as alice_ws,
        bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws,
    ):
        await drain(alice_ws)
        await drain(bob_ws)
        frame = json.loads(send_frame("look"))
        await alice_ws.send(json.dumps(frame | {"attachments": str(file["id"])}))
        seen = await receive_until(bob_ws, f"/thumbs/{file['id']}")
    # Turned upright (EXIF 6: the 64x32 photo stands 32x64), shown at half the thumbnail's
    # size with that size in the markup, lazily, linking to the full image.
    img = re.search(r'<img src="/thumbs/\d+"[^>]*>', seen)
    assert img, seen
    assert 'width="16" height="32"' in img.group(0) and 'loading="lazy"' in img.group(0)
    assert f'href="/files/{file["id"]}"' in seen
    row = await Attachment.get(id=file["id"])
    assert row.message_id is not None and (row.width, row.height) == (32, 64)
    served = await bob_client.get(f"/files/{file['id']}")
    assert served.status_code == 200
    image = Image.open(io.BytesIO(await served.get_data()))
    assert image.size == (32, 64)
    assert not image.getexif()  # no GPS, no camera, no orientation left
    thumb = await bob_client.get(f"/thumbs/{file['id']}")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp"
    assert await exists(storage, row.key) and row.thumb_key and await exists(storage, row.thumb_key)


async def test_the_plain_form_posts_text_with_several_files(
    app: Quart, storage: Storage, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    token = await token_of(alice_client)
    body, headers = multipart(
        {"csrf_token": token, "client_id": "plainform01", "content": "two files"},
        [("files", "notes.txt", b"hello, plain text\n"), ("files", "dot.png", png())],
    )
    response = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert response.status_code == 303, await response.get_data(as_text=True)
    message = await Message.get(client_id="plainform01")
    files = await Attachment.filter(message_id=message.id).order_by("id")
    assert [(f.name, f.content_type) for f in files] == [
        ("notes.txt", "text/plain"),
        ("dot.png", "image/png"),
    ]
    page = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert "notes.txt" in page and "18 Bytes · text/plain" in page
    assert f'src="/thumbs/{files[1].id}"' in page


async def test_a_message_can_be_files_alone_but_not_nothing(
    app: Quart, alice_client: QuartClient
) -> None:
    token = await token_of(alice_client)
    body, headers = multipart(
        {"csrf_token": token, "client_id": "fileonly01", "content": ""},
        [("files", "a.txt", b"just a file")],
    )
    response = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert response.status_code == 303
    assert (await Message.get(client_id="fileonly01")).content == ""
    body, headers = multipart(
        {"csrf_token": token, "client_id": "nothing001", "content": ""}, [("files", "", b"")]
    )
    response = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert response.status_code == 422
    assert "Write something" in await response.get_data(as_text=True)


async def test_an_upload_is_sent_once_and_only_by_its_uploader(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    file = await uploaded(alice_client, "mine.txt", b"alice's")
    async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await drain(ws)
        frame = json.loads(send_frame("stealing"))
        await ws.send(json.dumps(frame | {"attachments": str(file["id"])}))
        seen = await receive_until(ws, "composer-error")
    assert "An attached file is gone or was sent already" in seen
    assert not await Message.filter(content="stealing").exists()
    for bad in ("1,x", [None], {"a": 1}, ",".join(str(n) for n in range(1, 12))):
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
            await drain(ws)
            await ws.send(json.dumps(json.loads(send_frame("bad ids")) | {"attachments": bad}))
            seen = await receive_until(ws, "composer-error")
        assert "attach them again" in seen or "at most 10 files" in seen


async def test_too_large_files_are_refused_clearly(
    app: Quart, small_limits: None, alice_client: QuartClient
) -> None:
    token = await token_of(alice_client)
    response = await upload(alice_client, "big.bin", b"\x01" * 2001, token=token)
    assert response.status_code == 413
    assert (await response.get_json())["error"]["message"] == "Files are at most 0.00190735 MB."
    # Far above: the body itself is refused before it is read.
    response = await client_upload_json(alice_client, b"\x01" * 200_000, token)
    assert response.status_code == 413
    assert (await response.get_json())["error"]["message"].startswith(
        "Files are at most 0.00190735 MB"
    )
    body, headers = multipart(
        {"csrf_token": token, "client_id": "toolarge01", "content": "keep me"},
        [("files", "big.bin", b"\x01" * 2001)],
    )
    response = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert response.status_code == 413
    page = await response.get_data(as_text=True)
    assert "Files are at most" in page and "keep me" in page
    assert not await Attachment.exists()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("page.png", b"<!DOCTYPE html><script>alert(1)</script>", "HTML pages"),
        ("x.png", b"  <html><body onload=alert(1)>", "HTML pages"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG"),
        ("logo.png", b'<?xml version="1.0"?><svg onload="alert(1)"/>', "SVG"),
        ("setup.jpg", b"MZ\x90\x00\x03" + b"\x00" * 200, "Windows programs"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "could not be read"),
        ("bomb.png", png_claiming(100_000, 100_000), "too many pixels"),
        ("empty.txt", b"", "empty"),
    ],
)
async def test_refused_types_say_why(
    app: Quart, alice_client: QuartClient, name: str, data: bytes, reason: str
) -> None:
    response = await upload(alice_client, name, data)
    assert response.status_code == 422
    assert reason in (await response.get_json())["error"]["message"]
    assert not await Attachment.exists()


async def test_images_above_the_pixel_limit_are_refused(
    app: Quart, small_limits: None, alice_client: QuartClient
) -> None:
    response = await upload(alice_client, "wide.png", png(200, 100))
    assert response.status_code == 422
    assert "at most 0 can be shared" in (await response.get_json())["error"]["message"]


async def test_the_type_comes_from_the_bytes_not_the_name(
    app: Quart, alice_client: QuartClient
) -> None:
    file = await uploaded(alice_client, "cat.png", b"really just text")
    assert file["type"] == "text/plain" and file["thumbnail"] is None
    response = await alice_client.get(f"/files/{file['id']}")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def _disposition_name(header: str) -> str:
    """The name a browser saves the file as (the RFC 6266 ``filename*`` wins)."""
    return parse_options_header(header)[1]["filename"]


@pytest.mark.parametrize("payload", CORPUS[:-2], ids=short)
async def test_hostile_filenames_are_kept_inert(
    app: Quart, alice_client: QuartClient, payload: str
) -> None:
    token = await token_of(alice_client)
    body, headers = multipart(
        {"csrf_token": token, "client_id": "hostile001", "content": "named"},
        [("files", payload, b"some text")],
    )
    response = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert response.status_code == 303, await response.get_data(as_text=True)
    file = await Attachment.get()
    assert file.name and len(file.name) <= 200
    assert not re.search("[\x00-\x1f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", file.name)
    served = await alice_client.get(f"/files/{file.id}")
    header = served.headers["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    assert _disposition_name(header) == file.name
    assert_inert(await (await alice_client.get("/rooms/general")).get_data(as_text=True))


async def test_files_reach_only_members_of_their_room(
    app: Quart, alice: User, bob: User, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    async with app.app_context():
        await create_room_by(alice, "Secret plans", "", "private")
    file = await uploaded(alice_client, "plan.png", png(), slug="secret-plans")
    token = await token_of(alice_client, "secret-plans")
    body, headers = multipart(
        {"csrf_token": token, "client_id": "secret0001", "attachments": str(file["id"])}, []
    )
    response = await alice_client.post("/rooms/secret-plans/messages", data=body, headers=headers)
    assert response.status_code == 303
    for url in (f"/files/{file['id']}", f"/thumbs/{file['id']}"):
        assert (await alice_client.get(url)).status_code == 200
        assert (await bob_client.get(url)).status_code == 404
    # Not sent yet: only its uploader sees it, even in an open room.
    unsent = await uploaded(alice_client, "draft.txt", b"draft")
    assert (await bob_client.get(f"/files/{unsent['id']}")).status_code == 404
    assert (await alice_client.get(f"/files/{unsent['id']}")).status_code == 200
    # An outsider cannot upload into the room either.
    response = await upload(bob_client, "x.txt", b"x", slug="secret-plans", token=token)
    assert response.status_code in (403, 404)


async def test_served_files_are_never_pages_of_ours(app: Quart, alice_client: QuartClient) -> None:
    image = await uploaded(alice_client, "dot.png", png())
    text = await uploaded(alice_client, "notes.txt", b"<b>not html</b> but text")
    audio = await uploaded(alice_client, "song.mp3", MP3)
    for file, inline in ((image, True), (text, False), (audio, True)):
        response = await alice_client.get(f"/files/{file['id']}")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
        assert response.headers["Content-Disposition"].startswith(
            "inline;" if inline else "attachment;"
        )
        assert "private" in response.headers["Cache-Control"]
        assert "html" not in response.headers["Content-Type"]
    assert audio["type"] == "audio/mpeg"
    ranged = await alice_client.get(f"/files/{audio['id']}", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and await ranged.get_data() == MP3[:4]
    assert ranged.headers["Content-Range"] == f"bytes 0-3/{len(MP3)}"


async def test_deleting_a_message_deletes_its_files(
    app: Quart, storage: Storage, alice: User, alice_client: QuartClient
) -> None:
    file = await uploaded(alice_client, "gone.jpg", photo())
    token = await token_of(alice_client)
    body, headers = multipart(
        {"csrf_token": token, "client_id": "todelete01", "attachments": str(file["id"])}, []
    )
    assert (
        await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    ).status_code == 303
    row = await Attachment.get(id=file["id"])
    keys = row.stored_keys()
    assert len(keys) == 2 and all([await exists(storage, k) for k in keys])
    message = await Message.get(client_id="todelete01")
    async with app.app_context():
        await delete_message(alice, message.id)
    assert not await Attachment.exists(id=file["id"])
    assert not any([await exists(storage, k) for k in keys])
    assert (await alice_client.get(f"/files/{file['id']}")).status_code == 404


async def test_the_sweep_removes_unsent_uploads_and_files_without_rows(
    app: Quart, storage: Storage, alice_client: QuartClient
) -> None:
    kept = await uploaded(alice_client, "kept.txt", b"kept")
    token = await token_of(alice_client)
    body, headers = multipart(
        {"csrf_token": token, "client_id": "keepthis01", "attachments": str(kept["id"])}, []
    )
    assert (
        await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    ).status_code == 303
    unsent = await uploaded(alice_client, "unsent.txt", b"never sent")
    fresh = await uploaded(alice_client, "fresh.txt", b"being written")
    await Attachment.filter(id__in=[kept["id"], unsent["id"]]).update(
        created_at=datetime.now(UTC) - timedelta(days=2)
    )
    stray = new_key("files")
    await storage.put(stray, b"no row", "text/plain")
    unsent_key = (await Attachment.get(id=unsent["id"])).key
    async with app.app_context():
        swept = await sweep_orphans(timedelta(hours=1))
        assert swept.uploads == 1 and swept.objects == 0  # the stray file is an hour young
        assert not await exists(storage, unsent_key)
        assert await Attachment.filter(id=fresh["id"]).exists()  # younger than the grace
        swept = await sweep_orphans(timedelta(0))
    # Now the fresh one too, and the stray file (with earlier tests' files, whose rows were
    # emptied without them).
    assert swept.uploads == 1 and swept.objects >= 1 and not await exists(storage, stray)
    assert await Attachment.filter(id=kept["id"]).exists()
    for row in await Attachment.all():
        assert await exists(storage, row.key)


async def test_the_sweep_task_runs_from_the_command_line(
    app: Quart, alice_client: QuartClient
) -> None:
    unsent = await uploaded(alice_client, "old.txt", b"old")
    await Attachment.filter(id=unsent["id"]).update(
        created_at=datetime.now(UTC) - timedelta(days=2)
    )
    runner = app.test_cli_runner()
    result = await asyncio.to_thread(runner.invoke, args=["sweep-uploads"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Removed 1 unsent uploads and ")
    assert not await Attachment.filter(id=unsent["id"]).exists()
