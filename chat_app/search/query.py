"""What a search box's text asks for: words and quoted phrases, and the filters ``in:#room``,
``from:@person``, ``before:YYYY-MM-DD``, ``after:YYYY-MM-DD``, ``has:link`` and ``has:file``.

Parsing knows nothing of the database: it only checks that the text is well formed, and says
what is wrong when it is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

QUERY_MAX_CHARS = 256
# The trigram indexes find only terms of at least this many characters; shorter ones are
# matched by scanning (see docs/search.md).
TRIGRAM = 3
# Invisible characters mean nothing in a search (and NUL or a lone surrogate would be a
# database error): the same set that posting strips.
INVISIBLE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# A quoted phrase (the closing quote may be missing), or a run of anything else.
TOKEN_RE = re.compile(r'"([^"]*)"?|(\S+)')
FILTER_RE = re.compile(r"^(in|from|before|after|has):(.*)$", re.IGNORECASE)
HAS_VALUES = ("link", "file")
DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class SearchError(ValueError):
    """The search text cannot be understood; the message says why, for the person typing."""


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: the terms every result contains (case-insensitively, anywhere in the
    text) and the filters it must pass."""

    terms: tuple[str, ...] = ()
    room: str | None = None  # a room's slug, from in:#slug
    author: str | None = None  # a username, from from:@name
    before: date | None = None  # posted before this day began (UTC)
    after: date | None = None  # posted after this day ended (UTC)
    has_link: bool = False
    has_file: bool = False

    @property
    def is_empty(self) -> bool:
        """Whether it asks for nothing at all (an empty box)."""
        return self == Query()

    @property
    def indexed_terms(self) -> tuple[str, ...]:
        """The terms long enough for a trigram index."""
        return tuple(t for t in self.terms if len(t) >= TRIGRAM)

    @property
    def short_terms(self) -> tuple[str, ...]:
        """The terms too short for a trigram index: they only filter what else matched."""
        return tuple(t for t in self.terms if len(t) < TRIGRAM)


def _day(name: str, value: str) -> date:
    if DAY_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            pass
    raise SearchError(f"{name}: needs a date like 2026-12-01, not {value!r}.")


def parse(text: str) -> Query:
    """The query ``text`` asks for, or SearchError saying what is wrong with it."""
    text = INVISIBLE_RE.sub("", text)
    if len(text) > QUERY_MAX_CHARS:
        raise SearchError(
            f"Searches are at most {QUERY_MAX_CHARS} characters; this one has {len(text):,}."
        )
    terms: list[str] = []
    found: dict[str, object] = {}
    for match in TOKEN_RE.finditer(text):
        phrase, word = match.groups()
        if phrase is not None:
            phrase = " ".join(phrase.split())
            if phrase:
                terms.append(phrase)
            continue
        special = FILTER_RE.match(word)
        if special is None:
            terms.append(word)
            continue
        name, value = special.group(1).lower(), special.group(2)
        if name == "in":
            slug = value.removeprefix("#")
            if not slug:
                raise SearchError("in: needs a room, like in:#general.")
            found["room"] = slug
        elif name == "from":
            person = value.removeprefix("@").lower()
            if not person:
                raise SearchError("from: needs a person, like from:@alice.")
            found["author"] = person
        elif name in ("before", "after"):
            found[name] = _day(name, value)
        elif value.lower() in HAS_VALUES:
            found[f"has_{value.lower()}"] = True
        else:
            raise SearchError(f"has: can be has:link or has:file, not has:{value}.")
    return Query(terms=tuple(dict.fromkeys(terms)), **found)  # type: ignore[arg-type]
