"""``python -m bench.socket_memory``: what one open websocket costs our server, and what
reconnects leave behind.

Per socket: the server holds ``--base`` idle sockets, then ``--more`` besides; each time a
few messages flow to all of them and every client sends a heartbeat first, so each socket
has received and sent (clients offer permessage-deflate, as browsers do). The difference is
given per added socket twice: RSS from a plain server, and the Python objects tracemalloc
counts in a traced one (``bench.traced``), with the allocation sites that grew most. Traced
figures do not depend on CPU time, so they hold on a busy machine.

``--churn 2000,6000``: instead, the sockets keep reconnecting (half with a close frame, half
with a TCP reset, as in the soak scenario) while messages flow, and the traced server's
snapshots after those numbers of reconnects are compared: what grows with reconnects leaks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from bench.loadgen import HEARTBEAT, Group, Target, masked_frame, raise_open_files
from bench.population import ROOM, SECRET, SOCKETS_PER_USER, Population, database, populate
from bench.servers import HOST, Senders, Server, start_ours
from bench.soak import Tabs

KB = 1024
SETTLE_SECONDS = 2.0
DELIVERY_SECONDS = 120  # a traced server is several times slower
CHURN_SOCKETS_PER_USER = 3
PREFIX = tempfile.mkdtemp(prefix="parley-memory-") + "/server"  # where snapshots go
IGNORED = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*"))


class Traced:
    """A traced server's snapshots, taken on request."""

    def __init__(self, server: Server, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.taken = 0

    async def snapshot(self) -> tracemalloc.Snapshot:
        self.taken += 1
        done = Path(f"{self.prefix}.{self.taken}.done")
        self.server.process.send_signal(10)  # SIGUSR1: see bench.traced
        await asyncio.to_thread(_wait_for, done)
        return tracemalloc.Snapshot.load(f"{self.prefix}.{self.taken}.snapshot").filter_traces(
            IGNORED
        )


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.1)


@contextlib.asynccontextmanager
async def serving(population: Population, traced: bool) -> AsyncIterator[tuple[Server, Senders]]:
    """Our server (traced or not) with its senders connected."""
    launcher = ("bench.traced", PREFIX) if traced else ("chat_app",)
    server = start_ours(population.database_url, SECRET, ROOM, launcher=launcher)
    try:
        async with Senders(server, population.sender_cookies) as senders:
            yield server, senders
    finally:
        server.stop()


class Load:
    """Clients of one server, and messages sent to all of them."""

    def __init__(self, server: Server, senders: Senders, population: Population) -> None:
        self.server = server
        self.senders = senders
        self.population = population
        self.group = Group()
        self.seq = 0

    async def grow(self, count: int) -> None:
        """Open ``count`` more clients, then let a heartbeat and a few messages flow."""
        cookies = self.population.client_cookies(len(self.group.clients) + count)[-count:]
        path = self.server.live_path
        targets = [Target(HOST, self.server.port, path, cookie) for cookie in cookies]
        result = await self.group.connect(targets)
        if result["failed"]:
            raise RuntimeError(f"{result['failed']} handshakes failed: {result['errors']}")
        await self.flow(5)

    async def flow(self, messages: int) -> None:
        """Every client heartbeats, then ``messages`` go to all: all must arrive, once."""
        for client in self.group.clients:
            assert client.transport is not None
            client.transport.write(masked_frame(1, HEARTBEAT))
        lo, hi = self.seq, self.seq + messages
        self.seq = hi
        self.group.measure(lo, hi)
        await self.senders.paced(lo, messages, 10)
        await self.group.caught_up(DELIVERY_SECONDS)
        got = self.group.collect(lo, hi)
        if got["missing"] or got["duplicated"] or got["closed"]:
            raise RuntimeError(f"delivery went wrong ({self.server.log}): {got['missing']} missing")
        await asyncio.sleep(SETTLE_SECONDS)


def report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, per: int, unit: str, top: int
) -> None:
    """The traced difference per ``per`` of ``unit``, and its largest allocation sites."""
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"traced: {total / per / KB:.2f} KB per {unit} ({total / KB:,.0f} KB for {per:,})")
    print("top lines (innermost frame):")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[-1]
        print(
            f"  {stat.size_diff / per:8.0f} B {stat.count_diff / per:6.2f} blocks  "
            f"{_short(frame.filename)}:{frame.lineno}"
        )
    print(f"top tracebacks (innermost first, per {unit}):")
    for stat in after.compare_to(before, "traceback")[:top]:
        print(f"  {stat.size_diff / per:8.0f} B {stat.count_diff / per:6.2f} blocks")
        for frame in list(stat.traceback)[::-1][:7]:
            print(f"      {_short(frame.filename)}:{frame.lineno}")


