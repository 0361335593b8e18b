"""The frame gate: frames are admitted or dropped as they arrive, never queued without bound."""

from __future__ import annotations

import asyncio

import pytest
from quart.wrappers.base import ClientDisconnectedError

from chat_app.realtime.inbox import UNGATED_BACKLOG, FrameGate, GatedBuffer


class Recorder:
    def __init__(self) -> None:
        self.drops = 0
        self.abuses = 0

    def gate(self, *, rate: float, burst: int, tolerance: int) -> FrameGate:
        return FrameGate(
            rate=rate,
            burst=burst,
            tolerance=tolerance,
            on_drop=lambda: setattr(self, "drops", self.drops + 1),
            on_abuse=lambda: setattr(self, "abuses", self.abuses + 1),
        )


async def test_a_flood_nobody_reads_keeps_at_most_a_burst_and_ends_in_abuse() -> None:
    seen, buffer = Recorder(), GatedBuffer()
    buffer.gate = seen.gate(rate=0.001, burst=5, tolerance=50)
    for n in range(1000):
        await buffer.put(f'{{"content": "flood {n}"}}')
    assert buffer.queued() == 5
    assert buffer.gate.dropped == 995 and buffer.gate.abused
    assert (seen.drops, seen.abuses) == (1, 1)  # and nothing after the abuse


async def test_one_notice_per_run_of_drops() -> None:
    seen, buffer = Recorder(), GatedBuffer()
    buffer.gate = seen.gate(rate=1e9, burst=1, tolerance=1000)  # only the backlog limits
    for frame in ("a", "b", "c"):
        await buffer.put(frame)
    assert (buffer.gate.dropped, seen.drops) == (2, 1)
    assert await buffer.get() == "a"
    for frame in ("d", "e"):
        await buffer.put(frame)
    assert (buffer.gate.dropped, seen.drops) == (3, 2)
    assert await buffer.get() == "d"
    assert seen.abuses == 0


async def test_before_the_gate_is_set_up_a_bounded_backlog_waits() -> None:
    buffer = GatedBuffer()
    for n in range(UNGATED_BACKLOG * 3):
        await buffer.put(str(n))
    assert buffer.queued() == UNGATED_BACKLOG
    assert await buffer.get() == "0"


async def test_a_disconnect_reaches_the_reader_waiting_for_a_frame() -> None:
    buffer = GatedBuffer()
    buffer.gate = Recorder().gate(rate=10, burst=5, tolerance=10)
    reader = asyncio.create_task(buffer.get())
    await asyncio.sleep(0)
    buffer.disconnect()
    with pytest.raises(ClientDisconnectedError):
        await reader


async def test_frames_that_arrived_before_the_gate_are_judged_by_it() -> None:
    seen, buffer = Recorder(), GatedBuffer()
    for n in range(40):
        await buffer.put(str(n))
    buffer.install(seen.gate(rate=0.001, burst=5, tolerance=100))
    assert buffer.queued() == 5 and buffer.gate is not None and buffer.gate.dropped == 35
    assert (seen.drops, await buffer.get()) == (1, "0")
