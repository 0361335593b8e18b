"""Tortoise models and the read queries that go with them (no HTTP, no broker)."""

from chat_app.models.changes import Change, ChangeKind
from chat_app.models.invitations import Invitation
from chat_app.models.mentions import Mention
from chat_app.models.messages import Message
from chat_app.models.notifications import PushSubscription
from chat_app.models.presence import LiveSocket, UserPresence
from chat_app.models.previews import LinkPreview, MessagePreview
from chat_app.models.reactions import Reaction
from chat_app.models.rooms import Membership, Room
from chat_app.models.users import AuthSession, User

__all__ = [
    "AuthSession",
    "Change",
    "ChangeKind",
    "Invitation",
    "LinkPreview",
    "LiveSocket",
    "Membership",
    "Mention",
    "Message",
    "MessagePreview",
    "PushSubscription",
    "Reaction",
    "Room",
    "User",
    "UserPresence",
]
