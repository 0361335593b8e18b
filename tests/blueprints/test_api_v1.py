"""/api/v1/ with a bearer token: rooms, history with cursors, posting with a client id,
edits, deletions, reactions, presence; JSON errors; the OpenAPI document and the API page."""

from __future__ import annotations

import io
import re

import pytest
from quart import Quart
from quart.datastructures import FileStorage
from quart.testing import QuartClient

from chat_app.actions import post_message
from chat_app.actions.rooms import create_room_by
from chat_app.actions.tokens import create_token
from chat_app.models import Attachment, Change, Membership, Message, Room, User
from chat_app.models.rooms import RoomKind
from tests.conftest import fill_room
from tests.hostile import CORPUS, short
from tests.storing import png


@pytest.fixture
async def alice_api(app: Quart, alice: User) -> QuartClient:
    """A client that sends alice's read-write token with every request."""
    return await token_client(app, alice)


async def token_client(app: Quart, user: User) -> QuartClient:
    secret = (await create_token(user, "tests", "read-write"))[1]
    client = app.test_client()
    client.headers = {"Authorization": f"Bearer {secret}"}  # type: ignore[assignment]
    return client


async def call(client: QuartClient, method: str, path: str, **kwargs: object) -> tuple[int, dict]:
    headers = {**getattr(client, "headers", {}), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = await client.open(path, method=method, headers=headers, **kwargs)  # type: ignore[arg-type]
    return response.status_code, await response.get_json()


async def test_rooms_listed_created_joined_and_left(alice_api: QuartClient, alice: User) -> None:
    status, body = await call(alice_api, "GET", "/api/v1/rooms")
    assert status == 200
    assert [r["slug"] for r in body["rooms"]] == ["general"]
    status, made = await call(
        alice_api, "POST", "/api/v1/rooms", json={"name": "Design Review", "kind": "private"}
    )
    assert status == 201
    assert made == {
        "slug": "design-review",
        "name": "Design Review",
        "topic": "",
        "kind": "private",
        "role": "admin",
        "archived": False,
    }
    status, again = await call(alice_api, "POST", "/api/v1/rooms", json={"name": "Design Review"})
    assert status == 409 and again["error"]["code"] == "conflict"
    await Room.create(slug="lobby", name="Lobby")
    status, joined = await call(alice_api, "POST", "/api/v1/rooms/lobby/join")
    assert status == 200 and joined["role"] == "member"
    status, left = await call(alice_api, "POST", "/api/v1/rooms/lobby/leave")
    assert status == 200 and left == {"room": "lobby"}
    assert not await Membership.exists(user_id=alice.id, room__slug="lobby")
    status, stays = await call(alice_api, "POST", "/api/v1/rooms/general/leave")
    assert status == 403 and stays["error"]["code"] == "forbidden"


async def test_private_rooms_do_not_exist_for_outsiders(
    app: Quart, alice_api: QuartClient, bob: User
) -> None:
    secret = await Room.create(slug="secret", name="Secret", kind=RoomKind.PRIVATE)
    await Membership.create(user=bob, room=secret)
    message = (await fill_room(secret, bob, 1))[0]
    for method, path, body in (
        ("GET", "/api/v1/rooms/secret", None),
        ("POST", "/api/v1/rooms/secret/join", None),
        ("GET", "/api/v1/rooms/secret/messages", None),
        ("POST", "/api/v1/rooms/secret/messages", {"content": "hi", "client_id": "x" * 16}),
        ("PATCH", f"/api/v1/messages/{message}", {"content": "mine now"}),
        ("DELETE", f"/api/v1/messages/{message}", None),
        ("POST", f"/api/v1/messages/{message}/reactions", {"emoji": "👍"}),
    ):
        status, error = await call(alice_api, method, path, json=body)
        assert status == 404, (method, path)
        assert error["error"]["code"] == "not_found"
    assert (await Message.get(id=message)).content == "message 0"


async def test_history_walks_both_ways_with_cursors(
    alice_api: QuartClient, alice: User, general: Room
) -> None:
    ids = await fill_room(general, alice, 25)
    status, newest = await call(alice_api, "GET", "/api/v1/rooms/general/messages?limit=10")
    assert status == 200
    assert [m["id"] for m in newest["messages"]] == ids[15:]
    assert newest["newer"] is None and newest["older"] == ids[15]
    _, middle = await call(
        alice_api, "GET", f"/api/v1/rooms/general/messages?limit=10&before={newest['older']}"
    )
    assert [m["id"] for m in middle["messages"]] == ids[5:15]
    _, oldest = await call(
        alice_api, "GET", f"/api/v1/rooms/general/messages?limit=10&before={middle['older']}"
    )
    assert [m["id"] for m in oldest["messages"]] == ids[:5] and oldest["older"] is None
    _, forward = await call(
        alice_api, "GET", f"/api/v1/rooms/general/messages?limit=10&after={oldest['newer']}"
    )
    assert [m["id"] for m in forward["messages"]] == ids[5:15]
    for query in ("limit=0", "limit=201", "before=x", "before=0", "before=1&after=2"):
        status, error = await call(alice_api, "GET", f"/api/v1/rooms/general/messages?{query}")
        assert status == (422 if "&" in query else 400), query
        assert error["error"]["message"]


async def test_a_retried_post_with_the_same_client_id_is_stored_once(
    alice_api: QuartClient, alice: User, general: Room
) -> None:
    body = {"content": "deploy finished", "client_id": "deploy-1234"}
    status, first = await call(alice_api, "POST", "/api/v1/rooms/general/messages", json=body)
    assert status == 201
    assert first["content"] == "deploy finished" and first["author"] == "alice"
    assert first["author_is_bot"] is False
    status, again = await call(alice_api, "POST", "/api/v1/rooms/general/messages", json=body)
    assert status == 201 and again["id"] == first["id"]
    assert await Message.filter(room_id=general.id).count() == 1
    assert await Change.filter(room_id=general.id).count() == 1  # one change rides the log
    status, reply = await call(
        alice_api,
        "POST",
        "/api/v1/rooms/general/messages",
        json={"content": "and tests", "client_id": "deploy-1235", "reply_to": first["id"]},
    )
    assert status == 201 and reply["reply_to"] == first["id"]


async def test_edit_react_and_delete(
    app: Quart, alice_api: QuartClient, alice: User, bob: User, general: Room
) -> None:
    body = {"content": "typo hre", "client_id": "edit-me-1"}
    _, posted = await call(alice_api, "POST", "/api/v1/rooms/general/messages", json=body)
    url = f"/api/v1/messages/{posted['id']}"
    status, edited = await call(alice_api, "PATCH", url, json={"content": "typo here"})
    assert status == 200 and edited["content"] == "typo here" and edited["edited_at"]
    status, reacted = await call(alice_api, "POST", url + "/reactions", json={"emoji": ":tada:"})
    assert status == 200 and reacted == {"emoji": "🎉", "added": True}
    _, shown = await call(alice_api, "GET", "/api/v1/rooms/general/messages")
    assert shown["messages"][0]["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["alice"]}]
    status, bad = await call(alice_api, "POST", url + "/reactions", json={"emoji": "nope"})
    assert status == 422 and bad["error"]["code"] == "invalid"

    bob_api = await token_client(app, bob)
    status, refused = await call(bob_api, "PATCH", url, json={"content": "bob was here"})
    assert status == 403 and refused["error"]["code"] == "forbidden"
    # alice is the workspace's first account, an admin: bob's message is hers to delete too.
    status, deleted = await call(alice_api, "DELETE", url)
    assert status == 200 and deleted == {"id": posted["id"]}
    status, gone = await call(alice_api, "DELETE", url)
    assert status == 404 and gone["error"]["code"] == "not_found"


async def test_presence(alice_api: QuartClient, alice: User, bob: User) -> None:
    status, listed = await call(alice_api, "GET", "/api/v1/presence")
    assert status == 200 and {u["username"] for u in listed["users"]} == {"alice", "bob"}
    status, mine = await call(alice_api, "POST", "/api/v1/presence", json={"status": "away"})
    assert status == 200
    assert next(u for u in mine["users"] if u["username"] == "alice")["status"] == "away"
    status, bad = await call(alice_api, "POST", "/api/v1/presence", json={"status": "invisible"})
    assert status == 400 and "status" in bad["error"]["message"]


async def test_writing_too_fast_is_429_with_retry_after(
    app: Quart, alice_api: QuartClient, general: Room
) -> None:
    statuses = []
    app.config["MESSAGES_PER_SECOND"] = 0.01  # no refill during the test
    try:
        for n in range(app.config["MESSAGES_BURST"] + 1):
            body = {"content": f"n {n}", "client_id": f"burst-{n:04d}"}
            response = await alice_api.post(
                "/api/v1/rooms/general/messages", json=body, headers=alice_api.headers
            )
            statuses.append(response.status_code)
    finally:
        app.config["MESSAGES_PER_SECOND"] = 5.0
    assert statuses[-1] == 429 and statuses[:-1] == [201] * app.config["MESSAGES_BURST"]
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_content_is_stored_cleaned_or_refused(
    alice_api: QuartClient, general: Room, payload: str
) -> None:
    status, body = await call(
        alice_api,
        "POST",
        "/api/v1/rooms/general/messages",
        json={"content": payload, "client_id": "hostile-1"},
    )
    assert status in {201, 400, 413, 422}, (status, body)  # 400: pydantic refuses lone surrogates
    if status == 201:
        stored = await Message.get(id=body["id"])
        assert stored.content == body["content"]
        assert "\x00" not in stored.content and "\ud800" not in stored.content
    else:
        assert body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", "application/json"),
        ("{", "application/json"),
        ("[]", "application/json"),
        ("null", "application/json"),
        ('{"content": 5, "client_id": "abcdefgh"}', "application/json"),
        ('{"content": "hi", "client_id": "short"}', "application/json"),
        ('{"content": "hi", "client_id": "abcdefgh", "reply_to": "x"}', "application/json"),
        ("content=hi&client_id=abcdefgh", "application/x-www-form-urlencoded"),
        ("\xff\xfe", "application/json"),
    ],
)
async def test_malformed_bodies_get_a_json_400(
    alice_api: QuartClient, general: Room, body: str, content_type: str
) -> None:
    headers = {**alice_api.headers, "Content-Type": content_type}  # type: ignore[dict-item]
    response = await alice_api.post("/api/v1/rooms/general/messages", data=body, headers=headers)
    assert response.status_code in {400, 415}, body
    assert (await response.get_json())["error"]["message"]
    assert not await Message.exists()


