"""The shapes of /api/v1/: pydantic models that validate requests and responses and that the
OpenAPI document is generated from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from quart_schema.pydantic import File

from chat_app.models import ApiToken, Attachment, Message, Room, User
from chat_app.models.messages import CLIENT_ID_RE
from chat_app.models.presence import MemberPresence
from chat_app.models.reactions import EMOJI_MAX_CHARS
from chat_app.models.rooms import NAME_MAX, TOPIC_MAX
from chat_app.search.query import QUERY_MAX_CHARS

HISTORY_LIMIT_MAX = 200
SEARCH_LIMIT_MAX = 50


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` for programs, a ``message`` for people."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error under /api/."""

    error: ErrorDetail


class Me(BaseModel):
    """The account a request acts as."""

    username: str
    is_admin: bool
    is_bot: bool
    scope: str = Field(
        description="The token's scope (read, read-write), or 'session' for a browser."
    )

    @classmethod
    def of(cls, user: User, token: ApiToken | None) -> Me:
        """``user`` as seen through ``token`` (None: a cookie)."""
        scope = token.scope if token is not None else "session"
        return cls(username=user.username, is_admin=user.is_admin, is_bot=user.is_bot, scope=scope)


class RoomOut(BaseModel):
    """A room as one of its members sees it."""

    slug: str
    name: str
    topic: str
    kind: Literal["open", "private", "direct"]
    role: Literal["member", "admin"] = Field(description="Your role in the room.")
    archived: bool

    @classmethod
    def of(cls, room: Room) -> RoomOut:
        """``room`` loaded through the viewer's membership (``viewer_role`` set)."""
        return cls(
            slug=room.slug,
            name=room.name,
            topic=room.topic,
            kind=room.kind.value,
            role="admin" if room.viewer_role == "admin" else "member",
            archived=room.archived_at is not None,
        )


class RoomList(BaseModel):
    """The rooms and conversations you belong to, by name."""

    rooms: list[RoomOut]


class NewRoom(BaseModel):
    """A room to create; you become its first member and admin."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    topic: str = Field(default="", max_length=TOPIC_MAX)
    kind: Literal["open", "private"] = "open"


class Left(BaseModel):
    """You are no longer a member of ``room``."""

    room: str


class ReactionOut(BaseModel):
    """One emoji on a message and who reacted with it."""

    emoji: str
    count: int
    users: list[str]


class MessageOut(BaseModel):
    """One message."""

    id: int
    room_id: int
    author: str
    author_is_bot: bool
    content: str
    content_html: str  # the content rendered and sanitised, as the pages show it
    created_at: datetime
    edited_at: datetime | None
    reply_to: int | None
    reactions: list[ReactionOut]

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        """A message with its author and reactions loaded (``shown``)."""
        return cls(
            id=message.id,
            room_id=message.room_id,
            author=message.author.username,
            author_is_bot=message.author.is_bot,
            content=message.content,
            content_html=message.content_html,
            created_at=message.created_at,
            edited_at=message.edited_at,
            reply_to=message.reply_to_id,
            reactions=[
                ReactionOut(emoji=g.emoji, count=g.count, users=list(g.names))
                for g in message.reaction_groups
            ],
        )


class HistoryQuery(BaseModel):
    """Which page of a room's history: the newest, or before/after a message id."""

    before: int | None = Field(default=None, ge=1, lt=10**18)
    after: int | None = Field(default=None, ge=0, lt=10**18)
    limit: int = Field(default=50, ge=1, le=HISTORY_LIMIT_MAX)


class History(BaseModel):
    """A page of messages, oldest first, and the cursors of the pages beside it."""

    messages: list[MessageOut]
    older: int | None = Field(description="Pass as 'before' for the page before; null: none.")
    newer: int | None = Field(description="Pass as 'after' for the page after; null: none.")


class NewMessage(BaseModel):
    """A message to post. Retrying with the same ``client_id`` stores it once."""

    model_config = ConfigDict(regex_engine="python-re")

    content: str = Field(default="", description="May be empty when files are attached.")
    client_id: str = Field(pattern=CLIENT_ID_RE.pattern, description="Your idempotency key.")
    reply_to: int | None = Field(default=None, ge=1, lt=10**18)
    attachments: list[int] = Field(
        default_factory=list,
        max_length=100,
        description="Ids of your uploads to this room (uploadFile), not yet sent.",
    )


class MessageEdit(BaseModel):
    """The new text of your message."""

    content: str = Field(min_length=1)


class Deleted(BaseModel):
    """The message ``id`` is gone."""

    id: int


class NewReaction(BaseModel):
    """An emoji (or a shortcode such as ``:tada:``) to add, or take back if you reacted so."""

    emoji: str = Field(min_length=1, max_length=EMOJI_MAX_CHARS)


class Reacted(BaseModel):
    """Whether your reaction was added (false: taken back)."""

    emoji: str
    added: bool


class PresenceOut(BaseModel):
    """A person's presence."""

    username: str
    online: bool
    status: str
    last_seen: datetime | None

    @classmethod
    def of(cls, member: MemberPresence) -> PresenceOut:
        """One entry of a people list."""
        return cls(
            username=member.username,
            online=member.online,
            status=member.status,
            last_seen=member.last_seen,
        )


class PresenceList(BaseModel):
    """Everyone who shares a room with you."""

    users: list[PresenceOut]


class NewStatus(BaseModel):
    """The status you show."""

    status: Literal["online", "away"]


class SearchQuery(BaseModel):
    """What to look for, in the search page's syntax: words, "phrases", ``in:#room``,
    ``from:@person``, ``before:``/``after:`` (YYYY-MM-DD), ``has:link``, ``has:file``."""

    q: str = Field(default="", max_length=QUERY_MAX_CHARS)
    before: int | None = Field(default=None, ge=1, lt=10**18, description="next_before")
    limit: int = Field(default=20, ge=1, le=SEARCH_LIMIT_MAX)


class FoundMessage(MessageOut):
    """A message that matched, with its room's address."""

    room: str


class SearchResults(BaseModel):
    """Matches you may read now, newest first."""

    messages: list[FoundMessage]
    next_before: int | None = Field(description="Pass as 'before' for more; null: no more.")
    notice: str | None = Field(description="Why nothing was looked for (a room you are not in).")


class NewUpload(BaseModel):
    """One file for a message you are about to post (multipart, field ``file``)."""

    file: File


class AttachmentOut(BaseModel):
    """An upload: name it in a message's ``attachments`` to send it."""

    id: int
    name: str
    size: int
    content_type: str

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentOut:
        """What the uploader learns of a file they uploaded."""
        return cls(
            id=attachment.id,
            name=attachment.name,
            size=attachment.size,
            content_type=attachment.content_type,
        )
