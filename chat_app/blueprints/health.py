"""Liveness, readiness and metrics for load balancers, supervisors and Prometheus."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from hmac import compare_digest

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, abort, current_app, request

from chat_app.db import ping_database
from chat_app.logs import log_unavailable
from chat_app.realtime.broker import Broker

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> tuple[dict[str, str], int]:
    """200 while the process can serve requests."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, str], int]:
    """200 when the database answers and the broker runs; 503 (and which one failed) if not."""
    timeout: float = current_app.config["READY_TIMEOUT_SECONDS"]
    broker: Broker = current_app.extensions["broker"]
    checks = {"database": ping_database(), "broker": broker.ping()}
    status: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, timeout)
            status[name] = "ok"
        except Exception as error:  # any failure means "not ready", and says which part
            status[name] = "unavailable"
            # Probed every few seconds by each balancer: a line per part and interval.
            log_unavailable(log, name, error, event="not_ready")
    return status, 200 if all(v == "ok" for v in status.values()) else 503


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Prometheus text format; a bearer token (``CHAT_METRICS_TOKEN``) or direct loopback only."""
    token: str = current_app.config["METRICS_TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        if not compare_digest(sent.encode(), f"Bearer {token}".encode()):
            abort(401)
    elif not _is_loopback(request.remote_addr) or "X-Forwarded-For" in request.headers:
        abort(403)  # a reverse proxy on this host connects from loopback for anyone
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
