"""Liveness, readiness, metrics and the structured log lines, in process."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY
from quart import Quart, got_request_exception
from quart.testing import QuartClient, WebsocketResponseError

from chat_app.blueprints import api
from chat_app.models import Room
from chat_app.realtime.broker import Broker
from chat_app.realtime.hub import Hub
from tests.blueprints.test_live import LIVE, receive_until
from tests.conftest import ORIGIN, send_frame

LOOPBACK = {"client": ("127.0.0.1", 40000)}
ELSEWHERE = {"client": ("203.0.113.7", 40000)}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_healthz_answers_while_the_process_runs(client: QuartClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_checks_database_and_broker(client: QuartClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {"database": "ok", "broker": "ok"}


async def test_readyz_fails_while_the_broker_is_stopped(app: Quart, client: QuartClient) -> None:
    broker: Broker = app.extensions["broker"]
    hub: Hub = app.extensions["hub"]
    await broker.stop()
    try:
        response = await client.get("/readyz")
    finally:
        await broker.start(hub.deliver, hub.resync)
    assert response.status_code == 503
    assert await response.get_json() == {"database": "ok", "broker": "unavailable"}


async def test_metrics_are_served_to_direct_loopback_clients_only(client: QuartClient) -> None:
    response = await client.get("/metrics", scope_base=LOOPBACK)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = await response.get_data(as_text=True)
    for name in (
        "parley_open_connections",
        "parley_messages_posted_total",
        "parley_fanout_seconds_bucket",
        "parley_frames_sent_total",
        "parley_queue_drops_total",
        "parley_rate_limited_total",
    ):
        assert name in text
    assert (await client.get("/metrics", scope_base=ELSEWHERE)).status_code == 403
    assert (await client.get("/metrics")).status_code == 403
    proxied = {"X-Forwarded-For": "203.0.113.7"}  # through a reverse proxy on this host
    assert (await client.get("/metrics", headers=proxied, scope_base=LOOPBACK)).status_code == 403


async def test_metrics_want_the_bearer_token_when_one_is_set(
    app: Quart, client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    assert (await client.get("/metrics", scope_base=LOOPBACK)).status_code == 401
    wrong = {"Authorization": "Bearer guess"}
    assert (await client.get("/metrics", headers=wrong, scope_base=ELSEWHERE)).status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    assert (await client.get("/metrics", headers=right, scope_base=ELSEWHERE)).status_code == 200


async def test_a_socket_session_is_counted_and_logged_without_content(
    app: Quart,
    alice_client: QuartClient,
    general: Room,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setitem(app.config, "MESSAGES_BURST", 1)
    monkeypatch.setitem(app.config, "MESSAGES_PER_SECOND", 0.01)
    open_before, posted, limited = (
        sample("parley_open_connections"),
        sample("parley_messages_posted_total"),
        sample("parley_rate_limited_total"),
    )
    fanouts = sample("parley_fanout_seconds_count")
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await ws.send(send_frame("first secret words"))
        await receive_until(ws, "first secret words")
        assert sample("parley_open_connections") == open_before + 1
        async with asyncio.timeout(5):  # the sender's copy may come before the fan-out's
            while sample("parley_fanout_seconds_count") == fanouts:
                await asyncio.sleep(0.01)
        await ws.send(send_frame("second secret words"))
        await receive_until(ws, "sending too fast")
    await asyncio.sleep(0)
    assert sample("parley_open_connections") == open_before
    assert sample("parley_messages_posted_total") == posted + 1
    assert sample("parley_rate_limited_total") == limited + 1
    events = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=")]
    assert any(e.startswith("event=ws.connect user=") for e in events), events
    assert any(e.startswith("event=rate_limited user=") for e in events), events
    assert any(e.startswith("event=ws.disconnect ") and " code=" in e for e in events), events
    assert "secret words" not in caplog.text


async def test_a_refused_handshake_is_counted_and_logged(
    alice_client: QuartClient, general: Room, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    refused = sample("parley_handshakes_rejected_total", code="403")
    with pytest.raises(WebsocketResponseError):
        async with alice_client.websocket(LIVE, headers={"Origin": "https://evil.example"}) as ws:
            await ws.receive()
    assert sample("parley_handshakes_rejected_total", code="403") == refused + 1
    assert "event=ws.rejected code=403 path=/rooms/general/live" in caplog.text
    assert "parley_session" not in caplog.text  # no cookies in logs


async def test_an_unhandled_error_is_counted_and_logged(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    before = sample("parley_errors_total", surface="http")
    async with app.test_request_context("/somewhere"):
        await got_request_exception.send_async(
            app, _sync_wrapper=app.ensure_async, exception=KeyError("secret")
        )
    assert sample("parley_errors_total", surface="http") == before + 1
    assert "event=error surface=http kind=KeyError" in caplog.text
    assert "secret" not in caplog.text


async def test_a_request_while_the_database_is_away_gets_503_and_one_line(
    alice_client: QuartClient,
    general: Room,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def away(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(api, "page_before", away)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        response = await alice_client.get("/api/rooms/general/messages")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "database" in (await response.get_json())["error"]["message"]
    assert "Traceback" not in caplog.text
    assert caplog.text.count("event=db.unavailable where=http") <= 1  # once per interval
