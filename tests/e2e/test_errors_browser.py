"""Failures you can see, in a real Chromium against a server that fails one route on purpose
(tests/e2e/failing_server.py): a notice beside what failed for each kind of failure, Retry
where it can help, infinite scroll retrying by itself, a 401 going to the login form and back,
and a fragment with no target reported to the server once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from chat_app.models import Room, User
from tests.conftest import PASSWORD, Server, fill_room, serving
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser


@pytest.fixture
def failing(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with serving(database_url, tmp_path / "server.log", module="tests.e2e.failing_server") as s:
        yield s


def arm(server: Server, path: str, status: int = 500, times: int = 1, delay: float = 0) -> None:
    """The next ``times`` requests to ``path`` fail with ``status`` after ``delay`` seconds."""
    query = {"path": path, "status": status, "times": times, "delay": delay}
    assert httpx.get(f"{server.base}/_failing", params=query).status_code == 204


async def own_message(page: Page, text: str) -> int:
    await send(page, text)
    shown = page.locator("#messages > .chat", has_text=text)
    await expect(shown).to_have_count(1)
    return int(await shown.get_attribute("data-message-id") or 0)


async def open_editor(page: Page, message_id: int) -> None:
    message = page.locator(f"#message-{message_id}")
    await message.hover()
    await message.get_by_role("link", name="Edit").click()


async def test_each_failure_kind_says_so_beside_what_failed(
    browser: Browser, failing: Server
) -> None:
    alice = await signed_up(browser, failing.base, "alice")
    page = alice.page
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    mid = await own_message(page, "a message to edit")
    edit = f"/messages/{mid}/edit"
    shown = page.locator(f"#message-{mid} .request-notice")
    retry = shown.get_by_role("button", name="Retry")

    # 500: said, with Retry; Retry works once the server does.
    arm(failing, edit, 500)
    await open_editor(page, mid)
    await expect(shown).to_contain_text("Something went wrong on the server")
    await expect(shown).to_have_attribute("role", "status")
    await retry.click()
    editor = page.get_by_role("textbox", name="Edit your message")
    await expect(editor).to_be_focused()
    await expect(shown).to_have_count(0)
    await editor.press("Escape")

    # Refusals say the server's reason, without Retry (it would be refused again).
    for status, words in ((403, "permission"), (404, "not found"), (413, "too large")):
        arm(failing, edit, status)
        await open_editor(page, mid)
        await expect(shown).to_contain_text(words, ignore_case=True)
        await expect(retry).to_have_count(0)
    arm(failing, edit, 429)
    await open_editor(page, mid)
    await expect(retry).to_be_visible()

    # No answer at all, and one that comes too late.
    async def cut(route: Route) -> None:
        await route.abort("connectionreset")

    await page.route(f"**{edit}", cut)
    await open_editor(page, mid)
    await expect(shown).to_contain_text("could not be reached")
    await expect(retry).to_be_visible()
    await page.unroute(f"**{edit}", cut)
    await page.evaluate("() => { htmx.config.timeout = 500; }")
    arm(failing, edit, 0, delay=2)
    await open_editor(page, mid)
    await expect(shown).to_contain_text("took too long")
    await page.evaluate("() => { htmx.config.timeout = 20000; }")
    await retry.click()
    await expect(editor).to_be_focused()
    await expect(shown).to_have_count(0)
    # The rest of the page went on working throughout.
    await editor.press("Escape")
    await own_message(page, "still working")

    # A form's Retry sends what it sent: here the reaction button that was clicked.
    message = page.locator(f"#message-{mid}")
    await message.hover()
    await message.get_by_role("link", name="React").click()
    await page.get_by_role("button", name="React with 👍").click()
    reaction = message.locator(".reaction")
    await expect(reaction).to_have_text(["👍 1"])
    arm(failing, f"/messages/{mid}/reactions", 502)
    await reaction.click()
    await expect(shown).to_contain_text("Something went wrong on the server (502)")
    await retry.click()
    await expect(reaction).to_have_count(0)  # taken back, as the click asked
    await expect(shown).to_have_count(0)


async def test_older_messages_retry_by_themselves(browser: Browser, failing: Server) -> None:
    alice = await signed_up(browser, failing.base, "alice")
    page = alice.page
    await fill_room(await Room.get(slug="general"), await User.get(username="alice"), 70)
    await page.reload()
    await expect(page.locator("#messages > .chat")).to_have_count(50)
    arm(failing, "/rooms/general/older", 503, times=2)
    await page.locator("#message-scroller").evaluate("s => { s.scrollTop = 0; }")
    trigger = page.locator("#older-trigger .request-notice")
    await expect(trigger).to_contain_text("Older messages did not load")
    await expect(trigger).to_contain_text("Retrying in")
    await expect(trigger.get_by_role("button", name="Retry")).to_be_visible()
    # Two failures, then the page: about 0.5 to 1 s, then 1 to 2 s later.
    await expect(page.locator("#older-messages > .chat")).to_have_count(20, timeout=10_000)
    await expect(page.locator(".request-notice")).to_have_count(0)


async def test_a_session_that_ended_goes_to_login_and_comes_back(
    browser: Browser, failing: Server
) -> None:
    alice = await signed_up(browser, failing.base, "alice")
    page = alice.page
    mid = await own_message(page, "edit me after logging in")
    arm(failing, f"/messages/{mid}/edit", 401)
    await open_editor(page, mid)
    await page.wait_for_url("**/login?*")
    await expect(page.locator("#session-ended")).to_contain_text("Your session has ended")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{failing.base}/rooms/general")
    await expect(page.locator(f"#message-{mid}")).to_be_visible()


async def test_a_fragment_without_target_is_reported_once(
    browser: Browser, failing: Server
) -> None:
    alice = await signed_up(browser, failing.base, "alice")
    page = alice.page
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    reports: list[Request] = []
    page.on("request", lambda r: reports.append(r) if r.url.endswith("/client-errors") else None)
    stray = '<div id="nowhere-to-go" hx-swap-oob="true">lost</div>'
    for _ in range(3):
        await page.evaluate("html => htmx.swap('#notice', html, {swapStyle: 'none'})", stray)
    async with asyncio.timeout(5):
        while not reports:
            await asyncio.sleep(0.05)
    await own_message(page, "the page goes on")  # nothing broke
    assert [r.post_data_json for r in reports] == [
        {"kind": "oobErrorNoTarget", "target": "#nowhere-to-go", "page": "/rooms/general"}
    ]
    response = await reports[0].response()
    assert response is not None and response.status == 204
    assert "event=client.swap_failed kind=oobErrorNoTarget target=#nowhere-to-go" in (
        failing.log.read_text()
    )
