"""Starting the servers under test (ours as deployed, and the reference), and reading their
CPU time and memory from ``/proc`` (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from bench.loadgen import HEARTBEAT, HEARTBEAT_SECONDS

HOST = "127.0.0.1"  # benchmarks never leave loopback
ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process on loopback: its port, CPU seconds and resident memory."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    live_path: str
    ready_url: str
    args: list[str]  # how it was started, so that it can be started again the same way
    env: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)

    def pids(self) -> list[int]:
        """The server's process and its descendants (``serve --workers N`` starts N)."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                todo.extend(int(child) for child in task.read_text().split())
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU its processes have used so far."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def rss_bytes(self) -> int:
        """Resident memory of its processes now."""
        pages = sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) for pid in self.pids())
        return pages * PAGE_SIZE

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def restart(self) -> None:
        """Stop it, then start the same command again: the same port and database."""
        self.stop()
        self.process = _popen(self.args, self.env, self.log)
        _wait_ready(self)


def _popen(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=os.environ | env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: workers stop with it
    )


def _wait_ready(server: Server) -> Server:
    for _ in range(300):
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.ready_url, timeout=0.5):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{server.name} did not become ready in 15 s")


def _spawn(name: str, args: list[str], env: dict[str, str], port: int, live_path: str) -> Server:
    """Start ``python <args>`` and wait until it answers ``/healthz`` on ``port``."""
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    ready_url = f"http://{HOST}:{port}/healthz"
    server = Server(name, _popen(args, env, log), port, log, live_path, ready_url, args, env)
    return _wait_ready(server)


def start_ours(
    database_url: str,
    secret: str,
    room: str,
    *,
    name: str = "ours",
    workers: int = 1,
    broker_url: str = "memory://",
    launcher: tuple[str, ...] = ("chat_app",),
) -> Server:
    """``python -m chat_app serve`` (Hypercorn, hypercorn.toml) with the per-user send rate and
    the per-socket frame rate raised so a few sender sockets can drive hundreds of messages per
    second. ``launcher``: the module (and its arguments) that runs ``chat_app``'s command line
    (``bench.traced`` traces its memory)."""
    port = free_port()
    env = {
        "CHAT_DATABASE_URL": database_url,
        "CHAT_SECRET_KEY": secret,
        "CHAT_MESSAGES_PER_SECOND": "100000",
        "CHAT_MESSAGES_BURST": "100000",
        # A sender socket stands for many users: its frames are not one person's either.
        "CHAT_WS_FRAMES_PER_SECOND": "100000",
        "CHAT_WS_FRAMES_BURST": "100000",
        "CHAT_BROKER_URL": broker_url,
        # The Markdown messages carry a link: what is measured is fan-out, not fetching pages.
        "CHAT_LINK_PREVIEWS": "0",
    }
    args = ["-m", *launcher, "serve", "--port", str(port), "--workers", str(workers)]
    return _spawn(name, args, env, port, f"/rooms/{room}/live")


def start_reference() -> Server:
    """The minimal ``websockets`` broadcast server in ``bench/reference.py``."""
    port = free_port()
    return _spawn("reference", ["-m", "bench.reference", "--port", str(port)], {}, port, "/live")


MIX_EMOJI = ("👍", "🎉", "👀", "🙏")


# A Markdown-heavy chat message (every construct but a quote): ``{token}`` is the bench token.
MARKDOWN_MESSAGE = """**Deploy** {token} is _done_, ~~not~~ `really` done :tada: \
see https://example.com/runs/42 and [the log](https://example.com/log)
- first `item`
- second **item**

```python
def double(x: int) -> int:
    return x * 2  # the answer
```"""


