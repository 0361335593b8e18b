"""The one websocket per tab: htmx's ws extension sends form JSON, we push HTML fragments."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from quart import Blueprint, abort, current_app, websocket
from quart.wrappers.base import ClientDisconnectedError
from quart_auth import current_user

from chat_app import metrics
from chat_app.actions import (
    MessageRejected,
    delete_message,
    edit_message,
    toggle_reaction,
)
from chat_app.actions.messages import post
from chat_app.actions.presence import signal_typing, socket_closed, socket_opened, stop_typing
from chat_app.actions.reads import mark_read
from chat_app.auth import member_in_room_or_refused
from chat_app.db import database_unavailable
from chat_app.logs import log_event, log_unavailable
from chat_app.models import Room, User
from chat_app.models.changes import newest_change
from chat_app.models.messages import shown
from chat_app.realtime import streams
from chat_app.realtime.connection import Connection
from chat_app.realtime.hub import Hub
from chat_app.realtime.inbox import dropped_notice, gated
from chat_app.realtime.websocket import PromptWebsocket
from chat_app.security import origin_allowed, socket_csrf_token

log = logging.getLogger(__name__)
blueprint = Blueprint("live", __name__)

TOO_BIG = 1009
CATCH_UP_PAGE = 200
AWAY_MARGIN_SECONDS = 10
Receive = Callable[[], Awaitable[str | bytes]]
NOT_DONE_NOTICE = "The server cannot reach its database right now: that was not done. Try again."


@blueprint.websocket("/rooms/<slug>/live")
async def live(slug: str) -> None:
    """Authenticate and authorize before accept, catch up, then stream both ways."""
    session_token = current_user.auth_id
    if session_token is None:
        abort(401)
    if not origin_allowed(websocket.headers.get("Origin"), websocket.scheme, websocket.host):
        abort(403)
    user, room = await member_in_room_or_refused(slug)
    hub: Hub = current_app.extensions["hub"]
    if hub.sockets_of(user.id) >= current_app.config["WS_MAX_SOCKETS_PER_USER"]:
        abort(429)
    await websocket.accept()
    socket = cast(PromptWebsocket, websocket._get_current_object())  # the app's websocket_class
    connection = Connection(
        socket,
        user.id,
        room.id,
        current_app.config["WS_QUEUE_SIZE"],
        session_token=session_token,
    )
    hub.attach(connection)  # subscribe first, so nothing committed from now on is missed
    log_event(log, "ws.connect", user=user.id, room=room.id)
    try:
        # The gate from the start: frames sent during the catch-up spend from the budget too.
        with gated(connection, socket.buffer, await dropped_notice()):
            await socket_opened(connection.socket_id, user.id, room.id, hub.node_id)
            await _catch_up(hub, connection, _after_arg())
            # Presence events may have been missed while this tab was away (a broker gap too).
            connection.offer(None, await hub.presence_for_returning_tab(room.id, _seen_arg()))
            await _stream(connection, user, room)
        if connection.close_code is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    websocket.close(connection.close_code, connection.close_reason), 5
                )
    finally:
        hub.detach(connection)
        # Shielded: Quart cancels the handler when the client's close arrives mid-update.
        await asyncio.shield(_left(hub, connection))
        log_event(log, "ws.disconnect", user=user.id, room=room.id, code=connection.close_code)


async def _left(hub: Hub, connection: Connection) -> None:
    """Presence and typing after a socket ends (best effort: the sweeper repairs the rest)."""
    try:
        if hub.is_typing(connection.room_id, connection.user_id):
            await stop_typing(connection.user_id, connection.room_id)
        await socket_closed(connection.socket_id, connection.user_id)
    except Exception as error:
        if database_unavailable(error):
            log_unavailable(log, "presence", error)
        else:
            log.exception("presence update failed for user=%s", connection.user_id)


async def _stream(connection: Connection, user: User, room: Room) -> None:
    """Send and receive until either side ends; a failure is logged, never propagated.

    Frames are read in the handler's own task: the connection ending (the hub closes it, a
    write failed) expires ``until_ended``, which interrupts the read. A reading task and a
    task waiting for the end cost every socket ~3 KB more.
    """
    until_ended = asyncio.timeout(None)
    try:
        async with until_ended:
            connection.on_end = functools.partial(until_ended.reschedule, 0)
            connection.go_live()
            if not connection.ended:  # closed during the catch-up
                await _receive(connection, user, room)
    except Exception as error:
        if not (isinstance(error, TimeoutError) and until_ended.expired()):
            _log_failure(error, user)
    finally:
        # Both hold the handler's task, and a cancelled task keeps its CancelledError, whose
        # traceback holds this frame and the connection: let go, or the socket is a cycle.
        connection.on_end = None
        del until_ended
        connection.end()
        if connection.error is not None:
            _log_failure(connection.error, user)
        # Logged: let it go. Its traceback holds the writer's frame, which holds the
        # connection, so keeping it would leave the socket to a full garbage collection.
        connection.error = None


def _log_failure(error: Exception, user: User) -> None:
    if not isinstance(error, ClientDisconnectedError):
        metrics.ERRORS.labels("websocket").inc()
        log_event(log, "error", logging.ERROR, error, surface="websocket", user=user.id)


def _after_arg() -> int | None:
    raw = websocket.args.get("after", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _seen_arg() -> datetime | None:
    """When the tab last knew the people list: ``away`` is how many seconds ago (its own
    clock, so only a duration), widened by a margin for the trip. None: it does not say."""
    raw = websocket.args.get("away", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7):
        return None
    return datetime.now(UTC) - timedelta(seconds=int(raw) + AWAY_MARGIN_SECONDS)


async def _catch_up(hub: Hub, connection: Connection, after: int | None) -> None:
    """Send what changed after the tab's cursor (a tab that gives none starts from now);
    live copies of it are skipped by the connection's cursor."""
    delivered = await hub.watch(connection.room_id)  # first: see ChangeFanout.watch
    if after is None:
        connection.cursor = delivered
        return
    if after > delivered:  # ahead of this node (fine), or of the log: a forged or stale cursor
        after = min(after, await newest_change(connection.room_id))
    connection.cursor = after
    catching_up = hub.catch_up(connection.room_id, after, connection.user_id, joined=True)
    async for newest, text in catching_up:
        await connection.socket.send(text)
        connection.cursor = max(connection.cursor, newest)


