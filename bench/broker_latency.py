"""Publish → deliver cost of each broker: latency of one event, and throughput.

    python -m bench.broker_latency [--events 2000] [--postgres URL] [--redis URL]

One broker publishes and another, with its own connections, receives, as two nodes would.
Latency is measured one event at a time (publish, wait for delivery); throughput with
everything published back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from chat_app.realtime.broker import broker_from_url
from chat_app.realtime.events import Event, RoomChanged


async def measure(url: str, events: int) -> str:
    """One line of results for the broker at ``url``."""
    channel = f"parley_bench_{uuid.uuid4().hex[:8]}"
    publisher = broker_from_url(url, channel=channel)
    # The in-process broker only reaches its own process: it is both ends.
    receiver = publisher if url.startswith("memory:") else broker_from_url(url, channel=channel)
    arrived: asyncio.Queue[int] = asyncio.Queue()

    async def deliver(events: list[Event]) -> None:
        for event in events:
            assert isinstance(event, RoomChanged)
            arrived.put_nowait(event.change)

    async def ignore(_events: list[Event]) -> None:
        return None

    await receiver.start(deliver, lambda: None)
    if publisher is not receiver:
        await publisher.start(ignore, lambda: None)
    try:
        latencies = []
        for n in range(events):
            started = time.perf_counter()
            await publisher.publish(RoomChanged(room_id=1, change=n))
            assert await arrived.get() == n
            latencies.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        for n in range(events):
            await publisher.publish(RoomChanged(room_id=1, change=n))
        for _ in range(events):
            await arrived.get()
        rate = events / (time.perf_counter() - started)
    finally:
        await receiver.stop()
        if publisher is not receiver:
            await publisher.stop()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return (
        f"{url.split('://')[0]:>9}: latency p50 {statistics.median(latencies):7.0f} µs, "
        f"p99 {p99:7.0f} µs; throughput {rate:8.0f} events/s"
    )


async def main() -> None:
    """Measure every broker given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    for url in ("memory://", args.postgres, args.redis):
        print(await measure(url, args.events))


if __name__ == "__main__":
    asyncio.run(main())
