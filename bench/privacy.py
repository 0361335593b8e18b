"""One large account: how fast its export is built and its deletion done, against baselines.

    python -m bench.privacy [--messages 20000] [--database sqlite|postgres]

The account writes ``--messages`` messages and reacts to a tenth as many of someone else's.
Export: ``user_archive`` (ZIP, batch by batch) against ``export-room``'s JSON Lines writer
over the same messages (the streaming baseline), with the peak memory Python allocated.
Deletion: ``erase_user`` in each mode (batches through the change log) against deleting a
sample one message at a time as the Delete button does.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from unittest import mock

from argon2 import PasswordHasher

from bench.population import PASSWORD, SECRET, database
from chat_app import create_app, exports
from chat_app.actions import accounts, delete_message, join_room, register_user
from chat_app.actions.erasure import begin_deletion, erase_user
from chat_app.models import Change, ChangeKind, Message, Reaction, Room, User

SAMPLE = 500  # messages deleted one by one for the baseline


async def _account(name: str, room: Room, messages: int) -> User:
    """A user with ``messages`` messages in ``room`` (each with its change) and reactions to
    a tenth as many of another's."""
    user = await register_user(name, PASSWORD)
    other = await register_user(f"{name}-friend", PASSWORD)
    await join_room(user, room.slug)
    for author, count, tag in ((user, messages, "m"), (other, messages // 10, "o")):
        rows = [
            Message(
                room_id=room.id,
                author_id=author.id,
                content=f"{tag} {n}",
                client_id=f"{tag}{n:09d}",
            )
            for n in range(count)
        ]
        await Message.bulk_create(rows, batch_size=1000)
    ids = await Message.filter(room_id=room.id).order_by("id").values_list("id", "author_id")
    await Change.bulk_create(
        [Change(room_id=room.id, message_id=i, kind=ChangeKind.POSTED) for i, _ in ids],
        batch_size=1000,
    )
    theirs = [i for i, a in ids if a == other.id]
    await Reaction.bulk_create(
        [Reaction(message_id=i, user_id=user.id, emoji="👍") for i in theirs], batch_size=1000
    )
    return user


def _line(label: str, rows: int, seconds: float, extra: str = "") -> str:
    return f"{label:<44} {rows:>8} rows {seconds:>8.2f} s {rows / seconds:>10,.0f} rows/s {extra}"


async def run(kind: str, messages: int) -> None:
    """Print one line per measurement."""
    async with database(kind) as url:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        with mock.patch.object(accounts, "_hasher", cheap):
            async with app.test_app(), app.app_context():
                app.config.update(MESSAGES_PER_SECOND=1e9, MESSAGES_BURST=10**9)
                room = (await Room.get_or_create(slug="bench", defaults={"name": "Bench"}))[0]
                for mode in ("remove", "anonymize"):
                    user = await _account(f"big-{mode}", room, messages)
                    if mode == "remove":
                        await _exports(user, room)
                    await begin_deletion(user)
                    started = time.perf_counter()
                    erased = await erase_user(user.id, mode)
                    rows = erased.messages + erased.reactions
                    print(
                        _line(f"[{kind}] erase_user, {mode}", rows, time.perf_counter() - started)
                    )
                await _one_by_one(room)


async def _timed(work: Callable[[], Awaitable[int]]) -> tuple[int, float, float]:
    """Rows, seconds (a plain run) and the peak MiB Python allocated (a traced run: tracing
    slows it several times, so it is not timed)."""
    started = time.perf_counter()
    rows = await work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    await work()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return rows, seconds, peak


async def _exports(user: User, room: Room) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "export.zip"

        async def archive() -> int:
            return sum([n async for n in exports.user_archive(user, target)])

        rows, seconds, peak = await _timed(archive)
        size = target.stat().st_size / 2**20
        print(
            _line("user_archive (ZIP)", rows, seconds, f"peak {peak:.1f} MiB, zip {size:.1f} MiB")
        )

    async def jsonl() -> int:
        return await exports.export_messages(io.StringIO(), "jsonl", room.id)

    rows, seconds, peak = await _timed(jsonl)
    print(_line("baseline: export_messages (JSON Lines)", rows, seconds, f"peak {peak:.1f} MiB"))


async def _one_by_one(room: Room) -> None:
    user = await _account("one-by-one", room, SAMPLE)
    ids = await Message.filter(author_id=user.id).values_list("id", flat=True)
    started = time.perf_counter()
    for message_id in ids:
        await delete_message(user, message_id)
    print(_line("baseline: delete_message one at a time", len(ids), time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.database, args.messages))


if __name__ == "__main__":
    main()
