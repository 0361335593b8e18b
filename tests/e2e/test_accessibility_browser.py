"""Every page audited by axe-core in Chromium: both themes, a desktop and a phone, with messages
that use every feature of a message (replies, reactions, edits, mentions, the unread divider).
No serious or critical violation may remain; the others are printed (``pytest -s``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Browser, Page, expect
from quart import Quart

from chat_app.actions import (
    create_invitation,
    edit_message,
    post_message,
    toggle_reaction,
)
from chat_app.models import Message, Room, User
from tests.conftest import PASSWORD, Server
from tests.e2e.conftest import ARTIFACTS, audit, signed_up

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERIOUS = {"serious", "critical"}


async def conversation(room: Room, alice: User, bob: User) -> Message:
    """Messages with every feature, bob's newest unread for alice; the one alice can edit."""
    first = await post_message(alice, room, "Is the deploy done?", uuid.uuid4().hex)
    answer = await post_message(
        bob, room, "Yes @alice, the new search is live", uuid.uuid4().hex, reply_to=first.id
    )
    await toggle_reaction(alice, answer.id, "🎉")
    await toggle_reaction(bob, answer.id, "👍")
    await edit_message(alice, first.id, "Is the deploy done yet?")
    await post_message(bob, room, "And the docs are updated too", uuid.uuid4().hex)
    return first


async def log_in(page: Page, base: str, username: str, next_path: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{base}/rooms/general")
    await page.goto(f"{base}{next_path}")


async def in_theme(page: Page, theme: str) -> None:
    """Switch the theme as the app does (the navbar's switch); pages without the switch (the
    forms outside the room shell) are shown in ``theme`` by setting it on the document."""
    switch = page.get_by_role("checkbox", name="Dark theme")
    if await switch.count():
        if (theme == "dark") != await switch.is_checked():
            await page.get_by_title("Dark theme").click()
        await expect(switch).to_be_checked(checked=theme == "dark")
    else:
        await page.evaluate("theme => { document.documentElement.dataset.theme = theme; }", theme)


async def audited(
    page: Page,
    name: str,
    found: dict[str, list[dict[str, object]]],
    show: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Audit ``page`` in both themes (after ``show`` brings up what to audit, and with Escape
    after it); record what was found under ``name``."""
    for theme in ("light", "dark"):
        await in_theme(page, theme)
        if show:
            await show()
        else:
            await page.mouse.move(0, 0)
        violations = await audit(page)
        if show:
            await page.keyboard.press("Escape")  # closes a dialog, the editor, the phone's menu
        found[f"{name} ({theme})"] = violations
        if any(v["impact"] in SERIOUS for v in violations):
            await page.screenshot(path=ARTIFACTS / f"axe-{name.replace(' ', '-')}-{theme}.png")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_every_page_has_no_serious_violations(
    app: Quart, browser: Browser, server: Server, viewport: dict[str, int]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server.base
    found: dict[str, list[dict[str, object]]] = {}
    context = await browser.new_context(bypass_csp=True, viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    for path, name in (("/register", "register"), ("/login", "login")):
        await page.goto(f"{base}{path}")
        await audited(page, name, found)
    async with app.app_context():
        _, code = await create_invitation(None)
    await page.goto(f"{base}/join/{code}")
    await audited(page, "invitation", found)
    await context.close()

    alice_tab = await signed_up(browser, base, "alice", bypass_csp=True, viewport=viewport)
    bob_tab = await signed_up(browser, base, "bob")
    await bob_tab.page.context.close()
    page = alice_tab.page
    await page.goto(f"{base}/browse")  # away from the room while bob writes
    await audited(page, "directory", found)
    alice, bob = await User.get(username="alice"), await User.get(username="bob")
    general = await Room.get(slug="general")
    async with app.app_context():
        own = await conversation(general, alice, bob)

    await page.goto(f"{base}/rooms/general")
    await expect(page.locator("#unread-divider")).to_be_visible()
    await expect(page.locator("#messages .mention")).to_have_count(1)
    await expect(page.locator("#messages .reaction")).to_have_count(2)
    await expect(page.get_by_text("(edited)")).to_be_visible()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    await audited(page, "room", found)
    if viewport is PHONE:

        async def menu() -> None:
            await page.get_by_role("button", name="Open rooms and people").click()
            await expect(page.get_by_role("navigation", name="Rooms and people")).to_be_visible()

        await audited(page, "room menu", found, menu)
        await page.goto(f"{base}/rooms/general")
    # The page's dialogs and the inline editor.
    mine = page.locator(f"#message-{own.id}")

    async def picker() -> None:
        await mine.hover()
        await mine.get_by_role("link", name="React").click()
        await expect(page.get_by_role("dialog")).to_be_visible()

    async def editor() -> None:
        await mine.hover()
        await mine.get_by_role("link", name="Edit").click()
        await expect(page.get_by_role("textbox", name="Edit your message")).to_be_focused()

    await audited(page, "reaction picker", found, picker)
    await audited(page, "editor", found, editor)

    pages = [
        (f"/rooms/general/history?around={own.id}", "history"),
        (f"/messages/{own.id}/edit", "edit page"),
        (f"/messages/{own.id}/delete", "delete page"),
        (f"/messages/{own.id}/react", "react page"),
        ("/rooms/new", "new room"),
        ("/rooms/general/settings", "room settings"),
        ("/directs/new", "direct message picker"),
        ("/settings/notifications", "notification settings"),
        ("/rooms/no-such-room", "error page"),
    ]
    for path, name in pages:
        await page.goto(f"{base}{path}")
        await audited(page, name, found)
    await page.context.close()

    founder = await browser.new_context(bypass_csp=True, viewport=viewport)  # type: ignore[arg-type]
    admin_page = await founder.new_page()
    await log_in(admin_page, base, "founder", "/admin/invitations")
    await audited(admin_page, "admin invitations", found)
    await admin_page.get_by_role("button", name="Create link").click()
    await expect(admin_page.locator("#new-invitation")).to_be_visible()
    await audited(admin_page, "admin new invitation", found)
    await founder.close()

    (ARTIFACTS / f"axe-{'phone' if viewport is PHONE else 'desktop'}.json").write_text(
        json.dumps(found, indent=1, ensure_ascii=False)
    )
    serious = {
        name: [v for v in violations if v["impact"] in SERIOUS]
        for name, violations in found.items()
    }
    for name, violations in found.items():  # the moderate and minor ones, for the record
        for v in violations:
            print(f"{name}: {v['id']} ({v['impact']}), {len(v['nodes'])} nodes")  # type: ignore[arg-type]
    assert {name: v for name, v in serious.items() if v} == {}
