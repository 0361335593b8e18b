"""Hypercorn's lighter queue, event and lists: order, back-pressure, cancellation, a real
server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio import serve, tcp_server, worker_context
from hypercorn.config import Config
from hypercorn.protocol import ws_stream
from wsproto.connection import ConnectionType
from wsproto.events import CloseConnection
from wsproto.frame_protocol import CloseReason

from chat_app import lean_hypercorn
from chat_app.lean_hypercorn import AppQueue, LeanEvent
from tests.conftest import free_port


async def test_items_come_out_in_the_order_they_went_in() -> None:
    queue = AppQueue(3)
    for item in "abc":
        await queue.put(item)
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_put_waits_while_the_queue_is_full() -> None:
    queue = AppQueue(2)
    await queue.put(1)
    await queue.put(2)
    third = asyncio.create_task(queue.put(3))
    await asyncio.sleep(0.01)
    assert not third.done()  # the client's next event waits: back-pressure
    assert await queue.get() == 1
    await asyncio.wait_for(third, 1)
    assert [await queue.get(), await queue.get()] == [2, 3]


async def test_get_waits_for_an_item() -> None:
    queue = AppQueue(2)
    getting = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not getting.done()
    await queue.put("event")
    assert await asyncio.wait_for(getting, 1) == "event"


async def test_a_cancelled_getter_loses_nothing_and_passes_its_wake_up_on() -> None:
    queue = AppQueue(2)
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    await queue.put("only")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "only"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_cancelled_putter_puts_nothing() -> None:
    queue = AppQueue(1)
    await queue.put("kept")
    dropped = asyncio.create_task(queue.put("dropped"))
    await asyncio.sleep(0.01)
    dropped.cancel()
    await asyncio.sleep(0)
    assert await queue.get() == "kept"
    await queue.put("next")
    assert await queue.get() == "next"


async def test_an_event_wakes_every_waiter_once_set() -> None:
    event = LeanEvent()
    waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(waiter.done() for waiter in waiters) and not event.is_set()
    await event.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    await asyncio.wait_for(event.wait(), 1)  # set: returns at once


async def test_a_cleared_event_makes_waiters_wait_again() -> None:
    event = LeanEvent()
    await event.set()
    await event.clear()
    waiting = asyncio.create_task(event.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await event.set()
    await asyncio.wait_for(waiting, 1)


async def test_a_cancelled_wait_leaves_nothing_behind() -> None:
    event = LeanEvent()
    cancelled, kept = asyncio.create_task(event.wait()), asyncio.create_task(event.wait())
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert event._waiters is not None and len(event._waiters) == 1
    await event.set()
    await asyncio.wait_for(kept, 1)
    assert event._waiters is None


QUEUES_SEEN: list[type] = []
DISCONNECTS: list[dict[str, Any]] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app: ``POST /`` reads its body slowly and sends it back, ``GET /big`` sends
    32 MB, a websocket echoes three messages and records its disconnect."""
    if scope["type"] == "lifespan":
        while (event := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        for _ in range(3):
            message = await receive()
            await send({"type": "websocket.send", "text": message["text"]})
        DISCONNECTS.append(await receive())
        return
    QUEUES_SEEN.append(type(getattr(receive, "__self__", None)))
    if scope["path"] == "/big":
        length = [(b"content-length", str(len(BIG)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": BIG})
        return
    body = b""
    while True:
        event = await receive()
        await asyncio.sleep(0.001)
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


BIG = bytes(range(256)) * 4096 * 32  # far more than the socket buffers hold


@pytest.fixture
async def lean_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """A real Hypercorn server running ``app`` after ``install()``; its port."""
    for module, name in (
        (tcp_server, "TaskGroup"),
        (worker_context.WorkerContext, "event_class"),
        (ws_stream, "Connection"),
        (hypercorn_run, "TCPServer"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored afterwards
    lean_hypercorn.install()
    assert tcp_server.TaskGroup is lean_hypercorn.AppQueueTaskGroup
    assert worker_context.WorkerContext.event_class is LeanEvent
    assert ws_stream.Connection is lean_hypercorn.LeanWsprotoConnection
    assert hypercorn_run.TCPServer is lean_hypercorn.LeanTCPServer
    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(50):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def test_a_real_hypercorn_server_passes_a_long_request_body_through_it(
    lean_server: int,
) -> None:
    body = bytes(range(256)) * 4096  # 1 MB: many more events than the queue holds

    async def chunks() -> Any:
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{lean_server}/", content=chunks())
    assert response.status_code == 200
    assert response.content == body
    assert QUEUES_SEEN[-1] is AppQueue


async def test_a_client_that_reads_slowly_pauses_the_server_and_gets_everything(
    lean_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[Any] = []
    pause_writing = asyncio.streams.FlowControlMixin.pause_writing

    def recording_pause(protocol: Any) -> None:
        pauses.append(protocol._drain_waiters)
        pause_writing(protocol)

    monkeypatch.setattr(asyncio.streams.FlowControlMixin, "pause_writing", recording_pause)
    reader, writer = await asyncio.open_connection("127.0.0.1", lean_server)
    writer.write(b"GET /big HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
    await asyncio.sleep(0.3)  # the server fills the socket's buffers and waits to drain
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert response.endswith(BIG)
    assert pauses and all(type(waiters) is list for waiters in pauses)


@pytest.mark.parametrize("close", ["close frame", "TCP reset"])
async def test_a_websocket_passes_messages_both_ways_and_reports_its_client_gone(
    lean_server: int, close: str
) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{lean_server}/") as socket:
        for text in ("one", "two", "three"):
            await socket.send(text)
            assert await asyncio.wait_for(socket.recv(), 5) == text
        if close == "TCP reset":
            socket.transport.abort()
    for _ in range(100):
        if DISCONNECTS:
            break
        await asyncio.sleep(0.02)
    assert DISCONNECTS.pop()["type"] == "websocket.disconnect"


def test_wsproto_reports_a_lost_connection_as_an_abnormal_close() -> None:
    connection = lean_hypercorn.LeanWsprotoConnection(ConnectionType.SERVER)
    assert type(connection._events) is lean_hypercorn.EventList
    connection.receive_data(None)  # the TCP connection is gone
    events = list(connection.events())
    assert len(events) == 1 and isinstance(events[0], CloseConnection)
    assert events[0].code == CloseReason.ABNORMAL_CLOSURE
    assert list(connection.events()) == []
