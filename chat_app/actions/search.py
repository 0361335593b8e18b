"""Rebuilding the search index (an operator's task: the index otherwise follows every post,
edit and deletion in their own transactions)."""

from __future__ import annotations

from collections.abc import Callable

from chat_app import search


async def rebuild_search_index(progress: Callable[[int, int], None]) -> int:
    """Index every message again; ``progress(done, total)`` as it goes. How many it covers."""
    return await search.rebuild_index(progress)
