"""What a page says about itself, for its link preview: Open Graph first, then ``<title>``
and ``<meta name="description">``. Pure parsing (the stdlib's forgiving HTML parser); the
fetch is ``outbound``'s."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from chat_app.models.previews import DESCRIPTION_MAX, SITE_MAX, TITLE_MAX

# Control, bidirectional-override and zero-width characters: a page's title is shown to
# people who did not choose that page, so it gets no way to disguise itself.
_INVISIBLE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_META = {
    "og:title": "title",
    "twitter:title": "title",
    "og:description": "description",
    "twitter:description": "description",
    "description": "description",
    "og:site_name": "site_name",
}


@dataclass(frozen=True, slots=True)
class Card:
    """A preview's text: empty strings for what the page does not say."""

    title: str = ""
    description: str = ""
    site_name: str = ""


def tidy(text: str, most: int) -> str:
    """``text`` on one line without invisible characters, cut at ``most`` with an ellipsis."""
    line = " ".join(_INVISIBLE_RE.sub(" ", text).split())
    return line if len(line) <= most else line[: most - 1].rstrip() + "…"


class _HeadParser(HTMLParser):
    """Collects the first value of each card field; stops caring after ``</head>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self.title: list[str] | None = None  # the <title> text while inside it
        self.page_title = ""
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "title" and not self.page_title:
            self.title = []
        elif tag == "meta":
            named = {k: v or "" for k, v in attrs}
            key = (named.get("property") or named.get("name") or "").strip().lower()
            field = _META.get(key)
            if field and named.get("content") and field not in self.found:
                self.found[field] = named["content"]
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title is not None:
            self.page_title, self.title = "".join(self.title), None
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.title is not None:
            self.title.append(data)


def parse_card(page: str) -> Card:
    """The card ``page`` (HTML text) describes."""
    parser = _HeadParser()
    parser.feed(page)
    parser.close()
    found = parser.found
    return Card(
        tidy(found.get("title") or parser.page_title, TITLE_MAX),
        tidy(found.get("description", ""), DESCRIPTION_MAX),
        tidy(found.get("site_name", ""), SITE_MAX),
    )


def decode(body: bytes, charset: str | None) -> str:
    """A page's bytes as text: its declared charset, else UTF-8; bad bytes replaced."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")
