"""Editing, deleting, reacting to and replying to messages in a real Chromium: what the person
doing it sees, and what another person's tab sees live (or after being offline)."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, Locator, Page, WebSocketRoute, expect

from chat_app.models import User
from tests.conftest import PASSWORD, Server, sign_up
from tests.e2e.conftest import ARTIFACTS, Watched, audit, send, signed_up

pytestmark = pytest.mark.browser


def message(page: Page, text: str) -> Locator:
    """The message whose bubble has ``text`` (the element with id message-<id>)."""
    return page.locator("#messages > .chat", has=page.locator(".chat-bubble", has_text=text))


async def action(page: Page, text: str, name: str) -> Locator:
    """A message's action link, after pointing at the message (the menu shows on hover)."""
    shown = message(page, text)
    await shown.hover()
    link = shown.get_by_role("link", name=name, exact=False).first
    await expect(link).to_have_css("opacity", "1")
    return link


async def two_people(browser: Browser, server: Server) -> tuple[Watched, Watched]:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    for person in (alice, bob):
        await expect(person.page.locator("#connection-status")).to_have_text("Connected")
    return alice, bob


async def test_edit_inline_and_with_arrow_up_seen_live(browser: Browser, server: Server) -> None:
    alice, bob = await two_people(browser, server)
    await send(alice.page, "helo wrold")
    await expect(message(bob.page, "helo wrold")).to_have_count(1)

    await (await action(alice.page, "helo wrold", "Edit")).click()
    editor = alice.page.get_by_role("textbox", name="Edit your message")
    await expect(editor).to_be_focused()
    await expect(editor).to_have_value("helo wrold")
    await editor.fill("hello world")
    await editor.press("Shift+Enter")
    await editor.press_sequentially("second line")
    await editor.press("Enter")
    mine = message(alice.page, "hello world")
    await expect(mine.locator(".chat-bubble")).to_have_text("hello world\nsecond line")
    await expect(mine.get_by_role("link", name="Edit")).to_be_focused()  # back where it was
    theirs = message(bob.page, "hello world")
    await expect(theirs.locator(".chat-bubble")).to_have_text("hello world\nsecond line")
    edited = theirs.get_by_text("(edited)")
    await expect(edited).to_be_visible()
    await expect(theirs.locator("[title^='Edited ']")).to_have_count(1)  # the time, on hover

    # ↑ in the empty composer edits the last own message; Esc cancels and changes nothing.
    composer = alice.page.get_by_role("textbox", name="Message")
    await composer.focus()
    await composer.press("ArrowUp")
    await expect(editor).to_be_focused()
    await editor.press_sequentially(" and more")
    await editor.press("Escape")
    await expect(editor).to_have_count(0)
    await expect(mine.locator(".chat-bubble")).to_have_text("hello world\nsecond line")
    await expect(composer).to_be_focused()

    # Too long: the reason is shown in the editor, the text is kept, nothing changes.
    await composer.press("ArrowUp")
    await expect(editor).to_be_focused()
    await editor.evaluate("box => { box.value = 'x'.repeat(4001); }")  # a paste past maxlength
    await editor.press("Enter")
    error = alice.page.get_by_role("alert").filter(has_text="at most 4,000 characters")
    await expect(error).to_be_visible()
    await expect(editor).to_have_value("x" * 4001)
    await expect(editor).to_have_attribute("aria-invalid", "true")
    await expect(editor).to_be_focused()
    await editor.fill("   ")
    await editor.press("Enter")
    await expect(alice.page.get_by_role("alert")).to_have_text("Write something before sending.")
    await editor.press("Escape")
    await expect(mine.locator(".chat-bubble")).to_have_text("hello world\nsecond line")
    await expect(theirs.locator(".chat-bubble")).to_have_text("hello world\nsecond line")

    # A live change to the message while its editor is open leaves the editor open.
    await (await action(alice.page, "hello world", "Edit")).click()
    await expect(editor).to_be_focused()
    cursor = alice.page.locator("#change-cursor")
    seen = await cursor.get_attribute("data-change")
    await (await action(bob.page, "hello world", "React")).click()
    await bob.page.get_by_role("button", name="React with 👀").click()
    await expect(cursor).not_to_have_attribute("data-change", seen or "")  # alice's tab got it
    await expect(alice.page.locator("#messages .reaction")).to_have_count(0)  # editor still up
    await expect(editor).to_have_value("hello world\nsecond line")
    await editor.press("Escape")
    await expect(mine.locator(".reaction")).to_have_text(["👀 1"])  # the newest copy back
    refused = [e for e in alice.errors if "status of 422" not in e]  # the two refused edits
    assert refused == [] and bob.errors == [], (alice.errors, bob.errors)