async def _receive(connection: Connection, user: User, room: Room) -> None:
    """Answer the frames the gate admits (a flood is dropped as it arrives, not queued)."""
    await _answer(websocket.receive, connection, user, room)


async def _answer(next_frame: Receive, connection: Connection, user: User, room: Room) -> None:
    """Answer each frame; a bad frame gets a notice, never a crash.

    The database going away fails the frame, not the socket: the tab is told what was not
    done (its message is not saved yet; chat.js resends it) and the socket reads on.
    """
    max_bytes: int = current_app.config["WS_MAX_FRAME_BYTES"]
    while True:
        frame = await next_frame()
        connection.last_heard = time.monotonic()
        if not isinstance(frame, str):
            connection.offer(None, await streams.render_notice("Only text frames are accepted."))
            continue
        if len(frame) > max_bytes:
            connection.close(TOO_BIG, "frame too large")
            return
        await _answer_frame(frame, connection, user, room)
        del frame  # not held while waiting for the next one (an idle socket's memory)


async def _answer_frame(frame: str, connection: Connection, user: User, room: Room) -> None:
    data = _parse(frame)
    try:
        await _handle(data, connection, user, room)
    except Exception as error:
        if not database_unavailable(error):
            raise
        log_unavailable(log, "websocket", error)
        reply = await _not_done(data or {})
        if reply:
            connection.offer(None, reply)


async def _handle(
    data: dict[str, Any] | None, connection: Connection, user: User, room: Room
) -> None:
    """Do what one parsed frame asks."""
    if data is None:
        connection.offer(None, await streams.render_notice("That frame was not understood."))
    elif "heartbeat" in data:
        pass  # hearing from the client is the point
    elif "typing" in data:
        await signal_typing(user.id, room.id)
    elif "read" in data:
        await _read(connection, data["read"])
    elif "op" in data:
        await _change(connection, user, data)
    elif "content" in data:
        await _post(connection, user, room, data)
    else:
        connection.offer(None, await streams.render_notice("Unknown request."))


async def _read(connection: Connection, raw: object) -> None:
    """The tab, visible, showed the room up to change ``raw``: no further than this socket
    sent it (the clamp costs no query), and only forward."""
    text = str(raw) if isinstance(raw, int | str) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        connection.offer(None, await streams.render_notice("That frame was not understood."))
        return
    change = min(int(text), connection.cursor)
    if change > 0:
        await mark_read(connection.user_id, connection.room_id, change)


async def _not_done(data: dict[str, Any]) -> str | None:
    """What a frame's sender is told when the database failed it (None: nothing)."""
    if "content" in data and "op" not in data:
        return await streams.render_unsaved(data.get("client_id"))
    if "typing" in data or "read" in data:
        return None  # stale by the time it could be retried; the next one says as much
    return await streams.render_notice(NOT_DONE_NOTICE)


def _parse(frame: str) -> dict[str, Any] | None:
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def _post(connection: Connection, user: User, room: Room, data: dict[str, Any]) -> None:
    """Store a composed message. The sender's tab shows it as pending until its own copy
    arrives: sent here too, so a retry of a message stored before also confirms. This copy
    moves no cursor (changes before it may still be on their way to this tab); its change,
    when it comes, replaces it. A rejection restores the text with the reason."""
    content, client_id = data.get("content"), data.get("client_id")
    try:
        posted = await post(
            user, room, content, client_id, data.get("reply_to"), data.get("attachments")
        )
    except MessageRejected as error:
        text = content if isinstance(content, str) else ""
        reply = await streams.render_rejected(
            _csrf(connection), text, str(error), client_id, slug=room.slug
        )
        connection.offer(None, reply)
    else:
        message = posted.message
        message.author = user  # the author is the sender: no query to load it
        # Nor for reactions of a message stored just now: none reached it yet (a retry's may
        # have some).
        await shown([message], reactions={} if posted.stored else None)
        connection.offer(None, await streams.render_messages([message], user.id))


async def _change(connection: Connection, user: User, data: dict[str, Any]) -> None:
    """Edit, delete or react as a frame asks. It reaches this tab as everyone's does, as a
    change; only a refusal is answered here, with its reason."""
    op, message_id = data.get("op"), data.get("message_id")
    try:
        match op:
            case "edit":
                await edit_message(user, message_id, data.get("content"))
            case "delete":
                await delete_message(user, message_id)
            case "react":
                await toggle_reaction(user, message_id, data.get("emoji"))
            case _:
                raise MessageRejected("Unknown request.")
    except MessageRejected as error:
        connection.offer(None, await streams.render_notice(str(error)))


def _csrf(connection: Connection) -> str:
    # The composer keeps working as a plain form if the socket goes away.
    return socket_csrf_token(cast(PromptWebsocket, connection.socket).session_cookie)
