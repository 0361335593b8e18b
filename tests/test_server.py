"""The real thing: Hypercorn in a subprocess, real sockets, a websocket client library."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import (
    DATABASE,
    POSTGRES_ADMIN_URL,
    Server,
    csrf_from,
    free_port,
    new_database,
    serving,
    sign_up,
)
from tests.hostile import TEN_MB


@pytest.fixture
async def sockets(server: Server) -> AsyncIterator[tuple[ClientConnection, ClientConnection]]:
    alice, bob = await sign_up(server.base, "alice"), await sign_up(server.base, "bob")
    url = f"{server.ws_base}/rooms/general/live?after=0"
    headers = {"Origin": server.base}
    async with (
        connect(url, additional_headers=headers | {"Cookie": alice}) as alice_ws,
        connect(url, additional_headers=headers | {"Cookie": bob}) as bob_ws,
    ):
        yield alice_ws, bob_ws


def frame(content: str) -> str:
    return json.dumps({"content": content, "client_id": uuid.uuid4().hex, "HEADERS": {}})


async def received(ws: ClientConnection, needle: str) -> str:
    seen = ""
    async with asyncio.timeout(5):
        while needle not in seen:
            seen += str(await ws.recv())
    return seen


async def test_two_users_chat_over_real_sockets(sockets: tuple[ClientConnection, ...]) -> None:
    alice_ws, bob_ws = sockets
    await alice_ws.send(frame("over the wire"))
    assert 'class="chat chat-start ' in await received(bob_ws, "over the wire")
    assert 'class="chat chat-end ' in await received(alice_ws, "over the wire")
    await bob_ws.send(frame("and back"))
    assert "and back" in await received(alice_ws, "and back")


async def test_empty_binary_frame_gets_a_notice(sockets: tuple[ClientConnection, ...]) -> None:
    alice_ws, _ = sockets
    await alice_ws.send(b"")
    assert "Only text frames" in await received(alice_ws, "Only text frames")
    await alice_ws.send(frame("still here"))
    await received(alice_ws, "still here")


async def test_oversized_frame_is_closed_with_1009(sockets: tuple[ClientConnection, ...]) -> None:
    alice_ws, bob_ws = sockets
    await alice_ws.send("x" * (64 * 1024 + 1))
    with pytest.raises(ConnectionClosed) as closed:
        await received(alice_ws, "never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await bob_ws.send(frame("others unaffected"))
    await received(bob_ws, "others unaffected")


async def test_handshake_from_another_origin_is_refused(server: Server) -> None:
    cookie = await sign_up(server.base, "carol")
    with pytest.raises(Exception, match="403"):
        async with connect(
            f"{server.ws_base}/rooms/general/live",
            additional_headers={"Origin": "https://evil.example", "Cookie": cookie},
        ):
            pass


async def test_a_websockets_access_line_names_its_client_though_the_socket_drops_its_headers(
    server: Server,
) -> None:
    cookie = await sign_up(server.base, "dora")
    headers = {"Origin": server.base, "Cookie": cookie, "User-Agent": "dora-agent/1.0"}
    url = f"{server.ws_base}/rooms/general/live?after=0"
    async with connect(url, additional_headers=headers, user_agent_header=None) as ws:
        await ws.send(frame("after the accept"))
        await received(ws, "after the accept")
    lines = server.log.read_text().splitlines()
    [line] = [line for line in lines if "GET /rooms/general/live 1.1" in line]
    assert '" 101 ' in line and "dora-agent/1.0" in line


async def test_sigterm_closes_sockets_with_1012_and_exits(
    server: Server, sockets: tuple[ClientConnection, ...]
) -> None:
    alice_ws, _ = sockets
    stopping = asyncio.create_task(asyncio.to_thread(server.stop, signal.SIGTERM))
    with pytest.raises(ConnectionClosed) as closed:
        await received(alice_ws, "never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert await stopping == 0


async def test_logout_closes_that_browsers_sockets_only(
    server: Server, sockets: tuple[ClientConnection, ...]
) -> None:
    alice_ws, bob_ws = sockets
    cookie = alice_ws.request.headers["Cookie"] if alice_ws.request else ""
    async with httpx.AsyncClient(base_url=server.base, headers={"Cookie": cookie}) as http:
        page = await http.get("/rooms/general")
        response = await http.post("/logout", data={"csrf_token": csrf_from(page.text)})
        assert response.status_code == 303
    with pytest.raises(ConnectionClosed) as closed:
        await received(alice_ws, "never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await bob_ws.send(frame("bob is still here"))
    await received(bob_ws, "bob is still here")


async def test_a_frame_flood_is_closed_with_1008_and_others_are_unaffected(
    sockets: tuple[ClientConnection, ...],
) -> None:
    alice_ws, bob_ws = sockets
    with pytest.raises(ConnectionClosed) as closed:
        for n in range(5000):
            await alice_ws.send(frame(f"flood {n}"))
        await received(alice_ws, "never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await bob_ws.send(frame("bob is fine"))
    await received(bob_ws, "bob is fine")


async def test_ten_megabytes_in_a_frame_or_a_url_are_refused_and_the_server_carries_on(
    server: Server, sockets: tuple[ClientConnection, ...]
) -> None:
    _, bob_ws = sockets
    alice = await sign_up(server.base, "carol")
    url = f"{server.ws_base}/rooms/general/live?after=0"
    headers = {"Origin": server.base, "Cookie": alice}
    # Hypercorn answers 1009 at once, but after an over-long frame that came uncompressed it
    # closes the TCP connection only at its timeout (~20 s): wait for its close frame.
    async with connect(url, additional_headers=headers, close_timeout=1) as alice_ws:
        await alice_ws.send(TEN_MB)
        async with asyncio.timeout(5):
            while alice_ws.protocol.close_rcvd is None:
                await asyncio.sleep(0.05)
    assert alice_ws.protocol.close_rcvd.code == 1009
    host, port = server.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"GET /rooms/general/history?before={TEN_MB} HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        writer.write(request.encode())
        await writer.drain()
        head = await reader.read(12)
    except ConnectionError:  # Hypercorn may drop the connection while we still write
        head = b""
    writer.close()
    assert head in {b"", b"HTTP/1.1 400"}, head
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).status_code == 200
    await bob_ws.send(frame("bob is fine"))
    await received(bob_ws, "bob is fine")


async def run_module(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m chat_app ARGS`` on ``database_url``, to completion."""
    env = os.environ | {"CHAT_DATABASE_URL": database_url, "CHAT_SECRET_KEY": "server-test-secret"}
    command = [sys.executable, "-m", "chat_app", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )


