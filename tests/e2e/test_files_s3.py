"""Files on S3: a real `onward serve` storing file bytes in a real S3-compatible server (moto in
server mode, a separate process speaking the S3 HTTP API): uploads (multipart for big files),
listing, content, deletes, the size limit, vector-store ingestion, and a bucket that cannot be
reached."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid

import openai
import pytest

from tests.conftest import SCRIPT, Server, free_port, wait_http

boto3 = pytest.importorskip("boto3")

SCRIPTED_TOML = 'default = "scripted"\n' + SCRIPT
MB = 1024 * 1024
BUCKET = "onward-files"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server on a free port, with the bucket created."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CREDS},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", proc=proc)
        _s3(url).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _s3(url: str):
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _s3_env(url: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        **CREDS,
        "ONWARD_S3_BUCKET": BUCKET,
        "ONWARD_S3_ENDPOINT_URL": url,
        "ONWARD_S3_REGION": "us-east-1",
        "ONWARD_S3_PREFIX": prefix,
        **extra,
    }


def _objects(s3, prefix: str) -> dict[str, int]:
    page = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["Size"] for o in page.get("Contents", [])}


def _pending_uploads(s3, prefix: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])]


@pytest.fixture(scope="module")
def s3_server(s3_endpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onward-s3")
    prefix = f"t-{uuid.uuid4().hex[:8]}/files"
    srv = Server(tmp, f"sqlite:///{tmp / 'o.db'}", SCRIPTED_TOML, env=_s3_env(s3_endpoint, prefix)).start()
    srv.prefix = prefix + "/"  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def test_upload_list_content_delete_on_s3(s3_server, s3_endpoint):
    s3, prefix = _s3(s3_endpoint), s3_server.prefix
    client = s3_server.client(timeout=120)
    small = client.files.create(file=("notes.txt", b"hello files"), purpose="assistants")
    big_bytes = os.urandom(12 * MB + 12345)  # over the 8 MiB part size: a multipart upload
    big = client.files.create(file=("big.bin", big_bytes), purpose="user_data")
    assert (small.bytes, big.bytes) == (11, len(big_bytes))

    stored = _objects(s3, prefix)
    assert stored == {prefix + small.id: 11, prefix + big.id: len(big_bytes)}
    assert "-2" in s3.head_object(Bucket=BUCKET, Key=prefix + big.id)["ETag"]  # two parts
    assert "-" not in s3.head_object(Bucket=BUCKET, Key=prefix + small.id)["ETag"]  # one PutObject
    assert _pending_uploads(s3, prefix) == []
    assert not (s3_server.tmp / "files").exists() or list((s3_server.tmp / "files").iterdir()) == []

    listed = {f.id: f for f in client.files.list()}
    assert {small.id, big.id} <= set(listed)
    assert client.files.retrieve(big.id).model_dump() == big.model_dump()
    assert client.files.content(small.id).content == b"hello files"
    content = client.files.content(big.id).content
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(big_bytes).hexdigest()

    assert client.files.delete(big.id).deleted
    assert _objects(s3, prefix) == {prefix + small.id: 11}
    with pytest.raises(openai.NotFoundError):
        client.files.content(big.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(big.id)
    client.files.delete(small.id)
    assert _objects(s3, prefix) == {}


def test_oversized_upload_leaves_no_object_and_no_multipart_upload(s3_endpoint, tmp_path):
    s3, prefix = _s3(s3_endpoint), f"t-{uuid.uuid4().hex[:8]}/"
    limit = 9 * MB  # above one 8 MiB part: a part is already uploaded when the limit trips
    env = _s3_env(s3_endpoint, prefix, ONWARD_MAX_FILE_BYTES=str(limit))
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", SCRIPTED_TOML, env=env).start()
    try:
        client = srv.client(timeout=120)
        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(file=("big.bin", os.urandom(12 * MB)), purpose="assistants")
        assert err.value.status_code == 413 and err.value.body["code"] == "file_too_large"
        assert _objects(s3, prefix) == {}
        assert _pending_uploads(s3, prefix) == []
        assert client.files.list().data == []

        exact = client.files.create(file=("exact.bin", b"e" * limit), purpose="assistants")
        assert _objects(s3, prefix) == {prefix + exact.id: limit}
        client.files.delete(exact.id)
        assert _objects(s3, prefix) == {}
    finally:
        srv.stop()


async def test_failed_stream_aborts_the_multipart_upload(s3_endpoint, monkeypatch):
    """Directly: a stream that fails after a part went up aborts the upload it had started."""
    from onward.store.blobs_s3 import S3Blobs

    prefix = f"t-{uuid.uuid4().hex[:8]}"
    for key, value in _s3_env(s3_endpoint, prefix).items():
        monkeypatch.setenv(key, value)
    blobs = await S3Blobs.from_env()
    s3 = _s3(s3_endpoint)
    seen_pending: list[str] = []

    async def chunks():
        for _ in range(9):
            yield b"x" * MB
        seen_pending.extend(_pending_uploads(s3, prefix + "/"))  # the first part is up by now
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await blobs.put_stream("file-abc", chunks())
    assert seen_pending == [f"{prefix}/file-abc"]
    assert _pending_uploads(s3, prefix + "/") == []
    assert _objects(s3, prefix + "/") == {}
    with pytest.raises(FileNotFoundError):
        await blobs.open("file-abc")
    assert await blobs.delete("file-abc") is False


def test_vector_store_ingests_a_file_stored_on_s3(s3_server):
    client = s3_server.client(timeout=120)
    text = "The quokka is a small marsupial that lives on Rottnest Island, near Perth in Western Australia."
    uploaded = client.files.create(file=("quokka.txt", text.encode()), purpose="assistants")
    store = client.vector_stores.create(name="s3 store")
    try:
        vs_file = client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=uploaded.id, poll_interval_ms=100)
        assert vs_file.status == "completed", vs_file.last_error
        results = client.vector_stores.search(store.id, query="Where does the quokka live?")
        assert results.data and results.data[0].file_id == uploaded.id
        assert "Rottnest" in results.data[0].content[0].text
    finally:
        client.vector_stores.delete(store.id)
        client.files.delete(uploaded.id)


def test_unreachable_bucket_fails_startup_clearly(s3_endpoint, tmp_path):
    env = _s3_env(s3_endpoint, "x", ONWARD_S3_BUCKET="no-such-bucket")
    srv = Server(tmp_path, f"sqlite:///{tmp_path / 'o.db'}", SCRIPTED_TOML, env=env)
    started = time.time()
    with pytest.raises(RuntimeError, match="exited"):
        srv.start()
    assert time.time() - started < 60
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "Cannot use S3 bucket 'no-such-bucket'" in log
    assert "ONWARD_S3_ENDPOINT_URL" in log
