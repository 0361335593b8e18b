"""Brokers against the real services: fan-out to every subscriber, reconnection, gaps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from urllib.parse import urlsplit

import pytest

from chat_app.realtime.broker import Broker, broker_from_url
from chat_app.realtime.events import Event, RoomChanged, SessionsRevoked
from tests.conftest import DATABASE, free_port, kill_subscriptions


class Node:
    """What a hub sees of its broker: the events delivered, and how many gaps."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.events: list[Event] = []
        self.gaps = 0

    async def deliver(self, events: list[Event]) -> None:
        self.events.extend(events)

    def gap(self) -> None:
        self.gaps += 1


@pytest.fixture(params=["memory", "postgres", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    if DATABASE != "postgres":
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL: runs in the PostgreSQL pass")
    return "postgres"


@pytest.fixture
def channel() -> str:
    return f"parley_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def nodes(
    broker_url: str, database_url: str, channel: str
) -> AsyncIterator[Callable[[int], Awaitable[list[Node]]]]:
    started: list[Node] = []

    async def start(n: int) -> list[Node]:
        for _ in range(n):
            node = Node(broker_from_url(broker_url, database_url=database_url, channel=channel))
            await node.broker.start(node.deliver, node.gap)
            started.append(node)
        return started[-n:]

    yield start
    for node in started:
        await node.broker.stop()


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_every_subscriber_gets_every_event_once_in_order(
    nodes: Callable[[int], Awaitable[list[Node]]], broker_url: str
) -> None:
    count = 1 if broker_url == "memory://" else 3  # in-process reaches its own process only
    subscribers = await nodes(count)
    sent = [RoomChanged(room_id=1, change=n) for n in range(50)]
    sent.append(SessionsRevoked(user_id=7, session_token="t" * 40))
    for event in sent:
        await subscribers[0].broker.publish(event)
    for node in subscribers:
        await until(lambda node=node: len(node.events) >= len(sent))
        await asyncio.sleep(0.05)
        assert node.events == sent
        assert node.gaps == 0


@pytest.mark.parametrize("broker_url", ["postgres", "redis"], indirect=True)
async def test_a_lost_subscription_comes_back_and_reports_the_gap(
    nodes: Callable[[int], Awaitable[list[Node]]],
    broker_url: str,
    database_url: str,
    channel: str,
) -> None:
    publisher, listener = await nodes(2)
    assert await kill_subscriptions(broker_url, database_url, channel) == 2
    await until(lambda: listener.gaps == 1 and publisher.gaps == 1)
    await publisher.broker.publish(RoomChanged(room_id=1, change=99))
    await until(lambda: RoomChanged(room_id=1, change=99) in listener.events)


class Outage:
    """A TCP relay in front of the real service, which the test can cut and restore, as a
    network failure or a service restart would (connections dropped, new ones refused)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "", parts.port or 0
        self.port = free_port()
        self.url = upstream.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{self.port}")
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        """Accept and relay connections again."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        self._pipes.update({writer, up_writer})

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._pipes.difference_update({writer, up_writer})


@pytest.mark.parametrize("broker_url", ["postgres", "redis"], indirect=True)
async def test_a_broker_away_for_a_while_is_reconnected_and_nothing_is_lost(
    broker_url: str, database_url: str, channel: str
) -> None:
    outage = Outage(database_url if broker_url == "postgres" else broker_url)
    await outage.restore()
    publisher, listener = (Node(broker_from_url(outage.url, channel=channel)) for _ in range(2))
    for node in (publisher, listener):
        await node.broker.start(node.deliver, node.gap)
    try:
        await outage.cut()
        # Committed meanwhile: not published, so this node's sockets catch up instead.
        await publisher.broker.publish(RoomChanged(room_id=1, change=1))
        assert publisher.gaps == 1
        await asyncio.sleep(1)  # several reconnection attempts fail
        await outage.restore()
        await until(lambda: listener.gaps == 1 and publisher.gaps == 2)
        await publisher.broker.publish(RoomChanged(room_id=1, change=2))
        await until(lambda: RoomChanged(room_id=1, change=2) in listener.events)
    finally:
        for node in (publisher, listener):
            await node.broker.stop()
        await outage.cut()


@pytest.mark.parametrize("broker_url", ["postgres", "redis"], indirect=True)
async def test_an_event_too_large_for_notify_is_refused_by_the_publisher(
    nodes: Callable[[int], Awaitable[list[Node]]], broker_url: str
) -> None:
    (node,) = await nodes(1)
    with pytest.raises(ValueError, match="too large"):
        await node.broker.publish(SessionsRevoked(user_id=1, session_token="x" * 8000))


async def test_an_unreachable_broker_stops_the_start_with_its_address() -> None:
    broker = broker_from_url("redis://:secret@127.0.0.1:1/0", channel="nowhere")
    expected = r"cannot reach the Redis broker at redis://127\.0\.0\.1:1/0"
    with pytest.raises(RuntimeError, match=expected) as raised:
        await broker.start(Node(broker).deliver, lambda: None)
    assert "secret" not in str(raised.value)


def test_broker_urls_that_cannot_work_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs a PostgreSQL CHAT_DATABASE_URL"):
        broker_from_url("postgres", database_url="sqlite://parley.sqlite3")
    with pytest.raises(ValueError, match="supported: memory://"):
        broker_from_url("kafka://somewhere")
