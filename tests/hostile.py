"""A corpus of hostile input, and a check that a page built from it stays inert."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from quart.testing import QuartClient
from werkzeug.wrappers import Response

from chat_app.actions.messages import INVISIBLE_RE
from chat_app.models import Message
from chat_app.models.messages import CLIENT_ID_RE
from chat_app.richtext import render
from tests.blueprints.test_live import parse_elements, receive
from tests.conftest import csrf_from

TEN_MB = "x" * 10_000_000

CORPUS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<div hx-get="/logout" hx-trigger="load">click</div>',
    '<form hx-post="/logout/everywhere" hx-trigger="every 1s"><button>x</button></form>',
    '"><svg onload=alert(1)>',
    "' autofocus onfocus='alert(1)",
    "</textarea><script>alert(1)</script>",
    "javascript:alert(1)",
    "{{ 7*7 }} {% raw %} ${7*7}",
    "<!-- --><style>*{display:none}</style>",
    "\u202egnp.exe",  # RTL override: "exe.png" read backwards
    "a\u200b\u200c\u200d\u2060\ufeffb",  # zero-width characters
    "\u2066isolate\u2069 \u202dforce\u202c",
    "nul\x00byte",
    "bell\x07 escape\x1b[2J del\x7f c1\x85",
    "lone \ud800 surrogate \udfff",
    "\U0001f469\u200d\U0001f4bb \u0645\u0631\u062d\u0628\u0627",
    # Markdown that tries to become markup, a script URL or an image (chat_app/richtext.py).
    "[click](javascript:alert(1)) [x](JaVaScRiPt:alert(1)) [y](java\tscript:alert(1))",
    "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [v](vbscript:alert(1))",
    "<javascript:alert(1)> ![i](javascript:alert(1)) ![j](http://x.test/a.png)",
    '[t](http://x.test/" onmouseover="alert(1)) [u](<http://x.test/a> "t" onclick=alert(1)")',
    '```"><script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```',
    "`<svg onload=alert(1)>` **<b onclick=alert(1)>x</b>** > <iframe src=//x.test>",
    "[a](http://x.test/)<style>*{display:none}</style> :tada: @<script>",
    "x" * 4001,
    TEN_MB,
]


def short(payload: str) -> str:
    """A readable test id for a payload."""
    return ascii(payload[:30]) + (f"...({len(payload):,} chars)" if len(payload) > 30 else "")


def assert_inert(page: str) -> None:
    """No markup, event handler, htmx attribute or script URL from user input survived."""
    for tag, attrs in parse_elements(page):
        assert tag not in {"style", "iframe", "object", "embed"}, tag
        named = dict(attrs)
        if tag in {"script", "img"}:
            assert (named.get("src") or "").startswith(("/static/", "data:")), attrs
        for name, value in attrs:
            value = value or ""
            assert not name.startswith("on"), (tag, name)
            if name in {"href", "src", "action", "ws-connect"}:
                assert "alert" not in value and not value.startswith("javascript:"), (name, value)
            if name.startswith("hx-"):  # ours are fine; the corpus's aim at /logout
                assert "logout" not in value and "alert" not in value, (name, value)
                assert value not in {"load", "every 1s"}, (name, value)


async def post_form(client: QuartClient, page: str, path: str, fields: dict[str, str]) -> Response:
    """Submit a form as a browser would, with the page's token. Lone surrogates go out as the
    (invalid) UTF-8 bytes a broken client would send."""
    token = csrf_from(await (await client.get(page)).get_data(as_text=True))
    body = urlencode(fields | {"csrf_token": token}, errors="surrogatepass")
    return await client.post(
        path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


def assert_valid_messages(messages: list[Message], room_id: int, author_id: int) -> None:
    """What validation promises about every stored message."""
    for message in messages:
        assert 0 < len(message.content) <= 4000, len(message.content)
        assert message.content == message.content.strip()
        assert not INVISIBLE_RE.search(message.content), ascii(message.content[:80])
        assert CLIENT_ID_RE.fullmatch(message.client_id), message.client_id
        assert (message.room_id, message.author_id) == (room_id, author_id)
        assert message.content_html == render(message.content)  # rendered once, when stored
        assert_inert(message.content_html)


# What answers a frame: a notice, the composer back with the reason, or the sender's own copy.
ANSWERS = ('id="notice"', 'id="composer"', 'id="messages"')


async def answer(ws, markers: tuple[str, ...] = ANSWERS) -> str:  # type: ignore[no-untyped-def]
    """Frames from the server until one carries an answer to what we sent; all joined."""
    seen = ""
    async with asyncio.timeout(10):
        while not any(marker in seen for marker in markers):
            seen += await receive(ws)
    return seen
