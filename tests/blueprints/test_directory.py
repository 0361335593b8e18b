"""Creating, finding, joining and leaving rooms, as plain forms; hostile names and slugs."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.models import Membership, Room, User
from chat_app.models.rooms import RoomKind
from tests.conftest import csrf_from, log_in


async def token(client: QuartClient, url: str = "/browse") -> str:
    return csrf_from(await (await client.get(url)).get_data(as_text=True))


async def create(client: QuartClient, name: str, kind: str = "open", topic: str = ""):  # type: ignore[no-untyped-def]
    form = {"name": name, "topic": topic, "kind": kind, "csrf_token": await token(client)}
    return await client.post("/rooms/new", form=form)


async def test_create_an_open_room_and_land_in_it_as_its_admin(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    response = await create(alice_client, "Design Review", topic="Mockups, Fridays")
    assert response.status_code == 303 and response.location == "/rooms/design-review"
    room = await Room.get(slug="design-review")
    assert (room.name, room.topic, room.kind, room.created_by_id) == (
        "Design Review",
        "Mockups, Fridays",
        RoomKind.OPEN,
        alice.id,
    )
    assert await Membership.get(user=alice, room=room).values_list("role", flat=True) == "admin"
    page = await (await alice_client.get("/rooms/design-review")).get_data(as_text=True)
    assert 'id="room-topic">Mockups, Fridays<' in page
    assert 'id="room-member-count">1 member<' in page
    assert 'id="room-settings-link"' in page and ">Settings</a>" in page
    assert 'id="create-room-link"' in page and 'id="browse-rooms-link"' in page


async def test_the_directory_lists_open_rooms_only_with_topic_and_members(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    await create(alice_client, "Open One", topic="about one")
    await create(alice_client, "Hidden Plans", kind="private", topic="do not tell")
    html = await (await bob_client.get("/browse")).get_data(as_text=True)
    assert "Open One" in html and "about one" in html and "General" in html
    assert "Hidden" not in html and "do not tell" not in html and "hidden-plans" not in html
    assert 'data-members="2"' in html  # general: alice and bob


async def test_join_and_leave_with_one_click(
    alice_client: QuartClient, bob_client: QuartClient, bob: User, general: Room
) -> None:
    await create(alice_client, "Lunch")
    assert (await bob_client.get("/rooms/lunch")).status_code == 404  # not a member yet
    response = await bob_client.post(
        "/rooms/lunch/join", form={"csrf_token": await token(bob_client)}
    )
    assert response.status_code == 303 and response.location == "/rooms/lunch"
    page = await (await bob_client.get("/rooms/lunch")).get_data(as_text=True)
    assert 'id="room-member-count">2 members<' in page and ">Members</a>" in page
    # Joining twice is harmless.
    await bob_client.post("/rooms/lunch/join", form={"csrf_token": await token(bob_client)})
    assert await Membership.filter(user=bob, room__slug="lunch").count() == 1
    response = await bob_client.post(
        "/rooms/lunch/leave", form={"csrf_token": await token(bob_client)}
    )
    assert response.status_code == 303 and response.location == "/browse"
    assert (await bob_client.get("/rooms/lunch")).status_code == 404


async def test_private_rooms_cannot_be_joined_or_left_by_outsiders(
    alice_client: QuartClient, bob_client: QuartClient, bob: User, general: Room
) -> None:
    await create(alice_client, "Secret", kind="private")
    csrf = await token(bob_client)
    for url in ("/rooms/secret/join", "/rooms/secret/leave", "/rooms/nope/join"):
        assert (await bob_client.post(url, form={"csrf_token": csrf})).status_code == 404, url
    assert not await Membership.exists(user=bob, room__slug="secret")


async def test_general_cannot_be_left(alice_client: QuartClient, general: Room) -> None:
    response = await alice_client.post(
        "/rooms/general/leave", form={"csrf_token": await token(alice_client)}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("x" * 10_000, "1 to 100 characters"),
        ("", "1 to 100 characters"),
        ("   ", "1 to 100 characters"),
        ("bell\x07room", "control characters"),
        ("two\nlines", "control characters"),
        ("nul\x00", "control characters"),
        ("New", "reserved"),
        ("dm abc", "reserved"),
    ],
)
async def test_hostile_names_are_refused_with_a_reason(
    alice_client: QuartClient, general: Room, name: str, error: str
) -> None:
    response = await create(alice_client, name)
    assert response.status_code == 422
    assert error in await response.get_data(as_text=True)
    assert await Room.all().count() == 1


async def test_hostile_topics_and_kinds_are_refused(
    alice_client: QuartClient, general: Room
) -> None:
    for kind, topic, error in [
        ("open", "t" * 10_000, "at most 250"),
        ("open", "esc\x1b[2J", "control characters"),
        ("direct", "", "either open"),
        ("admin", "", "either open"),
    ]:
        response = await create(alice_client, "Fine", kind=kind, topic=topic)
        assert response.status_code == 422, kind
        assert error in await response.get_data(as_text=True)
    assert await Room.all().count() == 1


async def test_a_taken_slug_is_refused_even_by_a_private_room(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    await create(alice_client, "Ops", kind="private")
    response = await create(bob_client, "OPS!")
    assert response.status_code == 422
    assert "#ops already exists" in await response.get_data(as_text=True)
    response = await create(bob_client, "General")
    assert response.status_code == 422


async def test_names_with_no_ascii_get_an_address(alice_client: QuartClient, general: Room) -> None:
    response = await create(alice_client, "東京 <チーム>")
    assert response.status_code == 303
    room = await Room.get(name="東京 <チーム>")
    assert response.location == f"/rooms/{room.slug}" and room.slug.startswith("room-")
    html = await (await alice_client.get(response.location)).get_data(as_text=True)
    assert "東京 &lt;チーム&gt;" in html


async def test_only_admins_create_rooms_when_the_workspace_says_so(
    app: Quart, alice_client: QuartClient, bob: User, general: Room
) -> None:
    app.config["ROOM_CREATION"] = "admins"
    try:
        assert (await alice_client.get("/rooms/new")).status_code == 403
        assert (await create(alice_client, "Mine")).status_code == 403
        assert 'id="create-room-link"' not in await (await alice_client.get("/browse")).get_data(
            as_text=True
        )
        await User.filter(id=bob.id).update(is_admin=True)
        admin = await log_in(app, "bob")
        assert (await create(admin, "Theirs")).status_code == 303
    finally:
        app.config["ROOM_CREATION"] = "everyone"
    assert not await Room.exists(slug="mine")


async def test_forms_without_csrf_are_refused(alice_client: QuartClient, general: Room) -> None:
    response = await alice_client.post("/rooms/new", form={"name": "x", "kind": "open"})
    assert response.status_code in (400, 403)
    assert await Room.all().count() == 1
