"""A room's admins: the last one cannot leave or step down while others remain (a clear page,
with the controls to make someone else admin), admins make members admins, and the room
setting that lets every member's @everyone notify the room."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message
from chat_app.actions.mentions import may_mention_everyone
from chat_app.actions.rooms import LastAdmin, create_room_by, leave_room, set_role
from chat_app.models import Membership, Mention, Room, User
from tests.blueprints.test_room_settings import post
from tests.hostile import CORPUS


@pytest.fixture
async def ops(app: Quart, alice: User, bob: User) -> Room:
    """A private room of alice's (its only admin) with bob in it."""
    async with app.app_context():
        room = await create_room_by(alice, "Ops", "", "private")
    await Membership.create(user=bob, room=room)
    return room


async def role_of(user: User, room: Room) -> str:
    return (await Membership.get(user=user, room=room)).role


async def test_the_last_admin_is_told_to_make_someone_admin_before_leaving(
    alice_client: QuartClient, alice: User, bob: User, ops: Room
) -> None:
    response = await post(alice_client, "/rooms/ops/leave")
    assert response.status_code == 409
    page = await response.get_data(as_text=True)
    assert 'id="form-error"' in page and "only admin of #Ops" in page
    assert 'aria-label="Make bob an admin"' in page  # the way out, on the same page
    assert await Membership.exists(user=alice, room=ops)
    assert (
        await post(alice_client, "/rooms/ops/members/role", user_id=str(bob.id), role="admin")
    ).status_code == 303
    assert await role_of(bob, ops) == "admin"
    assert (await post(alice_client, "/rooms/ops/leave")).status_code == 303
    assert not await Membership.exists(user=alice, room=ops)


async def test_the_last_admin_cannot_step_down_but_one_of_two_can(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, ops: Room
) -> None:
    url = "/rooms/ops/members/role"
    response = await post(alice_client, url, user_id=str(alice.id), role="member")
    assert response.status_code == 409 and "only admin" in await response.get_data(as_text=True)
    assert await role_of(alice, ops) == "admin"
    await post(alice_client, url, user_id=str(bob.id), role="admin")
    assert (await post(alice_client, url, user_id=str(alice.id), role="member")).status_code == 303
    assert await role_of(alice, ops) == "member"
    async with app.app_context():
        with pytest.raises(LastAdmin):
            await set_role(bob, ops, bob.id, "member")


async def test_alone_in_the_room_the_last_admin_may_leave(
    app: Quart, alice: User, bob: User, ops: Room
) -> None:
    await Membership.filter(user=bob, room=ops).delete()
    async with app.app_context():
        await leave_room(alice, ops)
    assert not await Membership.filter(room=ops).exists()


async def test_only_admins_change_roles_and_hostile_values_change_nothing(
    alice_client: QuartClient, bob_client: QuartClient, alice: User, bob: User, ops: Room
) -> None:
    url = "/rooms/ops/members/role"
    assert (await post(bob_client, url, user_id=str(bob.id), role="admin")).status_code == 403
    for user_id, role in [
        (str(bob.id), "owner"),
        (str(bob.id), ""),
        *((str(bob.id), text) for text in CORPUS[:6]),
        *((text, "admin") for text in CORPUS[:6]),
        ("99999999", "admin"),
        ("9" * 40, "admin"),
    ]:
        response = await post(alice_client, url, user_id=user_id, role=role)
        assert response.status_code in (404, 422), (user_id, role)
    assert await role_of(bob, ops) == "member"
    assert (
        await bob_client.post(url, form={"user_id": str(bob.id), "role": "admin"})
    ).status_code == 403  # no CSRF token
    assert (
        await post(bob_client, "/rooms/nowhere/members/role", user_id="1", role="admin")
    ).status_code == 404


async def test_everyone_mentions_are_for_admins_unless_the_room_lets_every_member(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, ops: Room
) -> None:
    async with app.app_context():
        plain = await post_message(bob, ops, "@everyone standup", "client-everyone-1")
        assert not await Mention.filter(message_id=plain.id).exists()  # plain text
        assert not await may_mention_everyone(bob, ops)
    page = await (await alice_client.get("/rooms/ops/settings")).get_data(as_text=True)
    assert 'name="everyone_mentions" value="admins" checked' in page
    form = {"name": "Ops", "topic": "", "kind": "private"}
    response = await post(alice_client, "/rooms/ops/settings", **form, everyone_mentions="members")
    assert response.status_code == 303
    room = await Room.get(id=ops.id)
    assert room.everyone_mentions == "members"
    async with app.app_context():
        loud = await post_message(bob, room, "@everyone standup", "client-everyone-2")
    assert await Mention.filter(message_id=loud.id).values_list("user_id", flat=True) == [None]
    suggestions = await (await alice_client.get("/rooms/ops/members?q=ev")).get_data(as_text=True)
    assert "everyone" in suggestions
    # A form without the field keeps the setting; a value that is neither is refused.
    assert (await post(alice_client, "/rooms/ops/settings", **form)).status_code == 303
    assert (await Room.get(id=ops.id)).everyone_mentions == "members"
    for value in ["all", "ADMINS", *CORPUS[:4]]:
        response = await post(alice_client, "/rooms/ops/settings", **form, everyone_mentions=value)
        assert response.status_code == 422, value
    assert (await Room.get(id=ops.id)).everyone_mentions == "members"


async def test_members_cannot_change_the_everyone_setting(
    bob_client: QuartClient, ops: Room
) -> None:
    form = {"name": "Ops", "topic": "", "kind": "private", "everyone_mentions": "members"}
    assert (await post(bob_client, "/rooms/ops/settings", **form)).status_code == 403
    assert (await Room.get(id=ops.id)).everyone_mentions == "admins"
