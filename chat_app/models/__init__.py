"""Tortoise models and the read queries that go with them (no HTTP, no broker)."""

from chat_app.models.attachments import Attachment
from chat_app.models.bots import Bot, Webhook
from chat_app.models.changes import Change, ChangeKind
from chat_app.models.data_exports import DataExport
from chat_app.models.invitations import Invitation
from chat_app.models.limits import RateBucket
from chat_app.models.mentions import Mention
from chat_app.models.messages import Message
from chat_app.models.notifications import PushSubscription
from chat_app.models.presence import LiveSocket, UserPresence
from chat_app.models.previews import LinkPreview, MessagePreview
from chat_app.models.reactions import Reaction
from chat_app.models.rooms import Membership, Room
from chat_app.models.tokens import ApiToken
from chat_app.models.users import AuthSession, User

__all__ = [
    "ApiToken",
    "Attachment",
    "AuthSession",
    "Bot",
    "Change",
    "ChangeKind",
    "DataExport",
    "Invitation",
    "LinkPreview",
    "LiveSocket",
    "Membership",
    "Mention",
    "Message",
    "MessagePreview",
    "PushSubscription",
    "RateBucket",
    "Reaction",
    "Room",
    "User",
    "UserPresence",
    "Webhook",
]
