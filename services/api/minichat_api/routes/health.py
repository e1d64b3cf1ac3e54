"""Liveness and readiness probes, and the Prometheus scrape endpoint."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from sqlalchemy import text

from minichat_api.deps import StateDep

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


# Uptime checkers and load balancers probe with HEAD as often as with GET.
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
@router.head("/readyz", include_in_schema=False)
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", and the probe must still answer
        logger.warning("readiness: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    try:
        await state.streams.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        logger.warning("readiness: redis unreachable: %s", exc)
        checks["redis"] = "unreachable"
    for name, serving in state.readiness.items():
        checks[name] = "ok" if serving() else "down"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
@router.head("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    # OpenMetrics to a scraper that asks for it: the only format that carries exemplars.
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(REGISTRY), media_type=media_type)
