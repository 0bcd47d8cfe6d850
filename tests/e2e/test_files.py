"""The Files API through the official SDK: upload, list, retrieve, content, delete, limits."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.conftest import SCRIPT, Server

SCRIPTED_TOML = 'default = "scripted"\n' + SCRIPT
MB = 1024 * 1024


def _raw_upload(url: str, body: bytes, boundary: str = "XyZ123") -> httpx.Response:
    return httpx.post(f"{url}/files", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}, timeout=30)


def _form(*parts: tuple[str, bytes, str | None], boundary: str = "XyZ123", close: bool = True) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def _error(resp: httpx.Response) -> dict:
    return resp.json()["error"]


def test_upload_retrieve_content_delete(server, tmp_path):
    client = server.client()
    created = client.files.create(file=("notes.txt", b"hello files"), purpose="assistants")
    assert created.id.startswith("file-")
    assert created.object == "file" and created.status == "processed" and created.status_details is None
    assert (created.bytes, created.filename, created.purpose, created.expires_at) == (11, "notes.txt", "assistants", None)
    assert abs(created.created_at - time.time()) < 60

    disk = tmp_path / "report.json"
    disk.write_bytes(b'{"a": 1}\n' * 100)
    with disk.open("rb") as fh:
        from_disk = client.files.create(file=fh, purpose="user_data")
    assert from_disk.filename == "report.json" and from_disk.bytes == 900

    got = client.files.retrieve(created.id)
    assert got.model_dump() == created.model_dump()
    assert client.files.content(created.id).content == b"hello files"
    download = client.files.with_raw_response.content(from_disk.id)
    assert download.http_response.content == disk.read_bytes()
    assert download.headers["content-type"].startswith("application/json")

    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    with pytest.raises(openai.NotFoundError) as err:
        client.files.retrieve(created.id)
    assert created.id in err.value.message
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(created.id)
    assert created.id not in {f.id for f in client.files.list()}
    client.files.delete(from_disk.id)


def test_list_purpose_filter_and_paging(server):
    client = server.client()
    mine = [client.files.create(file=(f"img{i}.png", b"\x89PNG" + bytes([i])), purpose="vision").id for i in range(5)]
    other = client.files.create(file=("train.jsonl", b"{}\n"), purpose="fine-tune").id
    try:
        page = client.files.list(purpose="vision", order="asc")
        ids = [f.id for f in page.data]
        assert other not in ids and all(f.purpose == "vision" for f in page.data)
        assert [i for i in ids if i in mine] == mine  # creation order, even within one second
        assert page.has_more is False and page.first_id == ids[0] and page.last_id == ids[-1]

        newest_first = [f.id for f in client.files.list(order="desc").data]
        assert [i for i in newest_first if i in mine + [other]] == [other, *reversed(mine)]

        # manual paging with after/limit
        first = client.files.list(purpose="vision", order="asc", limit=2, after=mine[0])
        assert [f.id for f in first.data] == mine[1:3] and first.has_more is True
        rest = client.files.list(purpose="vision", order="asc", limit=2, after=first.data[-1].id)
        assert [f.id for f in rest.data] == mine[3:5]
        tail = client.files.list(purpose="vision", order="desc", limit=10, after=mine[2])
        assert [f.id for f in tail.data][:2] == [mine[1], mine[0]]

        # the SDK's auto-pagination walks every page exactly once
        walked = [f.id for f in client.files.list(purpose="vision", limit=2)]
        assert len(walked) == len(set(walked))
        assert [i for i in walked if i in mine] == list(reversed(mine))

        listed = client.files.with_raw_response.list(limit=1).http_response.json()
        assert set(listed) == {"object", "data", "first_id", "last_id", "has_more"} and listed["object"] == "list"
        assert set(listed["data"][0]) == {"id", "object", "bytes", "created_at", "filename", "purpose", "status", "status_details", "expires_at"}
    finally:
        for file_id in [*mine, other]:
            client.files.delete(file_id)


def test_list_parameter_errors(server):
    client = server.client()
    for kwargs, param in [({"limit": 0}, "limit"), ({"limit": 10001}, "limit"), ({"order": "sideways"}, "order"), ({"after": "file-nope"}, "after")]:
        with pytest.raises(openai.BadRequestError) as err:
            client.files.list(**kwargs)
        assert err.value.body["param"] == param, kwargs
    assert client.files.list(purpose="no-such-purpose").data == []


def test_large_file_roundtrip(server, tmp_path):
    client = server.client(timeout=120)
    data = os.urandom(20 * MB + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    with path.open("rb") as fh:
        created = client.files.create(file=fh, purpose="user_data")
    assert created.bytes == len(data)
    digest = hashlib.sha256()
    with client.files.with_streaming_response.content(created.id) as resp:
        assert resp.headers["content-length"] == str(len(data))
        assert resp.headers["content-type"] == "application/octet-stream"
        for chunk in resp.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    client.files.delete(created.id)


def test_concurrent_uploads(server):
    async def main():
        client = server.async_client()
        blobs = [os.urandom(300_000 + i) for i in range(6)]
        created = await asyncio.gather(*(client.files.create(file=(f"c{i}.bin", b), purpose="batch") for i, b in enumerate(blobs)))
        assert len({c.id for c in created}) == 6
        for c, b in zip(created, blobs, strict=True):
            assert (await client.files.content(c.id)).content == b
            await client.files.delete(c.id)

    asyncio.run(main())


def test_expires_after(server):
    client = server.client()
    timed = client.files.create(file=("t.txt", b"x"), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600})
    assert timed.expires_at == timed.created_at + 3600
    batch = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    assert batch.expires_at == batch.created_at + 30 * 24 * 3600  # OpenAI's default for batch files
    for bad, param in [({"anchor": "created_at", "seconds": 10}, "expires_after.seconds"), ({"anchor": "last_active_at", "seconds": 3600}, "expires_after.anchor")]:
        with pytest.raises(openai.BadRequestError) as err:
            client.files.create(file=("t.txt", b"x"), purpose="assistants", expires_after=bad)  # type: ignore[arg-type]
        assert err.value.body["param"] == param
    client.files.delete(timed.id)
    client.files.delete(batch.id)


def test_upload_errors_name_the_field(server):
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("x.txt", b"x"), purpose="not-a-purpose")  # type: ignore[arg-type]
    assert err.value.body["param"] == "purpose" and "not-a-purpose" in err.value.message

    cases = [
        (_form(("file", b"abc", "a.txt")), "purpose", "missing_required_parameter"),
        (_form(("purpose", b"assistants", None)), "file", "missing_required_parameter"),
        (_form(("file", b"abc", "a.txt"), ("purpose", b"bogus", None)), "purpose", "invalid_value"),
        (_form(("purpose", b"assistants", None), ("file", b"abc", "a.txt"), ("colour", b"red", None)), "colour", "unknown_parameter"),
        (_form(("purpose", b"assistants", None), ("file", b"a", "a"), ("file", b"b", "b")), "file", "invalid_value"),
        (b"this is not multipart at all", "file", "invalid_multipart"),
        (_form(("purpose", b"assistants", None), ("file", b"abc" * 1000, "a.txt"), close=False), "file", "invalid_multipart"),
        (b"", "file", "invalid_multipart"),
    ]
    for body, param, code in cases:
        resp = _raw_upload(server.url, body)
        assert resp.status_code == 400, (body[:80], resp.text)
        assert (_error(resp)["param"], _error(resp)["code"]) == (param, code), (body[:80], resp.text)

    for headers in ({"content-type": "application/json"}, {"content-type": "multipart/form-data"}):
        resp = httpx.post(f"{server.url}/files", content=b'{"purpose": "assistants"}', headers=headers)
        assert resp.status_code == 400 and _error(resp)["code"] == "invalid_multipart"

    # none of the failures left a file behind
    names = {f.filename for f in client.files.list(limit=100)}
    assert not names & {"a.txt", "a", "b"}
    leftovers = [p.name for p in (server.tmp / "files").iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_file_field_without_filename_and_utf8_name(server):
    client = server.client()
    resp = _raw_upload(server.url, _form(("file", b"plain field", None), ("purpose", b"user_data", None)))
    assert resp.status_code == 200, resp.text
    assert resp.json()["bytes"] == 11
    named = client.files.create(file=("résumé ☃.txt", b"snow"), purpose="user_data")
    assert named.filename == "résumé ☃.txt"
    assert client.files.retrieve(named.id).filename == "résumé ☃.txt"
    client.files.delete(named.id)
    client.files.delete(resp.json()["id"])


def _stored(tmp_path) -> list[str]:
    """The files a data directory holds, without its storage-id marker (.onward-storage-id)."""
    return sorted(p.name for p in (tmp_path / "files").iterdir() if not p.name.startswith("."))


def test_oversized_upload_is_413_and_leaves_nothing(tmp_path):
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", SCRIPTED_TOML, env={"ONWARD_MAX_FILE_BYTES": "1000000"}).start()
    try:
        client = srv.client(timeout=60)
        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(file=("big.bin", os.urandom(2 * MB)), purpose="assistants")
        assert err.value.status_code == 413
        body = err.value.body
        assert (body["type"], body["param"], body["code"]) == ("invalid_request_error", "file", "file_too_large")
        assert "1000000 bytes" in body["message"]
        assert _stored(tmp_path) == []
        assert client.files.list().data == []

        # far over the limit: the server stops storing at once and still answers 413 cleanly
        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(file=("huge.bin", b"\0" * (40 * MB)), purpose="assistants")
        assert err.value.status_code == 413

        exact = client.files.create(file=("exact.bin", b"e" * 1_000_000), purpose="assistants")  # the limit itself is allowed
        assert exact.bytes == 1_000_000
        assert _stored(tmp_path) == [exact.id]
        assert [f.id for f in client.files.list().data] == [exact.id]
        client.files.delete(exact.id)
        assert _stored(tmp_path) == []
    finally:
        srv.stop()


def _proc_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_streaming_upload_does_not_buffer(tmp_path):
    """100 MB sent as a chunked stream: the server's memory must not grow by anything like it."""
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", SCRIPTED_TOML).start()
    try:
        assert srv.proc is not None
        pid = srv.proc.pid
        client = srv.client(timeout=120)
        client.files.create(file=("warm.txt", b"warm up"), purpose="user_data")  # import/code paths loaded
        baseline = _proc_kb(pid, "VmRSS")
        peak = [baseline]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _proc_kb(pid, "VmRSS"))
                time.sleep(0.02)

        total, block = 100 * MB, os.urandom(MB)
        boundary = "streamingBoundary42"
        expected = hashlib.sha256()

        def body():
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'.encode()
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="stream.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            for i in range(total // MB):
                chunk = block[i:] + block[:i]  # differing chunks, so a reordering would show
                expected.update(chunk)
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            resp = httpx.post(f"{srv.url}/files", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}, timeout=120)
        finally:
            stop.set()
            sampler.join()
        assert resp.status_code == 200, resp.text
        assert resp.json()["bytes"] == total
        grew_mb = (peak[0] - baseline) / 1024
        assert grew_mb < 40, f"server RSS grew by {grew_mb:.0f} MB during a 100 MB upload"

        got = hashlib.sha256()
        with client.files.with_streaming_response.content(resp.json()["id"]) as download:
            for chunk in download.iter_bytes():
                got.update(chunk)
        assert got.hexdigest() == expected.hexdigest()
    finally:
        srv.stop()


