"""One error body for the native API: RFC 9457 problem details with field errors.

``{"type", "title", "status", "detail", "code", "errors": [{"field", "message"}]}`` served as
``application/problem+json``. Client mistakes are 4xx; a 500 never carries a traceback.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)

log = structlog.get_logger("vpnsmm.http")
PROBLEM_JSON = "application/problem+json"

#: Domain/application error class -> HTTP status. The first matching base class wins.
STATUS_OF: list[tuple[type[VpnsmmError], int]] = [
    (ValidationError, 400),
    (AuthenticationError, 401),
    (InsufficientFundsError, 402),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidTransitionError, 409),
    (RateLimitedError, 429),
    (UpstreamRejectedError, 502),
    (UpstreamUnavailableError, 503),
]

_TITLES = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def status_for(exc: VpnsmmError) -> int:
    return next((status for cls, status in STATUS_OF if isinstance(exc, cls)), 400)


def problem(status: int, detail: str, *, code: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_domain_error(_: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    status = status_for(exc)
    errors = None
    if isinstance(exc, ValidationError) and exc.field:
        errors = [{"field": exc.field, "message": exc.message}]
    elif "field" in exc.details:
        errors = [{"field": str(exc.details["field"]), "message": exc.message}]
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="vpnsmm"'
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    extra = {k: v for k, v in exc.details.items() if k != "field"} or None
    return problem(status, exc.message, code=exc.code, errors=errors, headers=headers or None, extra=extra)


def field_of(item: dict[str, Any]) -> str:
    """The request field a Litestar/msgspec validation item is about (``body`` when none is named)."""
    key = str(item.get("key") or "")
    message = str(item.get("message", ""))
    # msgspec says e.g. "Expected `str`, got `int` - at `$.username`" or "Object missing required field `x`"
    if "field `" in message:
        return message.split("field `", 1)[1].split("`", 1)[0]
    if "at `$." in message:
        return message.rsplit("at `$.", 1)[1].rstrip("`")
    return key if key and key != "data" else "body"


def handle_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        errors = [{"field": field_of(item), "message": str(item.get("message", ""))}
                  for item in extra if isinstance(item, dict)]
        return problem(400, "the request is not valid", code="VALIDATION_ERROR", errors=errors or None)
    code = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
            413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "RATE_LIMITED"}.get(status, "HTTP_ERROR")
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
        return problem(status, "internal error", code="INTERNAL_ERROR")
    return problem(status, str(exc.detail), code=code, headers=exc.headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "internal error", code="INTERNAL_ERROR")


exception_handlers: dict[Any, Any] = {
    VpnsmmError: handle_domain_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}

__all__ = ["PROBLEM_JSON", "MediaType", "exception_handlers", "problem", "status_for"]
