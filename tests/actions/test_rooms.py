"""Room actions at their seams: membership changes are events published after the write."""

from __future__ import annotations

from quart import Quart

from chat_app.actions.directs import direct_key, open_direct
from chat_app.actions.rooms import create_room_by, leave_room, remove_member
from chat_app.models import Membership, User
from chat_app.realtime.events import Event, MembershipEnded, decode, encode
from tests.conftest import broker_replaced_by


class Recorder:
    """Records each event and whether the membership was already gone when it went out."""

    def __init__(self) -> None:
        self.events: list[tuple[Event, bool]] = []

    async def publish(self, event: Event) -> None:
        gone = isinstance(event, MembershipEnded) and not await Membership.exists(
            room_id=event.room_id, user_id=event.user_id
        )
        self.events.append((event, gone))


async def test_removal_and_leaving_publish_membership_ended_after_the_write(
    app: Quart, alice: User, bob: User
) -> None:
    async with broker_replaced_by(app, Recorder()) as recorder:
        room = await create_room_by(alice, "Ops", "", "private")
        await Membership.create(user=bob, room=room)
        await remove_member(alice, room, str(bob.id))
        await Membership.create(user=bob, room=room)
        await leave_room(bob, room)
        await leave_room(bob, room)  # not a member any more: nothing to say
    assert [e for e in recorder.events if isinstance(e[0], MembershipEnded)] == [
        (MembershipEnded(room_id=room.id, user_id=bob.id, removed=True), True),
        (MembershipEnded(room_id=room.id, user_id=bob.id, removed=False), True),
    ]


def test_membership_ended_crosses_brokers() -> None:
    event = MembershipEnded(room_id=3, user_id=7, removed=True)
    assert decode(encode(event)) == event


async def test_the_direct_key_is_the_sorted_ids_and_names_no_one_twice(
    app: Quart, alice: User, bob: User
) -> None:
    assert direct_key([12, 3, 8, 3]) == "3,8,12"
    async with app.app_context():
        room = await open_direct(bob, [alice.id, str(alice.id), f" {alice.id} "])
    assert room.direct_key == direct_key([alice.id, bob.id])
