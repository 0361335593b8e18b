"""Profiles: display name and avatar (on both storages), initials, and message grouping."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message
from chat_app.models import Room, User
from chat_app.storage import Storage
from tests.conftest import csrf_from
from tests.hostile import CORPUS, assert_inert, short
from tests.storing import exists, multipart, photo


async def save_profile(
    client: QuartClient, fields: dict[str, str], files: list[tuple[str, str, bytes]]
) -> tuple[int, str]:
    page = await (await client.get("/settings/profile")).get_data(as_text=True)
    body, headers = multipart({"csrf_token": csrf_from(page), **fields}, files)
    response = await client.post("/settings/profile", data=body, headers=headers)
    return response.status_code, await response.get_data(as_text=True)


async def test_an_avatar_is_cropped_square_and_shown_lazily(
    app: Quart, storage: Storage, alice: User, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    status, _ = await save_profile(
        alice_client, {"display_name": "Alice Liddell"}, [("avatar", "me.jpg", photo(300, 120))]
    )
    assert status == 303
    user = await User.get(id=alice.id)
    assert user.display_name == "Alice Liddell" and user.avatar_key
    assert user.avatar_url and await exists(storage, user.avatar_key)
    served = await bob_client.get(user.avatar_url)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(await served.get_data()))
    assert image.size == (128, 128) and not image.getexif()
    async with app.app_context():
        await post_message(alice, await Room.get(slug="general"), "hello", "avatarmsg01")
    page = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert re.search(rf'<img src="{user.avatar_url}" width="32" height="32" loading="lazy"', page)
    assert ">Alice Liddell</a>" in page
    # A new picture is a new address; the old one is gone.
    old = user.avatar_key
    await save_profile(alice_client, {"display_name": ""}, [("avatar", "b.jpg", photo(50, 50))])
    user = await User.get(id=alice.id)
    assert user.avatar_key != old and not await exists(storage, old)
    assert user.display_name is None
    assert (await bob_client.get(f"/avatars/{alice.id}/{old.split('/')[1]}")).status_code == 404
    await save_profile(alice_client, {"display_name": "", "remove_avatar": "on"}, [])
    assert (await User.get(id=alice.id)).avatar_key is None


async def test_without_a_picture_the_initials_show(
    app: Quart, alice: User, alice_client: QuartClient
) -> None:
    await save_profile(alice_client, {"display_name": "Alice Liddell"}, [])
    async with app.app_context():
        await post_message(alice, await Room.get(slug="general"), "hi", "initials001")
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert 'aria-hidden="true">AL</span>' in page


async def test_a_bad_avatar_is_refused_with_a_reason(app: Quart, alice_client: QuartClient) -> None:
    status, page = await save_profile(
        alice_client, {"display_name": "kept"}, [("avatar", "x.png", b"<svg onload=alert(1)>")]
    )
    assert status == 422 and "An avatar must be a JPEG, PNG, GIF or WebP image." in page
    assert 'value="kept"' in page
    status, page = await save_profile(alice_client, {"display_name": "x" * 65}, [])
    assert status == 422 and "at most 64 characters" in page


@pytest.mark.parametrize("payload", CORPUS[:-2], ids=short)
async def test_hostile_display_names_stay_inert(
    app: Quart, alice: User, alice_client: QuartClient, payload: str
) -> None:
    status, _ = await save_profile(alice_client, {"display_name": payload[:64]}, [])
    assert status in (303, 422)
    async with app.app_context():
        await post_message(alice, await Room.get(slug="general"), "named", "hostilename1")
    assert_inert(await (await alice_client.get("/rooms/general")).get_data(as_text=True))


async def test_the_grouping_sheet_names_the_rooms_authors_for_members_only(
    app: Quart, alice: User, bob: User, alice_client: QuartClient, bob_client: QuartClient
) -> None:
    general = await Room.get(slug="general")
    async with app.app_context():
        await post_message(alice, general, "one", "grouping001")
        await post_message(alice, general, "two", "grouping002")
    sheet = await alice_client.get("/rooms/general/authors.css")
    assert sheet.headers["Content-Type"].startswith("text/css")
    css = await sheet.get_data(as_text=True)
    pair = f'.chat[data-author-id="{alice.id}"]+.chat[data-author-id="{alice.id}"]'
    assert f"{pair}>.chat-header>[data-role=author]" in css and f"{pair}>.chat-image" in css
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert 'href="/rooms/general/authors.css"' in page
    assert (await bob_client.get("/rooms/nowhere/authors.css")).status_code == 404
