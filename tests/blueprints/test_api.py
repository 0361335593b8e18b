"""JSON history with cursor pagination."""

from __future__ import annotations

from quart.testing import QuartClient

from chat_app.models import Room, User
from tests.conftest import fill_room


async def test_pages_walk_back_with_next_before(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 25, prefix="j")
    first = await (await alice_client.get("/api/rooms/general/messages?limit=10")).get_json()
    assert [m["id"] for m in first["messages"]] == ids[15:]
    assert first["messages"][0] | {"created_at": None} == {
        "id": ids[15],
        "room_id": general.id,
        "author": "alice",
        "content": "j 15",
        "content_html": "<p>j 15</p>",
        "created_at": None,
        "edited_at": None,
        "reply_to": None,
        "reactions": [],
    }
    url = "/api/rooms/general/messages?limit=10&before={}"
    second = await (await alice_client.get(url.format(first["next_before"]))).get_json()
    assert [m["id"] for m in second["messages"]] == ids[5:15]
    last = await (await alice_client.get(url.format(second["next_before"]))).get_json()
    assert [m["id"] for m in last["messages"]] == ids[:5]
    assert last["next_before"] is None


async def test_empty_room(alice_client: QuartClient, general: Room) -> None:
    body = await (await alice_client.get("/api/rooms/general/messages")).get_json()
    assert body == {"messages": [], "next_before": None}


async def test_bad_parameters_get_json_400(alice_client: QuartClient, general: Room) -> None:
    for query in ("before=x", "limit=0", "limit=201", "limit=-3", "limit=ten"):
        response = await alice_client.get(f"/api/rooms/general/messages?{query}")
        assert response.status_code == 400, query
        assert "error" in await response.get_json()


async def test_outsiders_and_anonymous(client: QuartClient, alice_client: QuartClient) -> None:
    await Room.create(slug="secret", name="Secret")
    assert (await alice_client.get("/api/rooms/secret/messages")).status_code == 404
    assert (await client.get("/api/rooms/general/messages")).status_code == 401


async def test_exactly_one_page(alice_client: QuartClient, general: Room, alice: User) -> None:
    ids = await fill_room(general, alice, 50, prefix="e")
    body = await (await alice_client.get("/api/rooms/general/messages")).get_json()
    assert [m["id"] for m in body["messages"]] == ids
    older = await (
        await alice_client.get(f"/api/rooms/general/messages?before={body['next_before']}")
    ).get_json()
    assert older == {"messages": [], "next_before": None}
