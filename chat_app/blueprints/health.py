"""Liveness for load balancers and supervisors."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> tuple[dict[str, str], int]:
    """200 while the process can serve requests."""
    return {"status": "ok"}, 200
