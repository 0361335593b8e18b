"""Who is pushed a message, what the push says, and what happens to gone subscriptions.

Pushes go to a real local push service (tests/pushing.py) and are decrypted there with the
subscription's own private key, as the browser would.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from quart import Quart, current_app

from chat_app.actions import post_message, register_user
from chat_app.actions.notifications import (
    NotificationError,
    PushOff,
    deliver,
    notify_of,
    send_test,
    set_level,
    subscribe,
    unsubscribe,
)
from chat_app.actions.rooms import join_room
from chat_app.models import LiveSocket, Membership, Message, PushSubscription, Room, User
from chat_app.models.notifications import level_allows
from chat_app.models.rooms import default_notify_level
from chat_app.push import Pusher, endpoint_problem, generate_vapid_keys, pusher_of, vapid_keys
from tests.conftest import PASSWORD
from tests.pushing import (
    VAPID_SUBJECT,
    Browser,
    PushService,
    push_service,
    vapid,
    vapid_claims,
)

__all__ = ["push_service", "vapid"]  # fixtures


@pytest.mark.parametrize(
    ("level", "mentioned", "everyone", "heard"),
    [
        ("all", False, False, True),
        ("all", True, False, True),
        ("all", False, True, True),
        ("mentions", False, False, False),
        ("mentions", True, False, True),
        ("mentions", False, True, True),
        ("none", False, False, False),
        ("none", True, False, False),
        ("none", False, True, False),
        ("bogus", True, True, False),
    ],
)
def test_levels(level: str, mentioned: bool, everyone: bool, heard: bool) -> None:
    assert level_allows(level, mentioned, everyone) is heard


def test_direct_messages_default_to_everything_rooms_to_mentions() -> None:
    assert default_notify_level(is_direct=True) == "all"
    assert default_notify_level(is_direct=False) == "mentions"


async def test_a_new_membership_is_at_mentions(alice: User, general: Room) -> None:
    assert await Membership.get(user=alice, room=general).values_list("notify", flat=True) == (
        "mentions"
    )


async def _subscribed(user: User, service: PushService, name: str | None = None) -> Browser:
    browser = Browser(service.endpoint(name or user.username))
    await subscribe(user, browser.subscription())
    return browser


async def _at(user: User, room: Room, level: str) -> None:
    await set_level(user, room, level)


async def _post(author: User, room: Room, text: str = "hello there") -> Message:
    """Post (in an app context) and wait until its pushes are out."""
    message = await post_message(author, room, text, uuid.uuid4().hex)
    pusher = pusher_of(current_app)
    assert pusher is not None
    await pusher.drain()
    return message


async def _notify(message: Message, mentioned: set[int], everyone: bool) -> None:
    task = notify_of(message, mentioned, everyone)
    assert task is not None
    await task


async def test_a_member_away_at_all_gets_the_message_encrypted(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    browser = await _subscribed(bob, push_service)
    await _at(bob, general, "all")
    async with app.app_context():
        message = await _post(alice, general, "lunch at   noon?\nsay yes")
    [push] = push_service.to("bob")
    assert browser.decrypt(push) == {
        "title": "alice in #General",
        "body": "lunch at noon? say yes",
        "url": f"/messages/{message.id}",
        "tag": f"room-{general.id}",
    }
    assert b"lunch" not in push.body  # encrypted on the wire
    assert int(push.headers["TTL"]) > 0
    claims = vapid_claims(push, vapid.keys.public)
    assert claims["aud"] == push_service.base
    assert claims["sub"] == "mailto:ops@parley.test"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


async def test_levels_decide_with_mentions(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    browser = await _subscribed(bob, push_service)
    async with app.app_context():
        message = await _post(alice, general)  # bob is at "mentions": not mentioned, no push
        assert push_service.to("bob") == []
        await _notify(message, {bob.id}, False)
        assert len(push_service.to("bob")) == 1
        await _notify(message, set(), True)
        assert len(push_service.to("bob")) == 2
        await _at(bob, general, "none")
        await _post(alice, general)
        assert notify_of(message, {bob.id}, everyone=True) is not None
        await vapid.drain()
    assert len(push_service.to("bob")) == 2
    assert browser.decrypt(push_service.to("bob")[0])["url"] == f"/messages/{message.id}"


async def test_the_author_a_live_member_and_an_inactive_one_get_nothing(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    carol = await register_user("carol", PASSWORD)
    dave = await register_user("dave", PASSWORD)
    for user in (alice, bob, carol, dave):
        await _subscribed(user, push_service)
        await _at(user, general, "all")
    await LiveSocket.create(id=str(uuid.uuid4()), user=bob, room=general, node="n1")
    await User.filter(id=dave.id).update(is_active=False)
    async with app.app_context():
        await _post(alice, general)
    assert {r.path for r in push_service.received} == {"/push/carol"}


async def test_a_live_socket_in_another_room_counts_as_there(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    other = await join_room(bob, "random")
    await _subscribed(bob, push_service)
    await _at(bob, general, "all")
    await LiveSocket.create(id=str(uuid.uuid4()), user=bob, room=other, node="n1")
    async with app.app_context():
        await _post(alice, general)
    assert push_service.received == []


async def test_a_non_member_and_a_removed_member_never_get_a_private_rooms_message(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    carol = await register_user("carol", PASSWORD)
    secret = await join_room(alice, "secret")
    await join_room(bob, "secret")
    for user in (bob, carol):
        await _subscribed(user, push_service)
        await _at(user, general, "all")
    await _at(bob, secret, "all")
    async with app.app_context():
        message = await _post(alice, secret, "the plan")
        assert [r.path for r in push_service.received] == ["/push/bob"]
        await Membership.filter(user=bob, room=secret).delete()  # bob is removed
        await _notify(message, {bob.id, carol.id}, True)
        await _post(alice, secret, "the plan, part two")
    assert [r.path for r in push_service.received] == ["/push/bob"]


async def test_gone_subscriptions_are_removed_others_kept(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    await _at(bob, general, "all")
    for name, status in (("gone404", 404), ("gone410", 410), ("busy", 503), ("fine", 201)):
        push_service.answers[f"/push/{name}"] = status
        await _subscribed(bob, push_service, name)
    async with app.app_context():
        await _post(alice, general)
    assert len(push_service.received) == 4
    left = await PushSubscription.filter(user=bob).values_list("endpoint", flat=True)
    assert sorted(left) == [push_service.endpoint("busy"), push_service.endpoint("fine")]


async def test_posting_does_not_wait_for_the_push_service_which_times_out(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    await _subscribed(bob, push_service)
    await _at(bob, general, "all")
    push_service.delay = 1.5
    vapid.timeout = 0.3
    async with app.app_context():
        started = time.monotonic()
        message = await post_message(alice, general, "quick", uuid.uuid4().hex)
        assert time.monotonic() - started < 1.0
        await vapid.drain()
        assert time.monotonic() - started < 2.0
    assert message.id
    assert len(push_service.received) == 1
    assert await PushSubscription.filter(user=bob).exists()  # no answer is not "gone"


async def test_at_most_push_concurrency_requests_at_once(
    app: Quart, push_service: PushService, alice: User, general: Room
) -> None:
    private, public = generate_vapid_keys()
    keys = vapid_keys(
        {"VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public, "VAPID_SUBJECT": VAPID_SUBJECT}
    )
    assert keys is not None
    pusher = Pusher(keys, {**app.config, "PUSH_CONCURRENCY": 2, "PUSH_ALLOW_HTTP": True})
    push_service.delay = 0.2
    try:
        for index in range(6):
            user = await User.create(username=f"user{index}", password_hash="-")
            await Membership.create(user=user, room=general, notify="all")
            browser = Browser(push_service.endpoint(user.username))
            info = browser.subscription()
            await PushSubscription.create(user=user, endpoint=info["endpoint"], **info["keys"])
        message = await Message.create(room=general, author=alice, content="hi", client_id="c1")
        delivery = await deliver(pusher, message.id, set(), everyone=False)
    finally:
        await pusher.close()
    assert delivery.sent == 6
    assert push_service.most_in_flight == 2


async def test_a_deleted_message_is_pushed_to_no_one(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    await _subscribed(bob, push_service)
    await _at(bob, general, "all")
    message = await Message.create(room=general, author=alice, content="oops", client_id="c1")
    await Message.filter(id=message.id).delete()
    async with app.app_context():
        await _notify(message, set(), True)
    assert push_service.received == []


async def test_without_keys_push_is_off(app: Quart, alice: User, general: Room) -> None:
    async with app.app_context():
        assert pusher_of(app) is None
        message = await post_message(alice, general, "hello", uuid.uuid4().hex)
        assert notify_of(message, set(), everyone=True) is None
        with pytest.raises(PushOff):
            await subscribe(alice, Browser("https://push.example.com/x").subscription())
        with pytest.raises(PushOff):
            await send_test(alice)


async def test_send_test_reaches_each_browser_and_is_rate_limited(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User
) -> None:
    phone = await _subscribed(alice, push_service, "phone")
    await _subscribed(alice, push_service, "laptop")
    async with app.app_context():
        delivery = await send_test(alice)
        assert (delivery.sent, delivery.removed, delivery.failed) == (2, 0, 0)
        assert phone.decrypt(push_service.to("phone")[0])["url"] == "/settings/notifications"
        await send_test(alice)
        await send_test(alice)
        with pytest.raises(NotificationError, match="moment ago"):
            await send_test(alice)


async def test_subscribing_again_updates_and_an_endpoint_moves_to_its_new_user(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User
) -> None:
    async with app.app_context():
        browser = Browser(push_service.endpoint("shared"))
        await subscribe(alice, browser.subscription())
        rekeyed = Browser(browser.endpoint)
        await subscribe(alice, rekeyed.subscription())
        assert await PushSubscription.filter(user=alice).count() == 1
        await subscribe(bob, rekeyed.subscription())
        [row] = await PushSubscription.all()
        assert row.user_id == bob.id
        assert not await unsubscribe(alice, browser.endpoint)
        assert await unsubscribe(bob, browser.endpoint)
        assert not await PushSubscription.exists()


async def test_subscriptions_per_user_are_limited(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User
) -> None:
    app.config["PUSH_SUBSCRIPTIONS_PER_USER"] = 2
    try:
        async with app.app_context():
            await _subscribed(alice, push_service, "one")
            await _subscribed(alice, push_service, "two")
            with pytest.raises(NotificationError, match="At most 2"):
                await _subscribed(alice, push_service, "three")
            await _subscribed(alice, push_service, "two")  # the same one again is fine
    finally:
        app.config["PUSH_SUBSCRIPTIONS_PER_USER"] = 10


async def test_set_level_refuses_unknown_levels_and_outsiders(alice: User, bob: User) -> None:
    room = await join_room(alice, "secret")
    with pytest.raises(NotificationError):
        await set_level(alice, room, "loud")
    with pytest.raises(NotificationError):
        await set_level(alice, room, ["all"])
    with pytest.raises(NotificationError, match="not a member"):
        await set_level(bob, room, "all")
    assert await set_level(alice, room, "none") == "none"


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        "http://push.example.com/x",
        "ftp://push.example.com/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://10.0.0.8/x",
        "https://localhost/x",
        "https://metadata.google.internal/x",
        "https://printer.local/x",
        "https://user:pw@push.example.com/x",
        "https://push.example.com:8443/x",
        "https://push.example.com:99999/x",
        "https://push.example.com/" + "a" * 10_000,
        "https://push.example.com/\x00",
        "https://push.exämple.com/x",
        "https:///x",
    ],
)
def test_endpoints_that_are_no_push_service(endpoint: object) -> None:
    assert endpoint_problem(endpoint) is not None


def test_a_push_service_endpoint_is_fine() -> None:
    assert endpoint_problem("https://fcm.googleapis.com/fcm/send/abc:def") is None
    assert endpoint_problem("https://web.push.apple.com:443/QK3") is None
    assert endpoint_problem("http://127.0.0.1:9/push/x", allow_http=True) is None


def test_vapid_keys_are_checked() -> None:
    private, public = generate_vapid_keys()
    _, other_public = generate_vapid_keys()
    good = {"VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public, "VAPID_SUBJECT": "mailto:a@b"}
    assert vapid_keys(good) is not None
    assert vapid_keys({**good, "VAPID_SUBJECT": ""}) is None
    for bad in (
        {"VAPID_PUBLIC_KEY": other_public},
        {"VAPID_PRIVATE_KEY": "not-a-key"},
        {"VAPID_SUBJECT": "ops@example.com"},
    ):
        with pytest.raises(ValueError, match="CHAT_VAPID"):
            vapid_keys({**good, **bad})


async def test_concurrent_posts_each_push_once(
    app: Quart, vapid: Pusher, push_service: PushService, alice: User, bob: User, general: Room
) -> None:
    await _subscribed(bob, push_service)
    await _at(bob, general, "all")
    async with app.app_context():
        await asyncio.gather(
            *(post_message(alice, general, f"m{i}", uuid.uuid4().hex) for i in range(5))
        )
        await vapid.drain()
    assert len(push_service.to("bob")) == 5
