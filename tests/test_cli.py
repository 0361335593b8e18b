"""Operator tasks through Quart's CLI runner, on the suite's real database."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import authenticate, start_session
from chat_app.cli import COMMANDS
from chat_app.housekeeping import housekeep
from chat_app.models import AuthSession, LiveSocket, Message, Room, User, UserPresence
from chat_app.push import vapid_keys
from chat_app.realtime.hub import Hub
from tests.conftest import ORIGIN, PASSWORD, fill_room

NEW_PASSWORD = "a brand new passphrase"


async def run(app: Quart, *args: str, input: str | None = None) -> Result:
    """Invoke a task as ``quart --app chat_app ...`` would, from a thread (the loop is busy)."""
    runner = app.test_cli_runner()
    return await asyncio.to_thread(runner.invoke, args=list(args), input=input)


async def age_messages(days: int) -> None:
    """Make every stored message ``days`` days old."""
    await Message.all().update(created_at=datetime.now(UTC) - timedelta(days=days))


async def wait_for_sockets(hub: Hub, user_id: int, count: int) -> None:
    async with asyncio.timeout(5):
        while hub.sockets_of(user_id) != count:
            await asyncio.sleep(0.01)


@asynccontextmanager
async def live_socket(
    app: Quart, browser: QuartClient, username: str
) -> AsyncIterator[tuple[Hub, User]]:
    """``username`` with one socket open in #general; the hub and the user."""
    hub: Hub = app.extensions["hub"]
    user = await User.get(username=username)
    async with browser.websocket("/rooms/general/live", headers={"Origin": ORIGIN}):
        await wait_for_sockets(hub, user.id, 1)
        yield hub, user


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
async def test_every_task_explains_itself(app: Quart, command: str) -> None:
    result = await run(app, command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


async def signs_in(app: Quart, username: str, password: str) -> User:
    """The user, if these credentials pass the real login check (it lives on the app)."""
    async with app.app_context():
        return await authenticate(username, password)


async def test_create_user_makes_an_admin_who_can_sign_in(app: Quart) -> None:
    result = await run(app, "create-user", "Carol", "--admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    carol = await signs_in(app, "carol", PASSWORD)
    assert carol.is_admin
    assert await Room.filter(slug="general", memberships__user_id=carol.id).exists()
    assert PASSWORD not in result.output


async def test_create_user_twice_leaves_the_first_one_alone(app: Quart, alice: User) -> None:
    result = await run(app, "create-user", "alice", "--password", NEW_PASSWORD)
    assert result.exit_code == 0
    assert "already exists" in result.output
    await signs_in(app, "alice", PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [("carol", "short", "Passwords are 8 to 256"), ("no spaces", PASSWORD, "Usernames are")],
)
async def test_create_user_explains_invalid_input(
    app: Quart, username: str, password: str, error: str
) -> None:
    result = await run(app, "create-user", username, "--password", password)
    assert result.exit_code == 1
    assert error in result.output
    assert not await User.exists()


async def test_reset_password_replaces_it_and_ends_every_session(app: Quart, alice: User) -> None:
    await start_session(alice, days=1)
    result = await run(app, "reset-password", "alice", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    await signs_in(app, "alice", NEW_PASSWORD)
    assert not await AuthSession.filter(user_id=alice.id).exists()


async def test_tasks_name_an_unknown_user_or_room(app: Quart) -> None:
    for args in (
        ["reset-password", "nobody", "--password", NEW_PASSWORD],
        ["deactivate-user", "nobody"],
        ["rename-room", "nowhere", "New name"],
        ["export-room", "nowhere"],
    ):
        result = await run(app, *args)
        assert result.exit_code == 1
        assert "'nobody'" in result.output or "'nowhere'" in result.output


async def test_deactivate_user_blocks_sign_in_and_closes_their_sockets(
    app: Quart, alice_client: QuartClient, general: Room
) -> None:
    async with live_socket(app, alice_client, "alice") as (hub, alice):
        result = await run(app, "deactivate-user", "alice")
        assert result.exit_code == 0, result.output
        await wait_for_sockets(hub, alice.id, 0)
    assert not (await User.get(id=alice.id)).is_active
    assert "already inactive" in (await run(app, "deactivate-user", "alice")).output
    response = await alice_client.get("/rooms/general")
    assert response.status_code == 401


async def test_sockets_of_a_user_deactivated_elsewhere_close_at_housekeeping(
    app: Quart, alice_client: QuartClient, general: Room
) -> None:
    async with live_socket(app, alice_client, "alice") as (hub, alice):
        await housekeep(app)
        assert hub.sockets_of(alice.id) == 1  # a valid session stays
        # What deactivate-user does in another process, whose event this one never hears:
        await User.filter(id=alice.id).update(is_active=False)
        await housekeep(app)
        await wait_for_sockets(hub, alice.id, 0)


async def test_rooms_are_created_renamed_and_archived_idempotently(app: Quart) -> None:
    assert (await run(app, "create-room", "ops", "--name", "Operations")).exit_code == 0
    again = await run(app, "create-room", "ops", "--name", "Other")
    assert "already exists" in again.output
    assert (await Room.get(slug="ops")).name == "Operations"
    assert (await run(app, "rename-room", "ops", "  Ops & on-call ")).exit_code == 0
    assert (await Room.get(slug="ops")).name == "Ops & on-call"
    assert (await run(app, "archive-room", "ops")).exit_code == 0
    archived_at = (await Room.get(slug="ops")).archived_at
    assert archived_at is not None
    assert "already archived" in (await run(app, "archive-room", "ops")).output
    assert (await Room.get(slug="ops")).archived_at == archived_at


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["create-room", "Not A Slug"], "Room slugs are"),
        (["create-room", "ok", "--name", " "], "Room names are"),
    ],
)
async def test_room_tasks_explain_invalid_input(app: Quart, args: list[str], error: str) -> None:
    result = await run(app, *args)
    assert result.exit_code == 1
    assert error in result.output
    assert not await Room.exists()


