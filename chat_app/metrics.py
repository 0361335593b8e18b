"""Prometheus metrics of this process, served at ``/metrics``.

Each worker process has its own counters; scrape every worker (see docs/deployment.md).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

OPEN_CONNECTIONS = Gauge("parley_open_connections", "Websockets open on this process.")
MESSAGES_POSTED = Counter("parley_messages_posted", "Messages stored.")
FANOUT_SECONDS = Histogram(
    "parley_fanout_seconds",
    "Time to render a batch of messages and write them to every socket of their rooms.",
    buckets=LATENCY_BUCKETS,
)
FRAMES_SENT = Counter(
    "parley_frames_sent",
    "Websocket text frames written (one carries every fragment waiting), by path: written "
    "straight to the connection, or through the ASGI server.",
    ["path"],
)
QUEUE_DROPS = Counter("parley_queue_drops", "Sockets closed because their outbound queue was full.")
RATE_LIMITED = Counter("parley_rate_limited", "Messages refused by the per-user rate limit.")
HANDSHAKES_REJECTED = Counter(
    "parley_handshakes_rejected", "Websocket handshakes refused before accept.", ["code"]
)
ERRORS = Counter("parley_errors", "Unhandled errors in requests and websockets.", ["surface"])
