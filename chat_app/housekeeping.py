"""The app's periodic liveness work: the hub closes dead sockets, actions write presence rows.

Scheduled by ``create_app`` for the life of the server, here at the app's assembly so the
realtime layer only reads and closes, and the writes stay in ``actions``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from quart import Quart

from chat_app.actions.presence import prune_presence, refresh_sockets
from chat_app.db import database_unavailable
from chat_app.logs import log_unavailable
from chat_app.realtime.hub import Hub

log = logging.getLogger(__name__)


async def housekeep(app: Quart) -> None:
    """One round of liveness work: close silent sockets and those of ended sessions,
    refresh this node's socket rows, sweep rows that a dead node left behind, and deliver
    changes no event announced here."""
    hub: Hub = app.extensions["hub"]
    config = app.config
    hub.close_silent(config["SOCKET_IDLE_SECONDS"])
    async with app.app_context():
        await refresh_sockets(hub.node_id)
        await prune_presence(timedelta(seconds=config["PRESENCE_STALE_SECONDS"]))
    await hub.close_signed_out()
    await hub.deliver_missed()


async def housekeep_forever(app: Quart) -> None:
    """``housekeep`` every PRESENCE_REFRESH_SECONDS until cancelled."""
    while True:
        await asyncio.sleep(app.config["PRESENCE_REFRESH_SECONDS"])
        try:
            await housekeep(app)
        except Exception as error:
            if database_unavailable(error):
                log_unavailable(log, "housekeeping", error)  # each round fails alike
            else:
                log.exception("housekeeping failed")