async def test_every_error_under_api_has_the_same_shape(
    client: QuartClient, alice_api: QuartClient
) -> None:
    for status, path in ((404, "/api/nope"), (404, "/api/v1/nope"), (401, "/api/v1/rooms")):
        response = await client.get(path)
        assert response.status_code == status
        body = await response.get_json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    response = await alice_api.put("/api/v1/rooms", headers=alice_api.headers)
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert (await response.get_json())["error"]["code"] == "method_not_allowed"


async def test_the_openapi_document_covers_every_route(app: Quart, client: QuartClient) -> None:
    document = await (await client.get("/api/v1/openapi.json")).get_json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, item in document["paths"].items()
        for method in item
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.rule not in {"/api/v1/openapi.json", "/api/v1/docs"}
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["summary"]
            assert {"200", "201"} & set(operation["responses"])
            assert "401" in operation["responses"]


async def test_the_api_page_lists_every_operation_without_outside_assets(
    client: QuartClient,
) -> None:
    document = await (await client.get("/api/v1/openapi.json")).get_json()
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


async def test_search_finds_only_what_the_token_s_user_may_read(
    app: Quart, alice_api: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        hidden = await create_room_by(bob, "Bob alone", "", "private")
        await post_message(bob, hidden, "needle where alice is not", "apisearch01")
        shown = await post_message(bob, general, "a needle for everyone", "apisearch02")
    status, body = await call(alice_api, "GET", "/api/v1/search?q=needle")
    assert status == 200
    assert [(m["id"], m["room"]) for m in body["messages"]] == [(shown.id, "general")]
    assert body["next_before"] is None and body["notice"] is None
    status, body = await call(alice_api, "GET", "/api/v1/search?q=needle+in:%23bob-alone")
    assert status == 200 and body["messages"] == [] and "no room called" in body["notice"]
    for query in ("before:soon", "has:pictures", "in:%23", "x" * 300, ""):
        status, body = await call(alice_api, "GET", f"/api/v1/search?q={query}")
        assert status in (400, 422) and set(body["error"]) == {"code", "message"}, query


async def test_files_are_uploaded_then_posted_with_a_message(
    app: Quart, alice_api: QuartClient, bob: User, general: Room
) -> None:
    def part(name: str, data: bytes) -> dict[str, FileStorage]:
        return {"file": FileStorage(io.BytesIO(data), filename=name)}

    status, uploaded = await call(
        alice_api, "POST", "/api/v1/rooms/general/attachments", files=part("dot.png", png())
    )
    assert status == 201, uploaded
    assert uploaded["name"] == "dot.png" and uploaded["content_type"] == "image/png"
    status, message = await call(
        alice_api,
        "POST",
        "/api/v1/rooms/general/messages",
        json={"client_id": "apifiles001", "attachments": [uploaded["id"]]},
    )
    assert status == 201, message
    assert await Attachment.filter(id=uploaded["id"], message_id=message["id"]).exists()
    status, again = await call(
        alice_api,
        "POST",
        "/api/v1/rooms/general/messages",
        json={"client_id": "apifiles002", "attachments": [uploaded["id"]]},
    )
    assert status == 422 and again["error"]["code"] == "invalid"  # sent once only
    status, _ = await call(
        alice_api, "POST", "/api/v1/rooms/general/messages", json={"client_id": "apifiles003"}
    )
    assert status == 422  # neither text nor files
    status, page = await call(
        alice_api, "POST", "/api/v1/rooms/general/attachments", files=part("x.html", b"<html>")
    )
    assert status == 422 and page["error"]["code"] == "refused"
    async with app.app_context():
        elsewhere = await create_room_by(bob, "Bob files", "", "private")
    status, _ = await call(
        alice_api, "POST", f"/api/v1/rooms/{elsewhere.slug}/attachments", files=part("a.png", png())
    )
    assert status == 404
