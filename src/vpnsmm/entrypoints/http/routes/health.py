"""/health: liveness and readiness (the database answers)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from vpnsmm import __version__
from vpnsmm.application.ports.persistence import UnitOfWorkFactory
from vpnsmm.entrypoints.http.schemas import HealthOut


@get("/health", operation_id="Health", tags=["health"], security=[], exclude_from_auth=True)
async def health(uow: UnitOfWorkFactory) -> Response[Any]:
    """200 when the process is up and the database answers; 503 (same body shape) when the database does not."""
    try:
        await uow.ping()
        db = "ok"
    except Exception as exc:
        db = f"error: {type(exc).__name__}"
    body = HealthOut(status="ok" if db == "ok" else "degraded", version=__version__, checks={"database": db})
    return Response(body, status_code=200 if db == "ok" else 503)


@get("/health/live", operation_id="Liveness", tags=["health"], security=[])
async def liveness() -> dict[str, str]:
    """200 while the process serves requests; checks nothing else."""
    return {"status": "ok"}
