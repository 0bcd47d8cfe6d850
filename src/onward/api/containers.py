"""/v1/containers: containers for the code interpreter, their files and the files' bytes."""

from __future__ import annotations

import contextlib
import mimetypes
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import invalid, reject_unknown
from .deps import json, page_params, services
from .errors import read_object
from .files import MultipartReader

router = APIRouter(prefix="/v1/containers")


@router.post("")
async def create(request: Request) -> Response:
    return json(await services(request).containers.create(await read_object(request)))


@router.get("")
async def list_containers(request: Request, limit: int | None = None, order: str | None = None, after: str | None = None, name: str | None = None) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).containers.list(limit=lim, order=direction, after=after, name=name))


@router.get("/{container_id}")
async def get(request: Request, container_id: str) -> Response:
    return json(await services(request).containers.get(container_id))


@router.delete("/{container_id}")
async def delete(request: Request, container_id: str) -> Response:
    return json(await services(request).containers.delete(container_id))


@router.post("/{container_id}/files")
async def create_file(request: Request, container_id: str) -> Response:
    """Multipart with a `file` part, or JSON `{"file_id": "file-…"}` copying an uploaded file."""
    svc = services(request).containers
    if request.headers.get("content-type", "").startswith("multipart/"):
        await svc.row(container_id)
        reader = MultipartReader.from_request(request)
        async with contextlib.aclosing(reader.parts()) as parts:
            async for part in parts:
                if part.chunks is not None:
                    return json(await svc.upload(container_id, part.filename, part.chunks))
                if part.name != "file":
                    raise invalid(f"Unknown parameter: '{part.name}'.", part.name, "unknown_parameter")
        raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
    body = await read_object(request)
    reject_unknown(body, {"file_id", "file"})
    file_id = body.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise invalid("Missing required parameter: give 'file' (multipart) or 'file_id'.", "file_id", "missing_required_parameter")
    await svc.row(container_id)
    return json(await svc.attach(container_id, file_id))


@router.get("/{container_id}/files")
async def list_files(request: Request, container_id: str, limit: int | None = None, order: str | None = None, after: str | None = None) -> Response:
    lim, direction = page_params(limit, order)
    return json(await services(request).containers.list_files(container_id, limit=lim, order=direction, after=after))


@router.get("/{container_id}/files/{file_id}")
async def get_file(request: Request, container_id: str, file_id: str) -> Response:
    from ..engine.containers import file_object

    return json(file_object(await services(request).containers.get_file(container_id, file_id)))


@router.delete("/{container_id}/files/{file_id}")
async def delete_file(request: Request, container_id: str, file_id: str) -> Response:
    return json(await services(request).containers.delete_file(container_id, file_id))


@router.get("/{container_id}/files/{file_id}/content")
async def file_content(request: Request, container_id: str, file_id: str) -> Response:
    row, data = await services(request).containers.file_bytes(container_id, file_id)
    name = row["path"].rsplit("/", 1)[-1]
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media_type, headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})
