"""Incoming webhooks: ``POST /api/hooks/<secret>`` with ``{"text": …}`` or a Slack-style
payload (JSON, or a form with a ``payload`` field as Slack's clients also send) posts to the
webhook's room as its bot."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, request

from chat_app.actions.bots import WEBHOOK_PREFIX, post_from_webhook
from chat_app.actions.changes import MessageRejected
from chat_app.blueprints.api_v1 import refused
from chat_app.errors import ApiError
from chat_app.models.bots import webhook_by_secret

blueprint = Blueprint("webhooks", __name__, url_prefix="/api/hooks")

SECRET_MAX = 64


async def _payload() -> object:
    """The JSON the caller sent, as a body or as a form's ``payload`` field; None if neither."""
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        raw = (await request.form).get("payload")
    else:
        raw = await request.get_data(as_text=False)
    try:
        return json.loads(raw) if raw else None
    except ValueError:  # not UTF-8, or not JSON
        return None


@blueprint.post("/<secret>")
async def incoming(secret: str) -> dict[str, Any]:
    """Post the payload's text as the webhook's bot (404 for a revoked or unknown secret)."""
    webhook = None
    if secret.startswith(WEBHOOK_PREFIX) and len(secret) <= SECRET_MAX:
        webhook = await webhook_by_secret(secret)
    if webhook is None:
        raise ApiError(404, "not_found", "There is no such webhook (it may have been revoked).")
    try:
        message = await post_from_webhook(webhook, await _payload())
    except MessageRejected as error:
        raise refused(error) from None
    return {"ok": True, "message_id": message.id}