async def test_seed_adds_users_and_history_once(app: Quart) -> None:
    result = await run(app, "seed", "--users", "3", "--messages", "2500", "--days", "7")
    assert result.exit_code == 0, result.output
    assert "2500 messages added" in result.output
    assert await User.filter(username__startswith="demo-").count() == 3
    room = await Room.get(slug="general")
    assert await Message.filter(room_id=room.id).count() == 2500
    times = (
        await Message.filter(room_id=room.id).order_by("id").values_list("created_at", flat=True)
    )
    assert times == sorted(times) and times[0] < times[-1] - timedelta(days=6)  # spread over time
    again = await run(app, "seed", "--users", "3", "--messages", "2500", "--days", "7")
    assert "0 messages added" in again.output
    assert await Message.all().count() == 2500


async def test_prune_removes_dead_sockets_and_expired_sessions(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    for user in (alice, bob):
        await UserPresence.create(user=user, is_online=True)
        await LiveSocket.create(id=f"dead-{user.id}", user=user, room=general, node="gone")
    await LiveSocket.create(id="alive", user=bob, room=general, node="here")
    await LiveSocket.filter(id__startswith="dead-").update(seen_at=long_ago)
    await start_session(alice, days=1)
    await AuthSession.create(token="expired", user=alice, expires_at=long_ago)

    result = await run(app, "prune")
    assert result.exit_code == 0, result.output
    # Not an exact count: the app's own housekeeping may sweep the same rows first.
    assert "users offline; removed" in result.output
    assert await LiveSocket.all().values_list("id", flat=True) == ["alive"]
    assert not (await UserPresence.get(user_id=alice.id)).is_online
    assert (await UserPresence.get(user_id=bob.id)).is_online
    assert not await AuthSession.filter(token="expired").exists()
    assert "Marked 0 users offline; removed 0" in (await run(app, "prune")).output


TRICKY = 'comma, "quotes", a\nnewline and ünïcödé'


async def test_export_writes_json_lines_in_order(
    app: Quart, alice: User, general: Room, tmp_path: Path
) -> None:
    ids = await fill_room(general, alice, 25)
    await Message.create(room=general, author=alice, content=TRICKY, client_id="tricky-01")
    out = tmp_path / "general.jsonl"
    result = await run(app, "export-room", "general", "--output", str(out), "--batch-size", "4")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records[:-1]] == ids
    assert records[-1]["content"] == TRICKY
    assert set(records[0]) == {"id", "room", "author", "created_at", "content"}
    assert records[0]["author"] == "alice" and records[0]["room"] == "general"


