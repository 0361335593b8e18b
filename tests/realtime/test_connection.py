"""A connection's seams: bounded backlogs, coalesced frames, no repeats after catch-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator

from chat_app.models import User
from chat_app.realtime.connection import Connection
from chat_app.realtime.hub import Hub


class RecordingSocket:
    """A client that reads as fast as we write: every frame is taken at once."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def write_now(self, data: str) -> bool:
        self.frames.append(data)
        return True

    async def send(self, data: str) -> None:
        self.frames.append(data)


@contextlib.contextmanager
def recorded_tabs(
    hub: Hub, users: Iterable[User], room_id: int, per_user: int
) -> Iterator[list[tuple[User, RecordingSocket, Connection]]]:
    """``per_user`` live tabs of each of ``users`` showing ``room_id``, attached to ``hub``
    for the block."""
    tabs = []
    for user in users:
        for _ in range(per_user):
            socket = RecordingSocket()
            connection = Connection(socket, user.id, room_id, 100)
            connection.go_live()
            hub.attach(connection)
            tabs.append((user, socket, connection))
    try:
        yield tabs
    finally:
        for _, _, connection in tabs:
            hub.detach(connection)


class PushingBack:
    """A connection that never takes a frame at once: writes go through ``send``."""

    def write_now(self, data: str) -> bool:
        return False


class StalledSocket(PushingBack):
    """A client that stopped reading: every send waits forever."""

    async def send(self, data: str) -> None:
        await asyncio.Event().wait()


async def test_what_is_offered_during_catch_up_goes_out_as_one_frame_after_it() -> None:
    socket = RecordingSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    for n in range(3):
        connection.offer(n + 1, f"<div id='m{n}'></div>")
    assert socket.frames == []
    connection.go_live()
    assert socket.frames == ["<div id='m0'></div><div id='m1'></div><div id='m2'></div>"]


async def test_a_live_socket_is_written_at_once_without_a_task_switch() -> None:
    socket = RecordingSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    connection.go_live()
    connection.offer(1, "[1]")
    assert socket.frames == ["[1]"]  # no await in between: written within offer()
    connection.offer_all([(2, "[2]"), (None, "<typing/>")])
    assert socket.frames == ["[1]", "[2]<typing/>"]


async def test_a_change_goes_out_once_whichever_path_brings_it() -> None:
    socket = RecordingSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    connection.cursor = 8  # the catch-up sent changes up to 8
    for change in (7, 8, 9, 9):  # live copies offered meanwhile, and a second read of 9
        connection.offer(change, f"[{change}]")
    connection.offer(None, "<notice/>")  # no change: never skipped
    connection.go_live()
    assert socket.frames == ["[9]<notice/>"]
    assert connection.cursor == 9


class SlowSocket(PushingBack):
    """A client that reads, slowly: each send waits until the test lets it through."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.gate = asyncio.Event()

    async def send(self, data: str) -> None:
        await self.gate.wait()
        self.gate.clear()
        self.frames.append(data)


async def test_fragments_offered_during_a_slow_write_share_the_next_frame() -> None:
    socket = SlowSocket()
    connection = Connection(socket, user_id=1, room_id=1, queue_size=10)
    connection.go_live()
    for n in range(4):
        connection.offer(n + 1, f"[{n}]")
    socket.gate.set()
    await asyncio.sleep(0)
    socket.gate.set()
    await asyncio.sleep(0)
    assert socket.frames == ["[0]", "[1][2][3]"]


async def test_a_stalled_socket_is_closed_and_never_slows_the_others() -> None:
    stalled = Connection(StalledSocket(), user_id=1, room_id=1, queue_size=4)
    healthy_socket = RecordingSocket()
    healthy = Connection(healthy_socket, user_id=2, room_id=1, queue_size=4)
    for connection in (stalled, healthy):
        connection.go_live()
    for n in range(20):
        for connection in (stalled, healthy):
            connection.offer(n + 1, f"[{n}]")
    assert stalled.close_code == 1013 and stalled.ended
    assert "".join(healthy_socket.frames) == "".join(f"[{n}]" for n in range(20))
    assert healthy.close_code is None
    await asyncio.sleep(0)
    assert stalled._writer is not None and stalled._writer.cancelled()


class BrokenSocket(PushingBack):
    async def send(self, data: str) -> None:
        raise ConnectionResetError("gone")


async def test_a_failed_write_ends_the_connection_and_keeps_the_error() -> None:
    connection = Connection(BrokenSocket(), user_id=1, room_id=1, queue_size=4)
    connection.go_live()
    connection.offer(1, "[1]")
    assert connection.ended
    assert isinstance(connection.error, ConnectionResetError)
    connection.offer(2, "[2]")  # ignored, no second error


def test_what_a_connection_remembers_of_sent_changes_is_one_number() -> None:
    connection = Connection(RecordingSocket(), user_id=1, room_id=1, queue_size=4)
    for change in range(1, 10_000):
        assert connection.fresh(change)
    assert not connection.fresh(9_999) and not connection.fresh(1)
    assert connection.cursor == 9_999
