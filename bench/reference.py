"""The reference: a minimal broadcast chat on the ``websockets`` library doing the same job.

It parses the composer's JSON frame, renders the very same fragment from our templates once
per message, and hands it to ``websockets.broadcast`` (one frame per message per client, no
per-socket task). It keeps messages in memory so a reconnecting client can ask for what it
missed with ``?after=<id>`` (its messages' ids serve as change numbers). No database, no
authentication: it is the floor we compare with.

Run: ``python -m bench.reference --port 9000``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import http
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import websockets
from jinja2 import Environment, FileSystemLoader, select_autoescape
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from bench.loadgen import raise_open_files
from bench.servers import HOST, ROOT
from chat_app.highlight import TEMPLATE_FILTERS
from chat_app.richtext import render

PAGE = 200  # as the app's catch-up page


@dataclass(frozen=True)
class Author:
    username: str


@dataclass(frozen=True)
class Message:
    id: int
    author_id: int
    author: Author
    content: str
    content_html: str  # rendered once, when posted, as ours does
    created_at: datetime
    client_id: str = ""
    edited_at: datetime | None = None
    reaction_groups: tuple[()] = ()
    quoted: None = None
    mentioned: tuple[()] = ()
    preview: None = None


class Room:
    """One room: its sockets and its messages (ids increase, so the list stays sorted)."""

    def __init__(self) -> None:
        env = Environment(
            loader=FileSystemLoader(ROOT / "templates"), autoescape=select_autoescape()
        )
        env.globals["dom_id"] = lambda kind, record_id: f"{kind}-{record_id}"
        env.filters.update(TEMPLATE_FILTERS)  # the partial's own filters, as in the app
        self.template = env.get_template("streams/messages_appended.html")
        self.cursor = env.get_template("streams/change_cursor.html")
        self.sockets: set[ServerConnection] = set()
        self.messages: list[Message] = []
        self.ids: list[int] = []

    def render(self, messages: list[Message]) -> str:
        """The same envelope as ours: the messages, then the cursor (ids serve as changes)."""
        html = self.template.render(messages=messages, viewer_id=None)
        return html + self.cursor.render(change=messages[-1].id)

    def post(self, content: str) -> None:
        message = Message(
            len(self.ids) + 1, 1, Author("bench"), content, render(content), datetime.now(UTC)
        )
        self.messages.append(message)
        self.ids.append(message.id)
        websockets.broadcast(self.sockets, self.render([message]))

    def missed(self, after: int) -> list[Message]:
        return self.messages[bisect.bisect_right(self.ids, after) :]


ROOM = Room()


async def live(socket: ServerConnection) -> None:
    """Subscribe, replay what was missed, then read composer frames until the client leaves."""
    assert socket.request is not None
    query = parse_qs(urlsplit(socket.request.path).query)
    ROOM.sockets.add(socket)  # subscribe before the replay snapshot: nothing falls between
    try:
        if "after" in query:
            missed = ROOM.missed(int(query["after"][0]))
            for start in range(0, len(missed), PAGE):
                await socket.send(ROOM.render(missed[start : start + PAGE]))
        async for frame in socket:
            try:
                data = json.loads(frame)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("content"), str):
                ROOM.post(data["content"])
    except websockets.ConnectionClosed:
        pass
    finally:
        ROOM.sockets.discard(socket)


def health(connection: ServerConnection, request: Request) -> Response | None:
    """Answer ``/healthz`` over plain HTTP, like the app does."""
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "ok\n")
    return None


async def main(port: int) -> None:
    async with websockets.serve(
        live, HOST, port, process_request=health, ping_interval=None, max_size=65536
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    raise_open_files()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
