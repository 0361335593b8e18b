"""Search on the real database (SQLite FTS5 trigram or PostgreSQL pg_trgm): what each filter
keeps, words in any language, partial words, short words, pages, the index following every
write, the rebuild task, and the permission table."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from quart import Quart
from tortoise import connections

from chat_app.actions import delete_message, edit_message, post_message, register_user
from chat_app.actions.attachments import store_upload
from chat_app.actions.directs import open_direct
from chat_app.actions.rooms import create_room_by, join_open_room, leave_room, set_role
from chat_app.actions.search import rebuild_search_index
from chat_app.models import Change, ChangeKind, Membership, Message, Room, User
from chat_app.models.messages import new_client_id
from chat_app.search import Results, parse, search
from tests.conftest import PASSWORD
from tests.test_cli import run

_numbers = itertools.count()


async def say(room: Room, author: User, text: str, when: datetime | None = None) -> int:
    """Store a message as the post action's transaction does (no rate limit); its id."""
    message = await Message.create(
        room=room, author=author, content=text, client_id=f"s{next(_numbers):08d}"
    )
    await Change.create(room=room, message_id=message.id, kind=ChangeKind.POSTED)
    if when is not None:
        await Message.filter(id=message.id).update(created_at=when)
    return message.id


async def found(user: User, text: str, before: int | None = None, limit: int = 20) -> list[int]:
    return [m.id for m in (await search(user.id, parse(text), before, limit)).messages]


async def results(user: User, text: str, before: int | None = None, limit: int = 20) -> Results:
    return await search(user.id, parse(text), before, limit)


@pytest.fixture
async def carol(app: Quart) -> User:
    return await register_user("carol", PASSWORD)


async def test_words_anywhere_any_case_all_of_them(alice: User, general: Room) -> None:
    both = await say(general, alice, "The Quarterly REPORT is due")
    one = await say(general, alice, "report only")
    await say(general, alice, "nothing here")
    assert await found(alice, "report") == [one, both]
    assert await found(alice, "quarterly report") == [both]
    assert await found(alice, "rep") == [one, both]  # a partial word
    assert await found(alice, "arterl") == [both]  # from the middle of one
    assert await found(alice, "missing") == []


async def test_phrases_keep_their_words_together(alice: User, general: Room) -> None:
    together = await say(general, alice, "lunch on friday?")
    await say(general, alice, "friday: the lunch is on the menu")
    assert await found(alice, '"lunch on friday"') == [together]
    assert await found(alice, '"LUNCH ON"') == [together]
    assert len(await found(alice, "lunch friday")) == 2


async def test_cjk_and_other_scripts(alice: User, general: Room) -> None:
    tokyo = await say(general, alice, "東京タワーで会いましょう")
    beijing = await say(general, alice, "我们明天在北京开会")
    german = await say(general, alice, "Die Straßenbahn fährt um 8")
    russian = await say(general, alice, "Встреча перенесена на пятницу")
    arabic = await say(general, alice, "مرحبا بالجميع في الاجتماع")
    assert await found(alice, "タワーで") == [tokyo]
    assert await found(alice, "北京开会") == [beijing]
    assert await found(alice, "straßen") == [german]
    assert await found(alice, "перенес") == [russian]
    assert await found(alice, "الاجتماع") == [arabic]


async def test_words_shorter_than_three_characters(alice: User, general: Room) -> None:
    """Trigram indexes cannot look them up: alone they are found by a scan, beside a longer
    word they narrow what it found."""
    meeting = await say(general, alice, "会議は東京で ok")
    other = await say(general, alice, "東京タワー")
    assert await found(alice, "東京") == [other, meeting]
    assert await found(alice, "ok") == [meeting]
    assert await found(alice, "会議 東京で") == [meeting]
    assert await found(alice, "東京タワー ok") == []
    assert await found(alice, "x") == []


async def test_like_characters_are_plain_text(alice: User, general: Room) -> None:
    percent = await say(general, alice, "100% done_now \\o/")
    await say(general, alice, "1000 done now")
    assert await found(alice, "100%") == [percent]
    assert await found(alice, "done_now") == [percent]
    assert await found(alice, "\\o/") == [percent]
    assert await found(alice, '"o/"') == [percent]


