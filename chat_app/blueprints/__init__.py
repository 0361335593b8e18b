"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
    admin_bots,
    api,
    api_v1,
    auth,
    client_errors,
    directory,
    directs,
    edits,
    files,
    health,
    live,
    mentions,
    messages,
    notifications,
    privacy,
    profile,
    reactions,
    room_settings,
    rooms,
    search,
    tokens,
    webhooks,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    surfaces = (auth, directory, room_settings, directs, rooms, messages, edits, reactions, live)
    integrations = (api, api_v1, webhooks, tokens)
    others = (search, health, admin, admin_bots, notifications, privacy, mentions, client_errors)
    for module in (*surfaces, files, profile, *integrations, *others):
        app.register_blueprint(module.blueprint)
