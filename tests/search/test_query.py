"""Parsing what is typed in the search box."""

from __future__ import annotations

from datetime import date

import pytest

from chat_app.search.query import QUERY_MAX_CHARS, Query, SearchError, parse
from tests.hostile import CORPUS, short


def test_words_phrases_and_filters() -> None:
    query = parse(
        'lunch "on  Friday" in:#general from:@Alice before:2026-12-01 after:2026-11-01 '
        "has:link HAS:FILE"
    )
    assert query == Query(
        terms=("lunch", "on Friday"),
        room="general",
        author="alice",
        before=date(2026, 12, 1),
        after=date(2026, 11, 1),
        has_link=True,
        has_file=True,
    )


def test_without_sigils_an_unclosed_quote_and_repeats() -> None:
    query = parse('in:general from:bob "open phrase and words  words')
    assert (query.room, query.author) == ("general", "bob")
    assert query.terms == ("open phrase and words words",)
    assert parse("ab ab abc").terms == ("ab", "abc")


def test_long_and_short_terms() -> None:
    query = parse("会議 東京タワー ok deadline")
    assert query.indexed_terms == ("東京タワー", "deadline")
    assert query.short_terms == ("会議", "ok")


def test_what_only_looks_like_a_filter_is_a_word() -> None:
    assert parse("https://example.com re:topic").terms == ("https://example.com", "re:topic")


def test_empty() -> None:
    assert parse("").is_empty and parse('   ""  ').is_empty
    assert not parse("has:link").is_empty


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("before:yesterday", "before: needs a date"),
        ("after:2026-02-30", "after: needs a date"),
        ("after:20261201", "after: needs a date"),
        ("before:\u0662\u0660\u0662\u0666-12-01", "before: needs a date"),  # Arabic-Indic digits
        ("has:image", "has: can be has:link or has:file"),
        ("in:#", "in: needs a room"),
        ("from:@", "from: needs a person"),
        ("x" * (QUERY_MAX_CHARS + 1), f"at most {QUERY_MAX_CHARS} characters"),
    ],
)
def test_errors_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(SearchError, match=says):
        parse(text)


@pytest.mark.parametrize("payload", CORPUS, ids=short)
def test_hostile_text_parses_or_is_refused_clearly(payload: str) -> None:
    try:
        query = parse(payload)
    except SearchError as error:
        assert "characters" in str(error)
        return
    for term in query.terms:
        assert "\x00" not in term and not any("\ud800" <= c <= "\udfff" for c in term)
