"""The search page (no JavaScript needed), its navbar box, and ``GET /api/search``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message
from chat_app.actions.rooms import create_room_by, join_open_room
from chat_app.models import Room, User
from chat_app.models.messages import new_client_id
from chat_app.search.query import QUERY_MAX_CHARS
from tests.hostile import CORPUS, assert_inert, short
from tests.search.test_search import say


async def page_of(client: QuartClient, query: str) -> tuple[int, str]:
    response = await client.get(f"/search?q={quote(query, safe='')}")
    return response.status_code, await response.get_data(as_text=True)


@pytest.fixture(autouse=True)
async def in_app_context(app: Quart) -> AsyncIterator[None]:
    """Messages are posted through actions here, which read the app's settings."""
    async with app.app_context():
        yield


def result_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li [^>]*id="result-(\d+)"', html)]


async def test_every_page_has_the_search_box(alice_client: QuartClient, general: Room) -> None:
    for path in ("/rooms/general", "/browse", "/search"):
        html = await (await alice_client.get(path)).get_data(as_text=True)
        assert '<form role="search" method="get" action="/search"' in html, path
        assert 'name="q" id="search-input"' in html and 'aria-label="Search messages"' in html
        assert 'aria-keyshortcuts="/ Control+K"' in html
        assert "/static/js/search.js" in html


async def test_empty_search_explains_the_filters(alice_client: QuartClient, general: Room) -> None:
    status, html = await page_of(alice_client, "")
    assert status == 200
    assert 'id="search-help"' in html and "in:#general" in html and "has:file" in html
    assert 'id="search-results"' not in html


async def test_results_link_into_context_with_the_match_marked(
    app: Quart, alice_client: QuartClient, alice: User, general: Room
) -> None:
    other = await create_room_by(alice, "Design", "", "open")
    older = await say(general, alice, "The Roadmap for Q1")
    newer = await say(other, alice, "roadmap & budget")
    await say(general, alice, "unrelated")
    status, html = await page_of(alice_client, "roadmap")
    assert status == 200
    assert result_ids(html) == [newer, older]
    assert f'id="message-{newer}"' in html  # the message partial itself
    assert '<span class="font-semibold" data-role="room"># Design</span>' in html
    assert f'href="/messages/{older}" data-role="in-context"' in html
    assert "<mark>Roadmap</mark> for Q1" in html  # the text's own case
    assert "<mark>roadmap</mark> &amp; budget" in html
    assert 'value="roadmap"' in html  # the box keeps what was searched
    # The link into context is the permalink: the room's history around the message.
    jump = await alice_client.get(f"/messages/{older}")
    assert jump.status_code == 303
    assert jump.location == f"/rooms/general/history?around={older}#message-{older}"


async def test_more_results_walks_every_page_once(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    ids = [await say(general, alice, f"page walk {n}") for n in range(45)]
    seen: list[int] = []
    url = "/search?q=walk"
    while url:
        html = await (await alice_client.get(url)).get_data(as_text=True)
        seen += result_ids(html)
        more = re.search(r'rel="next" id="more-results" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else ""
    assert seen == ids[::-1]


async def test_nothing_found_and_notices(alice_client: QuartClient, general: Room) -> None:
    _, html = await page_of(alice_client, "zebra")
    assert 'id="search-empty"' in html
    _, html = await page_of(alice_client, "zebra in:#secret")
    assert "You are in no room called #secret." in html and 'id="search-empty"' not in html
    _, html = await page_of(alice_client, "has:file")
    assert 'id="search-empty"' in html


@pytest.mark.parametrize(
    "query", ["before:soon", "has:pictures", "x" * (QUERY_MAX_CHARS + 1), "in:#"]
)
async def test_a_query_it_cannot_read_is_a_clear_400_that_keeps_the_text(
    alice_client: QuartClient, general: Room, query: str
) -> None:
    status, html = await page_of(alice_client, query)
    assert status == 400
    assert 'role="alert"' in html and 'id="search-error"' in html
    assert f'value="{query}"' in html


async def test_bad_cursor_and_anonymous(client: QuartClient, alice_client: QuartClient) -> None:
    assert (await alice_client.get("/search?q=x&before=abc")).status_code == 400
    assert (await client.get("/search?q=x")).status_code == 401
    assert (await client.get("/api/search?q=x")).status_code == 401


async def test_terms_never_reach_into_markup(
    alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    """Marking runs after escaping and after mentions: a term that names a tag, an attribute
    or an entity marks text only."""
    await join_open_room(bob, "general")
    await post_message(alice, general, "@bob span class mention & amp; <b>", new_client_id())
    _, html = await page_of(alice_client, "span class mention amp")
    assert '<span class="mention" data-user="' in html  # the mention's own tag is whole
    assert "<mark>span</mark> <mark>class</mark> <mark>mention</mark>" in html
    assert "&amp; <mark>amp</mark>; &lt;b&gt;" in html
    assert_inert(html)


@pytest.mark.parametrize("payload", [p for p in CORPUS if len(p) <= 4000], ids=short)
async def test_hostile_text_is_found_and_stays_inert(
    alice_client: QuartClient, alice: User, general: Room, payload: str
) -> None:
    """The stored text, searched for as itself (each word of it) and as a phrase."""
    stored = await post_message(alice, general, payload + " needle", new_client_id())
    for query in (stored.content[:200], '"' + stored.content[:60].replace('"', "") + '"'):
        status, html = await page_of(alice_client, query)
        assert status in (200, 400), query
        assert_inert(html)
        if status == 200 and "<script" in stored.content:
            assert "<mark>&lt;script&gt;" in html or "&lt;script&gt;" in html


async def test_api_returns_the_same_results_as_json(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    ids = [await say(general, alice, f"json hit {n}") for n in range(3)]
    body = await (await alice_client.get("/api/search?q=json&limit=2")).get_json()
    assert [m["id"] for m in body["messages"]] == ids[:0:-1]
    assert body["messages"][0]["room"] == "general"
    assert body["messages"][0]["content"] == "json hit 2"
    assert body["next_before"] == ids[1] and body["notice"] is None
    rest = await (
        await alice_client.get(f"/api/search?q=json&limit=2&before={body['next_before']}")
    ).get_json()
    assert [m["id"] for m in rest["messages"]] == [ids[0]] and rest["next_before"] is None
    page = await (await alice_client.get("/search?q=json")).get_data(as_text=True)
    assert result_ids(page) == ids[::-1]
    none = await (await alice_client.get("/api/search?q=has:file")).get_json()
    assert none["messages"] == [] and none["notice"] is None


@pytest.mark.parametrize("query", ["", "q=", "q=before:x", "q=a&limit=0", "q=a&before=-1"])
async def test_api_refuses_with_json_400(
    alice_client: QuartClient, general: Room, query: str
) -> None:
    response = await alice_client.get(f"/api/search?{query}")
    assert response.status_code == 400
    assert (await response.get_json())["error"]