async def test_export_writes_csv_that_round_trips(
    app: Quart, alice: User, general: Room, tmp_path: Path
) -> None:
    await Message.create(room=general, author=alice, content=TRICKY, client_id="tricky-01")
    out = tmp_path / "general.csv"
    result = await run(app, "export-room", "general", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert [r["content"] for r in rows] == [TRICKY]


async def test_archive_moves_old_messages_to_a_file_and_keeps_new_ones(
    app: Quart, alice: User, general: Room, tmp_path: Path
) -> None:
    old = await fill_room(general, alice, 12, prefix="old")
    await age_messages(days=400)
    recent = await fill_room(general, alice, 3, prefix="recent")
    cutoff = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%d")
    out = tmp_path / "archive.jsonl"
    args = ["archive-messages", "--before", cutoff, "--output", str(out), "--batch-size", "5"]
    result = await run(app, *args)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == old
    assert await Message.all().order_by("id").values_list("id", flat=True) == recent
    refused = await run(app, *args)
    assert refused.exit_code == 1
    assert "exists" in refused.output
    assert len(out.read_text().splitlines()) == 12


async def test_purge_deletes_old_messages_of_one_room_after_confirmation(
    app: Quart, alice: User, general: Room
) -> None:
    other = await Room.create(slug="other", name="Other")
    await fill_room(general, alice, 4)
    await fill_room(other, alice, 2, prefix="elsewhere")
    await age_messages(days=10)
    args = ["purge-messages", "--before", datetime.now(UTC).strftime("%Y-%m-%d"), "--room"]
    declined = await run(app, *args, "general", input="n\n")
    assert declined.exit_code == 1
    assert await Message.all().count() == 6
    result = await run(app, *args, "general", "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 4 messages" in result.output
    assert await Message.filter(room_id=other.id).count() == 2


async def test_purge_explains_a_bad_date(app: Quart) -> None:
    result = await run(app, "purge-messages", "--before", "last tuesday", "--yes")
    assert result.exit_code == 2
    assert "'last tuesday' does not match the formats" in result.output


async def test_stats_counts_users_rooms_messages_and_connections(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    await fill_room(general, alice, 7)
    await LiveSocket.create(id="socket-1", user=bob, room=general, node="here")
    result = await run(app, "stats", "--json")
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output)
    assert numbers["users"] == 2
    assert numbers["rooms"] == 1
    assert numbers["messages"] == 7
    assert numbers["connections"] == 1
    assert "messages: 7" in (await run(app, "stats")).output


async def test_vapid_keys_prints_settings_that_turn_push_on(app: Quart) -> None:
    result = await run(app, "vapid-keys", "--subject", "mailto:ops@example.org")
    assert result.exit_code == 0, result.output
    settings = dict(line.split("=", 1) for line in result.output.splitlines())
    assert set(settings) == {
        "CHAT_VAPID_PRIVATE_KEY",
        "CHAT_VAPID_PUBLIC_KEY",
        "CHAT_VAPID_SUBJECT",
    }
    keys = vapid_keys({name.removeprefix("CHAT_"): value for name, value in settings.items()})
    assert keys is not None
    assert keys.subject == "mailto:ops@example.org"
    bad = await run(app, "vapid-keys", "--subject", "ops@example.org")
    assert bad.exit_code != 0
    assert "mailto:" in bad.output


async def test_tokens_are_made_listed_and_revoked_from_the_command_line(
    app: Quart, alice: User
) -> None:
    made = await run(app, "create-token", "alice", "--name", "deploys", "--scope", "read-write")
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    client = app.test_client()
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert (await me.get_json())["scope"] == "read-write"
    listed = await run(app, "tokens", "alice")
    assert "deploys" in listed.output and secret not in listed.output
    token_id = listed.output.split("\t", 1)[0]
    assert (await run(app, "revoke-token", "alice", token_id)).exit_code == 0
    assert (await run(app, "revoke-token", "alice", token_id)).exit_code != 0
    gone = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
    assert (await run(app, "create-token", "alice", "--name", "")).exit_code != 0


async def test_bots_and_webhooks_from_the_command_line(app: Quart, alice: User) -> None:
    made = await run(app, "create-bot", "alerts", "--room", "general")
    assert made.exit_code == 0, made.output
    hook = await run(app, "create-webhook", "alerts", "general")
    assert hook.exit_code == 0, hook.output
    url = hook.output.strip().splitlines()[-1]
    assert "/api/hooks/hook_" in url
    client = app.test_client()
    posted = await client.post("/api/hooks/" + url.rsplit("/", 1)[-1], json={"text": "disk 91%"})
    assert posted.status_code == 200
    assert (await run(app, "create-bot", "alerts")).exit_code != 0  # the name is taken
    assert (await run(app, "create-webhook", "alerts", "nowhere")).exit_code != 0
