"""Notification settings: a level per room (plain forms), this browser's desktop notifications
and push subscription (static/js/notify-settings.js), and the service worker at /sw.js."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, abort, current_app, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app import ROOT
from chat_app.actions.notifications import (
    NotificationError,
    PushOff,
    TooSoon,
    renew,
    send_test,
    set_level,
    subscribe,
    unsubscribe,
)
from chat_app.auth import room_or_404, viewer_user
from chat_app.errors import error_json
from chat_app.models.notifications import levels_of
from chat_app.push import pusher_of
from chat_app.security import csrf_exempt
from chat_app.templating import render_template

blueprint = Blueprint("notifications", __name__)

JSON_BODY_MAX = 8 * 1024  # a subscription is about 500 bytes
SERVICE_WORKER = ROOT / "static" / "js" / "sw.js"
LEVEL_CHOICES = (("all", "Everything"), ("mentions", "Mentions"), ("none", "Nothing"))


def _refused(error: NotificationError) -> tuple[dict[str, Any], int]:
    status = 409 if isinstance(error, PushOff) else 429 if isinstance(error, TooSoon) else 422
    return error_json(status, str(error)), status


async def _json_body() -> object:
    """The request's JSON, or None when it is not JSON (or too long for a subscription)."""
    if not request.is_json or (request.content_length or 0) > JSON_BODY_MAX:
        return None
    raw = await request.get_data(as_text=False)
    try:
        return json.loads(raw) if len(raw) <= JSON_BODY_MAX else None
    except ValueError:  # not UTF-8, or not JSON
        return None


@blueprint.get("/settings/notifications")
@login_required
async def settings() -> str:
    """Each room's level, and this browser's desktop and push notifications."""
    user = await viewer_user()
    pusher = pusher_of(current_app)
    return await render_template(
        "settings/notifications.html",
        viewer=user,
        memberships=await levels_of(user.id),
        choices=LEVEL_CHOICES,
        vapid_public_key=pusher.keys.public if pusher else None,
        saved=request.args.get("saved"),
    )


@blueprint.post("/settings/notifications/rooms/<slug>")
@login_required
async def room_level(slug: str) -> WerkzeugResponse:
    """Set one room's level from the plain form and go back to the settings (303)."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    try:
        await set_level(user, room, (await request.form).get("level"))
    except NotificationError as error:
        abort(422, str(error))
    target = url_for("notifications.settings", saved=room.slug, _anchor=f"room-{room.slug}")
    return redirect(target, 303)


@blueprint.post("/api/push/subscription")
@login_required
async def push_subscribe() -> tuple[dict[str, Any], int]:
    """Keep this browser's push subscription (its ``PushSubscription.toJSON()``)."""
    user = await viewer_user()
    try:
        await subscribe(user, await _json_body())
    except NotificationError as error:
        return _refused(error)
    return {"subscribed": True}, 201


@blueprint.post("/api/push/renew")
@csrf_exempt  # no session is used: knowing the old endpoint is the authority (see renew)
async def push_renew() -> tuple[dict[str, Any], int]:
    """The service worker reports a subscription its push service replaced
    (``{"old_endpoint": ..., "subscription": PushSubscription.toJSON()}``)."""
    body = await _json_body()
    fields = body if isinstance(body, dict) else {}
    try:
        await renew(fields.get("old_endpoint"), fields.get("subscription"))
    except NotificationError as error:
        return _refused(error)
    return {"renewed": True}, 200


@blueprint.post("/api/push/unsubscribe")
@login_required
async def push_unsubscribe() -> tuple[dict[str, Any], int]:
    """Forget this browser's subscription (``{"endpoint": ...}``)."""
    user = await viewer_user()
    body = await _json_body()
    try:
        removed = await unsubscribe(user, body.get("endpoint") if isinstance(body, dict) else None)
    except NotificationError as error:
        return _refused(error)
    return {"removed": removed}, 200


@blueprint.post("/api/push/test")
@login_required
async def push_test() -> tuple[dict[str, Any], int]:
    """Push a test notification to each of the viewer's browsers now."""
    try:
        delivery = await send_test(await viewer_user())
    except NotificationError as error:
        return _refused(error)
    return {"sent": delivery.sent, "removed": delivery.removed, "failed": delivery.failed}, 200


@blueprint.get("/sw.js")
async def service_worker() -> tuple[bytes, int, dict[str, str]]:
    """The service worker, from the site's root so that its scope is the whole site."""
    headers = {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "no-cache",  # browsers check for a new worker on each registration
        "Service-Worker-Allowed": "/",
    }
    return SERVICE_WORKER.read_bytes(), 200, headers
