"""Hypercorn's lighter queue and event: order, back-pressure, cancellation, a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve, tcp_server, worker_context
from hypercorn.config import Config

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


async def echo_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that reads its request body slowly, event by event, and sends it back."""
    if scope["type"] == "lifespan":
        while (event := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    QUEUES_SEEN.append(type(getattr(receive, "__self__", None)))
    body = b""
    while True:
        event = await receive()
        await asyncio.sleep(0.001)
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_a_real_hypercorn_server_passes_a_long_request_body_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tcp_server, "TaskGroup", tcp_server.TaskGroup)  # restored afterwards
    context = worker_context.WorkerContext
    monkeypatch.setattr(context, "event_class", context.event_class)
    lean_hypercorn.install()
    assert tcp_server.TaskGroup is lean_hypercorn.AppQueueTaskGroup
    assert context.event_class is LeanEvent
    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(echo_body, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    body = bytes(range(256)) * 4096  # 1 MB: many more events than the queue holds

    async def chunks() -> Any:
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    try:
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                try:
                    response = await client.post(f"http://127.0.0.1:{port}/", content=chunks())
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
        assert response.status_code == 200
        assert response.content == body
        assert QUEUES_SEEN[-1] is AppQueue
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
