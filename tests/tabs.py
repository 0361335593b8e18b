"""A browser tab on a real websocket: what htmx would show, and where it resumes from.

``Page`` applies each frame as htmx's ws extension does (every top-level element swapped by its
id), keeping the messages it would show; ``Tab`` is the socket that feeds it, reconnecting as the
ws extension does, to another node when its own is down (as a load balancer would send it), and,
when asked to, dropping its connection at random without a close frame.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import struct
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chat_app.models import Message
from tests.conftest import Server

RECONNECTING_CODES = {1006, 1011, 1012, 1013}  # the ws extension reconnects after these only
MESSAGE_DOM_ID = re.compile(r"message-(\d+)")
FRAMES_KEPT = 1000
CLIENT_ID = re.compile(r'data-client-id="([^"]+)"')
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Element:
    """One element of a frame: enough of it to swap it as htmx would and to read it back."""

    tag: str
    attrs: dict[str, str]
    start: int
    end: int = -1
    html: str = ""
    children: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Its text content (descendants' included, in order), whitespace collapsed."""
        return " ".join("".join(self.texts).split())

    def find(self, css_class: str) -> Element | None:
        """The first descendant (or itself) whose class list holds ``css_class``."""
        if css_class in self.attrs.get("class", "").split():
            return self
        for child in self.children:
            if (found := child.find(css_class)) is not None:
                return found
        return None


class _FrameParser(HTMLParser):
    """The element tree of one frame, each element with its source text (``html``)."""

    def __init__(self, frame: str) -> None:
        super().__init__(convert_charrefs=True)
        self.frame = frame
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", frame)]
        self.top: list[Element] = []
        self.open: list[Element] = []
        self.feed(frame)
        self.close()
        while self.open:  # unclosed at the end: closed there, as a browser would
            self._finish(self.open.pop(), len(frame))

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self._offset())
        (self.open[-1].children if self.open else self.top).append(element)
        if tag in VOID_TAGS:
            self._finish(element, element.start + len(self.get_starttag_text() or ""))
        else:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            element = self.open.pop()
            self._finish(element, element.start + len(self.get_starttag_text() or ""))

    def handle_endtag(self, tag: str) -> None:
        if not any(element.tag == tag for element in self.open):
            return  # a stray end tag: ignored, as a browser does
        end = self.frame.index(">", self._offset()) + 1
        while self.open:
            element = self.open.pop()
            self._finish(element, end)
            if element.tag == tag:
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:  # each element keeps its whole text content, in order
            element.texts.append(data)

    def _finish(self, element: Element, end: int) -> None:
        element.end = end
        element.html = self.frame[element.start : end]


def message_id_of(element: Element) -> int | None:
    """N for an element with ``id="message-N"``, else None."""
    found = MESSAGE_DOM_ID.fullmatch(element.attrs.get("id", ""))
    return int(found.group(1)) if found else None


