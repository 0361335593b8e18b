"""A corpus of hostile input, and a check that a page built from it stays inert."""

from __future__ import annotations

from html.parser import HTMLParser

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
    "x" * 4001,
    TEN_MB,
]


def short(payload: str) -> str:
    """A readable test id for a payload."""
    return ascii(payload[:30]) + (f"...({len(payload):,} chars)" if len(payload) > 30 else "")


def elements(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element (tag and attributes) a browser would build from ``page``."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(page)
    return found


def assert_inert(page: str) -> None:
    """No markup, event handler, htmx attribute or script URL from user input survived."""
    for tag, attrs in elements(page):
        assert tag not in {"style", "iframe", "object", "embed"}, tag
        named = dict(attrs)
        if tag in {"script", "img"}:
            assert (named.get("src") or "").startswith(("/static/", "data:")), attrs
        for name, value in attrs:
            value = value or ""
            assert not name.startswith("on"), (tag, name)
            if name in {"href", "src", "action", "ws-connect"}:
                assert "alert" not in value and not value.startswith("javascript:"), (name, value)
            # Our templates use no request-making htmx attributes; the ws extension's are ours.
            assert name in {"hx-ext", "hx-swap-oob"} or not name.startswith("hx-"), (name, value)
