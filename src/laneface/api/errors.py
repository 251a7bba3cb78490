"""Every error response is made here: one JSON shape ``{"error": code, "message": text}`` and one table
from exception class to status. Unexpected errors answer 500 with a reference id and nothing else; the
details go to the log."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from laneface.errors import (
    BiometricDataUnavailableError,
    DatabaseError,
    GalleryUnavailableError,
    IdempotencyConflictError,
    InputError,
    LanefaceError,
    RecordNotFoundError,
    ReviewConflictError,
)

__all__ = ["ERROR_RESPONSES", "ErrorBody", "install_error_handlers"]

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    error: str
    message: str
    reference: str | None = None


# (class, status, code, whether the exception's own message is shown: only for messages written for users)
_TABLE: tuple[tuple[type[Exception], int, str, bool], ...] = (
    (RecordNotFoundError, 404, "not_found", True),
    (BiometricDataUnavailableError, 404, "biometric_data_unavailable", True),
    (IdempotencyConflictError, 409, "idempotency_conflict", True),
    (ReviewConflictError, 409, "conflict", True),
    (InputError, 422, "invalid_input", True),
    (GalleryUnavailableError, 503, "gallery_unavailable", True),
    (DatabaseError, 503, "database_unavailable", False),
)
_GENERIC = {503: "the service is temporarily unavailable", 500: "internal error"}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "no or invalid credentials"),
        (403, "the caller's role may not use this endpoint"),
        (413, "request body too large"),
        (422, "invalid request"),
    )
}


def _body(status: int, code: str, message: str, reference: str | None = None) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=code, message=message, reference=reference).model_dump(exclude_none=True), status
    )


def _internal(exc: Exception, status: int = 500) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    log.error("request failed (reference %s)", reference, exc_info=exc)
    return _body(status, "internal_error" if status == 500 else "unavailable", _GENERIC[status], reference)


def _count_database_error(request: Request, kind: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)  # laneface.api.metrics.ServiceMetrics, when installed
    if metrics is not None:
        metrics.database_error(kind)


async def _laneface_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DatabaseError):
        _count_database_error(request, "unavailable")
    for cls, status, code, show in _TABLE:
        if isinstance(exc, cls):
            if show:
                return _body(status, code, str(exc))
            reference = uuid.uuid4().hex[:12]
            log.error("request failed (reference %s): %s", reference, type(exc).__name__, exc_info=exc)
            return _body(status, code, _GENERIC.get(status, "error"), reference)
    return _internal(exc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        return _internal(exc)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    response = _body(exc.status_code, code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    problems = []
    if isinstance(exc, RequestValidationError):
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
    # the offending input is never echoed (it may be a multi-megabyte image or a secret)
    return _body(422, "validation_error", "; ".join(problems) or "the request does not match the schema")


def _database_unavailable(exc: Exception) -> bool:
    """The database cannot be reached, went away mid-request, or has no free connection: a retry may succeed."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 when the database is unavailable (lanes retry), else 500; never the driver's message."""
    if not _database_unavailable(exc):
        _count_database_error(request, "other")
        return _internal(exc)
    _count_database_error(request, "unavailable")
    reference = uuid.uuid4().hex[:12]
    log.error("database unavailable (reference %s): %s", reference, type(exc).__name__, exc_info=exc)
    return _body(503, "database_unavailable", _GENERIC[503], reference)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    return _internal(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(LanefaceError, _laneface_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
