"""Every error of the smm-rest dialect as ``{"success": false, "error": {"code", "message"}}``.

The document's codes are used for everything they describe (see wire.DOCUMENTED_CODES); the mapping from
the shared error tree is below. Nothing escapes as a 500 with a traceback: unexpected errors are logged and
answered with SERVER_ERROR.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.entrypoints.http.dialects.smm_rest.wire import error_body

log = structlog.get_logger("vpnsmm.http")

_QUANTITY_FIELDS = {"quantity", "runs"}


def status_and_code(exc: VpnsmmError) -> tuple[int, str, str]:
    """(HTTP status, document code, message) for a shared-core error."""
    message = exc.message
    if isinstance(exc, AuthenticationError):
        return 401, "INVALID_API_KEY", "API key is invalid or expired" if exc.code != "ACCOUNT_BANNED" else message
    if isinstance(exc, PermissionDeniedError):
        return 403, "INVALID_API_KEY", message
    if isinstance(exc, RateLimitedError):
        return 429, "RATE_LIMIT_EXCEEDED", message
    if isinstance(exc, InsufficientFundsError):
        return 402, "INSUFFICIENT_BALANCE", "Your wallet balance is insufficient"
    if isinstance(exc, NotFoundError):
        code = "SERVICE_NOT_FOUND" if exc.code == "SERVICE_NOT_FOUND" else "ORDER_NOT_FOUND"
        return 404, code, message
    if isinstance(exc, ValidationError):
        if exc.code in ("INVALID_QUANTITY", "INVALID_LINK", "SERVICE_NOT_FOUND", "ORDER_NOT_FOUND"):
            return 400, exc.code, message
        if exc.field in _QUANTITY_FIELDS or exc.code == "AMOUNT_OUT_OF_RANGE":
            return 400, "INVALID_QUANTITY", message
        if exc.field == "link":
            return 400, "INVALID_LINK", message
        return 400, "VALIDATION_ERROR", message
    if isinstance(exc, InvalidTransitionError | ConflictError):
        return 409, exc.code, message
    if isinstance(exc, UpstreamError):
        status = 503 if isinstance(exc, UpstreamUnavailableError) else 502
        return status, "SERVER_ERROR", "the upstream provider could not be reached; try again later"
    return 400, "VALIDATION_ERROR", message


def _respond(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(error_body(code, message), status_code=status, headers=headers)


def handle_domain_error(_: Request[Any, Any, Any], exc: VpnsmmError) -> Response[Any]:
    status, code, message = status_and_code(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
    return _respond(status, code, message, headers)


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException):
        return _respond(401, "INVALID_API_KEY", "API key is invalid or expired")
    if isinstance(exc, ValidationException):
        return _respond(400, "VALIDATION_ERROR", "the request is not valid")
    status = exc.status_code
    if status >= 500:
        log.error("http_error", path=request.url.path, status=status)
        return _respond(500, "SERVER_ERROR", "Internal server error")
    code = {401: "INVALID_API_KEY", 404: "ORDER_NOT_FOUND", 429: "RATE_LIMIT_EXCEEDED"}.get(status,
                                                                                            "VALIDATION_ERROR")
    return _respond(status, code, str(exc.detail), exc.headers or None)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error=type(exc).__name__)
    return _respond(500, "SERVER_ERROR", "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VpnsmmError: handle_domain_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}


def early_error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """Errors raised before this router's handlers run (the rate limiter's 429, routing's 404/405 on its
    paths) in the document's ``{success: false, error: {code, message}}`` format."""
    if status == 429:
        code = "RATE_LIMIT_EXCEEDED"
    elif status == 404 and "/orders" in path:
        code = "ORDER_NOT_FOUND"
    elif status == 404 and "/services" in path:
        code = "SERVICE_NOT_FOUND"
    else:
        code = "VALIDATION_ERROR"
    return dict(error_body(code, message))
