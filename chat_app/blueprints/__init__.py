"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
    api,
    auth,
    edits,
    health,
    live,
    mentions,
    messages,
    reactions,
    rooms,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    for module in (auth, rooms, messages, edits, reactions, live, api, health, admin, mentions):
        app.register_blueprint(module.blueprint)
