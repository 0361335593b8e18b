"""Migrations tried as an upgrade: a database migrated up to one migration, rows written as
an older version wrote them, then the rest of the migrations, then queries. In a process of
its own: Tortoise's connections are global to the process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

SCRIPT = """
import asyncio, json, sys
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from chat_app.config import tortoise_config

async def main(url, target, before, after):
    config = tortoise_config(url)
    await migrate(config=config, target=target)
    await connections.get("default").execute_script(before)
    await Tortoise.close_connections()
    await migrate(config=config)
    db = connections.get("default")
    for statement in json.loads(after):
        if statement.lstrip().upper().startswith("SELECT"):
            print(await db.execute_query_dict(statement))
        else:
            await db.execute_script(statement)
    await Tortoise.close_connections()

asyncio.run(main(*sys.argv[1:]))
"""


async def upgraded(url: str, target: str, before: str, after: list[str]) -> list[str]:
    """Migrate ``url`` up to ``target`` (e.g. "chat.0004_lookup_indexes"), run ``before``
    (SQL), migrate the rest, then each statement of ``after`` in turn: what each SELECT
    found, a line each."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", SCRIPT, url, target, before, json.dumps(after)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()
