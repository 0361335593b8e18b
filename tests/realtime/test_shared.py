"""Shared tasks: one run per key while kept, failures and expired results run again."""

from __future__ import annotations

import asyncio

import pytest

from chat_app.realtime.shared import SharedTasks


class Counted:
    """A coroutine factory that counts its runs and yields once, as a query would."""

    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail

    async def __call__(self) -> int:
        self.runs += 1
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("the database went away")
        return self.runs


async def test_askers_of_one_key_share_one_run_even_while_it_runs() -> None:
    shared = SharedTasks[str, int](kept=4)
    start = Counted()
    results = await asyncio.gather(*(shared.run("page", start) for _ in range(5)))
    assert results == [1] * 5 and start.runs == 1
    assert await shared.run("page", start) == 1 and start.runs == 1
    assert await shared.run("other page", start) == 2


async def test_a_failed_run_is_not_shared_the_next_asker_runs_it_again() -> None:
    shared = SharedTasks[str, int](kept=4)
    start = Counted(fail=True)
    with pytest.raises(ConnectionError):
        await shared.run("page", start)
    start.fail = False
    assert await shared.run("page", start) == 2


async def test_an_asker_leaving_does_not_cancel_the_run_the_others_wait_for() -> None:
    shared = SharedTasks[str, int](kept=4)
    start = Counted()
    leaving = asyncio.create_task(shared.run("page", start))
    staying = asyncio.create_task(shared.run("page", start))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == 1 and start.runs == 1


async def test_results_are_kept_for_at_most_keep_seconds_and_the_newest_kept_keys() -> None:
    shared = SharedTasks[str, int](kept=2, keep_seconds=0.05)
    start = Counted()
    await shared.run("a", start)
    await asyncio.sleep(0.1)
    assert await shared.run("a", start) == 2  # expired: read again
    await shared.run("b", start)
    await shared.run("c", start)  # a third key: "a", the oldest, is dropped
    assert await shared.run("a", start) == 5
