"""Web Push subscriptions: where a browser with no open tab can be reached."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from chat_app.models.users import User

# Push services hand out endpoints of 100 to 300 characters; anything much longer is not one.
ENDPOINT_MAX = 1024
# Base64url of a P-256 public point (65 bytes: 87 characters) and of a 16-byte secret (22).
P256DH_MAX = 128
AUTH_MAX = 64


class PushSubscription(Model):
    """One browser's push subscription (RFC 8030), made for one user with our VAPID key.

    The endpoint is unique: a browser has one per application server key, and when someone
    else signs in on it and subscribes, it becomes theirs.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    endpoint = fields.CharField(max_length=ENDPOINT_MAX, unique=True)
    p256dh = fields.CharField(max_length=P256DH_MAX)
    auth = fields.CharField(max_length=AUTH_MAX)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "push_subscriptions"
        indexes = (("user_id",),)  # a user's browsers, for each push

    user_id: int

    def info(self) -> dict[str, object]:
        """The subscription as the browser's PushSubscription.toJSON() gives it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
