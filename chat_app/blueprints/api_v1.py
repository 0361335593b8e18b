"""/api/v1/: the JSON API for scripts and bots, with a bearer token (or a browser's cookie).

Each handler parses (quart-schema validates the body and query against the models in
``api_models``), loads through the viewer, calls one action and answers a model; the OpenAPI
document at /api/v1/openapi.json is generated from these routes and models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart import Blueprint, current_app
from quart_auth import login_required
from quart_schema import (
    DataSource,
    document_response,
    hide,
    operation_id,
    security_scheme_blueprint,
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from chat_app.actions import (
    MessageNotFound,
    MessageRejected,
    NotAllowed,
    delete_message,
    edit_message,
    post_message,
    toggle_reaction,
)
from chat_app.actions.attachments import UploadRejected, store_upload
from chat_app.actions.changes import TooFast
from chat_app.actions.presence import PresenceRejected, set_status
from chat_app.actions.reactions import clean_emoji
from chat_app.actions.rooms import (
    RoomError,
    RoomNotAllowed,
    RoomNotFound,
    RoomTaken,
    create_room_by,
    join_open_room,
    leave_room,
)
from chat_app.auth import room_or_404, viewer_user
from chat_app.bearer import request_token
from chat_app.blueprints.api_models import (
    AttachmentOut,
    Deleted,
    ErrorBody,
    FoundMessage,
    History,
    HistoryQuery,
    Left,
    Me,
    MessageEdit,
    MessageOut,
    NewMessage,
    NewReaction,
    NewRoom,
    NewStatus,
    NewUpload,
    PresenceList,
    PresenceOut,
    Reacted,
    RoomList,
    RoomOut,
    SearchQuery,
    SearchResults,
)
from chat_app.blueprints.files import read_upload
from chat_app.errors import ApiError
from chat_app.models.messages import page, with_authors
from chat_app.models.presence import presence_visible_to
from chat_app.models.rooms import room_for_member, rooms_of
from chat_app.search import SearchError, search_text
from chat_app.templating import render_template

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")
security_scheme_blueprint(blueprint, [{"bearer": []}])

F = TypeVar("F", bound=Callable[..., Any])


def errors(*statuses: int) -> Callable[[F], F]:
    """Document that an operation may answer these error statuses (besides 400, 401, 403
    (a read-only token) and 429, which every operation may)."""

    def decorate(handler: F) -> F:
        for status in sorted({*statuses, 400, 401, 403, 429}):
            handler = document_response(ErrorBody, status)(handler)
        return handler

    return decorate


def refused(error: ValueError) -> ApiError:
    """An action's refusal as the HTTP error it means."""
    if isinstance(error, TooFast):
        seconds = max(1, int(error.retry_after + 0.999))
        return ApiError(429, "rate_limited", str(error), {"Retry-After": str(seconds)})
    if isinstance(error, MessageNotFound | RoomNotFound):
        return ApiError(404, "not_found", str(error))
    if isinstance(error, NotAllowed | RoomNotAllowed):
        return ApiError(403, "forbidden", str(error))
    if isinstance(error, RoomTaken):
        return ApiError(409, "conflict", str(error))
    return ApiError(422, "invalid", str(error))


async def _room_out(user_id: int, slug: str) -> RoomOut:
    room = await room_for_member(user_id, slug)
    if room is None:
        raise ApiError(404, "not_found", "There is no such room.")
    return RoomOut.of(room)


async def _message_out(message_id: int) -> MessageOut:
    shown = await with_authors([message_id])
    if not shown:
        raise ApiError(404, "not_found", "This message was deleted meanwhile.")
    return MessageOut.of(shown[0])


@blueprint.get("/me")
@operation_id("getMe")
@tag(["account"])
@validate_response(Me)
@errors()
@login_required
async def me() -> Me:
    """Who you are: the account this request acts as."""
    return Me.of(await viewer_user(), request_token())


@blueprint.get("/rooms")
@operation_id("listRooms")
@tag(["rooms"])
@validate_response(RoomList)
@errors()
@login_required
async def rooms() -> RoomList:
    """The rooms and conversations you belong to."""
    user = await viewer_user()
    return RoomList(rooms=[RoomOut.of(room) for room in await rooms_of(user.id)])


@blueprint.post("/rooms")
@operation_id("createRoom")
@tag(["rooms"])
@validate_request(NewRoom)
@validate_response(RoomOut, 201)
@errors(409, 422)
@login_required
async def create_room(data: NewRoom) -> tuple[RoomOut, int]:
    """Create an open or private room."""
    user = await viewer_user()
    try:
        room = await create_room_by(user, data.name, data.topic, data.kind)
    except RoomError as error:
        raise refused(error) from None
    return await _room_out(user.id, room.slug), 201


@blueprint.get("/rooms/<slug>")
@operation_id("getRoom")
@tag(["rooms"])
@validate_response(RoomOut)
@errors(404)
@login_required
async def room(slug: str) -> RoomOut:
    """One of your rooms."""
    return await _room_out((await viewer_user()).id, slug)


@blueprint.post("/rooms/<slug>/join")
@operation_id("joinRoom")
@tag(["rooms"])
@validate_response(RoomOut)
@errors(404)
@login_required
async def join(slug: str) -> RoomOut:
    """Join an open room (private rooms are joined by being added). Joining twice is fine."""
    user = await viewer_user()
    try:
        await join_open_room(user, slug)
    except RoomError as error:
        raise refused(error) from None
    return await _room_out(user.id, slug)


