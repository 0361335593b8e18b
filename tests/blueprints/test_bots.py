"""Bots made by admins: their rooms, tokens and the badge on their messages; incoming webhooks
with plain and Slack-style payloads, revocation, limits and hostile input."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import AccountError, authenticate
from chat_app.actions.bots import create_bot, create_webhook, webhook_text
from chat_app.actions.changes import MessageRejected
from chat_app.models import Membership, Message, Room, User, Webhook
from tests.conftest import csrf_from, log_in
from tests.hostile import CORPUS, short


@pytest.fixture
async def admin(app: Quart) -> User:
    from chat_app.actions import register_user

    return await register_user("root", "correct horse battery", is_admin=True)


@pytest.fixture
async def admin_client(app: Quart, admin: User) -> QuartClient:
    return await log_in(app, "root")


async def _form(client: QuartClient, path: str, form: dict[str, object]) -> tuple[int, str]:
    page = await (await client.get("/admin/bots")).get_data(as_text=True)
    pairs = [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
    # Encoded here: the test client's form= takes one value per field.
    body = urlencode([*pairs, ("csrf_token", csrf_from(page))])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(path, data=body, headers=headers)
    return response.status_code, await response.get_data(as_text=True)


def _shown_secret(html: str) -> str:
    found = re.search(r'id="new-secret".*?value="([^"]+)"', html, re.S)
    assert found, html
    return found.group(1)


async def test_an_admin_makes_a_bot_with_rooms_a_token_and_a_webhook(
    app: Quart, admin_client: QuartClient, alice: User, general: Room
) -> None:
    await Room.create(slug="deploys", name="Deploys")
    status, html = await _form(
        admin_client, "/admin/bots", {"username": "CI-Bot", "rooms": ["general", "deploys"]}
    )
    assert status == 201, html
    bot = await User.get(username="ci-bot")
    assert bot.is_bot
    rooms = await Membership.filter(user_id=bot.id).values_list("room__slug", flat=True)
    assert sorted(rooms) == ["deploys", "general"]  # type: ignore[type-var]
    with pytest.raises(AccountError):
        async with app.app_context():
            await authenticate("ci-bot", "!bot")

    status, html = await _form(admin_client, f"/admin/bots/{bot.id}/tokens", {"name": "deploy"})
    assert status == 201
    token = _shown_secret(html)
    api = app.test_client()
    posted = await api.post(
        "/api/v1/rooms/deploys/messages",
        json={"content": "deployed v1.2", "client_id": "deploy-0001"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert posted.status_code == 201
    assert (await posted.get_json())["author_is_bot"] is True

    status, html = await _form(admin_client, f"/admin/bots/{bot.id}/webhooks", {"room": "general"})
    assert status == 201
    url = _shown_secret(html)
    assert "/api/hooks/hook_" in url
    hook = await api.post(url.split("localhost", 1)[-1], json={"text": "build #7 passed"})
    assert hook.status_code == 200, await hook.get_data(as_text=True)
    message = await Message.get(id=(await hook.get_json())["message_id"])
    assert message.content == "build #7 passed" and message.author_id == bot.id
    # Everyone's room page marks the bot's message as a bot's.
    alice_page = await (await log_in(app, "alice")).get("/rooms/general")
    html = await alice_page.get_data(as_text=True)
    block = html[html.index(f'id="message-{message.id}"') :][:1500]
    assert 'data-role="bot"' in block


async def test_only_admins_find_the_bots_page(alice_client: QuartClient, admin: User) -> None:
    assert (await alice_client.get("/admin/bots")).status_code == 404
    page = await (await alice_client.get("/settings/tokens")).get_data(as_text=True)
    refused = await alice_client.post(
        "/admin/bots", form={"username": "sneaky", "csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 404
    assert not await User.exists(username="sneaky")


async def test_bad_bot_forms_are_explained(admin_client: QuartClient, alice: User) -> None:
    for form in ({"username": ""}, {"username": "alice"}, {"username": "x", "rooms": ["nope"]}):
        status, html = await _form(admin_client, "/admin/bots", form)
        assert status == 422, form
        assert 'id="form-error"' in html
    status, html = await _form(
        admin_client, "/admin/bots/999/outgoing", {"url": "http://169.254.169.254/"}
    )
    assert status == 422


@pytest.fixture
async def hook(app: Quart, general: Room) -> tuple[User, str]:
    bot = await create_bot(None, "ci", ["general"])
    return bot, (await create_webhook(None, bot, "general"))[1]


async def test_slack_payloads_and_forms(client: QuartClient, hook: tuple[User, str]) -> None:
    _, secret = hook
    url = f"/api/hooks/{secret}"
    slack = {
        "text": "ignored when there are blocks",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* done"}}],
    }
    attachments = {"attachments": [{"fallback": "fb", "title": "Build", "text": "green"}]}
    for body, expected in ((slack, "*Deploy* done"), (attachments, "Build\ngreen")):
        response = await client.post(url, json=body)
        assert response.status_code == 200
        stored = await Message.get(id=(await response.get_json())["message_id"])
        assert stored.content == expected
    form = await client.post(url, form={"payload": json.dumps({"text": "from a form"})})
    assert form.status_code == 200
    assert await Message.filter(content="from a form").exists()


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"text"', b'{"text": 5}', b'{"text": "  "}', b'{"blocks": "x"}'],
)
async def test_payloads_without_text_are_refused_with_a_reason(
    client: QuartClient, hook: tuple[User, str], body: bytes
) -> None:
    response = await client.post(
        f"/api/hooks/{hook[1]}", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, body
    assert (await response.get_json())["error"]["message"]
    assert not await Message.exists()


async def test_unknown_and_revoked_webhooks_are_404(
    app: Quart, client: QuartClient, hook: tuple[User, str]
) -> None:
    _, secret = hook
    for bad in ("hook_nope", "x" * 10_000, secret + "x", "%00"):
        response = await client.post(f"/api/hooks/{bad}", json={"text": "hi"})
        assert response.status_code == 404, bad
    await Webhook.all().delete()
    gone = await client.post(f"/api/hooks/{secret}", json={"text": "hi"})
    assert gone.status_code == 404
    assert (await gone.get_json())["error"]["code"] == "not_found"


async def test_a_webhook_is_rate_limited_as_its_bot(
    app: Quart, client: QuartClient, hook: tuple[User, str]
) -> None:
    app.config["MESSAGES_PER_SECOND"] = 0.01
    try:
        statuses = [
            (await client.post(f"/api/hooks/{hook[1]}", json={"text": f"n{n}"})).status_code
            for n in range(app.config["MESSAGES_BURST"] + 1)
        ]
    finally:
        app.config["MESSAGES_PER_SECOND"] = 5.0
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_text_through_a_webhook(
    client: QuartClient, hook: tuple[User, str], payload: str
) -> None:
    response = await client.post(f"/api/hooks/{hook[1]}", json={"text": payload})
    assert response.status_code in {200, 413, 422}, response.status_code
    if response.status_code == 200:
        stored = await Message.get(id=(await response.get_json())["message_id"])
        assert "\x00" not in stored.content


def test_webhook_text_reads_what_slack_would_show() -> None:
    assert webhook_text({"text": "a", "attachments": [{"pretext": "b", "fallback": "c"}]}) == "a\nb"
    assert webhook_text({"attachments": [{"fallback": "only"}]}) == "only"
    with pytest.raises(MessageRejected):
        webhook_text({"attachments": [{"color": "good"}]})
