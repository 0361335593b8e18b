"""Several real server processes share one PostgreSQL database and one broker.

Each node is ``python -m chat_app serve`` on its own port, as machines behind a load balancer
would be; clients are real websockets that reconnect the way the browser's ws extension does.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_app.models import User
from tests.conftest import DATABASE, Cluster, Server, kill_subscriptions, sign_up
from tests.tabs import Tab, room_ids

pytestmark = pytest.mark.skipif(
    DATABASE != "postgres",
    reason="nodes share one PostgreSQL database: these run in the PostgreSQL pass",
)


async def test_a_message_posted_on_one_node_reaches_every_node_once(
    cluster: Cluster,
) -> None:
    a, b, c = cluster(3)
    alice, bob, carol = [await sign_up(a.base, name) for name in ("alice", "bob", "carol")]
    async with Tab(a, alice) as on_a, Tab(b, bob) as on_b, Tab(c, carol) as on_c:
        for n in range(5):
            await on_a.post(f"hello from node A #{n}")
        ids = []
        async with asyncio.timeout(10):
            while len(ids) < 5:
                ids = await room_ids()
        for tab in (on_a, on_b, on_c):
            await tab.wait_for(ids)
        await on_c.post("and back from node C")
        async with asyncio.timeout(10):
            while len(ids) < 6:
                ids = await room_ids()
        for tab in (on_a, on_b, on_c):
            await tab.wait_for(ids)
            await asyncio.sleep(0.2)  # room for a duplicate to show up
            assert tab.seen == ids


async def user_id(username: str) -> int:
    """The id of the user registered as ``username``."""
    return (await User.get(username=username)).id


async def test_presence_and_typing_reach_every_node(cluster: Cluster) -> None:
    a, b, c = cluster(3)
    alice, bob, carol = [await sign_up(a.base, name) for name in ("alice", "bob", "carol")]
    async with Tab(a, alice) as on_a, Tab(b, bob) as on_b:
        alice_id, carol_id = await user_id("alice"), await user_id("carol")
        await on_b.until(lambda: on_b.shows_online(alice_id))
        async with Tab(c, carol):
            await on_a.until(lambda: on_a.shows_online(carol_id))
            await on_b.until(lambda: on_b.shows_online(carol_id))
            await on_a.send({"typing": "1"})
            await on_b.until(lambda: "alice is typing" in "".join(on_b.frames))
        await on_a.until(lambda: on_a.shows_online(carol_id) is False)
        await on_b.until(lambda: on_b.shows_online(carol_id) is False)


async def test_a_tab_that_connects_is_told_who_is_online_already(cluster: Cluster) -> None:
    # Bob is online already, so his second tab changes nobody's presence and no event comes:
    # what it shows must come with the connection itself, as after any reconnect or gap.
    a, b = cluster(2)
    alice, bob = await sign_up(a.base, "alice"), await sign_up(a.base, "bob")
    async with Tab(a, alice), Tab(b, bob) as first:
        alice_id = await user_id("alice")
        await first.until(lambda: first.shows_online(alice_id))
        async with Tab(a, bob) as second:
            await second.until(lambda: second.shows_online(alice_id))


async def test_a_killed_node_loses_its_users_presence_within_the_timeout(
    cluster: Cluster,
) -> None:
    # Nodes refresh their sockets every 0.5 s; rows 2 s old belong to a dead node.
    a, b = cluster(2, CHAT_PRESENCE_REFRESH_SECONDS="0.5", CHAT_PRESENCE_STALE_SECONDS="2")
    alice, bob = await sign_up(a.base, "alice"), await sign_up(a.base, "bob")
    async with Tab(a, alice), Tab(b, bob) as on_b:
        alice_id = await user_id("alice")
        await on_b.until(lambda: on_b.shows_online(alice_id))
        a.stop(signal.SIGKILL)  # no goodbye: its sockets just vanish
        started = time.monotonic()
        await on_b.until(lambda: on_b.shows_online(alice_id) is False, timeout=10)
        assert time.monotonic() - started < 2 + 0.5 + 2  # stale age + one sweep + margin


async def test_a_broker_restart_mid_run_loses_and_repeats_nothing(
    cluster: Cluster, broker_url: str, database_url: str, channel: str
) -> None:
    a, b = cluster(2)
    alice, bob, carol = [await sign_up(a.base, name) for name in ("alice", "bob", "carol")]
    async with Tab(a, alice) as sender, Tab(b, bob) as on_b, Tab(a, carol) as on_a:
        for n in range(60):
            await sender.post(f"message {n}")
            if n in (15, 40):
                assert await kill_subscriptions(broker_url, database_url, channel) == 2
            await asyncio.sleep(0.02)
        await sender.until(lambda: not sender.pending)  # resent after each reconnect, as chat.js
        ids = await room_ids()
        assert len(ids) == 60
        for tab in (sender, on_b, on_a):
            await tab.wait_for(ids)
            assert tab.seen == ids, f"close codes {tab.close_codes}"
        # Each gap made the tabs reconnect and catch up (1013), rather than go on unaware.
        assert on_b.close_codes.count(1013) >= 2


@pytest.fixture
def two_workers(
    database_url: str, broker_url: str, channel: str, tmp_path: Path
) -> Iterator[Server]:
    env = {"CHAT_BROKER_URL": broker_url, "CHAT_BROKER_CHANNEL": channel}
    server = Server(database_url, tmp_path / "workers.log", env, ["--workers", "2"])
    try:
        server.start()
        yield server
    finally:
        server.stop(signal.SIGKILL)
        print(server.log.read_text())


async def test_workers_of_one_server_share_every_room(two_workers: Server) -> None:
    cookies = [await sign_up(two_workers.base, f"user{n}") for n in range(6)]
    tabs = [Tab(two_workers, cookie) for cookie in cookies]
    for tab in tabs:
        await tab.__aenter__()
    try:
        await tabs[0].post("to every worker")
        async with asyncio.timeout(10):
            while not (ids := await room_ids()):
                await asyncio.sleep(0.05)
        for tab in tabs:
            await tab.wait_for(ids)
            assert tab.seen == ids
    finally:
        for tab in tabs:
            await tab.__aexit__()
    assert await asyncio.to_thread(two_workers.stop) == 0  # SIGTERM: both workers close cleanly
