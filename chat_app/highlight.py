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

from markupsafe import Markup

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
