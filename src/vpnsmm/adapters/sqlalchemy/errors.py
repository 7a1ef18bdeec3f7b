"""Translate database errors into domain errors, by the constraint they name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg.exceptions import IntegrityConstraintViolationError  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from vpnsmm.domain.errors import ConflictError, UpstreamUnavailableError

# constraint or column fragment -> (field, code, message). Modules add their own with register_unique().
_UNIQUE: dict[str, tuple[str, str, str]] = {
    "username_ci": ("username", "USERNAME_TAKEN", "username is already taken"),
    "email_ci": ("email", "EMAIL_TAKEN", "email is already registered"),
    "users.telegram_id": ("telegram_id", "TELEGRAM_ID_TAKEN", "telegram_id is already linked to another user"),
    "users_telegram_id": ("telegram_id", "TELEGRAM_ID_TAKEN", "telegram_id is already linked to another user"),
}


def register_unique(fragment: str, field: str, code: str, message: str) -> None:
    """Teach the translator a unique constraint (match on a fragment of its name or ``table.column``)."""
    _UNIQUE[fragment] = (field, code, message)


def conflict_from(exc: IntegrityError | IntegrityConstraintViolationError) -> ConflictError:
    text = str(exc.orig) if isinstance(exc, IntegrityError) else f"{exc} {exc.constraint_name or ''}"
    for fragment, (field, code, message) in _UNIQUE.items():
        if fragment in text:
            return ConflictError(message, code=code, details={"field": field})
    return ConflictError("the change conflicts with existing data", code="CONFLICT")


def is_serialization_failure(exc: DBAPIError) -> bool:
    """Postgres 40001 / 40P01: the transaction may simply be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"40001", "40P01"}


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Run a block turning IntegrityError into ConflictError and lock timeouts into UpstreamUnavailableError."""
    try:
        yield
    except IntegrityError as exc:
        raise conflict_from(exc) from exc
    except IntegrityConstraintViolationError as exc:  # a statement sent to asyncpg directly (hot paths)
        raise conflict_from(exc) from exc
    except OperationalError as exc:
        if "locked" in str(exc.orig) or "timeout" in str(exc.orig).lower():
            raise UpstreamUnavailableError("the database is busy; retry shortly", code="DATABASE_BUSY") from exc
        raise