def test_client_disconnect_mid_upload_leaves_nothing(server):
    import socket

    port = int(server.url.split(":")[2].split("/")[0])
    boundary = "cutOff"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gone.bin"\r\n\r\n'.encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {10 * MB}\r\n\r\n".encode()
            + head
            + os.urandom(3 * MB)
        )
        time.sleep(0.5)
    log_path = server.tmp / f"server-{server.port}.log"
    deadline = time.time() + 10
    while "client disconnected during a file upload" not in log_path.read_text(errors="replace"):
        assert time.time() < deadline, "the server never noticed the client leaving"
        time.sleep(0.1)
    assert [p for p in (server.tmp / "files").iterdir() if p.name.endswith(".part")] == []
    assert "gone.bin" not in {f.filename for f in server.client().files.list()}
    assert "ClientDisconnect" not in log_path.read_text(errors="replace")  # no traceback


def test_file_store_directly(tmp_path):
    """The FileStore API other services code against: create/get/path/open/list/delete,
    all-or-nothing blob writes, expiry and the sweep of stale partial uploads."""
    from onward.store.db import make_engine, migrate
    from onward.store.files import FileStore

    async def main():
        engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
        await migrate(engine)
        store = FileStore(engine, tmp_path / "files")
        try:
            made = await store.create("file-direct1", filename="d.txt", purpose="assistants_output", chunks=b"direct bytes")
            assert made == await store.get("file-direct1")
            assert made["bytes"] == 12 and made["object"] == "file" and made["status"] == "processed"
            assert store.path("file-direct1").read_bytes() == b"direct bytes"
            assert await store.sha256("file-direct1") == hashlib.sha256(b"direct bytes").hexdigest()
            assert b"".join([c async for c in await store.open("file-direct1")]) == b"direct bytes"
            with pytest.raises(ValueError):
                store.path("../escape")

            async def failing():
                yield b"a" * MB
                yield b"b" * MB
                raise RuntimeError("upstream broke")

            with pytest.raises(RuntimeError):
                await store.put_blob("file-broken", failing())
            assert _stored(tmp_path) == ["file-direct1"]
            assert await store.get("file-broken") is None

            await store.create("file-expired", filename="e.txt", purpose="batch", chunks=b"old", expires_after=-1)
            assert await store.get("file-expired") is None  # past its expiry: gone for readers
            page, more = await store.list(limit=10, order="desc")
            assert [f["id"] for f in page] == ["file-direct1"] and more is False
            assert await store.list(limit=10, order="desc", after="file-missing") is None

            stale = tmp_path / "files" / ".file-crashed.abc.part"
            stale.write_bytes(b"half")
            os.utime(stale, (time.time() - 2 * 86400,) * 2)
            assert await store.purge_expired() == 1
            assert _stored(tmp_path) == ["file-direct1"]

            assert await store.delete("file-direct1") is True
            assert await store.delete("file-direct1") is False
            assert _stored(tmp_path) == []
        finally:
            await engine.dispose()

    asyncio.run(main())
