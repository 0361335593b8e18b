"""The privacy tasks: export-user, delete-user, and prune's retention, with a live tab that
sees what they do and a catch-up that agrees."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import AccountError, authenticate, post_message, register_user
from chat_app.actions.edits import delete_messages
from chat_app.actions.erasure import begin_deletion
from chat_app.housekeeping import housekeep, housekeep_forever
from chat_app.models import AuthSession, Change, ChangeKind, Message, Room, User
from chat_app.models.users import DELETED_USERNAME
from tests.conftest import PASSWORD, broker_replaced_by, fill_room
from tests.privacy_helpers import caught_up, live_tab, texts
from tests.test_cli import live_socket, run, wait_for_sockets


async def test_export_user_writes_the_zip_and_never_overwrites(
    app: Quart, alice: User, bob: User, general: Room, tmp_path: Path
) -> None:
    await fill_room(general, alice, 30, "alice")
    await fill_room(general, bob, 5, "bob")
    target = tmp_path / "alice.zip"
    result = await run(app, "export-user", "alice", "--output", str(target), "--batch-size", "7")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(target) as archive:
        lines = archive.read("messages.jsonl").decode().splitlines()
    assert [json.loads(line)["content"] for line in lines] == [f"alice {n}" for n in range(30)]
    again = await run(app, "export-user", "alice", "--output", str(target))
    assert again.exit_code != 0 and "exists" in again.output
    unknown = await run(app, "export-user", "nobody", "--output", str(tmp_path / "x.zip"))
    assert unknown.exit_code != 0 and "No user named" in unknown.output


async def test_delete_user_refuses_the_last_admin_and_deletes_in_batches(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, bob: User, general: Room
) -> None:
    root = await register_user("root", PASSWORD, is_admin=True)
    refused = await run(app, "delete-user", "root", "--yes")
    assert refused.exit_code != 0 and "only administrator" in refused.output
    assert await User.exists(id=root.id, is_active=True)
    alice = await User.get(username="alice")
    await fill_room(general, alice, 23, "alice")
    async with app.app_context():
        await post_message(bob, general, "bob stays", "client-b-0001")
    async with live_tab(bob_client) as bobs, live_socket(app, alice_client, "alice") as (hub, _):
        await bobs.settle(general.id)
        away = bobs.snapshot()
        result = await run(
            app, "delete-user", "alice", "--mode", "anonymize", "--batch-size", "5", "--yes"
        )
        assert result.exit_code == 0, result.output
        assert "23 messages kept as 'deleted user'" in result.output
        await wait_for_sockets(hub, alice.id, 0)
        await bobs.settle(general.id)
        live = bobs.shown()
    assert len(live) == 24
    assert sum(text.startswith(DELETED_USERNAME) for text in live.values()) == 23
    assert texts(await caught_up(bob_client, away, general.id)) == live
    assert not await User.exists(id=alice.id)
    assert not await AuthSession.exists(user_id=alice.id)
    # 23 edits in batches of 5: one "edited" change each, no more.
    assert await Change.filter(room_id=general.id, kind=ChangeKind.EDITED).count() == 23


async def test_prune_deletes_messages_past_retention_live_and_for_catch_up(
    app: Quart, bob_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    old = await fill_room(general, alice, 12, "old")
    recent = await fill_room(general, bob, 3, "recent")
    await Message.filter(id__in=old).update(created_at=datetime.now(UTC) - timedelta(days=40))
    off = await run(app, "prune")
    assert off.exit_code == 0 and "Retention is off" in off.output
    assert await Message.filter(id__in=old).count() == 12
    app.config["RETENTION_DAYS"] = 30
    try:
        async with live_tab(bob_client) as bobs:
            await bobs.settle(general.id)
            away = bobs.snapshot()
            result = await run(app, "prune", "--batch-size", "5")
            assert result.exit_code == 0, result.output
            assert "Deleted 12 messages older than 30 days." in result.output
            await bobs.settle(general.id)
            live = bobs.shown()
    finally:
        app.config["RETENTION_DAYS"] = 0
    assert set(live) == set(recent)
    assert texts(await caught_up(bob_client, away, general.id)) == live
    assert await Change.filter(room_id=general.id, kind=ChangeKind.DELETED).count() == 12
    assert list(await Message.all().order_by("id").values_list("id", flat=True)) == recent


class Deaf:
    """A broker that carries nothing: what a task in another process with memory:// is."""

    async def publish(self, event: object) -> None:
        del event


async def test_changes_no_event_announced_reach_open_tabs_at_housekeeping(
    app: Quart, bob_client: QuartClient, alice: User, general: Room
) -> None:
    ids = await fill_room(general, alice, 4, "old")
    # The app's own round (every PRESENCE_REFRESH_SECONDS) would deliver them too: once, in
    # a full run, it fell inside the window below. Held off, then started again.
    app.extensions["housekeeping"].cancel()
    try:
        async with live_tab(bob_client) as bobs:
            await bobs.settle(general.id)
            async with broker_replaced_by(app, Deaf()):
                assert await delete_messages(ids[:3]) == 3
            with contextlib.suppress(TimeoutError):
                await bobs.until(lambda: False, timeout=0.3)
            assert set(bobs.shown()) == set(ids)  # no event: nothing yet
            await housekeep(app)
            await asyncio.wait_for(bobs.settle(general.id), 3)
            assert set(bobs.shown()) == {ids[3]}
    finally:
        app.extensions["housekeeping"] = asyncio.create_task(housekeep_forever(app))


async def test_prune_finishes_a_deletion_a_stopped_server_left(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    await fill_room(general, alice, 3, "alice")
    async with app.app_context():
        await begin_deletion(alice)  # and then the server stopped
    assert not await signs_in_at_all(app, "alice")
    result = await run(app, "prune")
    assert result.exit_code == 0, result.output
    assert f"Finished deleting account {alice.id} (3 messages)." in result.output
    assert not await User.exists(id=alice.id)
    assert not await Message.exists(author_id=alice.id)
    assert await User.exists(id=bob.id, is_active=True)


async def signs_in_at_all(app: Quart, username: str) -> bool:
    async with app.app_context():
        try:
            await authenticate(username, PASSWORD)
        except AccountError:
            return False
    return True