@blueprint.post("/rooms/<slug>/leave")
@operation_id("leaveRoom")
@tag(["rooms"])
@validate_response(Left)
@errors(403, 404)
@login_required
async def leave(slug: str) -> Left:
    """Leave a room (not the default room, nor a conversation)."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    try:
        await leave_room(user, room)
    except RoomError as error:
        raise refused(error) from None
    return Left(room=room.slug)


@blueprint.get("/rooms/<slug>/messages")
@operation_id("listMessages")
@tag(["messages"])
@validate_querystring(HistoryQuery)
@validate_response(History)
@errors(404, 422)
@login_required
async def history(slug: str, query_args: HistoryQuery) -> History:
    """A page of a room's messages, oldest first: the newest, or before/after a message id."""
    if query_args.before is not None and query_args.after is not None:
        raise ApiError(422, "invalid", "Give 'before' or 'after', not both.")
    room = await room_or_404(await viewer_user(), slug)
    found = await page(room.id, query_args.limit, before=query_args.before, after=query_args.after)
    return History(
        messages=[MessageOut.of(m) for m in found.messages], older=found.older, newer=found.newer
    )


@blueprint.post("/rooms/<slug>/messages")
@operation_id("postMessage")
@tag(["messages"])
@validate_request(NewMessage)
@validate_response(MessageOut, 201)
@errors(403, 404, 422)
@login_required
async def post(slug: str, data: NewMessage) -> tuple[MessageOut, int]:
    """Post a message (a reply with ``reply_to``). The same ``client_id`` again returns the
    message already stored instead of a second copy."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    try:
        message = await post_message(
            user, room, data.content, data.client_id, data.reply_to, data.attachments
        )
    except MessageRejected as error:
        raise refused(error) from None
    return await _message_out(message.id), 201


@blueprint.post("/rooms/<slug>/attachments")
@operation_id("uploadFile")
@tag(["messages"])
@validate_request(NewUpload, source=DataSource.FORM_MULTIPART)
@validate_response(AttachmentOut, 201)
@errors(404, 413, 422)
@login_required
async def upload(slug: str, data: NewUpload) -> tuple[AttachmentOut, int]:
    """Upload one file (at most CHAT_UPLOAD_MAX_BYTES; its type is read from its bytes) for a
    message you then post with its id in ``attachments``."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    try:
        stored = await store_upload(user, room, data.file.filename, await read_upload(data.file))
    except UploadRejected as error:
        raise ApiError(error.status, "refused", str(error)) from None
    return AttachmentOut.of(stored), 201


@blueprint.get("/search")
@operation_id("searchMessages")
@tag(["messages"])
@validate_querystring(SearchQuery)
@validate_response(SearchResults)
@errors(422)
@login_required
async def search_messages(query_args: SearchQuery) -> SearchResults:
    """Messages you may read now that match ``q``, newest first (the search page's results)."""
    user = await viewer_user()
    try:
        results = await search_text(user.id, query_args.q, query_args.before, query_args.limit)
    except SearchError as error:
        raise ApiError(422, "invalid", str(error)) from None
    return SearchResults(
        messages=[
            FoundMessage(**MessageOut.of(m).model_dump(), room=m.room.slug)
            for m in results.messages
        ],
        next_before=results.next_before,
        notice=results.notice,
    )


@blueprint.patch("/messages/<int:message_id>")
@operation_id("editMessage")
@tag(["messages"])
@validate_request(MessageEdit)
@validate_response(MessageOut)
@errors(403, 404, 422)
@login_required
async def edit(message_id: int, data: MessageEdit) -> MessageOut:
    """Change the text of your own message."""
    try:
        message = await edit_message(await viewer_user(), message_id, data.content)
    except MessageRejected as error:
        raise refused(error) from None
    return await _message_out(message.id)


@blueprint.delete("/messages/<int:message_id>")
@operation_id("deleteMessage")
@tag(["messages"])
@validate_response(Deleted)
@errors(403, 404)
@login_required
async def delete(message_id: int) -> Deleted:
    """Delete a message: your own, or anyone's in a room you administer."""
    try:
        message = await delete_message(await viewer_user(), message_id)
    except MessageRejected as error:
        raise refused(error) from None
    return Deleted(id=message.id)


@blueprint.post("/messages/<int:message_id>/reactions")
@operation_id("toggleReaction")
@tag(["messages"])
@validate_request(NewReaction)
@validate_response(Reacted)
@errors(403, 404, 422)
@login_required
async def react(message_id: int, data: NewReaction) -> Reacted:
    """Add your reaction with this emoji, or take it back if it is there (a toggle)."""
    try:
        added = await toggle_reaction(await viewer_user(), message_id, data.emoji)
    except MessageRejected as error:
        raise refused(error) from None
    return Reacted(emoji=clean_emoji(data.emoji), added=added)


@blueprint.get("/presence")
@operation_id("getPresence")
@tag(["presence"])
@validate_response(PresenceList)
@errors()
@login_required
async def presence() -> PresenceList:
    """The presence of everyone who shares a room with you."""
    user = await viewer_user()
    return PresenceList(users=[PresenceOut.of(m) for m in await presence_visible_to(user.id)])


@blueprint.post("/presence")
@operation_id("setPresence")
@tag(["presence"])
@validate_request(NewStatus)
@validate_response(PresenceList)
@errors(422)
@login_required
async def set_presence(data: NewStatus) -> PresenceList:
    """Set the status you show: online or away."""
    user = await viewer_user()
    try:
        await set_status(user, data.status)
    except PresenceRejected as error:
        raise refused(error) from None
    return PresenceList(users=[PresenceOut.of(m) for m in await presence_visible_to(user.id)])


@blueprint.get("/docs")
@hide
async def docs() -> str:
    """The API described for people: every operation, rendered from the OpenAPI document."""
    schema = current_app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return await render_template("api/docs.html", schema=schema)