async def test_server_refuses_a_schema_that_is_behind_until_migrated(tmp_path: Path) -> None:
    async with new_database(tmp_path, migrated=False) as url:
        refused = await run_module(url, "serve", "--port", str(free_port()))
        assert refused.returncode == 1
        assert "schema is behind (pending: chat.0001_initial" in refused.stderr
        assert "make migrate" in refused.stderr
        assert "Traceback" not in refused.stderr
        migrated = await run_module(url, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        with serving(url, tmp_path / "server.log") as server:
            assert httpx.get(f"{server.base}/readyz").status_code == 200


async def test_tasks_say_when_the_database_cannot_be_reached() -> None:
    result = await run_module(f"postgres://postgres@127.0.0.1:{free_port()}/nowhere", "stats")
    assert result.returncode == 1
    assert "Error: Cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(DATABASE != "postgres", reason="an open SQLite file cannot go away")
async def test_readyz_fails_when_the_database_is_down(tmp_path: Path) -> None:
    # Migrated by the CLI: migrating in this process would replace the suite's connections.
    async with new_database(tmp_path, migrated=False) as url:
        assert (await run_module(url, "migrate")).returncode == 0
        with serving(url, tmp_path / "server.log") as server:
            assert httpx.get(f"{server.base}/readyz").status_code == 200
            admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
            try:
                name = url.rsplit("/", 1)[1]
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            response = await asyncio.to_thread(httpx.get, f"{server.base}/readyz", timeout=10)
            assert response.status_code == 503
            assert response.json() == {"database": "unavailable", "broker": "ok"}
            assert httpx.get(f"{server.base}/healthz").status_code == 200  # alive, not ready


async def test_a_body_that_never_arrives_gets_408(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "slow.log", env={"CHAT_BODY_TIMEOUT": "1"}) as slow:
        host, port = slow.base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: 100\r\n\r\nusername=al"  # ... and the rest never comes
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.read(12), 10)
        writer.close()
        assert head == b"HTTP/1.1 408"


async def test_compression_offered_as_browsers_do_is_declined_and_every_frame_length_arrives(
    database_url: str, tmp_path: Path
) -> None:
    """Browsers offer permessage-deflate; the server declines it (each deflating socket held
    ~40 KB of zlib state, and the hub's frames are shared uncompressed bytes anyway), so the
    tab reads plain frames. A catch-up of twenty long messages needs the 64-bit length field."""
    with serving(database_url, tmp_path / "server.log", {"CHAT_MESSAGES_BURST": "50"}) as server:
        alice = await sign_up(server.base, "alice")
        url = f"{server.ws_base}/rooms/general/live?after=0"
        headers = {"Origin": server.base, "Cookie": alice}
        async with connect(url, additional_headers=headers, compression="deflate") as ws:
            assert ws.request is not None and ws.response is not None
            assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            assert ws.protocol.extensions == []
            for n in range(20):
                await ws.send(frame(f"{n:02d}" + "x" * 3998))
                assert f"{n:02d}xxx" in await received(ws, f"{n:02d}xxx")
        async with connect(url, additional_headers=headers) as ws:
            catch_up = await received(ws, "19xxx")
            assert len(catch_up.encode()) > 65535 and catch_up.count("x" * 3998) == 20
        metrics = httpx.get(f"{server.base}/metrics").text
        assert 'parley_frames_sent_total{path="direct"} 0.0' not in metrics
        assert 'parley_frames_sent_total{path="direct"}' in metrics
