"""What the action tests share: a broker that records what is published."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart

from chat_app.models import Change
from chat_app.realtime.broker import Deliver
from chat_app.realtime.events import Event, RoomChanged
from tests.conftest import broker_replaced_by


class RecordingBroker:
    """Records what is published, and whether its change was committed at that moment."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.committed_when_published: list[bool] = []

    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: Event) -> None:
        assert isinstance(event, RoomChanged)
        self.events.append(event)
        self.committed_when_published.append(await Change.exists(id=event.change))


@pytest.fixture
async def published(app: Quart) -> AsyncIterator[RecordingBroker]:
    async with broker_replaced_by(app, RecordingBroker()) as recorder:
        yield recorder
