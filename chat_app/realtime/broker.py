"""Brokers carry events from the node that committed them to every node's hub.

``memory://`` serves one process. ``postgres://`` (LISTEN/NOTIFY) and ``redis://`` (pub/sub)
reach every worker on every machine: each holds one subscription, reconnects with backoff
when it is lost, and then reports the gap, because events published meanwhile are gone and
the hub must make its sockets catch up from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
from quart import current_app
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from chat_app.db import database_unavailable
from chat_app.logs import log_unavailable
from chat_app.realtime.events import Event, decode, encode

log = logging.getLogger(__name__)

Deliver = Callable[[list[Event]], Awaitable[None]]
OnGap = Callable[[], None]

# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; events carry ids, so a bigger
# one is a programming error to report at the publisher, not a silent loss at the listener.
MAX_PAYLOAD_BYTES = 7999
CONNECT_TIMEOUT = 5.0
HEALTH_INTERVAL = 15.0  # a peer that vanished without closing is only noticed when asked
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 10.0
# The subscription's connection is named (application_name, CLIENT SETNAME) "parley-listen:
# <channel>", so operators can tell it apart in pg_stat_activity and CLIENT LIST.
LISTENER_NAME = "parley-listen"


class Broker(Protocol):
    """Publish events; deliver every published event (from any node) to ``deliver``, in
    order, in batches of those that arrived while the previous batch was delivered.

    ``on_gap`` is called after a lost subscription is back: events may have been missed.
    """

    async def start(self, deliver: Deliver, on_gap: OnGap) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def ping(self) -> None:
        """Return if events can flow, raise if not (``/readyz``)."""
        ...

    async def stop(self) -> None: ...


class _Inbox:
    """Received events, delivered in order by one task, so rendering never stalls reading."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def open(self, deliver: Deliver) -> None:
        """Begin delivering what is put in."""
        self._task = asyncio.create_task(self._run(deliver), name="broker-inbox")

    def put(self, event: Event) -> None:
        """Queue ``event`` for delivery without waiting."""
        self._queue.put_nowait(event)

    def put_text(self, text: str) -> None:
        """Queue an encoded event; one that cannot be decoded is logged and dropped."""
        try:
            self.put(decode(text))
        except (ValueError, TypeError):
            log.error("dropping an undecodable event: %r", text[:200])

    def check(self) -> None:
        """Raise unless the delivery task is running."""
        if self._task is None or self._task.done():
            raise RuntimeError("the broker is not delivering events")

    async def close(self) -> None:
        """Stop delivering; events still queued are dropped with the process."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, deliver: Deliver) -> None:
        while True:
            # Everything that arrived meanwhile goes as one batch (see Hub.deliver).
            events = [await self._queue.get()]
            while not self._queue.empty():
                events.append(self._queue.get_nowait())
            try:
                await deliver(events)
            except Exception as error:
                if database_unavailable(error):  # each event fails alike meanwhile
                    log_unavailable(log, "delivery", error)
                else:
                    log.exception("delivering %d events failed", len(events))


class MemoryBroker:
    """One process: a queue and a task, so publishing never waits for the fan-out."""

    def __init__(self) -> None:
        self._inbox = _Inbox()

    async def start(self, deliver: Deliver, on_gap: OnGap) -> None:
        """Begin delivering published events (nothing between publisher and hub can drop one)."""
        self._inbox.open(deliver)

    async def publish(self, event: Event) -> None:
        """Queue ``event`` for delivery."""
        self._inbox.put(event)

    async def ping(self) -> None:
        """Raise unless events are being delivered."""
        self._inbox.check()

    async def stop(self) -> None:
        """Stop delivering."""
        await self._inbox.close()


class ServiceBroker:
    """A broker on a network service: one subscription, re-established with backoff.

    Subclasses connect, wait until the subscription is lost, disconnect and send; this class
    owns the retry loop so every service recovers (and reports gaps) the same way.
    """

    service = "broker"

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._inbox = _Inbox()
        self._watcher: asyncio.Task[None] | None = None
        self._on_gap: OnGap = lambda: None
        self._subscribed = False

    async def start(self, deliver: Deliver, on_gap: OnGap) -> None:
        """Subscribe, or fail at once: a wrong URL should stop the server, not limp along."""
        self._on_gap = on_gap
        self._inbox.open(deliver)
        try:
            await self._connect()
        except Exception as error:
            await self.stop()
            raise RuntimeError(
                f"cannot reach the {self.service} broker at {_without_password(self._url)}: {error}"
            ) from error
        self._subscribed = True
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.service}-broker")

    async def publish(self, event: Event) -> None:
        """Send ``event`` to every node; one retry covers a pooled connection that died idle.

        If the service stays unreachable the change is committed all the same, so this
        node's sockets catch up from the database instead, and the other nodes do when their
        own subscriptions come back; the caller is not failed for it.
        """
        text = encode(event)
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"event too large for a broker ({len(text)} bytes): {text[:100]}")
        try:
            await self._send(text)
        except Exception as error:
            log.warning("publishing to %s failed (%r); retrying once", self.service, error)
            try:
                await self._send(text)
            except Exception as again:
                log.error("could not publish %s to %s: %r", text, self.service, again)
                self._on_gap()

    async def ping(self) -> None:
        """Raise unless subscribed and delivering (not while reconnecting)."""
        self._inbox.check()
        if not self._subscribed:
            raise RuntimeError(f"the {self.service} broker subscription is down")

    async def stop(self) -> None:
        """Unsubscribe, close every connection and stop delivering."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._disconnect()
        await self._close_publisher()
        await self._inbox.close()

    async def _watch(self) -> None:
        while True:
            reason = "connection closed"
            try:
                await self._until_lost()
            except Exception as error:
                reason = repr(error)
            log.warning("lost the %s broker subscription: %s", self.service, reason)
            self._subscribed = False
            await self._disconnect()
            await self._reconnect()
            self._subscribed = True
            log.warning("%s broker subscription is back; sockets will catch up", self.service)
            self._on_gap()

    async def _reconnect(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            # Jitter keeps every node of a cluster from reconnecting in the same instant.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            try:
                await self._connect()
                return
            except Exception as error:
                # Every BACKOFF_MAX seconds while it is away: a line per interval is enough.
                where = f"{self.service}-broker"
                log_unavailable(log, where, error, event="broker.unavailable")
                await self._disconnect()
                delay = min(delay * 2, BACKOFF_MAX)

    async def _connect(self) -> None:
        """Open the subscription; received events go to ``self._inbox``."""
        raise NotImplementedError

    async def _until_lost(self) -> None:
        """Return or raise once the subscription is gone."""
        raise NotImplementedError

    async def _disconnect(self) -> None:
        """Drop the subscription's connection, if any, without waiting on a dead peer."""
        raise NotImplementedError

    async def _send(self, text: str) -> None:
        """Publish one encoded event."""
        raise NotImplementedError

    async def _close_publisher(self) -> None:
        """Close the connections used to publish."""
        raise NotImplementedError


class PostgresBroker(ServiceBroker):
    """LISTEN/NOTIFY: no extra service for a PostgreSQL deployment.

    LISTEN holds one dedicated connection (a pooled one would be handed to other queries);
    NOTIFY goes through a small pool of its own, separate from Tortoise's.
    """

    service = "PostgreSQL"

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel)
        self._listener: asyncpg.Connection[Any] | None = None
        self._pool: asyncpg.Pool[Any] | None = None
        self._lost = asyncio.Event()

    async def _connect(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=4, timeout=CONNECT_TIMEOUT
            )
        self._lost = asyncio.Event()
        self._listener = await asyncpg.connect(
            self._url,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": f"{LISTENER_NAME}:{self._channel}"},
        )
        lost = self._lost  # this connection's own flag, not a later one's
        self._listener.add_termination_listener(lambda _connection: lost.set())
        await self._listener.add_listener(self._channel, self._notified)

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._inbox.put_text(payload)

    async def _until_lost(self) -> None:
        # A terminated backend closes the socket and asyncpg tells us at once; a network
        # that silently drops packets is only found out by the periodic query.
        while self._listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), HEALTH_INTERVAL)
            if self._lost.is_set():
                return
            await self._listener.execute("SELECT 1", timeout=CONNECT_TIMEOUT)

    async def _disconnect(self) -> None:
        if self._listener is not None:
            self._listener.terminate()
            self._listener = None

    async def _send(self, text: str) -> None:
        assert self._pool is not None, "publish before start"
        await self._pool.execute(
            "SELECT pg_notify($1, $2)", self._channel, text, timeout=CONNECT_TIMEOUT
        )

    async def _close_publisher(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


class RedisBroker(ServiceBroker):
    """Redis pub/sub, for deployments that run Redis anyway or outgrow LISTEN/NOTIFY."""

    service = "Redis"

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel)
        # No retries inside redis-py: ``publish`` retries once itself, so a dead service
        # costs a post at most two timeouts rather than redis-py's backoff series.
        self._publisher: Redis = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._subscriber: Redis | None = None
        self._pubsub: PubSub | None = None

    async def _connect(self) -> None:
        # redis-py would silently reconnect and resubscribe a pub/sub connection, hiding the
        # gap; without retries a loss surfaces here and the hub can make sockets catch up.
        self._subscriber = Redis.from_url(
            self._url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            client_name=f"{LISTENER_NAME}:{self._channel}",
        )
        self._pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)

    async def _until_lost(self) -> None:
        while self._pubsub is not None:
            message = await self._pubsub.get_message(timeout=HEALTH_INTERVAL)
            if message is None:
                await asyncio.wait_for(self._pubsub.ping(), CONNECT_TIMEOUT)
            elif message["type"] == "message":
                data = message["data"]
                self._inbox.put_text(data.decode() if isinstance(data, bytes) else str(data))

    async def _disconnect(self) -> None:
        # Closing the client disconnects its whole pool, the pub/sub connection included.
        self._pubsub = None
        if self._subscriber is not None:
            with contextlib.suppress(Exception):
                await self._subscriber.aclose()
            self._subscriber = None

    async def _send(self, text: str) -> None:
        await self._publisher.publish(self._channel, text)

    async def _close_publisher(self) -> None:
        await self._publisher.aclose()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def broker_from_url(url: str, *, database_url: str = "", channel: str = "parley") -> Broker:
    """The broker ``CHAT_BROKER_URL`` names; ``postgres`` alone means the app's own database."""
    if url.startswith("memory:"):
        return MemoryBroker()
    if url == "postgres":
        if not database_url.startswith("postgres"):
            raise ValueError("CHAT_BROKER_URL=postgres needs a PostgreSQL CHAT_DATABASE_URL")
        url = database_url
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresBroker(url, channel)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, channel)
    raise ValueError(
        f"CHAT_BROKER_URL: unsupported broker {_without_password(url)!r} "
        "(supported: memory://, postgres://…, postgres (the database's own), redis://…)"
    )


def is_in_process(url: str) -> bool:
    """Whether ``url`` names the broker that only reaches its own process."""
    return url.startswith("memory:")


async def publish(event: Event) -> None:
    """Publish through the current app's broker. Call only after the commit."""
    broker: Broker = current_app.extensions["broker"]
    await broker.publish(event)
