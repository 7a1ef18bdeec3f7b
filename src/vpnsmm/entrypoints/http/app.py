"""create_app(container) -> Litestar: the native API, health, metrics and OpenAPI docs in one app."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from vpnsmm import __version__
from vpnsmm.adapters.ratelimit.policy import parse_rate_limits
from vpnsmm.container import Container, build_job_runner, start, stop
from vpnsmm.entrypoints.http.dependencies import http_dependencies
from vpnsmm.entrypoints.http.dialects import error_bodies, mount_dialects
from vpnsmm.entrypoints.http.problems import exception_handlers, handle_http_error
from vpnsmm.entrypoints.http.ratelimit import rate_limit_middleware
from vpnsmm.entrypoints.http.routes.admin_money import AdminPaymentsController
from vpnsmm.entrypoints.http.routes.admin_users import AdminUsersController
from vpnsmm.entrypoints.http.routes.api_keys import ApiKeysController
from vpnsmm.entrypoints.http.routes.auth import AuthController
from vpnsmm.entrypoints.http.routes.health import health, liveness
from vpnsmm.entrypoints.http.routes.me import MeController
from vpnsmm.entrypoints.http.routes.money import InvoiceController, PaymentController, WalletController
from vpnsmm.entrypoints.http.routes.perfect_panel import perfect_panel_v2
from vpnsmm.entrypoints.http.routes.smm import AdminSmmController, SmmController
from vpnsmm.entrypoints.http.routes.smm_subscriptions import SmmSubscriptionController
from vpnsmm.entrypoints.http.routes.subscription import SubscriptionController
from vpnsmm.entrypoints.http.routes.vpn import AdminVpnController, CatalogueController, VpnController
from vpnsmm.entrypoints.http.routes.webhooks import WebhooksController, event_stream

log = structlog.get_logger("vpnsmm.http")

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class MetricsController(PrometheusController):
    path = "/metrics"
    openmetrics_format = False


def native_route_handlers() -> list[Any]:
    """The native API's handlers (``/v1``, ``/api/v2``, ``/sub``, health, metrics), before any dialect."""
    return [AuthController, MeController, ApiKeysController, AdminUsersController,
            WalletController, InvoiceController, PaymentController, AdminPaymentsController,
            SmmController, AdminSmmController, perfect_panel_v2, SmmSubscriptionController,
            CatalogueController, VpnController, AdminVpnController, SubscriptionController,
            WebhooksController, event_stream,
            health, liveness,
            MetricsController]


def routing_errors_in_dialect_format(bodies: Sequence[tuple[re.Pattern[str], Any]]) -> Any:
    """The app's HTTPException handler: a 404/405 on a path a dialect serves is in that dialect's error format;
    everything else is the native problem (``problems.handle_http_error``)."""
    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        if exc.status_code in (404, 405):
            render = next((r for pattern, r in bodies if pattern.match(request.url.path)), None)
            if render is not None:
                return Response(dict(render(request.url.path, exc.status_code, str(exc.detail))),
                                status_code=exc.status_code, headers=exc.headers, media_type="application/json")
        return handle_http_error(request, exc)
    return handler


def create_app(container: Container, *, manage_container: bool = True) -> Litestar:
    """The ASGI app. With ``manage_container`` the app's lifespan migrates on start and closes pools on stop."""
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if manage_container:
            await start(container)
        log.info("started", version=__version__, database=settings.effective_database_url.split("://")[0])
        # In-process job runner: the default on SQLite (no separate `vpnsmm worker` needed); see docs/deploy.md.
        jobs_stop, jobs_task = asyncio.Event(), None
        if manage_container and (settings.jobs_in_process == "on"
                                 or (settings.jobs_in_process == "auto" and settings.is_sqlite)):
            jobs_task = asyncio.create_task(build_job_runner(container).run(jobs_stop, grace=10.0))
        # Deferred /api/v2 adds are forwarded from here, in batches (application/smm.py OrderForwarder).
        forwarder, forward_stop, forward_task = container.smm_forwarder(), asyncio.Event(), None
        if settings.smm_forwarding == "deferred" and not forwarder.running:
            forward_task = asyncio.create_task(forwarder.run(forward_stop))
        try:
            yield
        finally:
            forward_stop.set()
            if forward_task is not None:
                await forward_task
            jobs_stop.set()
            if jobs_task is not None:
                await jobs_task
            if manage_container:
                await stop(container)

    async def after_request(response: Response[Any]) -> Response[Any]:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    request_log = logging.getLevelName(settings.log_level.upper()) <= logging.INFO

    async def on_request(request: Request[Any, Any, Any]) -> None:
        request.state.started = time.perf_counter()

    async def after_response(request: Request[Any, Any, Any]) -> None:
        started = getattr(request.state, "started", None)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        # Path and method only: never headers, query strings (API keys ride there) or bodies.
        log.info("request", method=request.method, path=request.url.path, ms=elapsed_ms)

    openapi = OpenAPIConfig(
        title="vpnsmm", version=__version__, path="/schema",
        description="Sell VPN subscriptions and SMM services. Native API under /v1; errors are RFC 9457 problems.",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        components=Components(security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            "ApiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
        }),
        security=[{"BearerToken": []}, {"ApiKey": []}],
    )
    prometheus = PrometheusConfig(app_name="vpnsmm", prefix="vpnsmm", group_path=True,
                                  exclude=["/metrics", "/health"])
    cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=False) \
        if settings.cors_origins else None

    native = native_route_handlers()
    # The seed documents' APIs, each a thin router at its documented paths (docs/dialects/); collisions stop startup.
    dialects = mount_dialects(settings.dialects, native=native)

    # Errors raised before a dialect's own handlers run (rate limits, 404/405 from routing) on a dialect's
    # paths are rendered in that dialect's format.
    dialect_errors = error_bodies(settings.dialects)
    middleware: list[Any] = [prometheus.middleware]
    limits = parse_rate_limits(settings.rate_limits)
    if limits.enabled:
        middleware.append(rate_limit_middleware(limits, container.rate_limit_store(), container.access_tokens(),
                                                error_bodies=dialect_errors))

    return Litestar(
        route_handlers=[*native, *dialects],
        dependencies=http_dependencies(container),
        exception_handlers={**exception_handlers, HTTPException: routing_errors_in_dialect_format(dialect_errors)},
        openapi_config=openapi,
        middleware=middleware,
        cors_config=cors,
        lifespan=[lifespan],
        after_request=after_request,
        # The per-request log line is at INFO: above that level the hooks would only measure and discard it.
        before_request=on_request if request_log else None,
        after_response=after_response if request_log else None,
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        state=None,
    )