async def test_delete_asks_first_and_goes_from_every_tab(browser: Browser, server: Server) -> None:
    alice, bob = await two_people(browser, server)
    second = await alice.page.context.new_page()  # alice's second tab
    await second.goto(f"{server.base}/rooms/general")
    await send(alice.page, "to be deleted")
    await send(bob.page, "bob's own words")
    for page in (alice.page, bob.page, second):
        await expect(message(page, "bob's own words")).to_have_count(1)

    # Nobody but a moderator sees Delete on other people's messages.
    await expect(
        message(alice.page, "bob's own words").get_by_role("link", name="Delete")
    ).to_be_hidden()

    await (await action(alice.page, "to be deleted", "Delete")).click()
    dialog = alice.page.get_by_role("dialog", name="Delete this message?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("alice: to be deleted")
    cancel = dialog.get_by_role("button", name="Cancel")
    await expect(cancel).to_be_focused()  # the safe choice has focus
    await alice.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(
        message(alice.page, "to be deleted").get_by_role("link", name="Delete")
    ).to_be_focused()

    await (await action(alice.page, "to be deleted", "Delete")).click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(dialog).to_be_hidden()
    for page in (alice.page, bob.page, second):
        await expect(message(page, "to be deleted")).to_have_count(0)
        await expect(message(page, "bob's own words")).to_have_count(1)
    await expect(alice.page.get_by_role("textbox", name="Message")).to_be_focused()

    # A workspace admin sees Delete on anyone's message.
    await User.filter(username="alice").update(is_admin=True)
    await alice.page.reload()
    await (await action(alice.page, "bob's own words", "Delete")).click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(message(bob.page, "bob's own words")).to_have_count(0)
    for person in (alice, bob):
        assert person.errors == [], person.errors


async def test_reactions_quick_row_any_emoji_and_taking_back(
    browser: Browser, server: Server
) -> None:
    alice, bob = await two_people(browser, server)
    await send(alice.page, "lunch at noon?")
    await expect(message(bob.page, "lunch at noon?")).to_have_count(1)

    react = await action(bob.page, "lunch at noon?", "React")
    await react.click()
    picker = bob.page.get_by_role(
        "dialog", name="React to alice\N{RIGHT SINGLE QUOTATION MARK}s message"
    )
    await expect(picker).to_be_visible()
    await expect(picker.get_by_role("button", name="React with 👍")).to_be_focused()
    await bob.page.keyboard.press("Escape")  # Esc closes and gives focus back
    await expect(picker).to_be_hidden()
    await expect(react).to_be_focused()

    await react.click()
    await picker.get_by_role("button", name="React with 👍").click()
    await expect(picker).to_be_hidden()
    theirs = message(bob.page, "lunch at noon?").locator(".reaction")
    await expect(theirs).to_have_text(["👍 1"])
    await expect(theirs).to_have_attribute("aria-pressed", "true")  # bob's own
    await expect(theirs).to_have_attribute("aria-label", "👍 1: bob")
    mine = message(alice.page, "lunch at noon?").locator(".reaction")
    await expect(mine).to_have_text(["👍 1"])
    await expect(mine).to_have_attribute("aria-pressed", "false")  # not alice's
    await expect(mine).to_have_attribute("title", "bob")

    # Any emoji, typed or as a shortcode; a word is refused with the reason.
    await (await action(bob.page, "lunch at noon?", "React")).click()
    await expect(picker.get_by_role("button", name="React with 👍")).to_have_attribute(
        "aria-pressed", "true"
    )
    field = picker.get_by_label("Any emoji, or a shortcode such as :tada:")
    await field.fill("yes")
    await field.press("Enter")
    await expect(picker.get_by_role("alert")).to_have_text("A reaction is one emoji.")
    await expect(field).to_be_focused()
    await field.fill(":pizza:")
    await field.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(mine).to_have_text(["👍 1", "🍕 1"])

    # Alice adds hers with one click on the shown reaction; then bob takes his back.
    await mine.filter(has_text="👍").click()
    await expect(theirs.filter(has_text="👍")).to_have_text("👍 2")
    await expect(theirs.filter(has_text="👍")).to_have_attribute("title", "bob, alice")
    await expect(mine.filter(has_text="👍")).to_have_attribute("aria-pressed", "true")
    await expect(mine.filter(has_text="👍")).to_be_focused()  # kept across the live copy
    await theirs.filter(has_text="🍕").click()
    await expect(mine).to_have_text(["👍 2"])
    await theirs.filter(has_text="👍").click()
    await expect(mine).to_have_text(["👍 1"])
    await expect(mine).to_have_attribute("aria-pressed", "true")
    await expect(theirs).to_have_attribute("aria-pressed", "false")
    refused = [e for e in bob.errors if "status of 422" not in e]  # "yes" was refused
    assert alice.errors == [] and refused == [], (alice.errors, bob.errors)


async def test_reply_quotes_the_original(browser: Browser, server: Server) -> None:
    alice, bob = await two_people(browser, server)
    await send(alice.page, "Who is bringing the cake on Friday?")
    await expect(message(bob.page, "cake on Friday")).to_have_count(1)

    await (await action(bob.page, "cake on Friday", "Reply")).click()
    composer = bob.page.get_by_role("textbox", name="Message")
    await expect(composer).to_be_focused()
    reply = bob.page.locator("#composer-reply")
    await expect(reply).to_contain_text("Replying to alice: Who is bringing the cake on Friday?")
    await reply.get_by_role("link", name="Cancel the reply").click()
    await expect(reply).to_be_hidden()
    await expect(composer).to_be_focused()

    await (await action(bob.page, "cake on Friday", "Reply")).click()
    await send(bob.page, "I am!")
    await expect(reply).to_be_hidden()  # cleared once sent
    for page in (alice.page, bob.page):
        answer = message(page, "I am!")
        quote = answer.get_by_role("link", name="Replying to alice: Who is bringing the cake")
        await expect(quote).to_be_visible()
        original = await message(page, "cake on Friday").get_attribute("data-message-id")
        await expect(quote).to_have_attribute("href", f"/messages/{original}")
    await send(bob.page, "not a reply")
    await expect(message(alice.page, "not a reply").locator("[class*=quote-of-]")).to_have_count(0)

    # The original edited: every quote of it follows.
    await (await action(alice.page, "cake on Friday", "Edit")).click()
    await alice.page.get_by_role("textbox", name="Edit your message").fill("Who brings a pie?")
    await alice.page.get_by_role("textbox", name="Edit your message").press("Enter")
    await expect(message(bob.page, "I am!").locator("[class*=quote-of-]")).to_contain_text(
        "alice: Who brings a pie?"
    )
    for person in (alice, bob):
        assert person.errors == [], person.errors


class Cable:
    """Bob's socket through a relay that can be cut: Chromium's offline mode leaves an open
    WebSocket alone, so the relay closes it (1006-like: code 1012) and refuses new ones."""

    def __init__(self) -> None:
        self.cut = False
        self.routes: list[WebSocketRoute] = []
        self.urls: list[str] = []
        self.opened: list[str] = []  # the URLs of the sockets that reached the server

    async def relay(self, route: WebSocketRoute) -> None:
        self.urls.append(route.url)
        if self.cut:
            await route.close(code=1013, reason="offline")
            return
        route.connect_to_server()
        self.routes.append(route)
        self.opened.append(route.url)

    async def unplug(self, page: Page) -> None:
        self.cut = True
        await page.context.set_offline(True)
        for route in self.routes:
            await route.close(code=1012, reason="offline")
        self.routes.clear()

    async def plug_in(self, page: Page) -> None:
        self.cut = False
        await page.context.set_offline(False)  # "online" fires: the page reconnects at once


async def test_a_tab_back_from_offline_shows_what_changed(browser: Browser, server: Server) -> None:
    alice, bob = await two_people(browser, server)
    cable = Cable()
    await bob.page.route_web_socket("**/live**", cable.relay)
    await bob.page.reload()  # its socket now goes through the relay
    await expect(bob.page.locator("#connection-status")).to_have_text("Connected")
    for text in ("keep me", "edit me", "delete me", "react to me"):
        await send(alice.page, text)
    await expect(message(bob.page, "react to me")).to_have_count(1)
    await (await action(bob.page, "keep me", "React")).click()
    await bob.page.get_by_role("button", name="React with 🎉").click()
    await expect(message(bob.page, "keep me").locator(".reaction")).to_have_text(["🎉 1"])
    cursor = bob.page.locator("#change-cursor")
    before = int(await cursor.get_attribute("data-change") or 0)

    await cable.unplug(bob.page)
    await expect(bob.page.locator("#connection-status")).to_contain_text("Reconnecting")

    await (await action(alice.page, "edit me", "Edit")).click()
    await alice.page.get_by_role("textbox", name="Edit your message").fill("edited meanwhile")
    await alice.page.get_by_role("textbox", name="Edit your message").press("Enter")
    await expect(message(alice.page, "edited meanwhile")).to_have_count(1)
    await (await action(alice.page, "delete me", "Delete")).click()
    await alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(message(alice.page, "delete me")).to_have_count(0)
    for emoji in ("❤️", "😂"):
        await (await action(alice.page, "react to me", "React")).click()
        await alice.page.get_by_role("button", name=f"React with {emoji}").click()
        await expect(
            alice.page.get_by_role(
                "dialog", name="React to alice\N{RIGHT SINGLE QUOTATION MARK}s message"
            )
        ).to_be_hidden()
    await (await action(alice.page, "react to me", "React")).click()
    await alice.page.get_by_role("button", name="React with 😂").click()  # taken back
    await message(alice.page, "keep me").locator(".reaction").click()  # joins bob's 🎉
    await expect(message(alice.page, "keep me").locator(".reaction")).to_have_text(["🎉 2"])
    await expect(message(alice.page, "react to me").locator(".reaction")).to_have_text(["❤️ 1"])
    # Bob's tab saw none of it.
    await expect(message(bob.page, "delete me")).to_have_count(1)
    await expect(message(bob.page, "edit me")).to_have_count(1)

    bob.page.on("framenavigated", lambda frame: bob.errors.append(f"navigated to {frame.url}"))
    await cable.plug_in(bob.page)
    await expect(bob.page.locator("#connection-status")).to_have_text("Connected", timeout=40_000)
    await expect(message(bob.page, "delete me")).to_have_count(0)
    await expect(message(bob.page, "edited meanwhile")).to_have_count(1)
    await expect(message(bob.page, "edited meanwhile").get_by_text("(edited)")).to_be_visible()
    await expect(message(bob.page, "react to me").locator(".reaction")).to_have_text(["❤️ 1"])
    keep = message(bob.page, "keep me").locator(".reaction")
    await expect(keep).to_have_text(["🎉 2"])
    await expect(keep).to_have_attribute("aria-pressed", "true")  # still marked as bob's
    texts = await bob.page.locator("#messages .chat-bubble").all_inner_texts()
    assert texts == ["keep me", "edited meanwhile", "react to me"]
    assert int(await cursor.get_attribute("data-change") or 0) > before
    assert f"after={before}&" in cable.opened[1], cable.urls  # it resumed where it was
    assert bob.errors == [], bob.errors


async def test_message_actions_without_javascript(browser: Browser, server: Server) -> None:
    await sign_up(server.base, "alice")
    live = await signed_up(browser, server.base, "bob")  # a live tab watching
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{server.base}/login")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{server.base}/rooms/general")
    await page.get_by_role("textbox", name="Message").fill("typo'd without JS")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_role("textbox", name="Message").fill("second without JS")
    await page.get_by_role("button", name="Send").click()
    room = f"{server.base}/rooms/general"

    # Edit: a page with the editor; a bad edit keeps the text; saving goes back to the room.
    await message(page, "typo'd").get_by_role("link", name="Edit").click()
    await expect(page.get_by_role("heading", name="Edit your message")).to_be_visible()
    editor = page.get_by_role("textbox", name="Edit your message")
    await editor.fill("   ")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_have_text("Write something before sending.")
    await editor.fill("fixed without JS")
    async with page.expect_navigation(url=f"{room}*"):
        await page.get_by_role("button", name="Save").click()
    await expect(message(page, "fixed without JS").get_by_text("(edited)")).to_be_visible()
    await expect(message(live.page, "fixed without JS")).to_have_count(1)

    # React: the page with the quick row and a field; back to the room with it shown.
    await message(page, "fixed without JS").get_by_role("link", name="React").click()
    async with page.expect_navigation(url=f"{room}*"):
        await page.get_by_role("button", name="React with 🙏").click()
    shown = message(page, "fixed without JS").locator(".reaction")
    await expect(shown).to_have_text(["🙏 1"])
    await expect(shown).to_have_attribute("aria-pressed", "true")
    async with page.expect_navigation(
        url=f"{room}*"
    ):  # the shown reaction is a form too: takes it back
        await shown.click()
    await expect(message(page, "fixed without JS").locator(".reaction")).to_have_count(0)

    # Reply: through /messages/<id>/reply, the composer says what it answers.
    await message(page, "second without JS").get_by_role("link", name="Reply").click()
    await expect(page.locator("#composer-reply")).to_contain_text("Replying to alice")
    await page.get_by_role("textbox", name="Message").fill("answer without JS")
    async with page.expect_navigation(url=f"{room}*"):
        await page.get_by_role("button", name="Send").click()
    await expect(
        message(page, "answer without JS").get_by_role("link", name="Replying to alice")
    ).to_be_visible()

    # Delete: a confirmation page, then back.
    await message(page, "second without JS").get_by_role("link", name="Delete").click()
    await expect(page.get_by_role("heading", name="Delete this message?")).to_be_visible()
    async with page.expect_navigation(url=f"{room}*"):
        await page.get_by_role("button", name="Delete").click()
    await expect(message(page, "second without JS")).to_have_count(0)
    await expect(message(live.page, "second without JS")).to_have_count(0)
    await context.close()