class Page:
    """The messages a tab shows, kept as htmx would from the frames it applied.

    - children of ``<div id="messages" hx-swap-oob="beforeend" data-change="N">`` are
      appended: one whose id is shown already (but for the sender's own copy, a wrapper with
      no ``data-change``, which its change replaces) is counted in ``duplicates``;
    - a top-level ``<div id="message-N">`` replaces N (``orphans`` counts one for a message
      not shown: htmx finds no target and drops it); ``hx-swap-oob="delete"`` removes N;
    - ``<div id="change-cursor" data-change="N">`` sets the resume cursor (the change log);
    - ``hx-swap-oob="outerHTML:.quote-of-N"`` replaces the excerpts of N in the replies shown.
    """

    def __init__(self) -> None:
        self.messages: dict[int, Element] = {}
        self.appended: list[int] = []  # every append in arrival order, repeats included
        self.duplicates: list[int] = []
        self.orphans: list[int] = []
        self._own_copies: set[int] = set()  # shown from the sender's own copy, change awaited
        self.change: int | None = None  # the newest change applied, once the server sends one

    @property
    def cursor(self) -> int:
        """What to resume after: the newest change applied, or (a server with no change log)
        the newest message shown."""
        if self.change is not None:
            return self.change
        return max(self.messages, default=0)

    def apply(self, frame: str) -> None:
        """Swap every top-level element of ``frame``, in order."""
        for element in _FrameParser(frame).top:
            dom_id, swap = element.attrs.get("id", ""), element.attrs.get("hx-swap-oob", "")
            if dom_id == "messages" and swap.startswith("beforeend"):
                by_change = "data-change" in element.attrs  # else the sender's own copy
                for child in element.children:
                    if (message_id := message_id_of(child)) is not None:
                        self._append(message_id, child, by_change)
            elif dom_id == "change-cursor":
                self.change = int(element.attrs["data-change"])
            elif swap.startswith("outerHTML:."):
                self._replace_within(swap.removeprefix("outerHTML:."), element)
            elif (message_id := message_id_of(element)) is not None:
                if swap == "delete":
                    self.messages.pop(message_id, None)
                elif message_id in self.messages:
                    self.messages[message_id] = element
                else:
                    self.orphans.append(message_id)

    def _replace_within(self, css_class: str, element: Element) -> None:
        """``hx-swap-oob="outerHTML:.C"``: every element of class C in a message shown (the
        excerpts of replies) becomes ``element``."""
        for message_id, shown in self.messages.items():
            target = shown.find(css_class)
            if target is not None:
                start, end = target.start - shown.start, target.end - shown.start
                html = shown.html[:start] + element.html + shown.html[end:]
                self.messages[message_id] = _FrameParser(html).top[0]

    def _append(self, message_id: int, element: Element, by_change: bool) -> None:
        """As chat.js does: a copy of a message already shown replaces it. The sender's own
        copy comes first and its change after it; the change coming twice is a duplicate."""
        if not by_change:
            self._own_copies.add(message_id)
            self.messages[message_id] = element
            return
        self.appended.append(message_id)
        if message_id in self.messages and message_id not in self._own_copies:
            self.duplicates.append(message_id)
        else:
            self._own_copies.discard(message_id)
            self.messages[message_id] = element


class Headlines(Page):
    """A cheaper Page for tabs whose screen is not checked (the senders'): the same swaps, read
    with regular expressions from the start tags alone, so the elements have only their
    attributes. At ~5 µs a frame instead of ~200, a test process can afford many of them."""

    START_TAG = re.compile(r"<div ([^>]*)>")
    ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')

    def apply(self, frame: str) -> None:
        wrapper: dict[str, str] | None = None  # the div just before, when it was an append's
        for tag in self.START_TAG.finditer(frame):
            attrs = dict(self.ATTRIBUTE.findall(tag.group(1)))
            element = Element("div", attrs, tag.start())
            appended_by, wrapper = wrapper, attrs if attrs.get("id") == "messages" else None
            if attrs.get("id") == "change-cursor":
                self.change = int(attrs["data-change"])
            elif (message_id := message_id_of(element)) is None:
                continue
            elif attrs.get("hx-swap-oob") == "delete":
                self.messages.pop(message_id, None)
            elif appended_by is not None:
                self._append(message_id, element, "data-change" in appended_by)
            elif message_id in self.messages:
                self.messages[message_id] = element
            else:
                self.orphans.append(message_id)


def reset(ws: ClientConnection) -> None:
    """Drop the connection the way a lost network does: a TCP reset, no close frame."""
    sock = ws.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


