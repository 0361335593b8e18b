"""One structured ``key=value`` line per event worth knowing; never content or secrets."""

from __future__ import annotations

import json
import logging

LOG_FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Send our lines to stderr, one per event (supervisors and log shippers read it)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)


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
    pairs = "".join(f" {key}={_value(value)}" for key, value in fields.items())
    logger.log(level, "event=%s%s", event, pairs, exc_info=error)
