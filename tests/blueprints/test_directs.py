"""Direct conversations: one per set of people, named by the others, hidden from everyone
else on every path (pages, history, permalinks, the JSON API, the socket, the directory)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from quart import Quart
from quart.testing import QuartClient, WebsocketResponseError

from chat_app.actions import register_user
from chat_app.models import Membership, Room, User
from chat_app.models.rooms import RoomKind
from tests.conftest import ORIGIN, PASSWORD, csrf_from, fill_room, log_in


async def start(client: QuartClient, *ids: object):  # type: ignore[no-untyped-def]
    csrf = csrf_from(await (await client.get("/directs/new")).get_data(as_text=True))
    # Repeated fields, as a browser sends ticked boxes (the test client's ``form`` keeps one).
    body = urlencode([("csrf_token", csrf), *(("member", str(i)) for i in ids)])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return await client.post("/directs", data=body, headers=headers)


@pytest.fixture
async def carol(app: Quart) -> User:
    return await register_user("carol", PASSWORD)


async def test_one_conversation_per_set_of_people(
    alice_client: QuartClient, bob_client: QuartClient, alice: User, bob: User, carol: User
) -> None:
    first = await start(alice_client, bob.id)
    assert first.status_code == 303 and first.location.startswith("/rooms/dm-")
    again = await start(alice_client, bob.id, bob.id, alice.id)  # repeats and oneself: the same
    from_bob = await start(bob_client, alice.id)
    assert again.location == first.location == from_bob.location
    group = await start(alice_client, carol.id, bob.id)
    assert group.location != first.location
    assert await Room.filter(kind=RoomKind.DIRECT).count() == 2
    room = await Room.get(slug=first.location.rsplit("/", 1)[1])
    assert room.direct_key == ",".join(sorted([str(alice.id), str(bob.id)], key=int))
    assert await Membership.filter(room=room).count() == 2


async def test_the_conversation_is_named_by_the_other_people_with_presence_dots(
    alice_client: QuartClient, bob_client: QuartClient, bob: User, carol: User
) -> None:
    location = (await start(alice_client, bob.id, carol.id)).location
    alices = await (await alice_client.get(location)).get_data(as_text=True)
    assert 'id="room-title">bob, carol<' in alices
    assert 'id="room-settings-link"' not in alices  # a conversation has no settings
    sidebar = alices.split('id="direct-list"', 1)[1].split("</ul>", 1)[0]
    assert "bob, carol" in sidebar and sidebar.count('class="status ') == 2
    bobs = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert "alice, carol" in bobs.split('id="direct-list"', 1)[1].split("</ul>", 1)[0]


async def test_the_picker_ticks_the_person_named(alice_client: QuartClient, bob: User) -> None:
    html = await (await alice_client.get("/directs/new?with=bob")).get_data(as_text=True)
    assert f'value="{bob.id}" checked' in html
    picker = html.split('id="direct-picker"', 1)[1]
    assert "bob" in picker and "alice" not in picker  # not oneself


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ([], "at least one other"),
        (["999999"], "not here"),
        (["abc"], "Pick people from the list"),
        (["-3"], "Pick people from the list"),
        (["1" * 40], "Pick people from the list"),
        (["\u0661"], "Pick people from the list"),  # an Arabic-Indic one
    ],
)
async def test_forged_members_are_refused(
    alice_client: QuartClient, alice: User, members: list[str], error: str
) -> None:
    response = await start(alice_client, *members)
    assert response.status_code == 422
    assert error in await response.get_data(as_text=True)
    assert not await Room.exists(kind=RoomKind.DIRECT)


async def test_only_yourself_is_not_a_conversation(alice_client: QuartClient, alice: User) -> None:
    response = await start(alice_client, alice.id)
    assert response.status_code == 422


async def test_nine_people_are_too_many_and_eight_are_fine(
    app: Quart, alice_client: QuartClient, alice: User
) -> None:
    others = [await User.create(username=f"p{n}", password_hash="x") for n in range(8)]
    response = await start(alice_client, *[p.id for p in others])
    assert response.status_code == 422
    assert "at most 8 people" in await response.get_data(as_text=True)
    assert (await start(alice_client, *[p.id for p in others[:7]])).status_code == 303
    inactive = await User.create(username="gone", password_hash="x", is_active=False)
    assert (await start(alice_client, inactive.id)).status_code == 422


async def test_a_conversation_between_two_others_never_reaches_a_third(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, carol: User
) -> None:
    location = (await start(alice_client, bob.id)).location
    slug = location.rsplit("/", 1)[1]
    room = await Room.get(slug=slug)
    ids = await fill_room(room, alice, 3, prefix="private words")
    mallory = await log_in(app, "carol")
    for url in [
        location,
        f"{location}/history",
        f"{location}/history?around={ids[1]}",
        f"{location}/older?before={ids[-1]}",
        f"{location}/poll?after=0",
        f"{location}/settings",
        f"/api/rooms/{slug}/messages",
        f"/messages/{ids[0]}",
        f"/messages/{ids[0]}/reply",
        f"/messages/{ids[0]}/edit",
        f"/messages/{ids[0]}/react",
        f"/messages/{ids[0]}/delete",
    ]:
        response = await mallory.get(url)
        assert response.status_code == 404, url
        assert "private words" not in await response.get_data(as_text=True), url
    csrf = csrf_from(await (await mallory.get("/browse")).get_data(as_text=True))
    for url, form in [
        (f"{location}/messages", {"content": "hi", "client_id": "mallory-000001"}),
        (f"{location}/join", {}),
        (f"{location}/leave", {}),
        (f"{location}/members", {"username": "carol"}),
    ]:
        response = await mallory.post(url, form={**form, "csrf_token": csrf})
        assert response.status_code == 404, url
    with pytest.raises(WebsocketResponseError) as refused:
        async with mallory.websocket(f"{location}/live?after=0", headers={"Origin": ORIGIN}) as ws:
            await ws.receive()
    assert refused.value.response.status_code == 404
    for page in ("/browse", "/rooms/general", "/api/presence"):
        html = await (await mallory.get(page)).get_data(as_text=True)
        assert slug not in html and "alice, bob" not in html, page
    assert not await Membership.exists(user__username="carol", room=room)


async def test_members_of_a_conversation_cannot_add_or_leave(
    alice_client: QuartClient, bob: User, carol: User
) -> None:
    location = (await start(alice_client, bob.id)).location
    csrf = csrf_from(await (await alice_client.get(location)).get_data(as_text=True))
    for url, form in [
        (f"{location}/members", {"username": "carol"}),
        (f"{location}/leave", {}),
        (f"{location}/archive", {}),
    ]:
        response = await alice_client.post(url, form={**form, "csrf_token": csrf})
        assert response.status_code in (403, 404), url
    assert await Membership.filter(room__slug=location.rsplit("/", 1)[1]).count() == 2


async def test_a_dm_posts_and_reads_like_a_room(
    alice_client: QuartClient, bob_client: QuartClient, bob: User
) -> None:
    location = (await start(alice_client, bob.id)).location
    csrf = csrf_from(await (await alice_client.get(location)).get_data(as_text=True))
    response = await alice_client.post(
        f"{location}/messages",
        form={"content": "just us", "client_id": "dm-client-0001", "csrf_token": csrf},
    )
    assert response.status_code == 303
    assert "just us" in await (await bob_client.get(location)).get_data(as_text=True)
