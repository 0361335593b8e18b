"""Keyset pagination by id, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat_app.models import Message, Room, User
from chat_app.models.messages import in_batches, latest, page, page_after, page_before
from tests.conftest import fill_room


async def test_ids_increase_in_posting_order(general: Room, alice: User) -> None:
    ids = await fill_room(general, alice, 5)
    assert ids == sorted(ids)


async def test_latest_returns_newest_page_oldest_first(general: Room, alice: User) -> None:
    ids = await fill_room(general, alice, 60)
    page = await latest(general.id, 50)
    assert [m.id for m in page] == ids[-50:]
    assert page[0].author.username == "alice"  # author loaded for rendering


async def test_page_before_walks_back_without_gaps_or_repeats(general: Room, alice: User) -> None:
    ids = await fill_room(general, alice, 23)
    seen: list[int] = []
    before = None
    while page := await page_before(general.id, before, 10):
        seen = [m.id for m in page] + seen
        before = page[0].id
    assert seen == ids


async def test_page_after_continues_from_cursor(general: Room, alice: User) -> None:
    ids = await fill_room(general, alice, 7)
    assert [m.id for m in await page_after(general.id, ids[2], 3)] == ids[3:6]
    assert await page_after(general.id, ids[-1], 50) == []


async def test_pages_stay_inside_their_room(general: Room, alice: User) -> None:
    other = await Room.create(slug="random", name="Random")
    await fill_room(other, alice, 3)
    assert await latest(general.id, 50) == []


async def test_empty_room_has_no_pages(general: Room) -> None:
    assert await latest(general.id, 50) == []
    assert await page_before(general.id, 1, 50) == []


async def test_page_cursors_match_their_definition(general: Room, alice: User) -> None:
    # Every mode and every cursor against the plain definition: the page's ids, and the first
    # (last) one as ``older`` (``newer``) exactly when the room has an older (newer) message.
    # Another room's messages are interleaved so that no cursor can leak across rooms.
    other = await Room.create(slug="random", name="Random")
    ids: list[int] = []
    for n in range(7):
        ids += await fill_room(general, alice, 1, prefix=f"g{n}")
        await fill_room(other, alice, 1, prefix=f"o{n}")
    cursors = range(ids[0] - 1, ids[-1] + 3)
    for size in (1, 2, 3, 7, 8):
        for mode in ("before", "after", "around", None):
            for cursor in cursors if mode else [None]:
                if mode == "before" or mode is None:
                    older_ids = [i for i in ids if cursor is None or i < cursor]
                    expected = older_ids[-size:]
                elif mode == "after":
                    expected = [i for i in ids if i > cursor][:size]
                else:
                    half = size // 2
                    before = [i for i in ids if i < cursor][-half:] if half else []
                    expected = before + [i for i in ids if i >= cursor][: size - half]
                given = {mode: cursor} if mode else {}
                found = await page(general.id, size, **given)
                where = f"size {size}, {mode}={cursor}"
                assert [m.id for m in found.messages] == expected, where
                older = expected[0] if expected and ids[0] < expected[0] else None
                newer = expected[-1] if expected and ids[-1] > expected[-1] else None
                assert (found.older, found.newer) == (older, newer), where


async def test_in_batches_reads_lazily_one_bounded_batch_at_a_time(
    general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 30)
    batches = in_batches(general.id, size=7)
    first = await anext(batches)
    assert [m.id for m in first] == ids[:7]
    assert first[0].author.username == "alice" and first[0].room.slug == "general"
    # Rows were not loaded ahead: what is deleted now is never seen.
    await Message.filter(id__gt=ids[13]).delete()
    rest = [batch async for batch in batches]
    assert [[m.id for m in batch] for batch in rest] == [ids[7:14]]


async def test_in_batches_can_stop_at_a_date_across_rooms(general: Room, alice: User) -> None:
    other = await Room.create(slug="other", name="Other")
    old = await fill_room(general, alice, 3) + await fill_room(other, alice, 2, prefix="o")
    await Message.all().update(created_at=datetime.now(UTC) - timedelta(days=2))
    await fill_room(general, alice, 2, prefix="new")
    cutoff = datetime.now(UTC) - timedelta(days=1)
    seen = [m.id async for batch in in_batches(older_than=cutoff, size=2) for m in batch]
    assert seen == old
