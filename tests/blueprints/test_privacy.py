"""Your data: the export (contents, isolation, background job, expiry, owner only) and the
deletion of an account (password, CSRF, last admin, both modes live and after catch-up)."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message, register_user, toggle_reaction
from chat_app.actions.data_exports import export_path, prune_exports
from chat_app.actions.directs import open_direct
from chat_app.actions.rooms import add_member, create_room_by
from chat_app.models import (
    Attachment,
    AuthSession,
    DataExport,
    Invitation,
    Membership,
    Message,
    PushSubscription,
    Reaction,
    Room,
    User,
)
from chat_app.models.data_exports import ExportState
from chat_app.models.users import DELETED_USERNAME
from chat_app.realtime.hub import Hub
from chat_app.storage import Storage
from tests.blueprints.test_profile import save_profile
from tests.conftest import PASSWORD, csrf_from, log_in
from tests.hostile import CORPUS, TEN_MB, post_form, short
from tests.privacy_helpers import caught_up, live_tab, texts
from tests.storing import exists, multipart, photo, png


@pytest.fixture(autouse=True)
def export_dir(app: Quart, tmp_path: Path) -> Iterator[Path]:
    """Exports are built in this test's own folder."""
    before = app.config["EXPORT_DIR"]
    app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    yield tmp_path / "exports"
    app.config["EXPORT_DIR"] = before


async def form_token(client: QuartClient) -> str:
    return csrf_from(await (await client.get("/settings/data")).get_data(as_text=True))


async def until(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def exported(client: QuartClient) -> zipfile.ZipFile:
    """Start an export from the settings page, wait for it, and download it."""
    response = await client.post(
        "/settings/data/export", form={"csrf_token": await form_token(client)}
    )
    assert response.status_code == 303
    status = ""
    async with asyncio.timeout(10):
        while "export-download" not in status:
            await asyncio.sleep(0.02)
            status = await (await client.get("/settings/data/export")).get_data(as_text=True)
    job = await DataExport.filter(state=ExportState.READY).order_by("-id").first()
    assert job is not None and f"/settings/data/exports/{job.id}" in status
    download = await client.get(f"/settings/data/exports/{job.id}")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(await download.get_data()))