async def test_in_room(alice: User, general: Room) -> None:
    other = await create_room_by(alice, "Other", "", "open")
    here = await say(general, alice, "status update")
    there = await say(other, alice, "status update")
    assert await found(alice, "status") == [there, here]
    assert await found(alice, "status in:#general") == [here]
    assert await found(alice, "in:#other") == [there]
    # A room one is not in reads the same as no room at all.
    secret = (await results(alice, "status in:#nowhere")).notice
    assert secret == "You are in no room called #nowhere."


async def test_from_person(alice: User, bob: User, general: Room) -> None:
    await join_open_room(bob, "general")
    mine = await say(general, alice, "shipping today")
    theirs = await say(general, bob, "shipping tomorrow")
    assert await found(alice, "shipping from:@bob") == [theirs]
    assert await found(alice, "from:alice") == [mine]
    assert (await results(alice, "from:@nobody")).notice == "No one is called @nobody."


async def test_before_and_after_days(alice: User, general: Room) -> None:
    old = await say(general, alice, "release notes", datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    day = await say(general, alice, "release notes", datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    new = await say(general, alice, "release notes", datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    # before: the day is not included; after: neither is it.
    assert await found(alice, "release before:2026-11-01") == [old]
    assert await found(alice, "release after:2026-11-01") == [new]
    assert await found(alice, "release after:2026-10-31 before:2026-11-02") == [day]
    assert await found(alice, "after:2026-10-30") == [new, day, old]


async def test_has_link_and_has_file(app: Quart, alice: User, general: Room) -> None:
    link = await say(general, alice, "docs at https://example.com/guide")
    plain = await say(general, alice, "http://insecure.example too")
    await say(general, alice, "no docs, just text about https")
    assert await found(alice, "has:link") == [plain, link]
    assert await found(alice, "docs has:link") == [link]
    async with app.app_context():
        upload = await store_upload(alice, general, "notes.txt", b"the notes\n")
        files = str(upload.id)
        sent = await post_message(alice, general, "docs attached", "hasfile001", None, files)
    assert await found(alice, "docs has:file") == [sent.id]
    assert await found(alice, "has:file") == [sent.id]
    assert await found(alice, "guide has:file") == []


async def test_pages_newest_first_without_gaps_or_repeats(alice: User, general: Room) -> None:
    ids = [await say(general, alice, f"paged item {n}") for n in range(7)]
    await say(general, alice, "unrelated")
    newest_first = ids[::-1]
    first = await results(alice, "paged", limit=3)
    assert [m.id for m in first.messages] == newest_first[:3]
    assert first.next_before == newest_first[2]
    second = await results(alice, "paged", before=first.next_before, limit=3)
    assert [m.id for m in second.messages] == newest_first[3:6]
    last = await results(alice, "paged", before=second.next_before, limit=3)
    assert [m.id for m in last.messages] == newest_first[6:]
    assert last.next_before is None
    # Exactly a page: no "more" pointing at an empty one.
    exact = await results(alice, "paged", limit=7)
    assert len(exact.messages) == 7 and exact.next_before is None
    # A cursor below everything, or at the oldest: an empty page, not an error.
    assert await found(alice, "paged", before=ids[0]) == []
    assert await found(alice, "paged", before=1) == []


async def test_the_index_follows_posts_edits_and_deletes(alice: User, general: Room) -> None:
    posted = await post_message(alice, general, "kumquat season", new_client_id())
    assert await found(alice, "kumquat") == [posted.id]
    await edit_message(alice, posted.id, "persimmon season")
    assert await found(alice, "kumquat") == []
    assert await found(alice, "persimmon") == [posted.id]
    await delete_message(alice, posted.id)
    assert await found(alice, "persimmon") == []
    assert await found(alice, "season") == []


async def test_results_come_ready_for_their_partial(alice: User, general: Room) -> None:
    await say(general, alice, "ready for the partial")
    [message] = (await results(alice, "partial")).messages
    assert message.author.username == "alice" and message.room.slug == "general"
    assert message.reaction_groups == [] and message.quoted is None


async def _damage_index() -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("DROP INDEX messages_content_trgm")
    else:
        await conn.execute_script(
            "INSERT INTO message_search (message_search) VALUES ('delete-all')"
        )


async def _index_there() -> bool:
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        return True
    rows = await conn.execute_query_dict("SELECT to_regclass('messages_content_trgm') AS found")
    return rows[0]["found"] is not None


async def test_rebuild_task_restores_a_damaged_index(
    app: Quart, alice: User, general: Room
) -> None:
    ids = [await say(general, alice, f"rebuilt entry {n}") for n in range(3)]
    await _damage_index()
    result = await run(app, "rebuild-search")
    assert result.exit_code == 0, result.output
    assert "Indexed 3 messages." in result.output and "search index" in result.output
    assert await _index_there()
    assert await found(alice, "rebuilt") == ids[::-1]
    steps: list[tuple[int, int]] = []
    assert await rebuild_search_index(lambda done, total: steps.append((done, total))) == 3
    assert steps[-1][0] == steps[-1][1]  # it ends at 100 %
    assert await found(alice, "entry 1") == [ids[1]]


# --- the permission table: alice searches for "needle"; only rows marked "yes" may appear ---


async def test_only_rooms_and_conversations_the_viewer_is_in_now(
    alice: User, bob: User, carol: User, general: Room
) -> None:
    await join_open_room(bob, "general")
    await join_open_room(carol, "general")
    left = await create_room_by(alice, "Left behind", "", "open")
    await join_open_room(bob, left.slug)
    private = await create_room_by(bob, "Bob private", "", "private")
    never_joined = await create_room_by(bob, "Bob open", "", "open")
    others_dm = await open_direct(bob, [carol.id])
    own_dm = await open_direct(alice, [bob.id])
    visible = {
        "general (a member)": await say(general, bob, "needle in general"),
        "own DM": await say(own_dm, bob, "needle in our DM"),
    }
    hidden = {
        "room alice left": await say(left, bob, "needle after she left"),
        "private room": await say(private, bob, "needle in private"),
        "open room never joined": await say(never_joined, bob, "needle in the open"),
        "someone else's DM": await say(others_dm, bob, "needle between bob and carol"),
    }
    hidden["before she left"] = await say(left, alice, "needle before leaving")
    await set_role(alice, left, bob.id, "admin")  # the room keeps an admin when she leaves
    await leave_room(alice, left)
    # Newest hidden ones last: they would come first in newest-first order if they leaked.
    hidden["newest, private"] = await say(private, bob, "needle newest of all")

    assert await found(alice, "needle") == sorted(visible.values(), reverse=True)
    for filters in ("from:@bob", "has:link", "in:#general", "before:2100-01-01"):
        for shown_id in await found(alice, f"needle {filters}"):
            assert shown_id in visible.values(), filters
    assert await found(alice, "ne") == sorted(visible.values(), reverse=True)  # the scan too
    # Pages of one: each cursor is a visible message, and the walk ends after the last one.
    first = await results(alice, "needle", limit=1)
    assert first.next_before == visible["own DM"]
    second = await results(alice, "needle", before=first.next_before, limit=1)
    assert [m.id for m in second.messages] == [visible["general (a member)"]]
    assert second.next_before is None
    # A hidden room by name reads like a room that does not exist.
    for slug in (left.slug, private.slug, never_joined.slug, others_dm.slug):
        assert (await results(alice, f"needle in:#{slug}")).notice == (
            f"You are in no room called #{slug}."
        )
    # bob, who is in all of them but carol's... sees his own.
    assert hidden["private room"] in await found(bob, "needle")
    assert hidden["someone else's DM"] in await found(carol, "needle")
    assert visible["own DM"] not in await found(carol, "needle")


async def test_membership_is_read_at_search_time(alice: User, bob: User) -> None:
    room = await create_room_by(bob, "Team", "", "open")
    said = await say(room, bob, "roadmap draft")
    assert await found(alice, "roadmap") == []
    await join_open_room(alice, room.slug)
    assert await found(alice, "roadmap") == [said]
    await Membership.filter(user_id=alice.id, room_id=room.id).delete()
    assert await found(alice, "roadmap") == []
