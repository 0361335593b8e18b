"""Search tests call actions directly: they run in an app context, as a request would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart


@pytest.fixture(autouse=True)
async def in_app_context(app: Quart) -> AsyncIterator[None]:
    async with app.app_context():
        yield
