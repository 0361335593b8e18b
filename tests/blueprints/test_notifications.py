"""The notification settings page, its JSON push endpoints (hostile input too), and /sw.js."""

from __future__ import annotations

import json
import re

from quart import Quart
from quart.testing import QuartClient

from chat_app.actions.rooms import join_room
from chat_app.models import Membership, PushSubscription, Room, User
from chat_app.push import Pusher
from tests.conftest import csrf_from
from tests.pushing import Browser, PushService, push_service, vapid

__all__ = ["push_service", "vapid"]  # fixtures

SETTINGS = "/settings/notifications"


async def _token(browser: QuartClient) -> str:
    return csrf_from(await (await browser.get(SETTINGS)).get_data(as_text=True))


async def _post_json(browser: QuartClient, url: str, body: object, token: str | None) -> object:
    headers = {"X-CSRF-Token": token} if token else {}
    return await browser.post(url, json=body, headers=headers)


async def test_the_page_lists_each_room_with_its_level_and_says_push_is_off(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    await join_room(alice, "random")
    await Membership.filter(user=alice, room__slug="random").update(notify="none")
    response = await alice_client.get(SETTINGS)
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert re.search(r'id="level-general".*?<option value="mentions" selected>', html, re.S)
    assert re.search(r'id="level-random".*?<option value="none" selected>', html, re.S)
    assert 'id="push-off"' in html
    assert "vapid-keys" in html
    assert 'data-vapid-public-key=""' in html
    assert "js/notify-settings.js" in html
    assert "<script>" not in html  # CSP: scripts come from files only


async def test_with_keys_the_page_carries_the_public_key(
    alice_client: QuartClient, vapid: Pusher
) -> None:
    html = await (await alice_client.get(SETTINGS)).get_data(as_text=True)
    assert f'data-vapid-public-key="{vapid.keys.public}"' in html
    assert 'id="push-subscribe"' in html
    assert 'id="push-off"' not in html


async def test_the_page_wants_a_login(client: QuartClient) -> None:
    assert (await client.get(SETTINGS)).status_code in (302, 303, 401)


async def test_a_level_is_set_by_a_plain_form(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    token = await _token(alice_client)
    url = f"{SETTINGS}/rooms/general"
    response = await alice_client.post(url, form={"level": "all", "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("?saved=general#room-general")
    assert await Membership.get(user=alice, room=general).values_list("notify", flat=True) == (
        "all"
    )
    page = await (await alice_client.get(SETTINGS + "?saved=general")).get_data(as_text=True)
    assert "Saved" in page
    for form, status in (
        ({"level": "loud", "csrf_token": token}, 422),
        ({"csrf_token": token}, 422),
        ({"level": "none"}, 403),
    ):
        assert (await alice_client.post(url, form=form)).status_code == status
    assert (
        await alice_client.post(
            f"{SETTINGS}/rooms/secret", form={"level": "all", "csrf_token": token}
        )
    ).status_code == 404
    assert await Membership.get(user=alice, room=general).values_list("notify", flat=True) == (
        "all"
    )


async def test_the_room_page_carries_the_viewers_level(
    alice_client: QuartClient, alice: User, general: Room
) -> None:
    await Membership.filter(user=alice, room=general).update(notify="all")
    html = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert 'data-notify="all"' in html
    assert f'data-room-id="{general.id}"' in html
    assert "js/notify.js" in html
    assert 'href="/settings/notifications"' in html


async def test_subscribe_send_a_test_and_unsubscribe(
    alice_client: QuartClient, alice: User, vapid: Pusher, push_service: PushService
) -> None:
    token = await _token(alice_client)
    browser = Browser(push_service.endpoint("alice"))
    response = await _post_json(
        alice_client, "/api/push/subscription", browser.subscription(), token
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    [row] = await PushSubscription.filter(user=alice)
    assert row.endpoint == browser.endpoint

    response = await _post_json(alice_client, "/api/push/test", {}, token)
    assert response.status_code == 200
    assert await response.get_json() == {"sent": 1, "removed": 0, "failed": 0}
    assert browser.decrypt(push_service.to("alice")[0])["title"] == "Parley"

    body = {"endpoint": browser.endpoint}
    response = await _post_json(alice_client, "/api/push/unsubscribe", body, token)
    assert await response.get_json() == {"removed": True}
    response = await _post_json(alice_client, "/api/push/unsubscribe", body, token)
    assert await response.get_json() == {"removed": False}
    response = await _post_json(alice_client, "/api/push/test", {}, token)
    assert response.status_code == 422


async def test_push_endpoints_say_when_push_is_off(alice_client: QuartClient, alice: User) -> None:
    token = await _token(alice_client)
    browser = Browser("https://push.example.com/abc")
    response = await _post_json(
        alice_client, "/api/push/subscription", browser.subscription(), token
    )
    assert response.status_code == 409
    assert (await response.get_json())["error"]["code"] == "conflict"
    assert "not set up" in (await response.get_json())["error"]["message"]
    assert (await _post_json(alice_client, "/api/push/test", {}, token)).status_code == 409


def _hostile_subscriptions() -> list[tuple[str, object]]:
    good = Browser("https://push.example.com/abc").subscription()
    keys = good["keys"]
    return [
        ("null", None),
        ("a list", [good]),
        ("a string", "https://push.example.com/abc"),
        ("no endpoint", {"keys": keys}),
        ("endpoint not a string", {**good, "endpoint": 12}),
        ("10 KB endpoint", {**good, "endpoint": "https://push.example.com/" + "a" * 10_000}),
        ("2 KB endpoint", {**good, "endpoint": "https://push.example.com/" + "a" * 2_000}),
        ("plain http", {**good, "endpoint": "http://push.example.com/abc"}),
        ("javascript:", {**good, "endpoint": "javascript:alert(1)"}),
        ("internal address", {**good, "endpoint": "https://169.254.169.254/latest"}),
        ("no keys", {"endpoint": good["endpoint"]}),
        ("keys not an object", {**good, "keys": "p256dh"}),
        ("no auth", {**good, "keys": {"p256dh": keys["p256dh"]}}),
        ("no p256dh", {**good, "keys": {"auth": keys["auth"]}}),
        ("p256dh not base64", {**good, "keys": {**keys, "p256dh": "!!!!" * 22}}),
        ("p256dh off the curve", {**good, "keys": {**keys, "p256dh": "BA" + "A" * 85}}),
        ("p256dh too long", {**good, "keys": {**keys, "p256dh": "B" * 5000}}),
        ("auth too short", {**good, "keys": {**keys, "auth": "AAAA"}}),
        ("auth a number", {**good, "keys": {**keys, "auth": 16}}),
    ]


async def test_hostile_subscriptions_are_refused_with_a_reason(
    app: Quart, alice_client: QuartClient, vapid: Pusher
) -> None:
    token = await _token(alice_client)
    app.config["PUSH_ALLOW_HTTP"] = False  # as in production: https push services only
    try:
        for case, body in _hostile_subscriptions():
            response = await _post_json(alice_client, "/api/push/subscription", body, token)
            assert response.status_code == 422, case
            answer = await response.get_json()
            assert answer["error"]["code"] == "invalid", case
            assert answer["error"]["message"], case
    finally:
        app.config["PUSH_ALLOW_HTTP"] = True
    assert not await PushSubscription.exists()


async def test_malformed_json_and_other_bodies_are_refused(
    alice_client: QuartClient, vapid: Pusher
) -> None:
    token = await _token(alice_client)
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    for data in (b"{not json", b"", b"\xff\xfe", json.dumps({"a": "x" * 20_000}).encode()):
        for url in ("/api/push/subscription", "/api/push/unsubscribe"):
            response = await alice_client.post(url, data=data, headers=headers)
            assert response.status_code == 422, (url, data[:20])
    form = await alice_client.post(
        "/api/push/subscription", form={"endpoint": "x"}, headers={"X-CSRF-Token": token}
    )
    assert form.status_code == 422
    assert not await PushSubscription.exists()


async def test_push_endpoints_want_the_csrf_header_and_a_login(
    app: Quart, alice_client: QuartClient, vapid: Pusher, push_service: PushService
) -> None:
    body = Browser(push_service.endpoint("alice")).subscription()
    for url in ("/api/push/subscription", "/api/push/unsubscribe", "/api/push/test"):
        assert (await _post_json(alice_client, url, body, None)).status_code == 403
        assert (await _post_json(alice_client, url, body, "forged")).status_code == 403
        assert (await _post_json(app.test_client(), url, body, None)).status_code in (401, 403)
    assert not await PushSubscription.exists()


async def test_one_cannot_unsubscribe_someone_elses_browser(
    app: Quart,
    alice_client: QuartClient,
    bob_client: QuartClient,
    bob: User,
    vapid: Pusher,
    push_service: PushService,
) -> None:
    browser = Browser(push_service.endpoint("bob"))
    bob_token = await _token(bob_client)
    await _post_json(bob_client, "/api/push/subscription", browser.subscription(), bob_token)
    token = await _token(alice_client)
    response = await _post_json(
        alice_client, "/api/push/unsubscribe", {"endpoint": browser.endpoint}, token
    )
    assert await response.get_json() == {"removed": False}
    assert await PushSubscription.filter(user=bob).exists()


async def test_the_service_worker_is_served_from_the_root(client: QuartClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = await response.get_data(as_text=True)
    assert 'addEventListener("push"' in script
    assert 'addEventListener("notificationclick"' in script
