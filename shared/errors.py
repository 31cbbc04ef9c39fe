"""Errors as JSON with a stable `code`, a human `message` and, for bad input, the `field`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

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


NUL = "\x00"
NUL_CHECK_MAX_BYTES = 1 << 20  # JSON bodies up to 1 MiB are checked (bulk imports validate their own rows)


def _nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding NUL in a parsed JSON document, else None."""
    if isinstance(value, str):
        return (path or "body") if NUL in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        child = f"{path}.{key}" if path else str(key)
        if NUL in str(key):
            return child
        if (found := _nul_path(item, child)) is not None:
            return found
    return None


class RejectNul:
    """PostgreSQL text cannot hold NUL (U+0000): refuse it up front, as a 422 naming the field, never a 500.

    Checks the path, the query string and JSON bodies (buffered, up to NUL_CHECK_MAX_BYTES); the body is
    replayed unchanged to the application.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        field = "path" if NUL in scope.get("path", "") else None
        if field is None:
            query = scope.get("query_string", b"").decode("utf-8", "replace")
            field = next((f"query.{k}" for k, v in parse_qsl(query, keep_blank_values=True) if NUL in k or NUL in v), None)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if field is None and b"json" in headers.get(b"content-type", b"") and length.isdigit() and int(length) <= NUL_CHECK_MAX_BYTES:
            messages, body = [], b""
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            if b"\\u0000" in body:
                try:
                    field = _nul_path(json.loads(body))
                except ValueError:
                    pass  # not JSON: the application answers with its own 422

            async def replay() -> dict:
                return messages.pop(0) if messages else await receive()

            receive = replay
        if field is None:
            return await self.app(scope, receive, send)
        body_out = _body("invalid_input", f"{field}: must not contain the NUL character (U+0000)", field)
        await JSONResponse(body_out, status_code=422)(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(RejectNul)

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
