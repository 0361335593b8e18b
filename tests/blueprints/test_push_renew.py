"""A subscription the push service replaced: the service worker reports it (no session, no
CSRF token: the old endpoint is the authority), and the same user keeps getting pushes.
And the login page of a workspace that takes no sign-ups does not offer one."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import post_message
from chat_app.actions.notifications import deliver
from chat_app.models import Membership, PushSubscription, Room, User
from chat_app.push import Pusher
from tests.blueprints.test_notifications import _post_json, _token
from tests.hostile import CORPUS
from tests.pushing import Browser, PushService, push_service, vapid

__all__ = ["push_service", "vapid"]  # fixtures

RENEW = "/api/push/renew"


async def subscribed(client: QuartClient, browser: Browser) -> None:
    token = await _token(client)
    response = await _post_json(client, "/api/push/subscription", browser.subscription(), token)
    assert response.status_code == 201


async def test_the_service_worker_renews_a_subscription_and_pushes_reach_the_new_one(
    app: Quart,
    client: QuartClient,
    bob_client: QuartClient,
    alice: User,
    bob: User,
    general: Room,
    vapid: Pusher,
    push_service: PushService,
) -> None:
    old, new = Browser(push_service.endpoint("old")), Browser(push_service.endpoint("new"))
    await subscribed(bob_client, old)
    body = {"old_endpoint": old.endpoint, "subscription": new.subscription()}
    # The worker's fetch: same origin, no token (and here not even a session).
    response = await client.post(RENEW, json=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200, await response.get_data(as_text=True)
    [row] = await PushSubscription.all()
    assert (row.user_id, row.endpoint) == (bob.id, new.endpoint)
    await Membership.filter(user=bob, room=general).update(notify="all")
    message = await post_message(alice, general, "after the change", "client-renew-1")
    delivery = await deliver(vapid, message.id, set(), False)
    assert delivery.sent == 1 and not push_service.to("old")
    assert new.decrypt(push_service.to("new")[0])["body"] == "after the change"
    # Said again: the old endpoint is no longer known.
    assert (await client.post(RENEW, json=body)).status_code == 422


async def test_renewing_needs_a_known_old_endpoint_and_a_good_subscription(
    client: QuartClient,
    bob_client: QuartClient,
    bob: User,
    vapid: Pusher,
    push_service: PushService,
) -> None:
    old = Browser(push_service.endpoint("old"))
    await subscribed(bob_client, old)
    good = Browser(push_service.endpoint("new")).subscription()
    bodies: list[object] = [
        None,
        [],
        {"subscription": good},
        {"old_endpoint": push_service.endpoint("unknown"), "subscription": good},
        {"old_endpoint": 12, "subscription": good},
        {"old_endpoint": old.endpoint},
        {"old_endpoint": old.endpoint, "subscription": {**good, "keys": {"p256dh": "x"}}},
        {"old_endpoint": old.endpoint, "subscription": {**good, "endpoint": "javascript:1"}},
        *({"old_endpoint": text, "subscription": good} for text in CORPUS[:6]),
        *(
            {"old_endpoint": old.endpoint, "subscription": {**good, "endpoint": t}}
            for t in CORPUS[:6]
        ),
    ]
    for body in bodies:
        response = await client.post(RENEW, json=body)
        assert response.status_code == 422, body
        assert (await response.get_json())["error"]
    [row] = await PushSubscription.all()
    assert (row.user_id, row.endpoint) == (bob.id, old.endpoint)
    cross_site = {"old_endpoint": old.endpoint, "subscription": good}
    response = await client.post(RENEW, json=cross_site, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403  # same-site is still required
    assert (await PushSubscription.get(id=row.id)).endpoint == old.endpoint


async def test_renewing_says_when_push_is_off(client: QuartClient) -> None:
    response = await client.post(RENEW, json={"old_endpoint": "https://push.example.com/a"})
    assert response.status_code == 409


async def test_the_service_worker_handles_pushsubscriptionchange(client: QuartClient) -> None:
    script = await (await client.get("/sw.js")).get_data(as_text=True)
    assert 'addEventListener("pushsubscriptionchange"' in script and RENEW in script


@pytest.mark.parametrize(
    ("mode", "offers_sign_up", "says"),
    [
        ("open", True, "Create an account"),
        ("invite", False, "invitation link"),
        ("closed", False, "made by this workspace's admins"),
    ],
)
async def test_the_login_page_offers_sign_up_only_when_it_is_open(
    app: Quart,
    client: QuartClient,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    offers_sign_up: bool,
    says: str,
) -> None:
    monkeypatch.setitem(app.config, "REGISTRATION", mode)
    page = await (await client.get("/login")).get_data(as_text=True)
    assert ('href="/register"' in page) == offers_sign_up
    assert says in page
