"""What the privacy tests share: a tab's page fed by a real socket, and its catch-up."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from quart.testing import QuartClient

from chat_app.models.changes import newest_change
from tests.blueprints.test_live import receive
from tests.conftest import ORIGIN
from tests.tabs import Page


class LiveTab:
    """A tab on a real websocket through the Quart test client, its frames applied to a
    ``Page`` as htmx would apply them."""

    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.page = Page()

    async def until(self, condition: Callable[[], object], timeout: float = 10) -> None:
        """Apply frames until ``condition()`` holds."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.page.apply(await receive(self.ws, timeout))

    async def settle(self, room_id: int) -> None:
        """Until the tab has applied the room's newest change."""
        newest = await newest_change(room_id)
        await self.until(lambda: self.page.change == newest)

    def shown(self) -> dict[int, str]:
        """Each message shown, by id: its text as a reader sees it."""
        return texts(self.page)

    def snapshot(self) -> Page:
        """A copy of the page as it is now (to replay a catch-up onto later)."""
        return copy.deepcopy(self.page)


@asynccontextmanager
async def live_tab(
    client: QuartClient, room: str = "general", after: int = 0
) -> AsyncIterator[LiveTab]:
    """A tab showing ``room`` from change ``after`` on (0: all of it)."""
    url = f"/rooms/{room}/live?after={after}"
    async with client.websocket(url, headers={"Origin": ORIGIN}) as ws:
        yield LiveTab(ws)


async def caught_up(client: QuartClient, before: Page, room_id: int, room: str = "general") -> Page:
    """``before`` (a tab's page when it went away) after its catch-up from its cursor."""
    async with live_tab(client, room, before.cursor) as returning:
        returning.page = before
        await returning.settle(room_id)
    return before


def texts(page: Page) -> dict[int, str]:
    """Each message a page shows, by id: its text, from its author's name on (the avatar's
    initials left out)."""
    shown = {}
    for message_id, element in sorted(page.messages.items()):
        text, avatar = element.text, element.find("chat-image")
        if avatar is not None and text.startswith(avatar.text):
            text = text.removeprefix(avatar.text).lstrip()
        shown[message_id] = text
    return shown
