"""Every failure a client can cause leaves as a 4xx in OpenAI's error envelope."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..errors import APIError, validation_error
from .guard import check_json

log = logging.getLogger("onward.api")


def error_response(exc: APIError) -> Response:
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json", headers=exc.headers or None)


def from_validation(exc: ValidationError | RequestValidationError) -> APIError:
    """Turn pydantic's first error into OpenAI's wording, naming the field."""
    return validation_error(exc.errors())


def parse_json(raw: bytes) -> Any:
    """The parsed body; 400 for bad JSON or what `guard.check_json` refuses (NUL, depth, int64)."""
    if not raw:
        raise APIError(400, "The request body is empty; send a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise APIError(
            400,
            f"We could not parse the JSON body of your request ({exc}). Send valid JSON with 'Content-Type: application/json'.",
            code="invalid_json",
        ) from exc
    check_json(raw, body)
    return body


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body; an empty body is an empty object."""
    raw = await request.body()
    body = parse_json(raw) if raw else {}
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.", code="invalid_type")
    return body


def validate(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.", code="invalid_type")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from exc


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(from_validation(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            err = APIError(404, f"Invalid URL ({_request.method} {_request.url.path}).", code="unknown_url")
        elif exc.status_code == 405:
            err = APIError(405, f"Method {_request.method} is not allowed on {_request.url.path}.", code="method_not_allowed")
        else:
            err = APIError(exc.status_code, str(exc.detail))
        return error_response(err)

    app.exception_handler(Exception)(unexpected)


async def unexpected(request: Request, exc: Exception) -> Response:
    """A 500 in OpenAI's envelope for an error no handler expected (logged with its trace)."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(APIError(500, f"The server had an error while processing your request ({type(exc).__name__}). This is a bug in Onward; please report it."))