def _short(filename: str) -> str:
    for marker in ("site-packages/", "python3.13/", "/chat_app/"):
        if marker in filename:
            head = "chat_app/" if marker == "/chat_app/" else ""
            return head + filename.split(marker, 1)[1]
    return filename


async def per_socket(population: Population, base: int, more: int, top: int) -> None:
    for traced in (False, True):
        async with serving(population, traced) as (server, senders):
            load = Load(server, senders, population)
            tracer = Traced(server, PREFIX) if traced else None
            await load.grow(base)
            rss, first = server.rss_bytes(), await tracer.snapshot() if tracer else None
            await load.grow(more)
            await load.flow(5)
            rss_growth = server.rss_bytes() - rss
            print(f"{'traced' if traced else 'plain'} server, {base:,} → {base + more:,} sockets")
            print(f"RSS: {rss_growth / more / KB:.1f} KB per socket")
            if tracer is not None and first is not None:
                report(first, await tracer.snapshot(), more, "socket", top)
            await load.group.close()


async def churn(
    population: Population, sockets: int, marks: list[int], rate: float, top: int
) -> None:
    """Reconnect ``sockets`` tabs again and again; compare snapshots at ``marks`` reconnects."""
    async with serving(population, traced=True) as (server, senders):
        tracer = Traced(server, PREFIX)
        tabs = Tabs(server, population.cookies, sockets)
        for tab in tabs.tabs:
            await tabs.open(tab)
        rng = random.Random(7)
        sending = asyncio.create_task(senders.paced(0, 10**7, 20))
        snapshots: list[tuple[int, tracemalloc.Snapshot]] = []
        started = time.monotonic()
        try:
            for mark in marks:
                while tabs.churn.opened - sockets < mark:
                    open_tabs = [tab for tab in tabs.tabs if tab.socket is not None]
                    leaving = rng.sample(open_tabs, min(len(open_tabs), max(1, round(rate / 4))))
                    await asyncio.gather(
                        *(tabs.come_back(tab, n % 2 == 0) for n, tab in enumerate(leaving)),
                        *(tabs.open(tab) for tab in tabs.tabs if tab.socket is None),
                        asyncio.sleep(0.25),
                    )
                snapshots.append((tabs.churn.opened - sockets, await tracer.snapshot()))
                print(
                    f"{snapshots[-1][0]:,} reconnects after {time.monotonic() - started:.0f} s, "
                    f"RSS {server.rss_bytes() / KB / KB:.1f} MB, {tabs.churn.failed} failed",
                    flush=True,
                )
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await tabs.close_all()
        (n0, first), (n1, last) = snapshots[0], snapshots[-1]
        print(f"between {n0:,} and {n1:,} reconnects:")
        report(first, last, max(1, (n1 - n0) // 1000), "1,000 reconnects", top)


async def run(args: argparse.Namespace) -> None:
    marks = [int(n) for n in args.churn.split(",")] if args.churn else []
    sockets = args.sockets if marks else args.base + args.more
    async with database(args.database) as url:
        # Churning tabs have a few per user, as in the soak: a reset one may still count.
        users = -(-sockets // (CHURN_SOCKETS_PER_USER if marks else SOCKETS_PER_USER))
        population = await populate(url, users=users, senders=1, history_messages=0)
        if marks:
            await churn(population, args.sockets, marks, args.rate, args.top)
        else:
            await per_socket(population, args.base, args.more, args.top)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_memory", description=__doc__)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("--base", type=int, default=100, help="sockets open at the first count")
    parser.add_argument("--more", type=int, default=500, help="sockets added before the second")
    parser.add_argument("--top", type=int, default=15, help="allocation sites shown")
    parser.add_argument("--churn", help="reconnect counts to compare, e.g. 2000,6000")
    parser.add_argument("--sockets", type=int, default=120, help="churn: tabs open")
    parser.add_argument("--rate", type=float, default=40, help="churn: reconnects per second")
    args = parser.parse_args()
    raise_open_files()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
