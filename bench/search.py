"""Search speed on a large history: ``python -m bench.search``.

Builds a fresh database of each kind with rooms holding ``--messages`` messages of chat text
in seven languages (bench/chatter.py), where the viewer belongs to most rooms but not all,
then times ``chat_app.search.search`` (parse excluded; the match, the permission check and
loading the page's messages for their partial included) for a one-word, a two-word, a
partial-word and a CJK query, each without and with a filter, plus a short-word and a no-hit
query. Also reports the index's size and what it adds to posting a message (the
``post_message`` action with and without the index).

    python -m bench.search                          # 1,000,000 messages, both databases
    python -m bench.search --messages 20000 --database sqlite --repeat 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from argon2 import PasswordHasher
from tortoise import connections
from tortoise.transactions import in_transaction

from bench.chatter import messages
from bench.population import database
from chat_app import create_app
from chat_app import search as search_package
from chat_app.actions import accounts, post_message, register_user
from chat_app.actions.search import rebuild_search_index
from chat_app.models import Membership, Room, User
from chat_app.models.messages import new_client_id
from chat_app.search import parse, search

ROOMS = 20
HIDDEN_ROOMS = 5  # rooms the viewer is not in: their messages must cost nothing and show never
USERS = 40
PAGE = 20
QUERIES = (
    ("one word", "roadmap"),
    ("two words", "project deadline"),
    ("partial word", "eadlin"),
    ("CJK", "会議室"),
)
EXTRA = (
    ("short word (scan)", "東京"),
    ("no hit", "xylophone"),
    ("has:link only", "has:link"),
)
FILTERED = " in:#room-03"  # one room of twenty: the index finds many more than it keeps
TARGET_P99_MS = 50.0
POSTS = 200


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def _people() -> tuple[User, list[User], list[Room]]:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with mock.patch.object(accounts, "_hasher", cheap):
        users = [await register_user(f"user{n:02d}", "bench password") for n in range(USERS)]
    rooms = [await Room.create(slug=f"room-{n:02d}", name=f"Room {n:02d}") for n in range(ROOMS)]
    viewer = users[0]
    await Membership.bulk_create(
        [
            Membership(user_id=user.id, room_id=room.id)
            for n, room in enumerate(rooms)
            for user in users
            if not (user is viewer and n >= ROOMS - HIDDEN_ROOMS)
        ]
    )
    return viewer, users, rooms


def _rows(count: int, users: list[User], rooms: list[Room]) -> list[tuple[Any, ...]]:
    text = messages(seed=16, mentionable=[u.username for u in users])
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    picks = itertools.cycle(range(7919))  # spread over rooms and authors without randomness
    rows = []
    for n in range(count):
        k = next(picks)
        rows.append(
            (
                rooms[k % len(rooms)].id,
                users[k % len(users)].id,
                next(text),
                f"b{n:010d}",
                start + step * n,
            )
        )
    return rows


async def _load(kind: str, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Insert ``rows``; on PostgreSQL without the index, built afterwards by the rebuild task
    (as an operator would after a bulk import). Seconds taken."""
    conn = connections.get("default")
    columns = ["room_id", "author_id", "content", "client_id", "created_at"]
    started = time.perf_counter()
    if kind == "postgres":
        await conn.execute_script("DROP INDEX messages_content_trgm")
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table("messages", records=rows, columns=columns)
        loaded = time.perf_counter()
        await rebuild_search_index(lambda done, total: None)
        await conn.execute_script("ANALYZE")
        return {"load_s": loaded - started, "index_build_s": time.perf_counter() - loaded}
    # SQLite: the triggers index each row as it is inserted, as posting does.
    sql = f"INSERT INTO messages ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?)"
    for first in range(0, len(rows), 20_000):
        async with in_transaction() as tx:
            batch = [(*row[:4], row[4].isoformat(sep=" ")) for row in rows[first : first + 20_000]]
            await tx.execute_many(sql, batch)
    await conn.execute_script("ANALYZE")
    return {"load_s": time.perf_counter() - started, "index_build_s": 0.0}


async def _index_size(kind: str) -> dict[str, int]:
    conn = connections.get("default")
    if kind == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT pg_relation_size('messages_content_trgm') AS idx, "
            "pg_total_relation_size('messages') - pg_indexes_size('messages') AS tbl"
        )
    else:
        rows = await conn.execute_query_dict(
            "SELECT (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%') AS idx, "
            "(SELECT sum(pgsize) FROM dbstat WHERE name = 'messages') AS tbl"
        )
    return {"index_bytes": int(rows[0]["idx"]), "messages_table_bytes": int(rows[0]["tbl"])}


@contextlib.contextmanager
def _timing_matches(samples: list[float]) -> Iterator[None]:
    """Record how long the dialect's index query alone takes (the rest is loading the page's
    messages for their partial)."""
    module = search_package.postgres if _is_postgres() else search_package.sqlite
    real = module.matching_ids

    async def timed(criteria: Any) -> list[int]:
        began = time.perf_counter()
        try:
            return await real(criteria)
        finally:
            samples.append((time.perf_counter() - began) * 1000)

    with mock.patch.object(module, "matching_ids", timed):
        yield


