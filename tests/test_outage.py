"""The database goes away mid-conversation and comes back: a real PostgreSQL of the test's
own (``initdb`` on a free port, never the shared server), stopped and started under a
running server process with real websockets.

What must hold: the sockets stay open, the sender is told its message is not saved yet,
``/readyz`` says 503 meanwhile and 200 after, the retry (same client id, as chat.js sends
it) stores and delivers exactly one copy, and the log says so in a few lines, not a
traceback per attempt.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from tests.conftest import DATABASE, REQUIRE_POSTGRES, Server, free_port, serving, sign_up

pytestmark = pytest.mark.skipif(
    DATABASE != "postgres",
    reason="stops a PostgreSQL cluster of its own: runs in the PostgreSQL pass",
)

MESSAGE_ID = re.compile(r'id="message-(\d+)"')
OUTAGE_SECONDS = 6  # long enough for several housekeeping rounds and client retries


def _postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's layout."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class Cluster:
    """A throwaway PostgreSQL cluster: ``initdb`` into a directory of its own, on a free port.

    PostgreSQL refuses to run as root; as root, the cluster runs as the ``postgres`` OS
    user, so its directory is made outside pytest's root-only temporary tree.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="parley-outage-"))
        self.data = self.directory / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.admin_url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/parley"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{tool} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self) -> None:
        host = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        self._run("createdb", *host, "parley")

    def remove(self) -> None:
        """Stop (if still running) and delete everything."""
        pg_ctl = [*self.as_user, str(self.bin_dir / "pg_ctl")]
        command = [*pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A started private cluster holding a migrated ``parley`` database."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = "initdb is not installed: no private PostgreSQL cluster can be started"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message + " (set CHAT_REQUIRE_POSTGRES=1 to fail instead)")
    running = Cluster(bin_dir)
    try:
        running.init()
        running.start()
        running.create_database()
        # Migrated by the CLI: migrating in this process would replace the suite's connections.
        env = os.environ | {"CHAT_DATABASE_URL": running.url, "CHAT_SECRET_KEY": "outage-test"}
        migrated = subprocess.run(
            [sys.executable, "-m", "chat_app", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        yield running
    finally:
        running.remove()


class Tab:
    """One open socket and everything it received; it does not reconnect (it must not need to)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            self.frames.append(str(frame))

    def text(self) -> str:
        return "".join(self.frames)

    def seen(self) -> list[int]:
        """Message ids in arrival order, repeats included."""
        return [int(i) for i in MESSAGE_ID.findall(self.text())]

    async def until(self, needle: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while needle not in self.text():
                assert not self._reader.done(), f"socket closed: {self.ws.close_code}"
                await asyncio.sleep(0.02)

    async def post(self, content: str, client_id: str) -> None:
        """The frame chat.js sends, first time or resend: the same client id each time."""
        await self.ws.send(json.dumps({"content": content, "client_id": client_id, "HEADERS": {}}))


@asynccontextmanager
async def tab(server: Server, cookie: str) -> AsyncIterator[Tab]:
    url = f"{server.ws_base}/rooms/general/live?after=0"
    headers = {"Origin": server.base, "Cookie": cookie}
    async with connect(url, additional_headers=headers) as ws:
        opened = Tab(ws)
        try:
            yield opened
        finally:
            opened._reader.cancel()


async def ready(http: httpx.AsyncClient) -> int:
    return (await http.get("/readyz", timeout=10)).status_code


async def stored(url: str, client_id: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM messages WHERE client_id = $1", client_id
        )
        return int(count)
    finally:
        await connection.close()


@contextmanager
def log_since(path: Path) -> Iterator[list[str]]:
    """The lines appended to ``path`` while inside (filled in on exit)."""
    start = path.stat().st_size
    lines: list[str] = []
    yield lines
    with path.open("rb") as log:
        log.seek(start)
        lines.extend(log.read().decode(errors="replace").splitlines())


async def test_a_message_sent_while_the_database_is_down_is_stored_once_when_it_is_back(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"CHAT_PRESENCE_REFRESH_SECONDS": "1"}  # housekeeping meets the outage several times
    log = tmp_path / "server.log"
    with serving(cluster.url, log, env) as server:
        alice, bob = await sign_up(server.base, "alice"), await sign_up(server.base, "bob")
        async with (
            httpx.AsyncClient(base_url=server.base) as http,
            tab(server, alice) as sender,
            tab(server, bob) as viewer,
        ):
            await sender.post("before the outage", uuid.uuid4().hex)
            await viewer.until("before the outage")
            assert await ready(http) == 200

            client_id = uuid.uuid4().hex
            with log_since(log) as outage_log:
                await asyncio.to_thread(cluster.stop)
                await sender.post("sent during the outage", client_id)
                # The pending copy is told it is not saved yet (the socket stays open).
                await sender.until(f"pending-{client_id}")
                assert "Not saved yet" in sender.text()
                assert await ready(http) == 503
                # chat.js retries with backoff while the server still cannot store it,
                # and the socket keeps answering the other kinds of frame.
                for _ in range(3):
                    await asyncio.sleep(OUTAGE_SECONDS / 3)
                    answered = len(sender.frames)
                    await sender.ws.send(json.dumps({"typing": "1", "HEADERS": {}}))
                    await sender.post("sent during the outage", client_id)
                    async with asyncio.timeout(10):
                        while len(sender.frames) == answered:
                            await asyncio.sleep(0.02)
                assert sender.ws.state is State.OPEN and viewer.ws.state is State.OPEN
                await asyncio.to_thread(cluster.start)
                async with asyncio.timeout(15):
                    while await ready(http) != 200:
                        await asyncio.sleep(0.2)

            # The resend after the outage stores it; a second resend stores nothing more.
            await sender.post("sent during the outage", client_id)
            await viewer.until("sent during the outage")
            await sender.until(f'data-client-id="{client_id}"')
            await sender.post("sent during the outage", client_id)
            await sender.post("after the outage", uuid.uuid4().hex)
            await viewer.until("after the outage")
            await asyncio.sleep(0.3)  # room for a duplicate to show up
            assert await stored(cluster.url, client_id) == 1
            assert len(viewer.seen()) == len(set(viewer.seen())) == 3
            assert sender.ws.state is State.OPEN and viewer.ws.state is State.OPEN

    # A few lines say what happened, not a traceback per attempt.
    text = "\n".join(outage_log)
    assert "Traceback" not in text, text
    kinds = re.findall(r"event=(?:db.unavailable|not_ready) where=(\S+) kind=(\S+)", text)
    assert ("websocket", "ConnectionRefusedError") in kinds, text
    # The outage is shorter than the interval: each place and kind of failure says it once.
    assert len(kinds) == len(set(kinds)), text
    assert len(outage_log) <= 30, text
