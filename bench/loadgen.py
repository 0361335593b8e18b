"""The load generator: a few processes, each holding many raw WebSocket clients.

A client is a bare ``asyncio.Protocol`` that does the RFC 6455 handshake itself and parses
server frames with a few lines of code, so thousands of receivers cost little CPU and the
server, not the generator, is what gets measured. Like browsers, clients offer
permessage-deflate (``Target.deflate``) and inflate what a server that agreed to it
compresses. Every bench message carries ``bench:<seq>:<monotonic send time in ns>`` in its
text; ``CLOCK_MONOTONIC`` is shared by all processes on the machine, so a receiver computes
send-to-delivery latency directly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import multiprocessing
import os
import re
import resource
import struct
import time
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

TOKEN_RE = re.compile(rb"bench:(\d+):(\d+)")
CURSOR_RE = re.compile(rb'<div id="change-cursor" data-change="(\d+)"')
HEARTBEAT = b'{"heartbeat": 1, "HEADERS": {"HX-Request": "true"}}'
HEARTBEAT_SECONDS = 15  # the page sends one every 20 s; the server closes sockets silent for 45
MAX_SEQ = 1 << 20  # seqs are per run and bounded; counts live in one bytearray per client
CONNECT_CONCURRENCY = 64
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"  # what Chromium sends
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.2: stripped by the sender, added back
# A server process holds every client of a scenario (20,000 in the curve's last size), and each
# generator process its share of ours and the reference's at once: more than the 20,000 some
# machines allow.
OPEN_FILES_WANTED = 1 << 16


def raise_open_files() -> int:
    """Thousands of sockets need descriptors: the soft limit goes to the hard one, and the hard
    one to OPEN_FILES_WANTED where the process may raise it (children inherit both). Returns
    the limit now."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < OPEN_FILES_WANTED:
        with contextlib.suppress(ValueError, OSError):  # needs CAP_SYS_RESOURCE
            resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_WANTED, OPEN_FILES_WANTED))
            return OPEN_FILES_WANTED
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def descriptors_suffice(clients: int, processes: int, limit: int) -> bool:
    """Whether ``limit`` open files hold ``clients`` sockets on a server (beside its database
    connections, log and listener) and, in each of ``processes`` generator processes, its share
    of ours and the reference's clients at once."""
    spare = 256
    return clients + spare <= limit and 2 * -(-clients // processes) + spare <= limit


@dataclass
class Target:
    """Where one client connects, and as whom (a real quart-auth cookie, or none)."""

    host: str
    port: int
    path: str
    cookie: str = ""
    deflate: bool = True  # offer permessage-deflate, as browsers do


def handshake(target: Target, after: int | None, away: float = 0.0) -> bytes:
    """The HTTP upgrade request a browser tab would send (with its compression offer): on a
    reconnect, the newest change it applied, and like the page, how many seconds it was away."""
    key = base64.b64encode(os.urandom(16)).decode()
    query = f"away={math.ceil(away)}" if after is None else f"after={after}&away={math.ceil(away)}"
    path = f"{target.path}?{query}"
    origin = f"http://{target.host}:{target.port}"
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if target.cookie:
        lines.append(f"Cookie: {target.cookie}")
    if target.deflate:
        lines.append(f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask); only used for pongs and the closing handshake."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


@dataclass
class Sink:
    """What every client of this process records: latencies (µs) and per-seq counts."""

    latencies: array[int] = field(default_factory=lambda: array("I"))
    lo: int = 0  # the seqs being measured: lo..hi-1
    hi: int = 0
    firsts: int = 0  # (client, seq) pairs in lo..hi-1 received so far, each counted once
    expected: int = -1  # ... and how many make the phase complete (-1: nobody waits)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    # Watching for a fragment that carries no bench token (a sidebar entry): each client
    # notes when it first got a frame holding ``needle`` after ``watch`` (bench/sidebar.py).
    needle: bytes = b""


class Client(asyncio.Protocol):
    """One receiving socket; counts each bench message it gets, by seq."""

    def __init__(self, sink: Sink, counts: bytearray | None = None) -> None:
        self.sink = sink
        self.counts = bytearray() if counts is None else counts
        self.cursor: int | None = None  # the newest change applied, as the page keeps it
        self.seen_at = 0  # monotonic ns of the first frame with the sink's needle (0: none yet)
        self.closed_at = 0.0  # monotonic seconds when the connection ended (0: open)
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.target: Target | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments = bytearray()
        self._compressed = False  # the message being received has RSV1 set
        self._inflate: Any = None  # zlib's inflater, when the server agreed to compress
        self._fresh_context = False  # server_no_context_takeover: a new inflater per message

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status, *headers = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            if b" 101 " not in status + b" ":
                self._finish(-int(status.split()[1]) if len(status.split()) > 1 else -1)
                return
            self._agree(headers)
            self._upgraded = True
            if not self.opened.done():
                self.opened.set_result(None)
        now = time.monotonic_ns()
        while self._frame(now):
            pass

    def _agree(self, headers: list[bytes]) -> None:
        """Take the extensions the server agreed to (only permessage-deflate is offered)."""
        for line in headers:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-extensions":
                params = value.decode().lower()
                if "permessage-deflate" in params:
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._fresh_context = "server_no_context_takeover" in params

    def _frame(self, now: int) -> bool:
        """Consume one complete frame from the buffer; False when more bytes are needed."""
        buf = self._buffer
        if len(buf) < 2:
            return False
        length, offset = buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return False
            (length,), offset = struct.unpack_from("!H", buf, 2), 4
        elif length == 127:
            if len(buf) < 10:
                return False
            (length,), offset = struct.unpack_from("!Q", buf, 2), 10
        if len(buf) < offset + length:
            return False
        buf_head = buf[0]
        fin, opcode = buf_head & 0x80, buf_head & 0x0F
        payload = bytes(buf[offset : offset + length])
        del buf[: offset + length]
        if opcode in (0, 1):
            if opcode == 1:
                self._compressed = bool(buf_head & 0x40)
            self._fragments += payload
            if fin:
                self._message(self._inflated(bytes(self._fragments)), now)
                self._fragments.clear()
        elif opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if self.transport is not None:
                self.transport.write(masked_frame(8, payload[:2]))
                self.transport.close()
            self._finish(code)
        elif opcode == 9 and self.transport is not None:
            self.transport.write(masked_frame(10, payload))
        return True

    def _inflated(self, payload: bytes) -> bytes:
        if not self._compressed or self._inflate is None:
            return payload
        text: bytes = self._inflate.decompress(payload + DEFLATE_TAIL)
        if self._fresh_context:
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        return text

    def _message(self, text: bytes, now: int) -> None:
        sink = self.sink
        if sink.needle and not self.seen_at and sink.needle in text:
            self.seen_at = now
        for seq_raw, sent_raw in TOKEN_RE.findall(text):
            seq = int(seq_raw)
            if seq >= len(self.counts):
                self.counts.extend(
                    bytes(min(MAX_SEQ, max(seq + 1, 2 * len(self.counts))) - len(self.counts))
                )
            if self.counts[seq] < 255:
                self.counts[seq] += 1
            if sink.lo <= seq < sink.hi:
                sink.latencies.append(max(0, (now - int(sent_raw)) // 1000))
                if self.counts[seq] == 1:
                    sink.firsts += 1
                    if sink.firsts == sink.expected:
                        sink.complete.set()
        changes = CURSOR_RE.findall(text)
        if changes:
            self.cursor = max(self.cursor or 0, *map(int, changes))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(1006)

    def _finish(self, code: int) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"handshake refused ({code})"))
        if not self.closed.done():
            self.closed_at = time.monotonic()
            self.closed.set_result(code)

    def received(self, lo: int, hi: int) -> tuple[int, int]:
        """(missing, duplicated) among seqs ``lo``..``hi``-1."""
        window = self.counts[lo:hi].ljust(hi - lo, b"\0")
        missing = window.count(0)
        return missing, (hi - lo) - missing - window.count(1)


async def open_client(
    target: Target,
    sink: Sink,
    after: int | None = None,
    counts: bytearray | None = None,
    away: float = 0.0,
) -> Client:
    """Connect, send the upgrade request and wait for 101; ``counts`` carries over what a
    reconnecting client had already received."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(sink, counts), target.host, target.port)
    assert client.transport is not None
    client.transport.write(handshake(target, after, away))
    await asyncio.wait_for(client.opened, 30)
    return client


class Group:
    """The clients of one load-generator process that talk to one server, and the commands
    the driver sends them (several groups let servers take turns under the same load)."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.clients: list[Client] = []  # in the order they opened
        self.failures: list[str] = []
        self._dropped: list[tuple[Target, int | None, bytearray]] = []
        self._dropped_at = 0.0
        self._heartbeat: asyncio.Task[None] | None = None
        self._watchers: set[str] = set()  # cookies of the clients ``watch`` follows

    async def _beat(self) -> None:
        # Like the page's hidden ws-send element: the server closes sockets it never hears from.
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for client in self.clients:
                if client.transport is not None and not client.closed.done():
                    client.transport.write(masked_frame(1, HEARTBEAT))

    async def connect(
        self, targets: list[Target], resume: list[tuple[int | None, bytearray]] | None = None
    ) -> dict[str, Any]:
        """Open a client per target, a bounded number at a time; ``resume`` gives each its
        newest change applied and what it had received before (a reconnect)."""
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        started = time.monotonic()
        before = len(self.clients)
        if self._heartbeat is None:  # from the start: a long ramp must not look like silence
            self._heartbeat = asyncio.create_task(self._beat())

        async def one(target: Target, last: int | None, seen: bytearray | None) -> None:
            async with gate:
                try:
                    away = time.monotonic() - self._dropped_at if resume else 0.0
                    client = await open_client(target, self.sink, last, seen, away)
                except (OSError, ConnectionError, TimeoutError) as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                    return
                client.target = target
                self.clients.append(client)

        states = resume or [(None, None)] * len(targets)
        await asyncio.gather(
            *(one(t, last, seen) for t, (last, seen) in zip(targets, states, strict=True))
        )
        connected = len(self.clients) - before
        return {
            "connected": connected,
            "failed": len(targets) - connected,
            "errors": self.failures[:3],
            "seconds": time.monotonic() - started,
        }

    def measure(self, lo: int, hi: int) -> dict[str, Any]:
        """Start a phase: forget latencies; seqs ``lo``..``hi``-1 are the ones measured."""
        self.sink.latencies = array("I")
        self.sink.lo, self.sink.hi, self.sink.firsts, self.sink.expected = lo, hi, 0, -1
        self.sink.complete.clear()
        return {}

    def collect(self, lo: int, hi: int) -> dict[str, Any]:
        """This phase's latencies and how many (client, seq) pairs were missed or doubled."""
        missing = duplicated = 0
        for client in self.clients:
            m, d = client.received(lo, hi)
            missing += m
            duplicated += d
        codes = Counter(c.closed.result() for c in self.clients if c.closed.done())
        return {
            "latencies": self.sink.latencies.tobytes(),
            "missing": missing,
            "duplicated": duplicated,
            "closed": sum(codes.values()),
            "close_codes": dict(codes),
            "clients": len(self.clients),
            "cpu": time.process_time(),
        }

    async def caught_up(self, seconds: float) -> dict[str, Any]:
        """Wait until every client has every measured seq (or time runs out). Receivers count
        towards an event: scanning thousands of clients in a loop would steal their time."""
        started = time.monotonic()
        sink = self.sink
        sink.expected = len(self.clients) * (sink.hi - sink.lo)
        if sink.firsts >= sink.expected:
            sink.complete.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sink.complete.wait(), seconds)
        return {"seconds": time.monotonic() - started}

    def watch(self, needle: bytes, cookies: list[str] | None = None) -> dict[str, Any]:
        """From now on, note when each client first gets a frame holding ``needle``; the
        clients signed in with ``cookies`` (kept from the last call when None) are watched."""
        self.sink.needle = needle
        if cookies is not None:
            self._watchers = set(cookies)
        for client in self.clients:
            client.seen_at = 0
        return {}

    def watched(self) -> dict[str, Any]:
        """When each watched client got the needle (monotonic ns; 0: not yet)."""
        return {
            "seen_at": [
                c.seen_at
                for c in self.clients
                if c.target is not None and c.target.cookie in self._watchers
            ]
        }

    async def drop(self) -> dict[str, Any]:
        """Cut every connection as a network failure would (no closing handshake); those the
        server already closed (a restart) count as gone since then."""
        self._dropped = [(c.target, c.cursor, c.counts) for c in self.clients]
        # What ``away=`` says on the reconnect, as the page counts it from its wsClose.
        self._dropped_at = min(
            (c.closed_at for c in self.clients if c.closed_at), default=time.monotonic()
        )
        for client in self.clients:
            if client.transport is not None:
                client.transport.abort()
        self.clients = []
        await asyncio.sleep(0)
        return {"dropped": len(self._dropped)}

    async def reconnect(self) -> dict[str, Any]:
        """Reconnect every dropped client with ``?after=`` the newest change it applied."""
        targets = [target for target, _, _ in self._dropped]
        return await self.connect(targets, [(last, seen) for _, last, seen in self._dropped])

    async def close(self) -> dict[str, Any]:
        """Close every socket cleanly."""
        for client in self.clients:
            if client.transport is not None and not client.closed.done():
                client.transport.write(masked_frame(8, struct.pack("!H", 1000)))
        await asyncio.sleep(0.2)
        for client in self.clients:
            if client.transport is not None:
                client.transport.abort()
        self.clients = []
        return {}


