"""/v1/files. Uploads are parsed as they arrive (python-multipart's streaming parser fed from
`request.stream()`), so the file's bytes go to storage chunk by chunk and are never held whole
in memory."""

from __future__ import annotations

import contextlib
import logging
import mimetypes
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from ..engine.files import UploadPart
from ..errors import APIError
from .deps import json, services
from .guard import nul_error

router = APIRouter(prefix="/v1/files")
log = logging.getLogger("onward.files")

MAX_FIELD_BYTES = 64 * 1024  # a form field other than `file` (purpose, expires_after[...])
MAX_FILENAME = 512  # characters; file names are echoed in every file object


def _malformed(detail: str) -> APIError:
    return APIError(
        400,
        f"Could not parse the multipart/form-data body: {detail}. Send the upload as multipart/form-data with a 'file' part and a 'purpose' field.",
        param="file",
        code="invalid_multipart",
    )


class MultipartReader:
    """Turns a multipart/form-data byte stream into `UploadPart`s, one at a time.

    The parser's callbacks only queue events; `parts()` pulls body chunks on demand, so the
    `file` part's data flows to whoever iterates its `chunks` at the pace they consume it."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self.body = body
        self.events: deque[tuple[str, bytes]] = deque()
        self.eof = False
        self._field = bytearray()
        self._value = bytearray()
        callbacks: Any = {
            "on_part_begin": lambda: self.events.append(("begin", b"")),
            "on_part_data": lambda data, start, end: self.events.append(("data", data[start:end])),
            "on_part_end": lambda: self.events.append(("end", b"")),
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": lambda: self.events.append(("headers", b"")),
        }
        try:
            self.parser = MultipartParser(boundary, callbacks)
        except Exception as exc:
            raise _malformed(str(exc)) from exc
        self.headers: dict[str, bytes] = {}

    @classmethod
    def from_request(cls, request: Request) -> MultipartReader:
        content_type, params = parse_options_header(request.headers.get("content-type"))
        if content_type != b"multipart/form-data":
            shown = content_type.decode("latin-1") or "none"
            raise _malformed(f"the Content-Type is {shown!r}, not multipart/form-data")
        boundary = params.get(b"boundary")
        if not boundary:
            raise _malformed("the Content-Type has no boundary")
        return cls(request.stream(), boundary)

    def _header_end(self) -> None:
        # queued as an event: one write() may run the callbacks of several parts at once
        self.events.append(("header", bytes(self._field).strip().lower() + b":" + bytes(self._value).strip()))
        self._field.clear()
        self._value.clear()

    async def _next(self) -> tuple[str, bytes] | None:
        while not self.events:
            if self.eof:
                return None
            try:
                chunk = await anext(self.body)
            except StopAsyncIteration:
                self.eof = True
                self.parser.finalize()
                if self.parser.state != MultipartState.END:
                    raise _malformed("the body ended before the closing boundary") from None
                continue
            if not chunk:
                continue
            try:
                self.parser.write(chunk)
            except MultipartParseError as exc:
                raise _malformed(str(exc)) from exc
        return self.events.popleft()

    async def _data(self) -> AsyncIterator[bytes]:
        """The current part's data up to its end."""
        while True:
            event = await self._next()
            if event is None:
                raise _malformed("a part was cut off")
            kind, data = event
            if kind == "end":
                return
            if kind == "data" and data:
                yield data

    async def parts(self) -> AsyncGenerator[UploadPart, None]:
        while True:
            event = await self._next()
            if event is None:
                return
            kind = event[0]
            if kind == "begin":
                self.headers = {}
                continue
            if kind == "header":
                field, _, header_value = event[1].partition(b":")
                self.headers[field.decode("latin-1")] = header_value
                continue
            if kind != "headers":
                continue
            disposition, options = parse_options_header(self.headers.get("content-disposition"))
            raw_name = options.get(b"name")
            if disposition != b"form-data" or raw_name is None:
                raise _malformed("a part has no 'Content-Disposition: form-data; name=...' header")
            name = raw_name.decode("utf-8", "replace")
            if "\x00" in name:
                raise nul_error("file")
            if name == "file":
                raw_filename = options.get(b"filename")
                filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
                if filename and "\x00" in filename:
                    raise nul_error("file")
                if filename and len(filename) > MAX_FILENAME:
                    raise APIError(400, f"The file name is {len(filename)} characters long; at most {MAX_FILENAME} are allowed.", param="file", code="invalid_value")
                chunks = self._data()
                content_type = self.headers.get("content-type")
                yield UploadPart(
                    name=name,
                    filename=filename,
                    content_type=content_type.decode("latin-1") if content_type else None,
                    chunks=chunks,
                )
                async for _ in chunks:  # whatever the consumer left of the part
                    pass
                continue
            value = bytearray()
            async for data in self._data():
                value += data
                if len(value) > MAX_FIELD_BYTES:
                    raise APIError(400, f"The form field '{name}' is too long (at most {MAX_FIELD_BYTES} bytes).", param=name, code="invalid_value")
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                raise APIError(400, f"The form field '{name}' is not valid UTF-8.", param=name, code="invalid_value") from None
            if "\x00" in text:
                raise nul_error(name)
            yield UploadPart(name=name, value=text)


@router.post("")
async def create(request: Request) -> Response:
    reader = MultipartReader.from_request(request)
    try:
        async with contextlib.aclosing(reader.parts()) as parts:
            return json(await services(request).files.upload(parts))
    except ClientDisconnect:  # the client went away mid-upload; nothing was kept
        log.info("client disconnected during a file upload")
        return Response(status_code=499)


@router.get("")
async def list_files(
    request: Request,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    purpose: str | None = None,
) -> Response:
    return json(await services(request).files.list(limit=limit, order=order, after=after, purpose=purpose))


@router.get("/{file_id}")
async def get(request: Request, file_id: str) -> Response:
    return json(await services(request).files.get(file_id))


@router.delete("/{file_id}")
async def delete(request: Request, file_id: str) -> Response:
    return json(await services(request).files.delete(file_id))


@router.get("/{file_id}/content")
async def content(request: Request, file_id: str) -> Response:
    found, chunks = await services(request).files.content(file_id)
    filename = found["filename"]
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = {
        "content-length": str(found["bytes"]),
        "content-disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
    }
    return StreamingResponse(chunks, media_type=media_type, headers=headers)
