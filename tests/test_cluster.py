"""Several real server processes share one PostgreSQL database and one broker.

Each node is ``python -m chat_app serve`` on its own port, as machines behind a load balancer
would be; clients are real websockets that reconnect the way the browser's ws extension does.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_app.models import Message, User
from tests.conftest import DATABASE, Server, kill_subscriptions, sign_up

pytestmark = pytest.mark.skipif(
    DATABASE != "postgres",
    reason="nodes share one PostgreSQL database: these run in the PostgreSQL pass",
)

MESSAGE_ID = re.compile(r'id="message-(\d+)"')
RECONNECTING_CODES = {1006, 1011, 1012, 1013}  # the ws extension reconnects after these only


class Tab:
    """A browser tab: one socket that reconnects with ``?after=<newest id shown>``.

    ``seen`` keeps every message id in arrival order, repeats included, so a duplicate or a
    hole shows up when it is compared with the database.
    """

    def __init__(self, server: Server, cookie: str) -> None:
        self.server, self.cookie = server, cookie
        self.seen: list[int] = []
        self.frames: list[str] = []
        self.close_codes: list[int] = []
        self._ws: ClientConnection | None = None
        self._open = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tab:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._open.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            url = f"{self.server.ws_base}/rooms/general/live?after={max(self.seen, default=0)}"
            headers = {"Origin": self.server.base, "Cookie": self.cookie}
            code = 1006
            try:
                async with connect(url, additional_headers=headers) as ws:
                    self._ws = ws
                    self._open.set()
                    try:
                        async for frame in ws:
                            self.frames.append(str(frame))
                            self.seen.extend(int(i) for i in MESSAGE_ID.findall(str(frame)))
                    except ConnectionClosed:
                        pass
                    code = ws.close_code or 1006
            except OSError:
                pass  # refused: the node is down or restarting
            self._open.clear()
            self._ws = None
            self.close_codes.append(code)
            if code not in RECONNECTING_CODES:
                return
            await asyncio.sleep(0.05)

    async def post(self, content: str) -> None:
        """Send a message as the composer does; resend (same client id) if the socket drops."""
        await self.send({"content": content, "client_id": uuid.uuid4().hex})

    async def send(self, fields: dict[str, str]) -> None:
        """Send one frame as the ws extension does, waiting for the socket to be open."""
        frame = json.dumps(fields | {"HEADERS": {}})
        while True:
            await asyncio.wait_for(self._open.wait(), 10)
            if self._ws is not None:
                try:
                    await self._ws.send(frame)
                    return
                except ConnectionClosed:
                    pass
            await asyncio.sleep(0.02)

    def shows_online(self, user_id: int) -> bool | None:
        """What the latest people list this tab received says about ``user_id``."""
        marker = re.compile(rf'id="presence-{user_id}" data-online="(true|false)"')
        for frame in reversed(self.frames):
            if found := marker.search(frame):
                return found.group(1) == "true"
        return None

    async def until(self, condition: Callable[[], object], timeout: float = 15) -> None:
        """Until ``condition()`` holds for what this tab has received."""
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)

    async def wait_for(self, ids: list[int], timeout: float = 15) -> None:
        """Until every id in ``ids`` has arrived."""
        async with asyncio.timeout(timeout):
            while not set(ids) <= set(self.seen):
                await asyncio.sleep(0.02)


@pytest.fixture(params=["postgres", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Both shared brokers; ``postgres`` alone means LISTEN/NOTIFY on the app's database."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return "postgres"


@pytest.fixture
def channel() -> str:
    """A channel of this test's own, so runs sharing a Redis never hear each other."""
    return f"parley_test_{uuid.uuid4().hex[:10]}"


Cluster = Callable[..., list[Server]]


@pytest.fixture
def cluster(database_url: str, broker_url: str, channel: str, tmp_path: Path) -> Iterator[Cluster]:
    """Start ``n`` nodes on their own ports, sharing the database and the broker."""
    common = {
        "CHAT_BROKER_URL": broker_url,
        "CHAT_BROKER_CHANNEL": channel,
        "CHAT_MESSAGES_PER_SECOND": "1000",
        "CHAT_MESSAGES_BURST": "1000",
    }
    nodes: list[Server] = []

    def start(n: int, **env: str) -> list[Server]:
        for _ in range(n):
            nodes.append(Server(database_url, tmp_path / f"node{len(nodes)}.log", common | env))
            nodes[-1].start()
        return nodes[-n:]

    try:
        yield start
    finally:
        for node in nodes:
            node.stop(signal.SIGKILL)
            print(node.log.read_text())  # shown by pytest when the test fails


async def room_ids() -> list[int]:
    """Every message id in the database, in order: what every tab must have seen, once each."""
    return list(await Message.all().order_by("id").values_list("id", flat=True))


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
        await asyncio.sleep(0.5)  # the last frames reach the server
        ids = await room_ids()
        assert len(ids) >= 55  # frames in flight when a socket closed may be lost, as in a tab
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
