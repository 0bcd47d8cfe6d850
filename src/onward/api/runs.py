"""Runs and run steps (Assistants API v2): create (also with a new thread), list, get (long
poll for the SDK's poll helpers), modify, cancel, submit tool outputs, stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..assistants.params import (
    INCLUDABLE,
    CreateAndRun,
    MetadataUpdate,
    RunCreate,
    SubmitToolOutputs,
)
from ..engine.ratelimit import caller_of
from ..errors import invalid
from .assistants import body_of
from .deps import json, page_params, services
from .sse import sse

router = APIRouter(prefix="/v1/threads")
POLL_AFTER_MS = "200"  # the poll helpers sleep this long between GETs (each GET long-polls)


def runs(request: Request) -> Any:
    return services(request).runs


def _include(include: list[str] | None) -> list[str]:
    for i, value in enumerate(include or []):
        if value not in INCLUDABLE:
            raise invalid(f"Invalid value for include: {value!r}. Supported values: {list(INCLUDABLE)}.", f"include[{i}]")
    return include or []


def _caller(request: Request) -> str:
    """Whose rate-limit buckets the run's model turns are charged to (ratelimit.caller_of)."""
    return caller_of(request.headers.get("authorization"), bool(services(request).settings.api_keys))


def _run(body: dict[str, Any]) -> Response:
    return json(body, headers={"openai-poll-after-ms": POLL_AFTER_MS})


@router.post("/runs")
async def create_thread_and_run(request: Request) -> Response:
    params = await body_of(request, CreateAndRun)
    svc = runs(request)
    _thread, run = await svc.create_thread_and_run(params, _caller(request))
    if params.stream:
        return sse(svc.follow(run["id"], -1))
    return _run(run)


@router.post("/{thread_id}/runs")
async def create(request: Request, thread_id: str, include: list[str] | None = Query(default=None, alias="include[]")) -> Response:
    params = await body_of(request, RunCreate)
    svc = runs(request)
    run = await svc.create(thread_id, params, _include(include), _caller(request))
    if params.stream:
        return sse(svc.follow(run["id"], -1))
    return _run(run)


@router.get("/{thread_id}/runs")
async def list_runs(request: Request, thread_id: str, limit: int | None = None, order: str | None = None, after: str | None = None, before: str | None = None) -> Response:
    lim, direction = page_params(limit, order)
    return json(await runs(request).list_runs(thread_id, limit=lim, order=direction, after=after, before=before))


@router.get("/{thread_id}/runs/{run_id}")
async def get(request: Request, thread_id: str, run_id: str) -> Response:
    svc = runs(request)
    if request.headers.get("x-stainless-poll-helper") == "true":
        return _run(await svc.poll(thread_id, run_id))
    return _run(await svc.get(thread_id, run_id))


@router.post("/{thread_id}/runs/{run_id}")
async def update(request: Request, thread_id: str, run_id: str) -> Response:
    params = await body_of(request, MetadataUpdate)
    return _run(await runs(request).update(thread_id, run_id, params.metadata))


@router.post("/{thread_id}/runs/{run_id}/cancel")
async def cancel(request: Request, thread_id: str, run_id: str) -> Response:
    return _run(await runs(request).cancel(thread_id, run_id))


@router.post("/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(request: Request, thread_id: str, run_id: str) -> Response:
    params = await body_of(request, SubmitToolOutputs)
    svc = runs(request)
    last = await svc.submit(thread_id, run_id, params)
    if params.stream:
        return sse(svc.follow(run_id, last))
    return _run(await svc.get(thread_id, run_id))


@router.get("/{thread_id}/runs/{run_id}/steps")
async def list_steps(
    request: Request,
    thread_id: str,
    run_id: str,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    before: str | None = None,
    include: list[str] | None = Query(default=None, alias="include[]"),
) -> Response:
    lim, direction = page_params(limit, order)
    return json(await runs(request).list_steps(thread_id, run_id, _include(include), limit=lim, order=direction, after=after, before=before))


@router.get("/{thread_id}/runs/{run_id}/steps/{step_id}")
async def get_step(request: Request, thread_id: str, run_id: str, step_id: str, include: list[str] | None = Query(default=None, alias="include[]")) -> Response:
    return json(await runs(request).get_step(thread_id, run_id, step_id, _include(include)))
