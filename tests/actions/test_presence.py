"""Socket rows and online flags under many simultaneous opens and closes (a reconnect storm)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart

from chat_app.actions import register_user
from chat_app.actions.presence import refresh_sockets, socket_closed, socket_opened
from chat_app.models import LiveSocket, Room, User, UserPresence
from chat_app.models.users import IN_LIST_BATCH
from chat_app.realtime.events import Event, PresenceChanged
from tests.conftest import PASSWORD


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
async def published(app: Quart) -> AsyncIterator[Recorder]:
    real = app.extensions["broker"]
    app.extensions["broker"] = recorder = Recorder()
    try:
        async with app.app_context():
            yield recorder
    finally:
        app.extensions["broker"] = real


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


async def test_refreshing_more_sockets_than_one_query_takes_refreshes_them_all(
    published: Recorder, alice: User, general: Room
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    ids = [f"tab-{n}" for n in range(IN_LIST_BATCH * 2 + 7)]
    await LiveSocket.bulk_create(
        [LiveSocket(id=i, user_id=alice.id, room_id=general.id, node="a") for i in ids]
    )
    await LiveSocket.all().update(seen_at=long_ago)
    await refresh_sockets(ids)
    assert await LiveSocket.filter(seen_at__gt=long_ago).count() == len(ids)
