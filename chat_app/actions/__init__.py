"""The only write path: validate → transaction → publish after commit.

HTTP handlers, the websocket, the CLI and tests all call these functions.
"""

from chat_app.actions.accounts import (
    AccountError,
    LoginThrottled,
    authenticate,
    end_all_sessions,
    end_session,
    register_user,
    sign_up,
    start_session,
)
from chat_app.actions.changes import MessageNotFound, MessageRejected, NotAllowed
from chat_app.actions.edits import delete_message, edit_message
from chat_app.actions.invitations import InvitationError, create_invitation, revoke_invitation
from chat_app.actions.messages import post_message
from chat_app.actions.reactions import toggle_reaction
from chat_app.actions.rooms import join_room

__all__ = [
    "AccountError",
    "InvitationError",
    "LoginThrottled",
    "MessageNotFound",
    "MessageRejected",
    "NotAllowed",
    "authenticate",
    "create_invitation",
    "delete_message",
    "edit_message",
    "end_all_sessions",
    "end_session",
    "join_room",
    "post_message",
    "register_user",
    "revoke_invitation",
    "sign_up",
    "start_session",
    "toggle_reaction",
]
