"""The hub's seams: bounded queues, coalesced frames, no repeats after catch-up."""

from __future__ import annotations

import asyncio

import pytest

from chat_app.realtime.events import MessagePosted, decode, encode
from chat_app.realtime.hub import RECENT_WINDOW, Connection, Hub


class RecordingSocket:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send(self, data: str) -> None:
        self.frames.append(data)


class StalledSocket:
    """A client that stopped reading: every send waits forever."""

    async def send(self, data: str) -> None:
        await asyncio.Event().wait()


async def test_queued_fragments_go_out_as_one_frame() -> None:
    socket = RecordingSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    for n in range(3):
        connection.offer(n + 1, f"<div id='m{n}'></div>")
    sender = connection.start_sender()
    await asyncio.sleep(0.05)
    assert socket.frames == ["<div id='m0'></div><div id='m1'></div><div id='m2'></div>"]
    connection.close(1000)
    await asyncio.gather(sender, return_exceptions=True)


async def test_a_message_goes_out_once_whichever_path_brings_it() -> None:
    socket = RecordingSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    assert connection.first_time(7) and connection.first_time(8)  # sent by catch-up
    for message_id in (7, 8, 9, 9):  # live copies, and a confirmation racing the broadcast
        connection.offer(message_id, f"[{message_id}]")
    sender = connection.start_sender()
    await asyncio.sleep(0.05)
    assert socket.frames == ["[9]"]
    connection.close(1000)
    await asyncio.gather(sender, return_exceptions=True)


async def test_a_stalled_socket_is_closed_and_never_slows_the_others() -> None:
    stalled = Connection(StalledSocket(), user_id=1, room_id=1, queue_size=4)
    healthy_socket = RecordingSocket()
    healthy = Connection(healthy_socket, user_id=2, room_id=1, queue_size=4)
    senders = [stalled.start_sender(), healthy.start_sender()]
    for n in range(20):
        for connection in (stalled, healthy):
            connection.offer(n, f"[{n}]")
        await asyncio.sleep(0)  # the healthy sender drains between events
    await asyncio.sleep(0.05)
    assert stalled.close_code == 1013
    assert "".join(healthy_socket.frames) == "".join(f"[{n}]" for n in range(20))
    healthy.close(1000)
    await asyncio.gather(*senders, return_exceptions=True)
    assert senders[0].done()


async def test_close_before_the_sender_starts_still_ends_it() -> None:
    connection = Connection(RecordingSocket(), user_id=1, room_id=1, queue_size=4)
    connection.close(1012, "server restarting")
    await asyncio.wait_for(connection.start_sender(), 1)
    assert connection.close_code == 1012


def test_the_memory_of_sent_ids_is_bounded() -> None:
    connection = Connection(RecordingSocket(), user_id=1, room_id=1, queue_size=4)
    for message_id in range(RECENT_WINDOW + 10):
        assert connection.first_time(message_id)
    assert not connection.first_time(RECENT_WINDOW + 9)
    assert connection.first_time(0)  # long forgotten


def test_events_round_trip_through_text() -> None:
    event = MessagePosted(room_id=3, message_id=42)
    assert decode(encode(event)) == event
    with pytest.raises(ValueError, match="unknown event"):
        decode('{"kind": "nope"}')


async def test_a_socket_opening_during_shutdown_is_closed_too(app) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(app)
    hub.close_all()
    late = Connection(RecordingSocket(), user_id=1, room_id=1, queue_size=4)
    hub.attach(late)
    assert late.close_code == 1012
