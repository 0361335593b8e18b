"""Edits, deletions, reactions and replies: each is one numbered change, announced once after
its commit; refusals change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quart import Quart

from chat_app.actions import (
    MessageNotFound,
    MessageRejected,
    NotAllowed,
    delete_message,
    edit_message,
    post_message,
    toggle_reaction,
)
from chat_app.actions.rooms import join_room
from chat_app.models import ChangeKind, Membership, Message, Reaction, Room, User
from chat_app.models.changes import changes_after, newest_change
from chat_app.realtime.events import RoomChanged
from tests.actions.conftest import RecordingBroker
from tests.hostile import CORPUS


@pytest.fixture
async def posted(published: RecordingBroker, alice: User, general: Room) -> Message:
    message = await post_message(alice, general, "hello wrold", "client-0001")
    published.events.clear()
    published.committed_when_published.clear()
    return message


async def kinds(room: Room) -> list[ChangeKind]:
    return [c.kind for c in await changes_after(room.id, 0, 100)]


async def test_posting_logs_a_posted_change_and_announces_it_after_commit(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    message = await post_message(alice, general, "hello", "client-0001")
    [change] = await changes_after(general.id, 0, 10)
    assert (change.message_id, change.kind) == (message.id, ChangeKind.POSTED)
    assert published.events == [RoomChanged(general.id, change.change)]
    assert published.committed_when_published == [True]


async def test_editing_your_message_replaces_its_text_and_logs_one_change(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    edited = await edit_message(alice, posted.id, "  hello world ")
    stored = await Message.get(id=posted.id)
    assert stored.content == edited.content == "hello world"
    assert stored.edited_at is not None and stored.edited_at <= datetime.now(UTC)
    assert await kinds(general) == [ChangeKind.POSTED, ChangeKind.EDITED]
    assert published.events == [RoomChanged(general.id, await newest_change(general.id))]
    assert published.committed_when_published == [True]


async def test_an_edit_that_changes_nothing_logs_nothing(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    await edit_message(alice, posted.id, "hello wrold")
    assert await kinds(general) == [ChangeKind.POSTED]
    assert published.events == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "Write something"), ("   \n ", "Write something"), ("x" * 4001, "at most 4,000")],
)
async def test_an_edit_is_validated_as_a_post_is(
    published: RecordingBroker, posted: Message, alice: User, content: str, reason: str
) -> None:
    with pytest.raises(MessageRejected, match=reason):
        await edit_message(alice, posted.id, content)
    assert (await Message.get(id=posted.id)).content == "hello wrold"
    assert published.events == []


async def test_nobody_edits_someone_elses_message(
    published: RecordingBroker, posted: Message, bob: User, general: Room
) -> None:
    await join_room(bob, "general")
    with pytest.raises(NotAllowed):
        await edit_message(bob, posted.id, "mine now")
    assert (await Message.get(id=posted.id)).content == "hello wrold"
    assert await kinds(general) == [ChangeKind.POSTED]
    assert published.events == []


@pytest.mark.parametrize(
    "forged", ["", "abc", "-1", "1.5", "0", "9" * 19, "9" * 5000, None, [], {"id": 1}, "١٢"]
)
async def test_forged_message_ids_are_no_message(
    published: RecordingBroker, posted: Message, alice: User, forged: object
) -> None:
    for attempt in (
        edit_message(alice, forged, "x"),
        delete_message(alice, forged),
        toggle_reaction(alice, forged, "👍"),
    ):
        with pytest.raises(MessageNotFound):
            await attempt
    assert published.events == []


async def test_a_message_in_a_room_you_are_not_in_does_not_exist_for_you(
    published: RecordingBroker, alice: User, bob: User
) -> None:
    secret = await join_room(alice, "secret")
    message = await post_message(alice, secret, "between us", "client-0002")
    published.events.clear()
    for attempt in (
        edit_message(bob, message.id, "x"),
        delete_message(bob, message.id),
        toggle_reaction(bob, message.id, "👍"),
    ):
        with pytest.raises(MessageNotFound):
            await attempt
    assert await Message.exists(id=message.id)
    assert not await Reaction.exists(message_id=message.id)
    assert published.events == []


async def test_an_archived_room_takes_no_changes(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    await Room.filter(id=general.id).update(archived_at=datetime.now(UTC))
    for attempt in (
        edit_message(alice, posted.id, "x"),
        delete_message(alice, posted.id),
        toggle_reaction(alice, posted.id, "👍"),
    ):
        with pytest.raises(NotAllowed, match="archived"):
            await attempt
    assert await kinds(general) == [ChangeKind.POSTED]


async def test_deleting_your_message_removes_it_and_its_reactions(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    await toggle_reaction(alice, posted.id, "👍")
    await delete_message(alice, posted.id)
    assert not await Message.exists(id=posted.id)
    assert not await Reaction.exists(message_id=posted.id)
    assert await kinds(general) == [ChangeKind.POSTED, ChangeKind.REACTED, ChangeKind.DELETED]
    assert published.committed_when_published == [True, True]
    with pytest.raises(MessageNotFound):
        await delete_message(alice, posted.id)


async def test_only_the_author_and_admins_delete_a_message(
    published: RecordingBroker, posted: Message, bob: User, general: Room
) -> None:
    await join_room(bob, "general")
    with pytest.raises(NotAllowed):
        await delete_message(bob, posted.id)
    assert await Message.exists(id=posted.id)
    await Membership.filter(user_id=bob.id, room_id=general.id).update(role="admin")
    await delete_message(bob, posted.id)  # a room admin
    assert not await Message.exists(id=posted.id)


async def test_a_workspace_admin_deletes_anyones_message(
    published: RecordingBroker, posted: Message, bob: User
) -> None:
    await join_room(bob, "general")
    await User.filter(id=bob.id).update(is_admin=True)
    await delete_message(await User.get(id=bob.id), posted.id)
    assert not await Message.exists(id=posted.id)


async def test_a_reaction_toggles_and_twice_leaves_things_as_they_were(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    assert await toggle_reaction(alice, posted.id, "👍") is True
    assert await Reaction.filter(message_id=posted.id).count() == 1
    assert await toggle_reaction(alice, posted.id, "👍") is False
    assert await Reaction.filter(message_id=posted.id).count() == 0
    assert await kinds(general) == [ChangeKind.POSTED, ChangeKind.REACTED, ChangeKind.REACTED]
    assert published.committed_when_published == [True, True]


async def test_one_emoji_in_two_spellings_is_one_reaction(
    published: RecordingBroker, posted: Message, alice: User
) -> None:
    await toggle_reaction(alice, posted.id, "❤")
    assert await toggle_reaction(alice, posted.id, "❤️") is False  # the same one, taken back
    await toggle_reaction(alice, posted.id, ":tada:")
    assert await Reaction.filter(message_id=posted.id).values_list("emoji", flat=True) == ["🎉"]


@pytest.mark.parametrize(
    "bad", ["", "a", "👍👍", "👍 ", "<script>", "x" * 10_000, "👍" * 5000, None, 7, ["👍"]]
)
async def test_a_reaction_is_one_emoji(
    published: RecordingBroker, posted: Message, alice: User, bad: object
) -> None:
    if bad == "👍 ":  # surrounding space is forgiven, as in the composer
        await toggle_reaction(alice, posted.id, bad)
        return
    with pytest.raises(MessageRejected, match="one emoji"):
        await toggle_reaction(alice, posted.id, bad)
    assert not await Reaction.exists(message_id=posted.id)
    assert published.events == []


async def test_hostile_strings_are_never_reactions(
    published: RecordingBroker, posted: Message, alice: User
) -> None:
    for text in CORPUS:
        with pytest.raises(MessageRejected):
            await toggle_reaction(alice, posted.id, text)
    assert not await Reaction.exists(message_id=posted.id)


async def test_a_message_holds_a_bounded_number_of_different_reactions(
    app: Quart, published: RecordingBroker, posted: Message, alice: User, bob: User
) -> None:
    app.config["REACTIONS_PER_MESSAGE"] = 3
    try:
        for emoji in ("👍", "🎉", "👀"):
            await toggle_reaction(alice, posted.id, emoji)
        with pytest.raises(NotAllowed, match="at most 3"):
            await toggle_reaction(alice, posted.id, "😮")
        await join_room(bob, "general")
        await toggle_reaction(bob, posted.id, "👍")  # one more of an emoji already there
    finally:
        app.config["REACTIONS_PER_MESSAGE"] = 20
    assert await Reaction.filter(message_id=posted.id).count() == 4


async def test_a_reply_remembers_its_original_in_the_same_room(
    published: RecordingBroker, posted: Message, alice: User, general: Room
) -> None:
    reply = await post_message(alice, general, "indeed", "client-0003", reply_to=str(posted.id))
    assert reply.reply_to_id == posted.id
    elsewhere = await join_room(alice, "elsewhere")
    other = await post_message(alice, elsewhere, "over here", "client-0004")
    with pytest.raises(MessageRejected, match="not in this room"):
        await post_message(alice, general, "x", "client-0005", reply_to=other.id)
    with pytest.raises(MessageNotFound):
        await post_message(alice, general, "x", "client-0006", reply_to="<b>")
    assert not await Message.exists(client_id__in=["client-0005", "client-0006"])


async def test_change_numbers_rise_in_commit_order_within_a_room(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    first = await post_message(alice, general, "one", "client-0007")
    await toggle_reaction(alice, first.id, "👍")
    await edit_message(alice, first.id, "one, edited")
    numbers = [e.change for e in published.events if isinstance(e, RoomChanged)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert [c.change for c in await changes_after(general.id, numbers[0], 10)] == numbers[1:]