async def test_actions_are_accessible_in_both_themes(browser: Browser, server: Server) -> None:
    # The page's CSP keeps injected scripts out: axe runs in a context that bypasses it.
    alice = await signed_up(
        browser, server.base, "alice", bypass_csp=True, viewport={"width": 1100, "height": 760}
    )
    bob = await signed_up(browser, server.base, "bob")
    page = alice.page
    await send(bob.page, "Deploy is done, the new search is live")
    await send(page, "Nice work! I will tell the others.")
    await expect(message(page, "Deploy is done")).to_have_count(1)
    await (await action(bob.page, "Nice work", "React")).click()
    await bob.page.get_by_role("button", name="React with 🎉").click()
    await (await action(page, "Deploy is done", "React")).click()
    await page.get_by_role("button", name="React with 👍").click()
    await (await action(page, "Deploy is done", "React")).click()
    await page.get_by_role("button", name="React with ❤️").click()
    await (await action(page, "Deploy is done", "Reply")).click()
    await expect(message(page, "Nice work").locator(".reaction")).to_have_text(["🎉 1"])

    # Keyboard: Tab into a message shows its actions with a visible focus ring.
    deploy = message(page, "Deploy is done")
    reply = deploy.get_by_role("link", name="Reply")
    await deploy.locator('.chat-header a[href^="/messages/"]').focus()  # the permalink, then Tab on
    for _ in range(4):
        await page.keyboard.press("Tab")
        if await reply.evaluate("el => el === document.activeElement"):
            break
    await expect(reply).to_be_focused()
    await expect(reply).to_have_css("opacity", "1")
    outline = await reply.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("none", ""), outline
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "actions-reactions-light.png")
    assert (found := await audit(page)) == [], found

    # The editor open, in the dark theme.
    await page.get_by_title("Dark theme").click()  # the navbar's theme switch
    await expect(page.get_by_role("checkbox", name="Dark theme")).to_be_checked()
    await (await action(page, "Nice work", "Edit")).click()
    await expect(page.get_by_role("textbox", name="Edit your message")).to_be_focused()
    await page.mouse.move(0, 0)
    await page.screenshot(path=ARTIFACTS / "editor-dark.png")
    assert (found := await audit(page)) == [], found
    await page.keyboard.press("Escape")

    await (await action(page, "Deploy is done", "React")).click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await page.wait_for_timeout(400)  # the modal fades in
    await page.screenshot(path=ARTIFACTS / "picker-dark.png")
    assert (found := await audit(page)) == [], found
    await page.keyboard.press("Escape")

    # Phones have no hover: the actions are always there.
    phone = await signed_up(
        browser,
        server.base,
        "carol",
        has_touch=True,
        is_mobile=True,
        viewport={"width": 390, "height": 844},
    )
    first = message(phone.page, "Deploy is done").get_by_role("link", name="React")
    await expect(first).to_have_css("opacity", "1")
    await phone.page.screenshot(path=ARTIFACTS / "actions-phone.png")
    for person in (alice, bob, phone):
        assert person.errors == [], json.dumps(person.errors)
