"""Mentions highlighted in a message's rendered (sanitised) HTML.

Mentions are wrapped only in the HTML's text, outside links and code (``richtext.in_text``),
where the text is escaped already: a ``@`` run of username characters (no ``&``, ``<``,
``"`` or ``'``) can never reach into an entity, a tag or an attribute, and only names the
message is known to mention (rows of the ``mentions`` table) are wrapped, so ``@<script>``
or ``@alice"onmouseover=`` stay inert text. One render serves
every viewer: ``mention-me`` is added here for a page's own viewer, and by unread.js for
pushed copies (keyed on ``data-user``).
"""

from __future__ import annotations

import re
from html import unescape

from markupsafe import Markup, escape

from chat_app.models.mentions import EVERYONE, MENTION_RE, Mentioned
from chat_app.richtext import in_text


def highlight_mentions(rendered: str, mentioned: object, viewer_id: int | None = None) -> Markup:
    """A message's ``rendered`` HTML (``richtext.render``, stored with the message) with its
    known mentions in ``<span class="mention">``."""
    if not isinstance(mentioned, Mentioned) or not (mentioned.users or mentioned.everyone):
        return Markup(rendered)  # noqa: S704 - sanitised when it was stored

    def wrap(match: re.Match[str]) -> str:
        raw = match.group(1)
        name, rest = raw, ""
        while name.lower() not in mentioned.users and name[-1:] in (".", "-"):
            name, rest = name[:-1], name[-1] + rest
        key = name.lower()
        if key == EVERYONE and mentioned.everyone:
            return f'<span class="mention mention-me" data-user="everyone">@{name}</span>{rest}'
        user_id = mentioned.users.get(key)
        if user_id is None:
            return match.group(0)
        me = " mention-me" if user_id == viewer_id else ""
        return f'<span class="mention{me}" data-user="{user_id}">@{name}</span>{rest}'

    return Markup(in_text(rendered, MENTION_RE, wrap))  # noqa: S704 - sanitised HTML, names checked


# Our own tags in escaped text: escaping leaves no other "<" in it.
TAG_RE = re.compile(r"(<[^>]*>)")


def highlight_matches(html: Markup, terms: object) -> Markup:
    """Escaped ``html`` (a message's text as the ``mentions`` filter made it) with every
    case-insensitive occurrence of ``terms`` in ``<mark>``.

    Only the text between tags is looked at, as the characters it stands for (``&amp;`` is
    one ``&``), and each piece is escaped again: a term can neither match inside a tag or an
    entity nor bring markup of its own.
    """
    words = [t for t in terms if isinstance(t, str) and t] if isinstance(terms, tuple) else []
    if not words:
        return html
    pattern = re.compile(
        "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)), re.IGNORECASE
    )
    parts = TAG_RE.split(str(html))
    for n in range(0, len(parts), 2):  # even parts are text, odd ones our tags
        text = unescape(parts[n])
        pieces, last = [], 0
        for match in pattern.finditer(text):
            pieces += [
                str(escape(text[last : match.start()])),
                f"<mark>{escape(match.group())}</mark>",
            ]
            last = match.end()
        parts[n] = "".join([*pieces, str(escape(text[last:]))])
    return Markup("".join(parts))  # noqa: S704 - every text piece escaped above


# The message partial's filters, by name: the app's templates and the bench's reference
# server render it with the same ones.
TEMPLATE_FILTERS = {"mentions": highlight_mentions, "matches": highlight_matches}
