"""One structured ``key=value`` line per event worth knowing; never content or secrets."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

LOG_FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
# While the database is away every attempt fails the same way, many times a second
# (frames, retries, housekeeping, the pool): one line per place and kind of failure per
# interval says as much.
UNAVAILABLE_LOG_SECONDS = 30.0


def configure_logging(level: int = logging.INFO) -> None:
    """Send our lines to stderr, one per event (supervisors and log shippers read it)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("asyncpg.pool").addFilter(_POOL_RETRIES)


def _value(value: object) -> str:
    text = "-" if value is None else str(value)
    # Quote only what would break ``key=value`` parsing, so ordinary lines stay readable.
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


def log_event(
    logger: logging.Logger,
    event: str,
    level: int = logging.INFO,
    error: BaseException | None = None,
    **fields: object,
) -> None:
    """Log ``event=<event> k=v ...``. Callers pass ids and codes, never message text.

    With ``error``, its type is a field and its traceback follows the line.
    """
    if not logger.isEnabledFor(level):
        return
    if error is not None:
        fields["error"] = type(error).__name__
    logger.log(level, "event=%s%s", event, _pairs(fields), exc_info=error)


def _pairs(fields: dict[str, object]) -> str:
    return "".join(f" {key}={_value(value)}" for key, value in fields.items())


class RateLimitedLog:
    """At most one line per key every ``interval`` seconds, never a traceback.

    The first failure of a kind is logged at once; repeats within the interval are counted,
    and the next line of that key says how many were held back (``suppressed=N``).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[tuple[str, ...], float] = {}
        self._held: dict[tuple[str, ...], int] = {}

    def log(
        self,
        logger: logging.Logger,
        event: str,
        key: tuple[str, ...],
        fields: dict[str, object],
        level: int = logging.WARNING,
    ) -> bool:
        """Log ``event`` with ``fields`` unless ``(event, *key)`` was logged within the
        interval; True if a line was written."""
        full_key = (event, *key)
        now = self._clock()
        last = self._last.get(full_key)
        if last is not None and now - last < self.interval:
            self._held[full_key] = self._held.get(full_key, 0) + 1
            return False
        self._last[full_key] = now
        suppressed = self._held.pop(full_key, 0)
        logger.log(level, "event=%s%s", event, _pairs({**fields, "suppressed": suppressed}))
        return True


_unavailable = RateLimitedLog(UNAVAILABLE_LOG_SECONDS)


def log_unavailable(
    logger: logging.Logger,
    where: str,
    error: BaseException,
    event: str = "db.unavailable",
    **fields: object,
) -> None:
    """``event=db.unavailable where=<where> kind=<error type> reason=...``: once per place and
    kind of error every UNAVAILABLE_LOG_SECONDS (the repeats counted), no traceback.
    ``event`` names another service that is away (the broker)."""
    kind = type(error).__name__
    reason = str(error)[:200]
    line = {"where": where, "kind": kind, "reason": reason, **fields}
    _unavailable.log(logger, event, (where, kind), line)


class _PoolRetryFilter(logging.Filter):
    """asyncpg's pool logs a warning with a traceback each time it fails to reconnect its
    idle connections (every 1 s, 2 s, … 60 s while the database is away): one
    ``db.unavailable`` line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Failed to restore the pool connection floor"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        log_unavailable(
            logging.getLogger("chat_app.db"), "pool", error or ConnectionError(record.msg)
        )
        return False


_POOL_RETRIES = _PoolRetryFilter()
