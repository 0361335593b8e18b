"""Socket rows and online flags under many simultaneous opens and closes (a reconnect storm)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from tortoise import connections

from chat_app.actions import register_user
from chat_app.actions.presence import refresh_sockets, socket_closed, socket_opened
from chat_app.models import LiveSocket, Room, User, UserPresence
from chat_app.realtime.events import Event, PresenceChanged
from tests.conftest import DATABASE, PASSWORD, broker_replaced_by


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
async def published(app: Quart) -> AsyncIterator[Recorder]:
    async with broker_replaced_by(app, Recorder()) as recorder:
        yield recorder


async def test_simultaneous_opens_and_closes_leave_exact_rows_and_one_event_per_change(
    published: Recorder, general: Room
) -> None:
    users = [await register_user(f"storm{n}", PASSWORD) for n in range(12)]
    ids = [u.id for u in users]
    sockets = [(f"s{u}-{tab}", u) for u in ids for tab in (1, 2)]  # two tabs each
    await asyncio.gather(*(socket_opened(s, u, general.id, "node-a") for s, u in sockets))
    assert await LiveSocket.all().count() == 24
    assert set(await UserPresence.filter(is_online=True).values_list("user_id", flat=True)) == set(
        ids
    )
    assert sorted(e.user_id for e in published.events if isinstance(e, PresenceChanged)) == ids

    published.events.clear()
    first_tabs = [(s, u) for s, u in sockets if s.endswith("-1")]
    await asyncio.gather(*(socket_closed(s, u) for s, u in first_tabs))
    assert published.events == []  # every user still has a tab open
    assert await UserPresence.filter(is_online=True).count() == 12

    last_tabs = [(s, u) for s, u in sockets if s.endswith("-2")]
    await asyncio.gather(*(socket_closed(s, u) for s, u in last_tabs))
    assert await LiveSocket.all().count() == 0
    assert await UserPresence.filter(is_online=True).count() == 0
    assert sorted(e.user_id for e in published.events if isinstance(e, PresenceChanged)) == ids


async def test_a_closer_that_leaves_mid_write_does_not_stop_the_write(
    published: Recorder, general: Room
) -> None:
    user = await register_user("leaver", PASSWORD)
    await socket_opened("tab", user.id, general.id, "node-a")
    closing = asyncio.create_task(socket_closed("tab", user.id))
    await asyncio.sleep(0)
    closing.cancel()  # the handler's client went away
    for _ in range(200):  # the write goes on in the ledger's task
        if not (await UserPresence.get(user_id=user.id)).is_online:
            break
        await asyncio.sleep(0.01)
    assert not (await UserPresence.get(user_id=user.id)).is_online
    assert not await LiveSocket.exists(id="tab")


async def test_a_node_refreshes_all_its_socket_rows_and_no_others(
    published: Recorder, alice: User, general: Room
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    ours = [f"ours-{n}" for n in range(1200)]
    rows = [LiveSocket(id=i, user_id=alice.id, room_id=general.id, node="a") for i in ours]
    rows.append(LiveSocket(id="theirs", user_id=alice.id, room_id=general.id, node="b"))
    await LiveSocket.bulk_create(rows)
    await LiveSocket.all().update(seen_at=long_ago)
    await refresh_sockets("a")
    assert await LiveSocket.filter(seen_at__gt=long_ago).count() == len(ours)
    assert (await LiveSocket.get(id="theirs")).seen_at == long_ago


@contextlib.asynccontextmanager
async def deletes_refused() -> AsyncIterator[None]:
    """A real trigger that refuses to delete socket rows, while inside."""
    db = connections.get("default")
    if DATABASE == "postgres":
        await db.execute_script(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; "
            "END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE DELETE ON live_sockets "
            "FOR EACH ROW EXECUTE FUNCTION refuse();"
        )
        try:
            yield
        finally:
            await db.execute_script("DROP TRIGGER refuse ON live_sockets; DROP FUNCTION refuse();")
    else:
        await db.execute_script(
            "CREATE TRIGGER refuse BEFORE DELETE ON live_sockets "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        )
        try:
            yield
        finally:
            await db.execute_script("DROP TRIGGER refuse;")


async def test_a_close_whose_write_failed_goes_with_the_next_batch(
    published: Recorder, general: Room
) -> None:
    user = await register_user("flaky", PASSWORD)
    await socket_opened("first-tab", user.id, general.id, "node-a")
    async with deletes_refused():
        with pytest.raises(Exception, match="refused"):
            await socket_closed("first-tab", user.id)
    assert await LiveSocket.exists(id="first-tab")  # kept by its node's refreshes otherwise
    await socket_opened("next-tab", user.id, general.id, "node-a")
    assert not await LiveSocket.exists(id="first-tab")