def _worker_main(pipe: Pipe) -> None:
    """Process entry point: run commands from the driver until told to stop."""
    raise_open_files()

    async def serve() -> None:
        groups: dict[str, Group] = {}
        loop = asyncio.get_running_loop()
        while True:
            name, group, args = await loop.run_in_executor(None, pipe.recv)
            if name == "stop":
                for each in groups.values():
                    await each.close()
                pipe.send({})
                return
            result = getattr(groups.setdefault(group, Group()), name)(*args)
            if asyncio.iscoroutine(result):
                result = await result
            pipe.send(result)

    asyncio.run(serve())


class LoadGen:
    """The driver's handle on the generator processes; commands go to all of them at once."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Pipe] = []
        self._procs = []
        for _ in range(processes):
            ours, theirs = context.Pipe()
            proc = context.Process(target=_worker_main, args=(theirs,), daemon=True)
            proc.start()
            self._pipes.append(ours)
            self._procs.append(proc)
        self._cpu_mark = [0.0] * processes

    @property
    def size(self) -> int:
        return len(self._pipes)

    async def _all(
        self, name: str, group: str, per_worker: list[tuple[Any, ...]]
    ) -> list[dict[str, Any]]:
        for pipe, args in zip(self._pipes, per_worker, strict=True):
            pipe.send((name, group, args))
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(*(loop.run_in_executor(None, p.recv) for p in self._pipes))
        )

    async def call(self, name: str, group: str, *args: Any) -> list[dict[str, Any]]:
        """Run ``name(*args)`` on ``group`` in every worker."""
        return await self._all(name, group, [args] * self.size)

    async def connect(self, group: str, targets: list[Target]) -> dict[str, Any]:
        """Spread ``targets`` over the workers and connect them all as ``group``."""
        shares = [targets[i :: self.size] for i in range(self.size)]
        replies = await self._all("connect", group, [(share,) for share in shares])
        return {
            "connected": sum(r["connected"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:3],
            "seconds": max(r["seconds"] for r in replies),
        }

    async def collect(self, group: str, lo: int, hi: int) -> dict[str, Any]:
        """Merge the workers' records of seqs ``lo``..``hi``-1, and their CPU since last time."""
        replies = await self.call("collect", group, lo, hi)
        latencies = array("I")
        for reply in replies:
            latencies.frombytes(reply["latencies"])
        cpu = [r["cpu"] for r in replies]
        spent = sum(c - m for c, m in zip(cpu, self._cpu_mark, strict=True))
        self._cpu_mark = cpu
        return {
            "latencies_us": latencies,
            "missing": sum(r["missing"] for r in replies),
            "duplicated": sum(r["duplicated"] for r in replies),
            "closed": sum(r["closed"] for r in replies),
            "close_codes": dict(sum((Counter(r["close_codes"]) for r in replies), Counter())),
            "clients": sum(r["clients"] for r in replies),
            "cpu_seconds": spent,
        }

    async def stop(self) -> None:
        """Close every client and end the processes."""
        with contextlib.suppress(OSError, EOFError):
            await self.call("stop", "")
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
