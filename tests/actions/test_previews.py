"""Link previews end to end on the real database: fetched after posting from a local site
(let through by the test-only allow setting), attached as a "previewed" change that every
tab gets live and every catch-up replays, following edits, cached per URL, and off or refused
without a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import delete_message, edit_message, post_message
from chat_app.actions.previews import PREVIEWER, preview_later, previewer_of
from chat_app.models import Change, ChangeKind, LinkPreview, Message, MessagePreview, Room, User
from chat_app.models.changes import newest_change
from tests.blueprints.test_live import ORIGIN, live_pair, receive_until
from tests.conftest import send_frame
from tests.hostile import assert_inert
from tests.sites import Site, local_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with local_site() as running:
        yield running


@pytest.fixture
async def previews_on(app: Quart, site: Site) -> AsyncIterator[Site]:
    """Previews on, and the local site let through; off again afterwards."""
    app.config.update(LINK_PREVIEWS=True, OUTBOUND_ALLOW="127.0.0.1")
    try:
        yield site
    finally:
        previewer = app.extensions.pop(PREVIEWER, None)
        if previewer is not None:
            await previewer.close()
        app.config.update(LINK_PREVIEWS=False, OUTBOUND_ALLOW="")


async def previewed(app: Quart) -> None:
    """Wait until the previews started so far are fetched and attached."""
    await previewer_of(app).tasks.drain()


async def post(app: Quart, author: User, room: Room, text: str, client_id: str) -> Message:
    async with app.app_context():
        return await post_message(author, room, text, client_id)


def previewed_changes() -> object:
    return Change.filter(kind=ChangeKind.PREVIEWED).count()


async def test_a_posted_link_gets_its_card_live_on_every_tab_and_in_a_catch_up(
    app: Quart,
    alice_client: QuartClient,
    bob_client: QuartClient,
    general: Room,
    previews_on: Site,
) -> None:
    url = f"{previews_on.base}/page"
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        before = await newest_change(general.id)
        await alice_ws.send(send_frame(f"the handbook: {url}", "client-prev-01"))
        for ws in (alice_ws, bob_ws):
            card = await receive_until(ws, "The Parley handbook")
            assert 'data-role="preview"' in card and "Example Docs" in card
            assert "How we chat, &amp; why." in card
            assert 'hx-swap-oob="beforeend"' not in card.split("The Parley handbook")[0][-2000:]
            assert "169.254.169.254" not in card  # the page's image is never shown
            assert_inert(card)
    message = await Message.get(client_id="client-prev-01")
    change = await Change.get(kind=ChangeKind.PREVIEWED, message_id=message.id)
    assert change.id > before
    # A tab that saw the message posted, not previewed, gets the card from its catch-up.
    live = f"/rooms/general/live?after={change.id - 1}"
    async with bob_client.websocket(live, headers={"Origin": ORIGIN}) as ws:
        replay = await receive_until(ws, "The Parley handbook")
        assert f'id="message-{message.id}"' in replay and f'data-change="{change.id}"' in replay
    page = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert "The Parley handbook" in page and f'href="{url}"' in page
    assert 'rel="nofollow noopener noreferrer"' in page


async def test_the_card_follows_the_first_link_through_edits(
    app: Quart, alice: User, general: Room, previews_on: Site
) -> None:
    message = await post(app, alice, general, f"see {previews_on.base}/page", "client-prev-02")
    await previewed(app)
    async with app.app_context():
        await edit_message(alice, message.id, f"see {previews_on.base}/other instead")
    await previewed(app)
    attached = await MessagePreview.get(message_id=message.id).select_related("preview")
    assert attached.preview.title == "Plain"
    async with app.app_context():
        await edit_message(alice, message.id, "no link now, **bold** though")
        await edit_message(alice, message.id, "still no link")
    await previewed(app)
    assert not await MessagePreview.exists(message_id=message.id)
    assert await previewed_changes() == 3  # attached, replaced, removed


async def test_a_page_is_fetched_once_for_every_message_that_links_it(
    app: Quart, alice: User, bob: User, general: Room, previews_on: Site
) -> None:
    url = f"{previews_on.base}/page"
    await post(app, alice, general, url, "client-prev-03")
    await previewed(app)
    await post(app, bob, general, f"[same]({url})", "client-prev-04")
    await previewed(app)
    assert previews_on.hits["/page"] == 1
    assert await MessagePreview.all().count() == 2 and await LinkPreview.all().count() == 1


async def test_no_preview_when_off_refused_or_deleted_first(
    app: Quart, alice: User, general: Room, previews_on: Site
) -> None:
    app.config["LINK_PREVIEWS"] = False
    message = await post(app, alice, general, f"{previews_on.base}/page", "client-prev-05")
    async with app.app_context():
        assert preview_later(message) is None
    app.config["LINK_PREVIEWS"] = True
    await post(app, alice, general, "http://169.254.169.254/latest/meta-data/", "client-prev-06")
    await post(app, alice, general, "no link at all", "client-prev-07")
    gone = await post(app, alice, general, f"{previews_on.base}/slow", "client-prev-08")
    async with app.app_context():
        await delete_message(alice, gone.id)
    await previewed(app)
    assert await previewed_changes() == 0 and not await MessagePreview.exists()
    refused = await LinkPreview.get(url="http://169.254.169.254/latest/meta-data/")
    assert not refused.shows  # remembered as nothing to show: not asked again soon


async def test_a_hostile_page_makes_an_inert_card(
    app: Quart, alice: User, alice_client: QuartClient, general: Room, previews_on: Site
) -> None:
    await post(app, alice, general, f"{previews_on.base}/hostile", "client-prev-09")
    await previewed(app)
    preview = await LinkPreview.get(url=f"{previews_on.base}/hostile")
    assert "\u202e" not in preview.title and "\u200b" not in preview.title
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert ">evil alert(1) title<" in page  # the parser drops the tag inside <title>
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert_inert(page)
