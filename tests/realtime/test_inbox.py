"""The frame gate: a flood is read promptly and dropped, never queued without bound."""

from __future__ import annotations

import asyncio

import pytest

from chat_app.realtime.inbox import Frame, FrameGate


class Recorder:
    def __init__(self) -> None:
        self.drops = 0
        self.abuses = 0

    def gate(self, receive, *, rate: float, burst: int, tolerance: int) -> FrameGate:  # type: ignore[no-untyped-def]
        return FrameGate(
            receive,
            rate=rate,
            burst=burst,
            tolerance=tolerance,
            on_drop=lambda: setattr(self, "drops", self.drops + 1),
            on_abuse=lambda: setattr(self, "abuses", self.abuses + 1),
        )


async def settle(inbound: asyncio.Queue[Frame]) -> None:
    """Let the pump read everything the test queued."""
    while not inbound.empty():
        await asyncio.sleep(0)


async def test_a_flood_nobody_reads_keeps_at_most_a_burst_and_ends_in_abuse() -> None:
    async def endless() -> Frame:
        await asyncio.sleep(0)  # a real socket yields between frames
        return '{"content": "flood"}'

    seen = Recorder()
    gate = seen.gate(endless, rate=0.001, burst=5, tolerance=50)
    await asyncio.wait_for(gate.pump(), 10)  # returns only because of the abuse
    assert gate.queued() == 5
    assert gate.dropped == 51
    assert (seen.drops, seen.abuses) == (1, 1)


async def test_one_notice_per_run_of_drops() -> None:
    inbound: asyncio.Queue[Frame] = asyncio.Queue()
    seen = Recorder()
    gate = seen.gate(inbound.get, rate=1e9, burst=1, tolerance=1000)  # only the backlog limits
    pump = asyncio.create_task(gate.pump())
    for frame in ("a", "b", "c"):
        inbound.put_nowait(frame)
    await settle(inbound)
    assert (gate.dropped, seen.drops) == (2, 1)
    assert await gate.next_frame(pump) == "a"
    for frame in ("d", "e"):
        inbound.put_nowait(frame)
    await settle(inbound)
    assert (gate.dropped, seen.drops) == (3, 2)
    assert await gate.next_frame(pump) == "d"
    assert seen.abuses == 0
    pump.cancel()


async def test_a_disconnect_reaches_the_reader() -> None:
    async def gone() -> Frame:
        raise ConnectionResetError("client left")

    gate = Recorder().gate(gone, rate=10, burst=5, tolerance=10)
    pump = asyncio.create_task(gate.pump())
    with pytest.raises(ConnectionResetError):
        await gate.next_frame(pump)
