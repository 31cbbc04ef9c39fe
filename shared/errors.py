"""Errors as JSON with a stable `code`, a human `message` and, for bad input, the `field`."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.code
        self.status = status or self.status


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def _body(code: str, message: str, field: str | None = None, **extra: object) -> dict:
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    body.update(extra)
    return body


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(
            _body("invalid_input", f"{first['field']}: {first['message']}", first["field"], errors=errors),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body(f"http_{exc.status_code}", str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        from shared.consumer import is_transient

        if is_transient(exc):
            return JSONResponse(_body("unavailable", "a backing service is unreachable; retry later"), status_code=503)
        log.exception("unhandled error")
        return JSONResponse(_body("internal", "internal error"), status_code=500)
