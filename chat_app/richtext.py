"""Chat Markdown to safe HTML, rendered once when a message is stored or edited.

markdown-it-py parses a chat-sized subset of CommonMark (no raw HTML, headings, images,
indented code, reference definitions or rules: see docs/messages.md), Pygments colours fenced
code, and nh3 (Ammonia) cleans the result again with a short allow-list: whatever the parser
let through by mistake, no tag, attribute, class or URL scheme outside that list reaches a page.
Pure functions, no database: the models store what ``render`` returns.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence

import emoji
import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

# Off: constructs that make a chat line surprising ("# 1" a heading, four spaces a code block,
# "---" a rule) or that load something (images, raw HTML).
DISABLED_RULES = (
    "heading",
    "lheading",
    "code",
    "hr",
    "reference",
    "html_block",
    "html_inline",
    "image",
)
LINK_REL = "nofollow noopener noreferrer"
CODE_CLASS = "highlight"
MAX_HIGHLIGHTED_CHARS = 20_000  # a message is at most 4,000 characters; this is a backstop

TAGS = {
    "p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span",
}  # fmt: skip
# "*": no attribute on every tag (Ammonia's defaults would let title and lang through).
ATTRIBUTES: dict[str, set[str]] = {"*": set(), "a": {"href"}, "ol": {"start"}}
# Pygments' short token classes (``k``, ``s2``, ...) are the only classes a span may carry.
CLASSES = {"span": {c for c in STANDARD_TYPES.values() if c}, "pre": {CODE_CLASS}}
BLOCKS = {"p", "br", "pre", "blockquote", "ul", "ol", "li"}  # words either side stay apart
URL_SCHEMES = {"http", "https", "mailto"}

_FORMATTER = HtmlFormatter(nowrap=True)
_TAG_RE = re.compile(r"""<(/?)([a-z]+)(?:[^>"']|"[^"]*"|'[^']*')*>""")
_HREF_RE = re.compile(r'<a href="([^"]+)"')
# A shortcode stands apart from the words around it: "10:100:20" is a time, not 💯.
_SHORTCODE_RE = re.compile(r"(?<![\w:]):[a-z0-9_+-]+:(?![\w:])", re.IGNORECASE)


def _highlight(code: str, lang: str, _attrs: object) -> str:
    """A fenced block named with a language Pygments knows, coloured; others stay plain
    (markdown-it escapes them and wraps them in ``<pre><code>``)."""
    name = lang.split()[0].lower() if lang.strip() else ""
    lexer = _lexer(name) if name and len(code) <= MAX_HIGHLIGHTED_CHARS else None
    if lexer is None:
        return ""
    body = pygments_highlight(code, lexer, _FORMATTER)
    return f'<pre class="{CODE_CLASS}"><code>{body}</code></pre>\n'


@functools.lru_cache(maxsize=128)
def _lexer(name: str) -> Lexer | None:
    """Pygments' lexer for ``name``, or None; looking one up scans every lexer Pygments has
    (a quarter of a highlighted message's cost), so each is looked up once."""
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return None


def _emoji_shortcodes(state: StateCore) -> None:
    """``:tada:`` in text becomes 🎉; code spans and blocks are other tokens and stay as
    they are."""
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "text" and ":" in child.content:
                child.content = _SHORTCODE_RE.sub(_emojize, child.content)


def _emojize(match: re.Match[str]) -> str:
    return emoji.emojize(match.group(0), language="alias")


def _absolute_link(url: str) -> bool:
    """Only absolute http(s) and mailto links become links (markdown-it checks the URL after
    normalising it: entities decoded, odd characters percent-encoded); relative ones would
    point into this site, anything else is a script or a file."""
    return url.lower().startswith(("http://", "https://", "mailto:"))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "linkify"]).disable(list(DISABLED_RULES))
    md.options["highlight"] = _highlight
    md.validateLink = _absolute_link  # type: ignore[method-assign]
    if md.linkify is not None:  # linkify-it-py is a dependency: always there
        md.linkify.set({"fuzzy_email": False})  # "name@host" is a mention more than mail
    md.core.ruler.push("emoji_shortcodes", _emoji_shortcodes)
    return md


_MD = _parser()
_CLEANER = nh3.Cleaner(
    tags=TAGS,
    attributes=ATTRIBUTES,
    allowed_classes=CLASSES,
    url_schemes=URL_SCHEMES,
    url_relative="deny",
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
)


def render(text: str) -> str:
    """The HTML of a message's Markdown ``text``: parsed without raw HTML, then sanitised."""
    # Lone surrogates (stripped before storing) cannot cross into the sanitiser's UTF-8.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CLEANER.clean(_MD.render(text)).strip()


def plain_text(rendered: str) -> str:
    """What ``rendered`` HTML reads as, without markup (quotes, notifications, excerpts)."""
    return html.unescape(_TAG_RE.sub(_gap, rendered)).strip()


def _gap(tag: re.Match[str]) -> str:
    return " " if tag.group(2) in BLOCKS else ""


def links(rendered: str) -> Sequence[str]:
    """The http(s) URLs ``rendered`` links to, in order, each once."""
    found = (html.unescape(m) for m in _HREF_RE.findall(rendered))
    return list(dict.fromkeys(u for u in found if u.startswith(("http://", "https://"))))


def in_text(rendered: str, replace: re.Pattern[str], by: object) -> str:
    """``rendered`` with ``replace`` substituted (``by`` as for ``re.sub``) only in text that
    is outside links and code: never in a tag, an attribute, a URL or a code sample."""
    parts: list[str] = []
    shielded = 0  # how many <a>, <code> or <pre> we are inside
    last = 0
    for tag in _TAG_RE.finditer(rendered):
        text = rendered[last : tag.start()]
        parts.append(text if shielded else replace.sub(by, text))  # type: ignore[call-overload]
        parts.append(tag.group(0))
        if tag.group(2) in ("a", "code", "pre"):
            shielded += -1 if tag.group(1) else 1
        last = tag.end()
    tail = rendered[last:]
    parts.append(tail if shielded else replace.sub(by, tail))  # type: ignore[call-overload]
    return "".join(parts)


LIGHT_STYLE, DARK_STYLE = "default", "github-dark"
DARK_THEME = ':root:has(input.theme-controller[value="dark"]:checked), [data-theme="dark"]'


def code_css() -> str:
    """The colours of highlighted code for both themes: the light one by default, the dark
    one when the page shows daisyUI's dark theme (``make css`` writes it to static/css)."""
    light: str = HtmlFormatter(style=LIGHT_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        f".{CODE_CLASS}"
    )
    dark: str = HtmlFormatter(style=DARK_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        [f"{scope.strip()} .{CODE_CLASS}" for scope in DARK_THEME.split(",")]
    )
    return f"/* Made by chat_app.richtext.code_css (make css). */\n{light}\n{dark}\n"
