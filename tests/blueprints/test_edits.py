"""Edit, delete, react and reply over HTTP: htmx requests, plain forms and the no-JS pages.
Each refusal is clear and changes nothing; each page shows the current state."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message, toggle_reaction
from chat_app.actions.rooms import join_room
from chat_app.models import Message, Reaction, Room, User
from tests.conftest import csrf_from
from tests.hostile import CORPUS

HTMX = {"HX-Request": "true"}


async def token(client: QuartClient) -> str:
    return csrf_from(await (await client.get("/rooms/general")).get_data(as_text=True))


@pytest.fixture
async def message(app: Quart, alice: User, general: Room) -> Message:
    async with app.app_context():
        return await post_message(alice, general, "hello wrold", "client-0001")


async def test_the_edit_page_saves_and_goes_back_to_where_you_were(
    alice_client: QuartClient, message: Message
) -> None:
    page = await (await alice_client.get(f"/messages/{message.id}/edit")).get_data(as_text=True)
    assert "hello wrold" in page and 'name="content"' in page
    response = await alice_client.post(
        f"/messages/{message.id}/edit",
        form={
            "content": "hello world",
            "csrf_token": csrf_from(page),
            "next": "/rooms/general/history",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/rooms/general/history"
    assert (await Message.get(id=message.id)).content == "hello world"
    room = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert "hello world" in room and "(edited)" in room and "hello wrold" not in room


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "/\\evil"])
async def test_going_back_never_leaves_the_site(
    alice_client: QuartClient, message: Message, next_url: str
) -> None:
    response = await alice_client.post(
        f"/messages/{message.id}/edit",
        form={"content": "x", "csrf_token": await token(alice_client), "next": next_url},
    )
    assert response.headers["Location"] == f"/rooms/general#message-{message.id}"


async def test_htmx_edits_get_the_message_back_in_place(
    alice_client: QuartClient, message: Message
) -> None:
    editor = await alice_client.get(f"/messages/{message.id}/edit", headers=HTMX)
    html = await editor.get_data(as_text=True)
    assert html.lstrip().startswith(f'<form id="message-{message.id}"') and "<html" not in html
    response = await alice_client.post(
        f"/messages/{message.id}/edit",
        form={"content": "fixed"},
        headers=HTMX | {"X-CSRF-Token": await token(alice_client)},
    )
    assert response.status_code == 200
    assert f'<div id="message-{message.id}"' in await response.get_data(as_text=True)


@pytest.mark.parametrize(("content", "reason"), [("  ", "Write something"), ("x" * 4001, "4,000")])
async def test_a_bad_edit_shows_the_editor_again_with_the_reason_and_the_text(
    alice_client: QuartClient, message: Message, content: str, reason: str
) -> None:
    for headers in ({}, HTMX):
        response = await alice_client.post(
            f"/messages/{message.id}/edit",
            form={"content": content, "csrf_token": await token(alice_client)},
            headers=headers,
        )
        assert response.status_code == 422
        html = await response.get_data(as_text=True)
        assert reason in html and 'role="alert"' in html and content.strip()[:10] in html
    assert (await Message.get(id=message.id)).content == "hello wrold"


async def test_nobody_edits_or_deletes_another_persons_message(
    bob_client: QuartClient, bob: User, message: Message
) -> None:
    await join_room(bob, "general")
    csrf = await token(bob_client)
    assert (await bob_client.get(f"/messages/{message.id}/edit")).status_code == 403
    assert (await bob_client.get(f"/messages/{message.id}/delete")).status_code == 403
    for path in ("edit", "delete"):
        response = await bob_client.post(
            f"/messages/{message.id}/{path}", form={"content": "mine", "csrf_token": csrf}
        )
        assert response.status_code == 403
        assert "your own messages" in await response.get_data(as_text=True)
    assert (await Message.get(id=message.id)).content == "hello wrold"


async def test_a_message_of_a_room_you_are_not_in_is_not_found(
    app: Quart, alice: User, bob_client: QuartClient
) -> None:
    async with app.app_context():
        secret = await join_room(alice, "secret")
        hidden = await post_message(alice, secret, "between us", "client-0002")
    csrf = await token(bob_client)
    for path in ("edit", "delete", "react", "reply"):
        assert (await bob_client.get(f"/messages/{hidden.id}/{path}")).status_code == 404
    for path, form in (("edit", {"content": "x"}), ("delete", {}), ("reactions", {"emoji": "👍"})):
        response = await bob_client.post(
            f"/messages/{hidden.id}/{path}", form=form | {"csrf_token": csrf}
        )
        assert response.status_code == 404
    assert (await Message.get(id=hidden.id)).content == "between us"
    assert not await Reaction.exists(message_id=hidden.id)


@pytest.mark.parametrize("forged", ["0", "99999999999999999", "9" * 30, "abc", "-1", "%00"])
async def test_forged_message_ids_are_404(
    alice_client: QuartClient, message: Message, forged: str
) -> None:
    csrf = await token(alice_client)
    for path in ("edit", "delete", "react", "reply"):
        assert (await alice_client.get(f"/messages/{forged}/{path}")).status_code == 404
    for path in ("edit", "delete", "reactions"):
        response = await alice_client.post(
            f"/messages/{forged}/{path}", form={"csrf_token": csrf, "emoji": "👍", "content": "x"}
        )
        assert response.status_code == 404


async def test_changes_without_the_csrf_token_are_refused(
    alice_client: QuartClient, message: Message
) -> None:
    for path, form in (("edit", {"content": "x"}), ("delete", {}), ("reactions", {"emoji": "👍"})):
        response = await alice_client.post(f"/messages/{message.id}/{path}", form=form)
        assert response.status_code == 403
    assert await Message.get(id=message.id)
    assert not await Reaction.exists(message_id=message.id)


async def test_deleting_asks_first_then_removes_it_everywhere(
    alice_client: QuartClient, message: Message
) -> None:
    page = await (await alice_client.get(f"/messages/{message.id}/delete")).get_data(as_text=True)
    assert "Delete this message?" in page and "hello wrold" in page
    response = await alice_client.post(
        f"/messages/{message.id}/delete", form={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/rooms/general"
    assert not await Message.exists(id=message.id)
    room = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert "hello wrold" not in room
    history = await alice_client.get("/rooms/general/history")
    assert "hello wrold" not in await history.get_data(as_text=True)
    assert (await alice_client.get(f"/messages/{message.id}")).status_code == 404  # permalink
    api = await (await alice_client.get("/api/rooms/general/messages")).get_json()
    assert api["messages"] == []


async def test_an_admin_sees_and_uses_delete_on_anyones_message(
    app: Quart, bob: User, bob_client: QuartClient, message: Message
) -> None:
    await join_room(bob, "general")
    await User.filter(id=bob.id).update(is_admin=True)
    room = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert 'data-moderator="true"' in room
    response = await bob_client.post(
        f"/messages/{message.id}/delete", form={"csrf_token": csrf_from(room)}, headers=HTMX
    )
    assert response.status_code == 204
    assert not await Message.exists(id=message.id)


async def test_reacting_by_form_toggles_and_every_page_shows_it(
    alice_client: QuartClient, message: Message
) -> None:
    csrf = await token(alice_client)
    response = await alice_client.post(
        f"/messages/{message.id}/reactions", form={"emoji": "🎉", "csrf_token": csrf}
    )
    assert response.status_code == 303
    for page in ("/rooms/general", "/rooms/general/history"):
        html = await (await alice_client.get(page)).get_data(as_text=True)
        assert 'value="🎉"' in html and 'aria-pressed="true"' in html and "🎉 1: alice" in html
    api = await (await alice_client.get("/api/rooms/general/messages")).get_json()
    assert api["messages"][0]["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["alice"]}]
    again = await alice_client.post(
        f"/messages/{message.id}/reactions", form={"emoji": "🎉", "csrf_token": csrf}, headers=HTMX
    )
    assert again.status_code == 204
    assert not await Reaction.exists(message_id=message.id)


async def test_the_reaction_page_takes_any_emoji_or_shortcode(
    alice_client: QuartClient, message: Message
) -> None:
    page = await (await alice_client.get(f"/messages/{message.id}/react")).get_data(as_text=True)
    assert 'name="emoji"' in page and "👀" in page
    response = await alice_client.post(
        f"/messages/{message.id}/reactions",
        form={"emoji": ":rocket:", "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303
    assert await Reaction.filter(message_id=message.id).values_list("emoji", flat=True) == ["🚀"]


@pytest.mark.parametrize("payload", [*CORPUS[:10], "x" * 10_000, "👍👍"])
async def test_hostile_reactions_are_refused_with_a_reason(
    alice_client: QuartClient, message: Message, payload: str
) -> None:
    response = await alice_client.post(
        f"/messages/{message.id}/reactions",
        form={"emoji": payload, "csrf_token": await token(alice_client)},
    )
    assert response.status_code == 422
    assert "one emoji" in await response.get_data(as_text=True)
    assert not await Reaction.exists(message_id=message.id)


async def test_replying_prefills_the_composer_and_the_reply_quotes_its_original(
    alice_client: QuartClient, message: Message
) -> None:
    reply = await alice_client.get(f"/messages/{message.id}/reply")
    assert reply.status_code == 303
    page = await (await alice_client.get(reply.headers["Location"].split("#")[0])).get_data(
        as_text=True
    )
    assert f'name="reply_to" value="{message.id}"' in page and "Replying to" in page
    response = await alice_client.post(
        "/rooms/general/messages",
        form={
            "content": "and a reply",
            "client_id": "form-client-0002",
            "reply_to": str(message.id),
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 303
    room = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert f'class="quote-of-{message.id} ' in room and f'href="/messages/{message.id}"' in room


async def test_a_reply_follows_its_original_when_it_is_edited_or_deleted(
    app: Quart, alice_client: QuartClient, alice: User, general: Room, message: Message
) -> None:
    async with app.app_context():
        await post_message(alice, general, "indeed", "client-0003", reply_to=message.id)
    csrf = await token(alice_client)
    await alice_client.post(
        f"/messages/{message.id}/edit", form={"content": "hello world", "csrf_token": csrf}
    )
    room = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert "</strong>: hello world" in room
    await alice_client.post(f"/messages/{message.id}/delete", form={"csrf_token": csrf})
    room = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert "Replying to a deleted message" in room and "indeed" in room


async def test_an_own_reaction_is_marked_for_its_user_only(
    app: Quart, alice: User, bob: User, bob_client: QuartClient, message: Message
) -> None:
    await join_room(bob, "general")
    async with app.app_context():
        await toggle_reaction(alice, message.id, "👍")
    html = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert 'aria-pressed="false"' in html and 'aria-pressed="true"' not in html
    assert f'data-users=" {alice.id} "' in html
