"""The short path's frame encoding, read back by an independent implementation (wsproto)."""

from __future__ import annotations

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from chat_app.realtime.websocket import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_text_frame_of_any_length_reads_back_as_one_message(size: int) -> None:
    text = ("é" * size)[: max(0, size - 1)] + ("x" if size else "")  # multi-byte UTF-8 too
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(text_frame(text))
    [event] = list(client.events())
    assert isinstance(event, TextMessage)
    assert event.data == text and event.message_finished
