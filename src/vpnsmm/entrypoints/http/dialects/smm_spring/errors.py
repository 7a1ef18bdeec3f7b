"""The document's Standard Error Response: ``{"error", "code", "timestamp", "path", "details"}``.

``code`` is the HTTP status (as the document shows), ``details`` maps a field to what is wrong with it
(empty when no field is to blame). Client mistakes are 4xx; a 500 never carries a traceback.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from vpnsmm.domain.errors import (
    AuthenticationError,
    RateLimitedError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.entrypoints.http.dialects.smm_spring.wire import now_iso
from vpnsmm.entrypoints.http.problems import field_of, status_for

log = structlog.get_logger("vpnsmm.http")

#: Codes whose natural status differs from their class's: a payment method that is not set up here.
_STATUS_OF_CODE = {"GATEWAY_NOT_CONFIGURED": 503}


def error_response(request: Request[Any, Any, Any], status: int, message: str,
                   details: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response[Any]:
    body = {"error": message, "code": status, "timestamp": now_iso(), "path": request.url.path,
            "details": details or {}}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _domain(request: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    status = _STATUS_OF_CODE.get(exc.code, status_for(exc))
    details: dict[str, str] = {}
    if isinstance(exc, ValidationError) and exc.field:
        details[exc.field] = exc.message
    elif "field" in exc.details:
        details[str(exc.details["field"])] = exc.message
    for key, value in exc.details.items():
        if key != "field" and isinstance(value, (str, int)) and not isinstance(value, bool):
            details.setdefault(key, str(value))
    details.setdefault("reason", exc.code)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="vpnsmm"'
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(request, status, exc.message, details, headers or None)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        details = {field_of(item): str(item.get("message", "")) for item in extra if isinstance(item, dict)}
        return error_response(request, 400, "Validation failed", details or {"body": "the request is not valid"})
    if exc.status_code >= 500:
        log.error("http_error", status=exc.status_code, detail=exc.detail)
        return error_response(request, exc.status_code, "Internal server error")
    return error_response(request, exc.status_code, str(exc.detail), headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return error_response(request, 500, "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VpnsmmError: _domain,
    HTTPException: _http,
    Exception: _unexpected,
}
