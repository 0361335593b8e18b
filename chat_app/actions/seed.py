"""Demo data: a few users and a believable history, for trying Parley out or load tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chat_app.actions.accounts import register_user
from chat_app.actions.rooms import join_room
from chat_app.models import Message, Room, User

BATCH = 1000
OPENERS = ["ok", "so", "quick question:", "fyi", "hmm,", "honestly", "btw", "heads up:"]
TOPICS = [
    "the deploy went out",
    "standup moves to 10:30",
    "the staging database is slow again",
    "can someone review my pull request",
    "lunch at the usual place",
    "the flaky test is back",
    "I pushed a fix for the login bug",
    "the release notes are in the doc",
    "who owns the billing service",
    "the dashboard looks wrong since Tuesday",
]
CLOSERS = ["", "", "!", " :)", "?", " — thoughts?", ", thanks", " (no rush)"]


def demo_text(rng: random.Random) -> str:
    """One chat-like line."""
    opener = rng.choice(OPENERS) + " " if rng.random() < 0.4 else ""
    return f"{opener}{rng.choice(TOPICS)}{rng.choice(CLOSERS)}"


async def _demo_users(count: int, password: str, room_slug: str) -> list[User]:
    users = []
    for n in range(1, count + 1):
        user = await User.get_or_none(username=f"demo-{n:02d}")
        if user is None:
            user = await register_user(f"demo-{n:02d}", password, room_slug)
        else:
            await join_room(user, room_slug)
        users.append(user)
    return users


async def seed_demo(
    users: int,
    messages: int,
    room_slug: str,
    password: str,
    progress: Callable[[int], None] = lambda _: None,
    days: int = 30,
) -> tuple[Room, int]:
    """Create ``users`` demo users in ``room_slug`` and ``messages`` messages over ``days`` days.

    Idempotent: the same arguments again add nothing (users are reused; message client ids
    are fixed and duplicates ignored). ``progress`` gets the size of each stored batch.
    Returns the room and how many messages were added.
    """
    people = await _demo_users(users, password, room_slug)
    room = await Room.get(slug=room_slug)
    before = await Message.filter(room_id=room.id).count()
    # A fixed seed, so a rerun picks the same authors for the same client ids (not security).
    rng = random.Random(20261126)  # noqa: S311
    start = datetime.now(UTC) - timedelta(days=days)
    step = timedelta(days=days) / max(messages, 1)
    for first in range(0, messages, BATCH):
        batch = [
            Message(
                room_id=room.id,
                author_id=rng.choice(people).id,
                content=demo_text(rng),
                client_id=f"seed-{room.id}-{n:08d}",
                created_at=start + step * n,
            )
            for n in range(first, min(first + BATCH, messages))
        ]
        await Message.bulk_create(batch, ignore_conflicts=True)
        progress(len(batch))
    return room, await Message.filter(room_id=room.id).count() - before