async def test_an_export_holds_my_data_and_nobody_elses(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        secret = await create_room_by(bob, "Secret", "", "private")
        await add_member(bob, secret, "alice")
        hidden = await create_room_by(bob, "Hidden", "", "private")
        theirs = await post_message(bob, general, "bob public words", "client-b-0001")
        await post_message(bob, secret, "bob secret words", "client-b-0002")
        await post_message(bob, hidden, "bob hidden words", "client-b-0003")
        mine = await post_message(alice, general, "alice says hi", "client-a-0001")
        reply = await post_message(alice, general, "alice answers", "client-a-0002", theirs.id)
        in_secret = await post_message(alice, secret, "alice whispers", "client-a-0003")
        await toggle_reaction(alice, theirs.id, "🎉")
        await toggle_reaction(bob, mine.id, "👍")  # bob's reaction: bob's data
    archive = await exported(alice_client)
    assert set(archive.namelist()) == {
        "README.txt",
        "profile.json",
        "messages.jsonl",
        "reactions.jsonl",
    }
    lines = [json.loads(line) for line in archive.read("messages.jsonl").decode().splitlines()]
    assert [m["id"] for m in lines] == [mine.id, reply.id, in_secret.id]
    assert [m["content"] for m in lines] == ["alice says hi", "alice answers", "alice whispers"]
    assert lines[1]["reply_to"] == theirs.id  # the id only, never their words
    assert lines[2]["room"] == "secret" and lines[2]["room_name"] == "Secret"
    assert lines[2]["room_kind"] == "private"
    assert all(m["author"] == "alice" and m["created_at"] for m in lines)
    reactions = [json.loads(line) for line in archive.read("reactions.jsonl").decode().splitlines()]
    assert reactions == [
        {
            "message_id": theirs.id,
            "room": "general",
            "emoji": "🎉",
            "created_at": reactions[0]["created_at"],
        }
    ]
    profile = json.loads(archive.read("profile.json"))
    assert profile["username"] == "alice"
    assert {r["room"] for r in profile["rooms"]} == {"general", "secret"}
    assert len(profile["sessions"]) == 1 and "token" not in json.dumps(profile["sessions"])
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    for words in ("bob public words", "bob secret words", "bob hidden words", "👍", "hidden"):
        assert words not in everything


async def test_my_files_go_into_my_export_and_out_with_my_account(
    app: Quart, storage: Storage, alice_client: QuartClient, alice: User, general: Room
) -> None:
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    body, headers = multipart(
        {"csrf_token": csrf_from(page), "client_id": "filemine01", "content": "my file"},
        [("files", "../../notes.txt", b"my own words\n"), ("files", "dot.png", png())],
    )
    posted = await alice_client.post("/rooms/general/messages", data=body, headers=headers)
    assert posted.status_code == 303
    message = await Message.get(client_id="filemine01")
    rows = await Attachment.filter(message_id=message.id).order_by("id")
    archive = await exported(alice_client)
    names = sorted(n for n in archive.namelist() if n.startswith("files/"))
    assert len(names) == 2 and all(n.startswith(f"files/{message.id}/") for n in names)
    assert all(".." not in n.split("/") and n.count("/") == 2 for n in names)
    assert archive.read(names[0]) == b"my own words\n" and archive.read(names[1]) == png()
    status, _ = await save_profile(alice_client, {}, [("avatar", "me.jpg", photo(64, 64))])
    avatar = (await User.get(id=alice.id)).avatar_key
    assert status == 303 and avatar
    keys = [avatar, *(key for row in rows for key in row.stored_keys())]
    assert all([await exists(storage, key) for key in keys])
    token = await form_token(alice_client)
    deleted = await alice_client.post(
        "/settings/data/delete", form={"password": PASSWORD, "csrf_token": token}
    )
    assert deleted.status_code == 303
    await until(lambda: _gone("alice"))
    assert not await Attachment.filter(id__in=[row.id for row in rows]).exists()
    assert not any([await exists(storage, key) for key in keys])


async def test_the_export_is_a_job_whose_progress_the_page_shows(
    app: Quart, alice_client: QuartClient, alice: User
) -> None:
    job = await DataExport.create(user=alice, total=10, done=4)
    status = await (await alice_client.get("/settings/data/export")).get_data(as_text=True)
    assert "4 of 10 items (40 %)" in status and 'hx-trigger="every 2s"' in status
    page = await (await alice_client.get("/settings/data")).get_data(as_text=True)
    assert "4 of 10" in page and "<noscript>" in page  # without JS: a link to refresh
    # A job whose row stopped moving (its server went away) is failed, and polling stops.
    await DataExport.filter(id=job.id).update(updated_at=datetime.now(UTC) - timedelta(hours=1))
    status = await (await alice_client.get("/settings/data/export")).get_data(as_text=True)
    assert "could not be finished" in status and "hx-trigger" not in status


async def test_only_its_owner_downloads_an_export_and_only_until_it_expires(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    await exported(alice_client)
    job = await DataExport.get(state=ExportState.READY)
    url = f"/settings/data/exports/{job.id}"
    assert (await bob_client.get(url)).status_code == 404
    assert (await app.test_client().get(url)).status_code == 401
    for wrong in ("/settings/data/exports/abc", "/settings/data/exports/99999999999999999999"):
        assert (await alice_client.get(wrong)).status_code == 404
    async with app.app_context():
        path = export_path(job)
    assert path.is_file()
    await DataExport.filter(id=job.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await alice_client.get(url)).status_code == 404
    async with app.app_context():
        assert await prune_exports() == 1
    assert not path.exists() and not await DataExport.exists(id=job.id)


async def test_deleting_needs_the_form_token_and_the_password(
    app: Quart, alice_client: QuartClient, alice: User, general: Room
) -> None:
    no_token = await alice_client.post("/settings/data/delete", form={"password": PASSWORD})
    assert no_token.status_code == 403
    token = await form_token(alice_client)
    wrong = await alice_client.post(
        "/settings/data/delete", form={"password": "not my password", "csrf_token": token}
    )
    assert wrong.status_code == 422
    assert "not your password" in await wrong.get_data(as_text=True)
    for hostile in [*CORPUS[:-1], ""]:
        response = await post_form(
            alice_client, "/settings/data", "/settings/data/delete", {"password": hostile}
        )
        assert response.status_code in (422, 429), short(hostile)
        assert 'id="delete-error"' in await response.get_data(as_text=True)
    too_big = await post_form(
        alice_client, "/settings/data", "/settings/data/delete", {"password": TEN_MB}
    )
    assert too_big.status_code == 413
    assert (await User.get(id=alice.id)).is_active
    assert await AuthSession.exists(user_id=alice.id)
    assert (await alice_client.get("/rooms/general")).status_code == 200


async def test_the_last_admin_cannot_delete_their_account(app: Quart, general: Room) -> None:
    await register_user("root", PASSWORD, is_admin=True)
    root = await log_in(app, "root")
    page = await (await root.get("/settings/data")).get_data(as_text=True)
    assert "only administrator" in page and 'id="delete-password"' not in page
    response = await root.post(
        "/settings/data/delete", form={"password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 422
    assert "only administrator" in await response.get_data(as_text=True)
    assert await User.exists(username="root", is_active=True)
    await register_user("deputy", PASSWORD, is_admin=True)
    response = await root.post(
        "/settings/data/delete", form={"password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    await until(lambda: _gone("root"))


async def _gone(username: str) -> bool:
    return not await User.exists(username=username)


async def _conversation(app: Quart, alice: User, bob: User, general: Room) -> dict[str, int]:
    """Alice and Bob talk in #general: replies and reactions both ways."""
    async with app.app_context():
        one = await post_message(alice, general, "one from her", "client-a-0001")
        two = await post_message(alice, general, "two from her", "client-a-0002")
        theirs = await post_message(bob, general, "bob one", "client-b-0001")
        reply = await post_message(bob, general, "bob replies", "client-b-0002", one.id)
        await toggle_reaction(alice, theirs.id, "👍")
        await toggle_reaction(bob, two.id, "🎉")
    return {"one": one.id, "two": two.id, "theirs": theirs.id, "reply": reply.id}


async def _delete_live(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room
) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """Alice deletes her account while Bob's tab is open and another of his is away; what
    the open tab shows after, what the returning tab shows, and what a fresh one shows."""
    hub: Hub = app.extensions["hub"]
    async with live_tab(bob_client) as bobs, live_tab(alice_client) as alices:
        await bobs.settle(general.id)
        await alices.settle(general.id)
        away = bobs.snapshot()
        (alice_socket,) = hub.sockets_of_user(alice.id)
        token = await form_token(alice_client)
        response = await alice_client.post(
            "/settings/data/delete", form={"password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303 and response.headers["Location"] == "/goodbye"
        # Her sockets close at once (1008: the page does not reconnect), before the rest.
        assert (alice_socket.close_code, alice_socket.close_reason) == (1008, "signed out")
        await until(lambda: _gone("alice"))
        await bobs.settle(general.id)
        live = bobs.shown()
    returned = texts(await caught_up(bob_client, away, general.id))
    async with live_tab(bob_client) as fresh:
        await fresh.settle(general.id)
        loaded = fresh.shown()
    assert (await alice_client.get("/rooms/general")).status_code == 401
    return live, returned, loaded


async def test_a_removed_account_vanishes_live_and_after_catch_up(
    app: Quart,
    alice_client: QuartClient,
    bob_client: QuartClient,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    ids = await _conversation(app, alice, bob, general)
    live, returned, loaded = await _delete_live(app, alice_client, bob_client, alice, general)
    assert live == returned == loaded
    assert set(live) == {ids["theirs"], ids["reply"]}
    assert "👍" not in live[ids["theirs"]]  # her reaction went with her
    assert "Replying to a deleted message" in live[ids["reply"]]  # not her words
    assert not await Message.exists(id__in=[ids["one"], ids["two"]])
    assert not await Reaction.exists(emoji="👍")


async def test_an_anonymized_account_shows_as_deleted_user_live_and_after_catch_up(
    app: Quart,
    alice_client: QuartClient,
    bob_client: QuartClient,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    app.config["ACCOUNT_DELETION"] = "anonymize"
    try:
        ids = await _conversation(app, alice, bob, general)
        live, returned, loaded = await _delete_live(app, alice_client, bob_client, alice, general)
    finally:
        app.config["ACCOUNT_DELETION"] = "remove"
    assert live == returned == loaded
    assert set(live) == set(ids.values())
    for mine in ("one", "two"):
        assert live[ids[mine]].startswith(DELETED_USERNAME) and "alice" not in live[ids[mine]]
    assert "🎉 1" in live[ids["two"]]  # bob's reaction to her message stays
    assert "👍" not in live[ids["theirs"]]  # hers goes
    assert f"Replying to {DELETED_USERNAME}: one from her" in live[ids["reply"]]  # the quote too
    ghost = await User.get(username=DELETED_USERNAME)
    assert not ghost.is_active
    assert await Message.filter(author_id=ghost.id).count() == 2


async def test_deletion_hands_rooms_on_and_leaves_conversations_to_the_others(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        shared = await create_room_by(alice, "Shared", "", "private")
        await add_member(alice, shared, "bob")
        alone = await create_room_by(alice, "Alone", "", "private")
        direct = await open_direct(alice, [bob.id])
        await post_message(bob, direct, "just between us", "client-b-0001")
    await Invitation.create(
        selector="s" * 16,
        verifier_hash="0" * 64,
        created_by=alice,
        max_uses=1,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    await PushSubscription.create(
        user=alice, endpoint="https://push.example/1", p256dh="k", auth="a"
    )
    token = await form_token(alice_client)
    await alice_client.post(
        "/settings/data/delete", form={"password": PASSWORD, "csrf_token": token}
    )
    await until(lambda: _gone("alice"))
    assert (await Membership.get(room_id=shared.id, user_id=bob.id)).role == "admin"
    assert not await Room.exists(id=alone.id)
    direct = await Room.get(id=direct.id)
    assert direct.name == f"bob, {DELETED_USERNAME}"
    assert await Message.exists(room_id=direct.id, content="just between us")
    assert (await Invitation.get(selector="s" * 16)).revoked_at is not None
    assert not await PushSubscription.exists(endpoint="https://push.example/1")


async def test_the_forms_need_a_session_and_their_token(
    app: Quart, alice_client: QuartClient, alice: User
) -> None:
    stranger = app.test_client()
    assert (await stranger.get("/settings/data")).status_code == 401
    assert (await stranger.get("/settings/data/export")).status_code == 401
    assert (await alice_client.post("/settings/data/export")).status_code == 403
    assert not await DataExport.exists(user_id=alice.id)
    page = await (await alice_client.get("/settings/data")).get_data(as_text=True)
    assert 'autocomplete="current-password"' in page and 'for="delete-password"' in page
    assert "Your messages are removed" in page  # the default mode, said before it happens
