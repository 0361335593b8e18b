"""The chat page, the no-JS post and the history pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from quart.testing import QuartClient

from chat_app.models import AuthSession, Change, Membership, Message, Room, User
from tests.conftest import csrf_from, fill_room, queries_made


def ids_in(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="message-(\d+)"', html)]


async def _post(client: QuartClient, content: str, client_id: str = "form-client-0001"):  # type: ignore[no-untyped-def]
    token = csrf_from(await (await client.get("/rooms/general")).get_data(as_text=True))
    return await client.post(
        "/rooms/general/messages",
        form={"content": content, "client_id": client_id, "csrf_token": token},
    )


async def test_chat_page_has_socket_messages_and_composer(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    await fill_room(general, alice, 55, prefix="m")
    html = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert 'hx-ext="ws"' in html and 'ws-connect="/rooms/general/live?after=' in html
    assert len(ids_in(html)) == 50
    assert ">m 4<" not in html and ">m 54<" in html
    composer = re.search(r'<form id="composer"[^>]*>', html)
    assert composer and 'method="post"' in composer.group(0) and "ws-send" in composer.group(0)
    assert 'name="content"' in html
    assert 'class="chat chat-end ' in html  # alice's own messages on the right


async def test_outsiders_get_404(alice_client: QuartClient, general: Room) -> None:
    await Room.create(slug="secret", name="Secret")
    assert (await alice_client.get("/rooms/secret")).status_code == 404
    assert (await alice_client.get("/rooms/nope")).status_code == 404


async def test_outsiders_get_404_on_every_room_page(
    alice_client: QuartClient, bob: User, general: Room
) -> None:
    secret = await Room.create(slug="secret", name="Secret")
    ids = await fill_room(secret, bob, 3, prefix="s")
    for url in [
        "/rooms/secret",
        "/rooms/secret/history",
        f"/rooms/secret/history?before={ids[-1]}",
        f"/rooms/secret/history?around={ids[1]}",
        f"/rooms/secret/older?before={ids[-1]}",
        f"/messages/{ids[0]}",
    ]:
        assert (await alice_client.get(url)).status_code == 404, url


async def test_archived_rooms_stay_readable(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 3, prefix="a")
    await Room.filter(id=general.id).update(archived_at=datetime.now(UTC))
    assert ids_in(await (await alice_client.get("/rooms/general")).get_data(as_text=True)) == ids
    history = await alice_client.get(f"/rooms/general/history?before={ids[-1]}")
    assert ids_in(await history.get_data(as_text=True)) == ids[:2]


async def test_expired_sessions_and_deactivated_users_are_signed_out(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    assert (await alice_client.get("/rooms/general/history")).status_code == 200
    await AuthSession.filter(user=alice).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await alice_client.get("/rooms/general/history")).status_code == 401
    await AuthSession.filter(user=alice).update(expires_at=datetime.now(UTC) + timedelta(days=1))
    assert (await alice_client.get("/rooms/general/history")).status_code == 200
    await User.filter(id=alice.id).update(is_active=False)
    assert (await alice_client.get("/rooms/general/history")).status_code == 401


async def test_anonymous_visitors_are_refused(client: QuartClient, general: Room) -> None:
    assert (await client.get("/rooms/general")).status_code == 401


async def test_plain_form_post_stores_and_redirects_back(
    alice_client: QuartClient, general: Room
) -> None:
    response = await _post(alice_client, "no javascript here")
    assert response.status_code == 303
    message = await Message.get(content="no javascript here")
    assert response.headers["Location"] == f"/rooms/general#message-{message.id}"


async def test_plain_form_double_submit_stores_one_copy(
    alice_client: QuartClient, general: Room
) -> None:
    await _post(alice_client, "once", client_id="same-client-id")
    await _post(alice_client, "once", client_id="same-client-id")
    assert await Message.filter(content="once").count() == 1


async def test_rejected_post_shows_the_error_and_keeps_the_text(
    alice_client: QuartClient, general: Room
) -> None:
    response = await _post(alice_client, "x" * 4001)
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "at most 4,000 characters" in html
    assert "x" * 4001 in html
    assert await Message.all().count() == 0


async def test_history_pages_link_older_and_newer(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 120, prefix="h")
    html = await (await alice_client.get(f"/rooms/general/history?before={ids[100]}")).get_data(
        as_text=True
    )
    shown = ids_in(html)
    assert shown == ids[50:100]
    assert f"/rooms/general/history?before={ids[50]}" in html
    assert f"/rooms/general/history?after={ids[99]}" in html
    newer = await (await alice_client.get(f"/rooms/general/history?after={ids[99]}")).get_data(
        as_text=True
    )
    assert ids_in(newer) == ids[100:120]
    assert "Newer →" not in newer


async def test_room_pages_make_few_queries(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    # Session and user; the viewer's rooms with their memberships (the room, the sidebar, the
    # viewer's role and notification level); the people with their presence; the page and its
    # messages' reactions; the room page also reads its resume cursor. A cursor that is no
    # message of the room costs one more query (is there a page on its other side?). Every
    # page counts the sidebar's unread marks (one query); the room page also marks the room
    # read (one UPDATE).
    ids = await fill_room(general, alice, 120, prefix="q")
    elsewhere = await fill_room(await Room.create(slug="other", name="Other"), alice, 1, "o")
    for url, expected in [
        ("/rooms/general", 8),
        ("/rooms/general/history", 6),
        (f"/rooms/general/history?before={ids[100]}", 6),
        (f"/rooms/general/history?after={ids[10]}", 6),
        (f"/rooms/general/history?around={ids[60]}", 7),
        (f"/rooms/general/history?before={elsewhere[0]}", 7),
    ]:
        with queries_made() as queries:
            response = await alice_client.get(url)
        assert response.status_code == 200
        assert len(queries) == expected, (url, queries)


async def test_history_of_empty_room(alice_client: QuartClient, general: Room) -> None:
    response = await alice_client.get("/rooms/general/history")
    assert response.status_code == 200
    assert "No messages here." in await response.get_data(as_text=True)


async def test_bad_cursors_are_400(alice_client: QuartClient, general: Room) -> None:
    for query in (
        "before=abc",
        "before=-1",
        "before=0",
        "after=1e9",
        "before=1&after=2",
        "before=" + "9" * 40,
        "before=%D9%A3",
    ):
        response = await alice_client.get(f"/rooms/general/history?{query}")
        assert response.status_code == 400, query


async def test_permalink_opens_the_history_around_the_message(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 120, prefix="p")
    response = await alice_client.get(f"/messages/{ids[60]}")
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target == f"/rooms/general/history?around={ids[60]}#message-{ids[60]}"
    html = await (await alice_client.get(target.split("#")[0])).get_data(as_text=True)
    assert ids_in(html) == ids[35:85]
    assert f'href="/messages/{ids[60]}"' in html  # every message links to its permalink


async def test_permalinks_of_other_rooms_are_404(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    secret = await Room.create(slug="secret", name="Secret")
    hidden = await Message.create(room=secret, author=alice, content="x", client_id="hidden-01")
    assert (await alice_client.get(f"/messages/{hidden.id}")).status_code == 404
    assert (await alice_client.get("/messages/999999")).status_code == 404


async def test_infinite_scroll_pages_back_to_the_beginning(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 100, prefix="s")  # exactly two pages
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert ids_in(page) == ids[50:]
    trigger = re.search(r'id="older-trigger" hx-get="([^"]+)"', page)
    assert trigger and trigger.group(1) == f"/rooms/general/older?before={ids[50]}"
    older = await (await alice_client.get(trigger.group(1))).get_data(as_text=True)
    assert ids_in(older) == ids[:50]
    next_trigger = re.search(r'id="older-trigger" hx-get="([^"]+)"', older)
    assert next_trigger
    last = await (await alice_client.get(next_trigger.group(1))).get_data(as_text=True)
    assert ids_in(last) == [] and "beginning of the room" in last


async def test_older_needs_a_valid_cursor(alice_client: QuartClient, general: Room) -> None:
    for query in ("", "?before=", "?before=x", "?before=0"):
        assert (await alice_client.get(f"/rooms/general/older{query}")).status_code == 400


async def test_poll_returns_only_newer_changes(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    ids = await fill_room(general, alice, 5, prefix="q")
    changes = [(await Change.get(message_id=i)).id for i in ids]
    html = await (await alice_client.get(f"/rooms/general/poll?after={changes[2]}")).get_data(
        as_text=True
    )
    assert ids_in(html) == ids[3:]
    assert 'hx-swap-oob="beforeend"' in html
    assert f'<div id="change-cursor" data-change="{changes[-1]}" hidden>' in html
    empty = await (await alice_client.get(f"/rooms/general/poll?after={changes[-1]}")).get_data(
        as_text=True
    )
    assert ids_in(empty) == []
    everything = await (await alice_client.get("/rooms/general/poll?after=0")).get_data(
        as_text=True
    )
    assert ids_in(everything) == ids
    assert (await alice_client.get("/rooms/general/poll?after=-1")).status_code == 400


async def test_room_admins_and_workspace_admins_see_delete_on_everyones_messages(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    async def moderator() -> bool:
        html = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
        return 'data-moderator="true"' in html

    assert not await moderator()
    await Membership.filter(user_id=alice.id, room_id=general.id).update(role="admin")
    assert await moderator()
    await Membership.filter(user_id=alice.id, room_id=general.id).update(role="member")
    await User.filter(id=alice.id).update(is_admin=True)
    assert await moderator()


async def test_a_refused_edit_page_still_goes_back_where_it_came_from(
    alice_client: QuartClient, general: Room, alice: User
) -> None:
    [message_id] = await fill_room(general, alice, 1, prefix="e")
    page = await alice_client.get(
        f"/messages/{message_id}/edit", headers={"Referer": "http://localhost/rooms/general"}
    )
    token = csrf_from(await page.get_data(as_text=True))
    form = {"content": "   ", "next": "/rooms/general/history", "csrf_token": token}
    refused = await alice_client.post(f"/messages/{message_id}/edit", form=form)
    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert 'name="next" value="/rooms/general/history"' in html  # not the edit page itself
    saved = await alice_client.post(
        f"/messages/{message_id}/edit", form=form | {"content": "fixed"}
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/rooms/general/history"
