"""``python -m bench.traced PREFIX ARGS…``: ``python -m chat_app ARGS…`` with tracemalloc on.

On SIGUSR1 the process collects its garbage and writes a tracemalloc snapshot to
``PREFIX.N.snapshot`` (N counts from 1), then ``PREFIX.N.done`` once the snapshot is complete,
so a probe can compare what the server holds at two moments (``bench/socket_memory.py``).
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from chat_app.__main__ import main

FRAMES = int(os.environ.get("CHAT_BENCH_TRACE_FRAMES", "12"))


def dump_on_signal(prefix: str) -> None:
    """Write a snapshot each time SIGUSR1 arrives."""
    numbers = itertools.count(1)

    def dump(_signum: int, _frame: FrameType | None) -> None:
        n = next(numbers)
        gc.collect()  # what a socket holds, not garbage waiting for a collection
        tracemalloc.take_snapshot().dump(f"{prefix}.{n}.snapshot")
        Path(f"{prefix}.{n}.done").touch()

    signal.signal(signal.SIGUSR1, dump)


if __name__ == "__main__":
    tracemalloc.start(FRAMES)
    dump_on_signal(sys.argv[1])
    main(sys.argv[2:])