class Senders:
    """A few authenticated sockets that post bench messages as the composer would, and
    optionally edit and react to a few other messages in between (``mix``); their text is
    the bench token alone, or ``template`` around it (``MARKDOWN_MESSAGE``)."""

    def __init__(self, server: Server, cookies: list[str]) -> None:
        self.server = server
        self.cookies = cookies
        self._sockets: list[websockets.ClientConnection] = []
        self._drains: list[asyncio.Task[None]] = []
        self._tag = os.urandom(4).hex()
        # The messages the mix changes: posted by ``mix``, their ids read from the copies
        # their senders get back. Their text holds no bench token, so receivers count only
        # posts, while every edit and reaction is fanned out like any change.
        self._targets: dict[int, list[int]] = {}  # socket index -> message ids
        self._changes_per_post = 0.0
        self._changes = itertools.count()
        self.notices = 0  # answers that refused something a sender sent (none expected)
        self._targets_wanted = 0
        self._targets_known = asyncio.Event()
        self.template = "{token}"

    async def __aenter__(self) -> Senders:
        url = f"ws://{HOST}:{self.server.port}{self.server.live_path}"
        for cookie in self.cookies:
            headers = {"Origin": f"http://{HOST}:{self.server.port}"}
            if cookie:
                headers["Cookie"] = cookie
            sock = await websockets.connect(
                url, additional_headers=headers, compression=None, ping_interval=None, max_size=None
            )
            self._sockets.append(sock)
            self._drains.append(asyncio.create_task(self._drain(len(self._sockets) - 1)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._drains:
            task.cancel()
        for sock in self._sockets:
            await sock.close()

    async def reopen(self) -> None:
        """Connect again, as the composer does once its server is back from a restart."""
        await self.__aexit__()
        self._sockets, self._drains = [], []
        await self.__aenter__()

    async def _drain(self, index: int) -> None:
        # Senders read everything they are sent, so the server never sees them as slow, and
        # heartbeat like the page, so it never sees them as gone.
        sock = self._sockets[index]
        own_target = re.compile(rf'data-message-id="(\d+)" data-client-id="m{self._tag}-{index}-')

        async def beat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_SECONDS)
                await sock.send(HEARTBEAT.decode())

        heart = asyncio.create_task(beat())
        try:
            # A restart closes the socket with 1012: the end of this drain, not an error.
            with contextlib.suppress(websockets.ConnectionClosed):
                async for frame in sock:
                    self.notices += 'id="notice"' in str(frame)
                    for found in own_target.findall(str(frame)):
                        if int(found) not in self._targets.setdefault(index, []):
                            self._targets[index].append(int(found))
                            self._check_targets()
        finally:
            heart.cancel()

    async def mix(self, changes_per_post: float, targets_per_sender: int = 4) -> None:
        """From now on, send ``changes_per_post`` edits and reactions (alternately) per post,
        on messages posted for it here by each sender (a sender changes its own)."""
        self._targets_wanted = targets_per_sender
        for index, sock in enumerate(self._sockets):
            for n in range(targets_per_sender):
                frame = {"content": f"mix target {n}", "client_id": f"m{self._tag}-{index}-{n}"}
                await sock.send(json.dumps(frame | {"HEADERS": {}}))
        async with asyncio.timeout(30):
            await self._targets_known.wait()
        self._changes_per_post = changes_per_post

    def _check_targets(self) -> None:
        wanted = self._targets_wanted
        if all(len(self._targets.get(i, [])) >= wanted for i in range(len(self._sockets))):
            self._targets_known.set()

    async def send(self, seq: int) -> None:
        """Post message ``seq`` stamped with the monotonic clock."""
        frame = json.dumps(
            {
                "content": self.template.format(token=f"bench:{seq}:{time.monotonic_ns()}"),
                "client_id": f"b{self._tag}-{seq}",
                "HEADERS": {"HX-Request": "true", "HX-Trigger": "composer"},
            }
        )
        index = seq % len(self._sockets)
        await self._sockets[index].send(frame)
        share = self._changes_per_post
        if share and int((seq + 1) * share) > int(seq * share):  # ``share`` of the posts
            await self._change(index)

    async def _change(self, index: int) -> None:
        """One edit or one reaction toggle on one of this sender's mix messages."""
        n = next(self._changes)
        targets = self._targets[index]
        target = targets[n // 2 % len(targets)]
        if n % 2:
            change = {"op": "react", "message_id": target, "emoji": MIX_EMOJI[n // 2 % 4]}
        else:
            change = {"op": "edit", "message_id": target, "content": f"mix edit {n}"}
        await self._sockets[index].send(json.dumps(change | {"HEADERS": {}}))

    async def paced(self, first: int, count: int, rate: float) -> None:
        """Send seqs ``first``..``first+count-1`` evenly at ``rate`` per second."""
        start = time.monotonic()
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.send(first + n)
