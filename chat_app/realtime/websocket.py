"""Quart's websocket, with a short path for the frames the hub writes.

Python's cost in a fan-out is per frame, and most of it is the layers a frame crosses: Quart's
ASGI send, Hypercorn's stream and protocol objects, wsproto's framing, then the socket write.
Frames from server to client are not masked, so a text frame is just a header and the UTF-8
text: under Hypercorn's HTTP/1.1 server, ``PromptWebsocket`` writes it straight to the
connection's transport, which is what those layers end up doing. Anything else (another server,
HTTP/2, a closing connection) takes Quart's own path.

The server declines permessage-deflate, which browsers offer and Hypercorn would accept. Our
frames go out uncompressed anyway (one frame's bytes are shared by every socket; compressing
them would cost a deflate pass per socket and message), and accepting it still cost each
connection zlib's inflate state, ~40 KB for a window of 2**15 bytes, once the browser sent its
first compressed heartbeat: more than everything else a socket holds.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from typing import Any

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart.asgi import ASGIWebsocketConnection, _convert_os_error
from quart.wrappers import Websocket
from werkzeug.datastructures import Headers
from wsproto.connection import ConnectionState

from chat_app import metrics
from chat_app.realtime.inbox import GatedBuffer
from chat_app.security import CSRF_COOKIE

TEXT_FIN = 0x81  # FIN bit and the text opcode
DIRECT_FRAMES = metrics.FRAMES_SENT.labels("direct")
ASGI_FRAMES = metrics.FRAMES_SENT.labels("asgi")


@functools.lru_cache(maxsize=1)  # a fan-out writes the same text to every socket in turn
def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented RFC 6455 text frame carrying ``text``."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", TEXT_FIN, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", TEXT_FIN, 127, size)
    return header + payload


class DirectWrite:
    """Hypercorn's objects behind one websocket: its stream (for its state) and its writer."""

    __slots__ = ("stream", "writer")

    def __init__(self, stream: WSStream, writer: asyncio.StreamWriter) -> None:
        self.stream = stream
        self.writer = writer

    def is_open(self) -> bool:
        """True while text frames may go out (not closing on either side)."""
        return (
            self.stream.state is ASGIWebsocketState.CONNECTED
            and not self.stream.closed
            and self.stream.connection.state is ConnectionState.OPEN
            and not self.writer.transport.is_closing()
        )

    @classmethod
    def behind(cls, send: Any) -> DirectWrite | None:
        """Follow Quart's send callable (``partial(send_data, new_send)``, where ``new_send``
        wraps Hypercorn's ``WSStream.app_send``) down to the TCP server's writer; None for any
        other server or layout."""
        try:
            stream = send.args[0].__wrapped__.__self__
            protocol = stream.send.__self__
            server = protocol.send.__self__
        except (AttributeError, IndexError):
            return None
        if not (
            isinstance(stream, WSStream)
            and isinstance(protocol, H11Protocol)
            and isinstance(server, TCPServer)
        ):
            return None
        return cls(stream, server.writer)


class PromptWebsocket(Websocket):
    """``send`` writes straight through to the server.

    Quart's own ``send`` first yields to the event loop (``sleep(0)``), so that a handler
    looping on ``send`` cannot starve the others. Our frames are written by the hub, once per
    socket per batch of events, so that guard only cost a trip round the event loop per frame:
    a fan-out to 1,000 sockets took 1,000 of them instead of one pass.

    Received frames wait in a ``GatedBuffer``: a flood is dropped as it arrives.
    """

    buffer_class = GatedBuffer
    buffer: GatedBuffer
    session_cookie: str | None = None  # the CSRF session's, kept from the handshake

    async def accept(
        self, headers: dict[str, str] | Headers | None = None, subprotocol: str | None = None
    ) -> None:
        direct = self.direct
        if direct is not None and not direct.stream.handshake.accepted:
            direct.stream.handshake.extensions = None  # declines permessage-deflate: see above
        await super().accept(headers, subprotocol)
        if self.scope["headers"]:  # the first accept (``send`` calls it again on its slow path)
            self.session_cookie = self.cookies.get(CSRF_COOKIE)
            # The handshake's headers were read before the accept (cookies, Origin, Host) and
            # the access line is written; kept, they would be ~2.5 KB of a socket open for days.
            self.scope["headers"] = []
            self.headers = Headers()

    @functools.cached_property
    def direct(self) -> DirectWrite | None:
        """The short path for text frames, if this server has one."""
        return DirectWrite.behind(self._send)

    def write_now(self, data: str) -> bool:
        """Write ``data`` as one frame straight to the connection, if the short path is open
        and nothing is still waiting in its buffer (the client reads as fast as we write);
        False otherwise, and ``send`` will do."""
        direct = self.direct
        try:
            if direct is None or not direct.is_open():
                return False
            transport = direct.writer.transport
            if transport.get_write_buffer_size():
                return False
            transport.write(text_frame(data))
        except Exception:  # a transport in a state we did not foresee: the slow path decides
            return False
        DIRECT_FRAMES.inc()
        return True

    async def send(self, data: str | bytes) -> None:
        direct = self.direct
        if isinstance(data, str) and direct is not None and direct.is_open():  # so accepted
            direct.writer.write(text_frame(data))
            DIRECT_FRAMES.inc()
            await direct.writer.drain()  # returns at once unless the client stopped reading
        else:
            await self.accept()
            await self._send(data)
            ASGI_FRAMES.inc()


class OneTaskWebsocketConnection(ASGIWebsocketConnection):
    """Quart's ASGI side of a websocket, reading the server's events in the task the server
    started for it: Quart's own starts a task group of two tasks beside that one (~2 KB a
    socket). The handler runs in one task, as with Quart's, and is waited for in every case."""

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        send = _convert_os_error(send)
        websocket = self._create_websocket_from_scope(send)
        handler = asyncio.create_task(self.handle_websocket(websocket, send))
        try:
            await self.handle_messages(websocket, receive, handler)
        finally:
            handler.cancel()  # a no-op once it is done; this task may be cancelled itself
            await asyncio.wait([handler])
