"""The Markdown table: each construct chat supports, what stays text, and the hostile corpus,
through the one renderer (chat_app/richtext.py); mentions highlighted only in text."""

from __future__ import annotations

import re

import pytest

from chat_app.highlight import highlight_mentions
from chat_app.models.mentions import Mentioned
from chat_app.models.messages import excerpt
from chat_app.richtext import CODE_CLASS, code_css, in_text, links, plain_text, render
from tests.hostile import CORPUS, assert_inert, short

REL = 'target="_blank" rel="nofollow noopener noreferrer"'

TABLE = [
    ("**bold** __also__", "<p><strong>bold</strong> <strong>also</strong></p>"),
    ("*italic* _also_", "<p><em>italic</em> <em>also</em></p>"),
    ("~~struck~~", "<p><s>struck</s></p>"),
    ("`a < b`", "<p><code>a &lt; b</code></p>"),
    ("```\nplain <code>\n```", "<pre><code>plain &lt;code&gt;\n</code></pre>"),
    ("> quoted\n> still", "<blockquote>\n<p>quoted<br>\nstill</p>\n</blockquote>"),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    ("[site](https://example.com/a)", f'<p><a href="https://example.com/a" {REL}>site</a></p>'),
    (
        "see https://example.com/?a=1&b=2.",
        f'<p>see <a href="https://example.com/?a=1&amp;b=2" {REL}>'
        "https://example.com/?a=1&amp;b=2</a>.</p>",
    ),
    ("www.example.com", f'<p><a href="http://www.example.com" {REL}>www.example.com</a></p>'),
    ("line one\nline two", "<p>line one<br>\nline two</p>"),
    ("party :tada: `:tada:`", "<p>party 🎉 <code>:tada:</code></p>"),
    (":not_an_emoji: 10:30:00", "<p>:not_an_emoji: 10:30:00</p>"),
    ("bench:100:7 1:1234:5 :100:", "<p>bench:100:7 1:1234:5 💯</p>"),
    # Stay text in chat: headings, rules, indented code, raw HTML, reference definitions.
    ("# not a heading", "<p># not a heading</p>"),
    ("title\n===", "<p>title<br>\n===</p>"),
    ("---", "<p>---</p>"),
    ("    four spaces", "<p>four spaces</p>"),
    ("<b>raw</b>", "<p>&lt;b&gt;raw&lt;/b&gt;</p>"),
    (
        "[ref]: https://example.com",
        '<p>[ref]: <a href="https://example.com" ' + REL + ">https://example.com</a></p>",
    ),
    # An image is never loaded: its syntax is a link to it.
    (
        "![cat](https://example.com/cat.png)",
        f'<p>!<a href="https://example.com/cat.png" {REL}>cat</a></p>',
    ),
    ("mail me@example.com", "<p>mail me@example.com</p>"),
]


@pytest.mark.parametrize(("source", "html"), TABLE, ids=[s for s, _ in TABLE])
def test_each_construct_renders_as_chat_wants(source: str, html: str) -> None:
    assert render(source) == html


def test_fenced_code_with_a_known_language_is_highlighted_on_the_server() -> None:
    html = render('```python\ndef f():\n    return "<x>"\n```')
    assert html.startswith(f'<pre class="{CODE_CLASS}"><code><span class="k">def</span>')
    assert '<span class="s2">"&lt;x&gt;"</span>' in html
    assert render("```nosuchlanguage\nx\n```") == "<pre><code>x\n</code></pre>"


def test_both_themes_have_code_colours() -> None:
    css = code_css()
    assert f".{CODE_CLASS} .k" in css
    assert f'[data-theme="dark"] .{CODE_CLASS} .k' in css
    assert f':root:has(input.theme-controller[value="dark"]:checked) .{CODE_CLASS}' in css


SCRIPT_URLS = [
    "[a](javascript:alert(1))",
    "[a](JAVASCRIPT:alert(1))",
    "[a](  javascript:alert(1) )",
    "[a](java&#x09;script:alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](data:text/html,<script>alert(1)</script>)",
    "[a](vbscript:msgbox(1))",
    "[a](file:///etc/passwd)",
    "<javascript:alert(1)>",
    "![a](javascript:alert(1))",
    "[a]( <javascript:alert(1)> )",
]


@pytest.mark.parametrize("source", SCRIPT_URLS)
def test_script_and_data_urls_never_become_links(source: str) -> None:
    html = render(source)
    assert "<a " not in html, html
    assert_inert(html)


@pytest.mark.parametrize("payload", [p for p in CORPUS if len(p) < 60_000], ids=short)
def test_the_hostile_corpus_renders_inert(payload: str) -> None:
    html = render(payload)
    assert_inert(html)
    for tag in re.findall(r"<([a-z]+)", html):
        assert tag in {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "a", "span"}
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("http://", "https://", "mailto:")), href


def test_links_and_plain_text_read_the_rendered_html() -> None:
    html = render("**Look**: https://a.example/x and [b](http://b.example/) `code`\n\n- item")
    assert links(html) == ["https://a.example/x", "http://b.example/"]
    assert excerpt(plain_text(html)) == "Look: https://a.example/x and b code item"
    assert plain_text(render("a &amp; <b> &lt;")) == "a & <b> <"


def test_mentions_are_highlighted_in_text_only_never_in_code_or_links() -> None:
    mentioned = Mentioned(users={"bob": 7})
    html = render("hi @bob, `@bob` [@bob](https://x.example/@bob)\n```\n@bob\n```")
    shown = str(highlight_mentions(html, mentioned, viewer_id=7))
    assert shown.count('<span class="mention mention-me" data-user="7">@bob</span>') == 1
    assert "<code>@bob</code>" in shown
    assert '<a href="https://x.example/@bob"' in shown and ">@bob</a>" in shown
    assert "<pre><code>@bob\n</code></pre>" in shown


def test_in_text_skips_attributes_whatever_they_hold() -> None:
    html = '<p>x <a href="https://e.example/?q=x" target="_blank">x</a> x</p>'
    assert in_text(html, re.compile("x"), "y") == (
        '<p>y <a href="https://e.example/?q=x" target="_blank">x</a> y</p>'
    )


@pytest.mark.parametrize("source", ["[home](/rooms/general)", "[up](../logout)", "[q](?x=1)"])
def test_relative_links_stay_text(source: str) -> None:
    assert "<a" not in render(source)