def _is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def _time_queries(viewer: User, repeat: int, hidden: set[int]) -> list[dict[str, Any]]:
    results = []
    cases = [(name, text) for name, text in QUERIES]
    cases += [(f"{name}, filtered", text + FILTERED) for name, text in QUERIES]
    cases += list(EXTRA)
    for name, text in cases:
        query = parse(text)
        found = await search(viewer.id, query, None, PAGE)  # warm: the first run reads pages
        leaked = [m.id for m in found.messages if m.room_id in hidden]
        if leaked:
            raise AssertionError(f"{text!r} found messages of rooms the viewer is not in")
        samples, matching = [], []
        with _timing_matches(matching):
            for _ in range(repeat):
                began = time.perf_counter()
                await search(viewer.id, query, None, PAGE)
                samples.append((time.perf_counter() - began) * 1000)
        results.append(
            {
                "query": name,
                "text": text,
                "results": len(found.messages),
                "p50_ms": statistics.median(samples),
                "p99_ms": percentile(samples, 99),
                "match_p50_ms": statistics.median(matching) if matching else 0.0,
                "match_p99_ms": percentile(matching, 99) if matching else 0.0,
            }
        )
    return results


async def _post_cost(kind: str, author: User, room: Room) -> dict[str, float]:
    """Median ``post_message`` time with the index, then without it (dropped at the end)."""

    async def posts() -> float:
        samples = []
        for n in range(POSTS):
            began = time.perf_counter()
            await post_message(author, room, f"bench post {n} about the roadmap", new_client_id())
            samples.append((time.perf_counter() - began) * 1000)
        return statistics.median(samples)

    with_index = await posts()
    conn = connections.get("default")
    if kind == "postgres":
        await conn.execute_script("DROP INDEX messages_content_trgm")
    else:
        await conn.execute_script(
            "DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; "
            "DROP TRIGGER message_search_delete;"
        )
    without = await posts()
    return {"post_with_index_ms": with_index, "post_without_index_ms": without}


async def run_one(kind: str, count: int, repeat: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Build, measure and drop one database of ``kind``."""
    async with database(kind) as url:
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "MESSAGES_PER_SECOND": 100_000,
                "MESSAGES_BURST": 100_000,
            }
        )
        async with app.test_app(), app.app_context():
            viewer, users, rooms = await _people()
            say(f"{kind}: generating {count:,} messages")
            rows = _rows(count, users, rooms)
            say(f"{kind}: loading")
            timings = await _load(kind, rows)
            del rows
            say(f"{kind}: loaded in {timings['load_s']:.0f} s; timing queries")
            hidden = {room.id for room in rooms[ROOMS - HIDDEN_ROOMS :]}
            queries = await _time_queries(viewer, repeat, hidden)
            size = await _index_size(kind)
            posting = await _post_cost(kind, users[1], rooms[0])
    return {"database": kind, "messages": count, **timings, **size, **posting, "queries": queries}


def table(report: dict[str, Any]) -> str:
    """One database's results as Markdown."""
    lines = [
        f"**{report['database']}**, {report['messages']:,} messages "
        f"(index {report['index_bytes'] / 2**20:,.0f} MiB beside "
        f"{report['messages_table_bytes'] / 2**20:,.0f} MiB of messages; posting "
        f"{report['post_with_index_ms']:.2f} ms with the index, "
        f"{report['post_without_index_ms']:.2f} ms without)",
        "",
        "| query | text | results | p50 ms | p99 ms | p99 ≤ 50 ms | index query p50 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in report["queries"]:
        met = "yes" if q["p99_ms"] <= TARGET_P99_MS else "**no**"
        lines.append(
            f"| {q['query']} | `{q['text']}` | {q['results']} | {q['p50_ms']:.1f} | "
            f"{q['p99_ms']:.1f} | {met} | {q['match_p50_ms']:.1f} / {q['match_p99_ms']:.1f} |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one database and print its table."""
    load_before = os.getloadavg()
    report = await run_one(args.database, args.messages, args.repeat, print)
    report["load_average"] = [load_before, os.getloadavg()]
    print(table(report), flush=True)
    print(f"load average (1, 5, 15 min) before {load_before}, after {os.getloadavg()}")
    return report


def each_database(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Both databases, each in a process of its own (Tortoise keeps per-dialect state for the
    life of a process)."""
    reports = []
    for kind in ("sqlite", "postgres"):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "report.json"
            command = [sys.executable, "-m", "bench.search", "--database", kind]
            command += ["--messages", str(args.messages), "--repeat", str(args.repeat)]
            subprocess.run([*command, "--json", str(out)], check=True)
            reports += json.loads(out.read_text())["reports"]
    return reports


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--json", type=Path, help="write the results here too")
    arguments = parser.parse_args()
    if arguments.database == "both":
        found = each_database(arguments)
    else:
        found = [asyncio.run(main(arguments))]
    if arguments.json:
        arguments.json.write_text(json.dumps({"reports": found}, indent=2))
