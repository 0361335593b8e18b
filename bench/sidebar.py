"""Scenario 8: the sidebar at scale. Many sockets in many rooms; a message in one big room;
how long until every member of that room, on each tab of theirs showing another room, has
its sidebar entry (the fragment ``realtime/sidebar.py`` renders once per audience).

Layout: ``rooms`` open rooms; each user has ``sockets_per_user`` tabs, all in their home room
(one of the rooms but the first); the first ``members`` users are also members of the first,
big, room, where a sender posts. So every big-room member is "elsewhere", and every other
socket hears nothing of it. A client notes the first frame that holds the big room's entry
after each post (``LoadGen`` ``watch``/``watched``): the latency is from just before the send to
then, per member socket, and a socket that gets none within the wait counts as missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import websockets

from bench.loadgen import HEARTBEAT, Target
from bench.population import ROOM, SECRET
from bench.servers import HOST, start_ours
from chat_app import create_app
from chat_app.models import Membership, Room, User

BIG_SLUG = "sidebar-big"
WAIT_SECONDS = 20.0  # per post, for every member socket to have its entry
GAP_SECONDS = 0.5  # between posts, so each is measured alone


@dataclass
class Layout:
    """Where each user's tabs go, and who is in the big room."""

    big_room_id: int
    home_paths: list[str]  # by user index
    member_cookies: list[str]


async def arrange(
    url: str, cookies: list[str], sender_index: int, rooms: int, members: int
) -> Layout:
    """Make the rooms and memberships for ``len(cookies)`` users (``bench00000``…, in the
    order of their cookies) and the sender ``bench<sender_index>``: bulk inserts."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    async with app.test_app(), app.app_context():
        users = len(cookies)
        ids = dict(
            await User.filter(
                username__in=[f"bench{n:05d}" for n in [*range(users), sender_index]]
            ).values_list("username", "id")
        )
        await Room.bulk_create(
            [Room(slug=BIG_SLUG, name="Sidebar big")]
            + [Room(slug=f"sidebar-{n:03d}", name=f"Sidebar {n:03d}") for n in range(1, rooms)]
        )
        by_slug = dict(await Room.filter(slug__startswith="sidebar-").values_list("slug", "id"))
        homes = [f"sidebar-{1 + n % (rooms - 1):03d}" for n in range(users)]
        rows = [
            Membership(user_id=ids[f"bench{n:05d}"], room_id=by_slug[homes[n]])
            for n in range(users)
        ]
        rows += [
            Membership(user_id=ids[f"bench{n:05d}"], room_id=by_slug[BIG_SLUG])
            for n in [*range(min(members, users)), sender_index]
        ]
        await Membership.bulk_create(rows, batch_size=1000)
    return Layout(
        by_slug[BIG_SLUG],
        [f"/rooms/{slug}/live" for slug in homes],
        cookies[: min(members, users)],
    )


async def _drain(sock: websockets.ClientConnection) -> None:
    """The sender reads what it is sent and heartbeats like a page."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(15)
            await sock.send(HEARTBEAT.decode())

    heart = asyncio.create_task(beat())
    try:
        async for _ in sock:
            pass
    finally:
        heart.cancel()


async def run_sidebar(
    loadgen: Any,
    url: str,
    layout: Layout,
    cookies: list[str],
    sender_cookie: str,
    sockets_per_user: int,
    posts: int,
    settle: Any,
) -> dict[str, Any]:
    """Start our server, connect every tab, post ``posts`` messages in the big room one at a
    time and collect, per post, when each member socket had its entry."""
    server = start_ours(url, SECRET, ROOM, name="sidebar")
    try:
        targets = [
            Target(HOST, server.port, layout.home_paths[n], cookie)
            for n, cookie in enumerate(cookies)
            for _ in range(sockets_per_user)
        ]
        joined = await loadgen.connect("sidebar", targets)
        settled = await settle(server)
        print(
            f"  sidebar: {joined['connected']} of {len(targets)} connected in "
            f"{joined['seconds']:.1f} s, settled {settled:.1f} s later",
            flush=True,
        )
        sock = await websockets.connect(
            f"ws://{HOST}:{server.port}/rooms/{BIG_SLUG}/live",
            additional_headers={"Origin": f"http://{HOST}:{server.port}", "Cookie": sender_cookie},
            compression=None,
            ping_interval=None,
            max_size=None,
        )
        drain = asyncio.create_task(_drain(sock))
        needle = f'id="room-link-{layout.big_room_id}"'.encode()
        await loadgen.call("watch", "sidebar", needle, layout.member_cookies)
        tag = os.urandom(4).hex()
        await _post(sock, f"s{tag}-warm")  # unmeasured: templates and queries warm up
        await asyncio.sleep(1)
        latencies_ms: list[float] = []
        slowest_ms: list[float] = []  # per post: the last member socket's wait
        missing = 0
        cpu = server.cpu_seconds()
        try:
            for n in range(posts):
                await loadgen.call("watch", "sidebar", needle)
                sent = time.monotonic_ns()
                await _post(sock, f"s{tag}-{n:06d}")
                seen = await _wait_for_all(loadgen, WAIT_SECONDS)
                waits = [(at - sent) / 1e6 for at in seen if at]
                latencies_ms += waits
                slowest_ms.append(round(max(waits, default=0.0), 1))
                missing += sum(1 for at in seen if not at)
                await asyncio.sleep(GAP_SECONDS)
        finally:
            drain.cancel()
            await sock.close()
        server_cpu = server.cpu_seconds() - cpu
        await loadgen.call("close", "sidebar")
        return {
            "sockets": joined["connected"],
            "failed_handshakes": joined["failed"],
            "connect_seconds": joined["seconds"],
            "settle_seconds": settled,
            "member_sockets": len(layout.member_cookies) * sockets_per_user,
            "posts": posts,
            "latencies_ms": latencies_ms,
            "slowest_ms_per_post": slowest_ms,
            "missing": missing,
            "server_cpu_seconds": server_cpu,
        }
    finally:
        server.stop()


async def _post(sock: websockets.ClientConnection, client_id: str) -> None:
    """Post a message in the big room as the composer would."""
    frame = {
        "content": f"sidebar post {client_id}",
        "client_id": client_id,
        "HEADERS": {"HX-Request": "true", "HX-Trigger": "composer"},
    }
    await sock.send(json.dumps(frame))


async def _wait_for_all(loadgen: Any, seconds: float) -> list[int]:
    """The watched clients' arrival times once all have one, or when ``seconds`` are up."""
    deadline = time.monotonic() + seconds
    while True:
        replies = await loadgen.call("watched", "sidebar")
        seen = [at for reply in replies for at in reply["seen_at"]]
        if all(seen) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.05)
