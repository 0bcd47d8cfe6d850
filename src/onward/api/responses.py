"""/v1/responses: create (JSON, SSE, background), get (and resume its stream), delete,
cancel, input items, compact, input token counts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..engine.params import CompactRequest, CreateResponse, InputTokensRequest
from ..engine.ratelimit import caller_of
from ..errors import invalid
from .deps import json, page_params, services
from .errors import parse_json, validate
from .sse import DONE, frame, sse, sse_events

router = APIRouter()


@router.post("/v1/responses")
async def create_response(request: Request) -> Response:
    params = validate(CreateResponse, parse_json(await request.body()))
    svc = services(request).responses
    caller = _caller(request)
    prep = await svc.prepare(params, caller=caller)
    if prep.background:
        first = await svc.enqueue(prep)
        reply = json(prep.body) if not prep.stream else sse(_follow(svc, prep.body["id"], first))
    elif prep.stream:
        reply = sse_events(svc.run_inline(prep))
    else:
        reply = json(await svc.create(prep))
    reply.headers.update(prep.rate_headers)  # x-ratelimit-*, as OpenAI sends them
    return reply


async def _follow(svc, response_id: str, first: list[tuple[int, bytes, str]]) -> AsyncIterator[bytes]:
    for _seq, data, kind in first:
        yield frame(kind, data)
    async for kind, data in svc.stream_stored(response_id, first[-1][0]):
        yield frame(kind, data)
    yield DONE


@router.get("/v1/responses/{response_id}")
async def get_response(
    request: Request,
    response_id: str,
    stream: bool = False,
    starting_after: int | None = Query(default=None, ge=-1, le=2**31 - 1),  # an INTEGER column
    include: list[str] | None = Query(default=None, alias="include[]"),
) -> Response:
    svc = services(request).responses
    if stream:
        body = await svc.get(response_id)  # 404 before the stream starts
        if not body.get("background"):
            raise invalid("Only background responses can be streamed again; this one was not created with background=true.", "stream")

        async def chunks() -> AsyncIterator[bytes]:
            async for kind, data in svc.stream_stored(response_id, -1 if starting_after is None else starting_after):
                yield frame(kind, data)
            yield DONE

        return sse(chunks())
    return json(await svc.get(response_id))


@router.delete("/v1/responses/{response_id}")
async def delete_response(request: Request, response_id: str) -> Response:
    return json(await services(request).responses.delete(response_id))


@router.post("/v1/responses/{response_id}/cancel")
async def cancel_response(request: Request, response_id: str) -> Response:
    return json(await services(request).responses.cancel(response_id))


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    request: Request,
    response_id: str,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).responses.input_items(response_id, limit=lim, order=direction, after=after, before=before))


@router.post("/v1/responses/compact")
async def compact(request: Request) -> Response:
    params = validate(CompactRequest, parse_json(await request.body()))
    body, headers = await services(request).responses.compact(params, _caller(request))
    reply = json(body)
    reply.headers.update(headers)  # x-ratelimit-*, as for a response
    return reply


@router.post("/v1/responses/input_tokens")
async def input_tokens(request: Request) -> Response:
    params = validate(InputTokensRequest, parse_json(await request.body()))
    return json(await services(request).responses.count_input_tokens(params))


def _caller(request: Request) -> str:
    """The rate-limit bucket owner of this request (ratelimit.caller_of)."""
    return caller_of(request.headers.get("authorization"), bool(services(request).settings.api_keys))