class Tab:
    """A browser tab: one socket that reconnects with ``?after=<page.cursor>``.

    ``nodes`` are where it goes, in order, when its node refuses it (the first is where it
    starts). With ``churn=(low, high)`` it resets its connection after a random ``low``-``high``
    seconds, again and again, until ``calm()``. ``page`` is what it shows (a ``Page`` unless
    given, e.g. ``Headlines``). ``seen`` keeps every message id appended in
    arrival order, repeats included, so a duplicate or a hole shows up against the database.
    As chat.js does, a post stays pending until a frame shows its client id, and every
    pending post is sent again when the socket reopens (the server stores a client id once).
    """

    def __init__(
        self,
        server: Server,
        cookie: str,
        *,
        nodes: Sequence[Server] = (),
        churn: tuple[float, float] | None = None,
        room: str = "general",
        page: Page | None = None,
    ) -> None:
        self.server, self.cookie, self.room = server, cookie, room
        self.nodes = list(nodes) or [server]
        self.churn = churn
        self.page = page or Page()
        self.seen = self.page.appended
        self.frames: deque[str] = deque(maxlen=FRAMES_KEPT)  # the latest, for presence and typing
        self.close_codes: list[int] = []
        self.resets = 0
        self.pending: dict[str, str] = {}  # client id -> the frame that posted it
        self._ws: ClientConnection | None = None
        self._drop: asyncio.Timeout | None = None
        self._open = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tab:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._open.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def calm(self) -> None:
        """Stop dropping the connection (the one open now stays)."""
        self.churn = None
        if self._drop is not None and not self._drop.expired():  # expired: one last drop
            self._drop.reschedule(None)

    async def _run(self) -> None:
        while True:
            url = f"{self.server.ws_base}/rooms/{self.room}/live?after={self.page.cursor}"
            headers = {"Origin": self.server.base, "Cookie": self.cookie}
            code = 1006
            try:
                async with connect(url, additional_headers=headers, max_size=None) as ws:
                    self._ws = ws
                    self._open.set()
                    for frame in list(self.pending.values()):
                        await ws.send(frame)
                    await self._read(ws)
                    code = ws.close_code or 1006
            except (OSError, InvalidHandshake):  # refused: the node is down or restarting
                self._fail_over()
            self._open.clear()
            self._ws = None
            self.close_codes.append(code)
            if code not in RECONNECTING_CODES:
                return
            await asyncio.sleep(0.05)

    async def _read(self, ws: ClientConnection) -> None:
        """Apply frames until the socket closes, or until it is time to drop it."""
        lifetime = random.uniform(*self.churn) if self.churn else None
        try:
            async with asyncio.timeout(lifetime) as self._drop:
                async for frame in ws:
                    self.frames.append(str(frame))
                    self.page.apply(str(frame))
                    for client_id in CLIENT_ID.findall(str(frame)):
                        self.pending.pop(client_id, None)
        except ConnectionClosed:
            pass
        except TimeoutError:
            reset(ws)
            self.resets += 1
        finally:
            self._drop = None

    def _fail_over(self) -> None:
        self.server = self.nodes[(self.nodes.index(self.server) + 1) % len(self.nodes)]

    async def post(self, content: str, client_id: str | None = None) -> None:
        """Send a message as the composer does (the client id is the tab's, made up if not
        given); it is sent again on every reconnect until a frame shows it."""
        client_id = client_id or uuid.uuid4().hex
        fields = {"content": content, "client_id": client_id}
        self.pending[client_id] = json.dumps(fields | {"HEADERS": {}})
        await self.send(fields)

    async def send(self, fields: dict[str, str]) -> None:
        """Send one frame as the ws extension does, waiting for the socket to be open."""
        frame = json.dumps(fields | {"HEADERS": {}})
        while True:
            await asyncio.wait_for(self._open.wait(), 10)
            if self._ws is not None:
                try:
                    await self._ws.send(frame)
                    return
                except ConnectionClosed:
                    pass
            await asyncio.sleep(0.02)

    def shows_online(self, user_id: int) -> bool | None:
        """What the latest people list this tab received says about ``user_id``."""
        marker = re.compile(rf'id="presence-{user_id}" data-online="(true|false)"')
        for frame in reversed(self.frames):
            if found := marker.search(frame):
                return found.group(1) == "true"
        return None

    async def until(self, condition: Callable[[], object], timeout: float = 15) -> None:
        """Until ``condition()`` holds for what this tab has received."""
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)

    async def wait_for(self, ids: list[int], timeout: float = 15) -> None:
        """Until every id in ``ids`` has arrived."""
        async with asyncio.timeout(timeout):
            while not set(ids) <= set(self.seen):
                await asyncio.sleep(0.02)


async def room_ids() -> list[int]:
    """Every message id in the database, in order: what every tab must have seen, once each."""
    return list(await Message.all().order_by("id").values_list("id", flat=True))
