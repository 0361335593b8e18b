"""The soak scenario: sockets that come and go for a long time, and the server's memory.

Tabs of a team chat reconnect all day (laptops sleep, networks blip, tabs reload), so whatever
a reconnect leaves behind adds up over weeks. ``SOCKETS`` tabs of ``USERS`` users stay
connected; every second ``CHURN`` of them leave, half with a close frame and half with a TCP
reset (no close frame: the server only sees the connection die), and open again at once with
their last message id, as the page does. Senders post at ``rate`` meanwhile. The server's
resident memory is printed every minute; the figure is its growth after the first minute
(start-up, caches and the allocator's pools have settled by then).

The clients are the ``websockets`` library (a few hundred sockets need no generator processes);
like the page, they offer permessage-deflate, heartbeat and say how long they were away.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from bench.loadgen import HEARTBEAT, HEARTBEAT_SECONDS
from bench.servers import HOST, Server

CURSOR_RE = re.compile(r'<div id="change-cursor" data-change="(\d+)"')
MB = 2**20


@dataclass
class Tab:
    """One browser tab: its user's cookie and the newest change it has applied."""

    cookie: str
    cursor: int = 0
    left_at: float = field(default_factory=time.monotonic)
    socket: websockets.ClientConnection | None = None
    reader: asyncio.Task[None] | None = None


@dataclass
class Churn:
    """Counts of the churn so far."""

    opened: int = 0
    closed_cleanly: int = 0
    reset: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def reset(sock: websockets.ClientConnection) -> None:
    """Drop the connection with a TCP RST and no close frame (a laptop lid, a lost network)."""
    raw = sock.transport.get_extra_info("socket")
    # SO_LINGER 0: close() sends RST instead of FIN (unless the server closed it already).
    with contextlib.suppress(OSError):
        if raw is not None:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.transport.abort()


class Tabs:
    """The churning tabs of one server."""

    def __init__(self, server: Server, cookies: list[str], sockets: int) -> None:
        self.server = server
        self.tabs = [Tab(cookies[n % len(cookies)]) for n in range(sockets)]
        self.churn = Churn()

    async def open(self, tab: Tab) -> None:
        """Connect ``tab`` the way the page does on a reconnect."""
        away = max(0, round(time.monotonic() - tab.left_at))
        query = f"after={tab.cursor}&away={away}"
        url = f"ws://{HOST}:{self.server.port}{self.server.live_path}?{query}"
        headers = {"Origin": f"http://{HOST}:{self.server.port}", "Cookie": tab.cookie}
        try:
            tab.socket = await websockets.connect(
                url, additional_headers=headers, ping_interval=None, max_size=None
            )
        except Exception as error:  # counted and retried at its next turn
            self.churn.failed += 1
            if len(self.churn.errors) < 10:
                self.churn.errors.append(repr(error))
            tab.socket = None
            return
        self.churn.opened += 1
        tab.reader = asyncio.create_task(self._read(tab, tab.socket))

    @staticmethod
    async def _read(tab: Tab, sock: websockets.ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in sock:
                changes = CURSOR_RE.findall(str(frame))
                if changes:
                    tab.cursor = max(tab.cursor, *map(int, changes))

    async def leave(self, tab: Tab, cleanly: bool) -> None:
        """Close ``tab``'s socket with a close frame, or reset it."""
        sock, tab.socket = tab.socket, None
        tab.left_at = time.monotonic()
        if sock is None:
            return
        if cleanly:
            await sock.close()
            self.churn.closed_cleanly += 1
        else:
            reset(sock)
            self.churn.reset += 1
        if tab.reader is not None:
            tab.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await tab.reader

    async def heartbeat_forever(self) -> None:
        """Every tab says it is alive, as the page does (silent sockets are closed at 45 s)."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for tab in self.tabs:
                if tab.socket is not None:
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await tab.socket.send(HEARTBEAT.decode())

    async def churn_forever(self, per_second: int, rng: random.Random) -> None:
        """Every second, ``per_second`` tabs leave (alternately cleanly and by reset) and
        come back; tabs whose reopening failed are reopened too."""
        while True:
            started = time.monotonic()
            leaving = rng.sample([tab for tab in self.tabs if tab.socket is not None], per_second)
            returning = [tab for tab in self.tabs if tab.socket is None]
            await asyncio.gather(
                *(self.come_back(tab, n % 2 == 0) for n, tab in enumerate(leaving)),
                *(self.open(tab) for tab in returning),
            )
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    async def come_back(self, tab: Tab, cleanly: bool) -> None:
        """Leave and reconnect at once, as the page does after a 1006 (or a reload)."""
        await self.leave(tab, cleanly)
        await self.open(tab)

    async def close_all(self) -> None:
        for tab in self.tabs:
            await self.leave(tab, True)


async def open_connections(server: Server) -> float | None:
    """The server's ``parley_open_connections`` gauge."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}") as http:
        text = (await http.get("/metrics")).text
    found = re.search(r"^parley_open_connections (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def run_soak(
    server: Server,
    cookies: list[str],
    send: Any,
    *,
    minutes: float,
    sockets: int,
    churn: int,
    rate: float,
    senders: int,
) -> dict[str, Any]:
    """Churn ``sockets`` tabs for ``minutes`` while ``send(first, count, rate)`` posts (from
    ``senders`` sockets that stay open); RSS each minute and how many tabs the server still
    counted as open afterwards."""
    tabs = Tabs(server, cookies, sockets)
    for tab in tabs.tabs:
        await tabs.open(tab)
    rng = random.Random(7)
    workers = [
        asyncio.create_task(tabs.churn_forever(churn, rng)),
        asyncio.create_task(tabs.heartbeat_forever()),
    ]
    started = time.monotonic()
    rss_mb: list[float] = []
    seq = 0
    try:
        for minute in range(1, max(1, round(minutes)) + 1):
            end = started + minute * 60
            while (now := time.monotonic()) < end:
                # Paced by the clock since the start, a few seconds at a time.
                until = min(end, now + 5.0)
                count = int(rate * (until - started)) - seq
                if count > 0:
                    await send(seq, count, rate)
                    seq += count
                else:
                    await asyncio.sleep(until - now)
            rss_mb.append(server.rss_bytes() / MB)
            print(
                f"  soak minute {minute}: RSS {rss_mb[-1]:.1f} MB, "
                f"{tabs.churn.opened:,} opens, {seq:,} messages, {tabs.churn.failed} failed",
                flush=True,
            )
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await tabs.close_all()
    for _ in range(40):  # the server notices the last closes
        open_after = (await open_connections(server) or 0) - senders
        if not open_after:
            break
        await asyncio.sleep(0.5)
    return {
        "minutes": len(rss_mb),
        "sockets": sockets,
        "churn_per_second": churn,
        "rate": rate,
        "rss_mb": rss_mb,
        "growth_after_minute_1_mb": rss_mb[-1] - rss_mb[0],
        "growth_mb_per_minute": (rss_mb[-1] - rss_mb[0]) / max(1, len(rss_mb) - 1),
        "opened": tabs.churn.opened,
        "closed_cleanly": tabs.churn.closed_cleanly,
        "reset": tabs.churn.reset,
        "failed": tabs.churn.failed,
        "errors": tabs.churn.errors,
        "messages": seq,
        "open_connections_after": open_after,
    }
