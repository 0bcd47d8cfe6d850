"""File bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...), for several processes
sharing one set of files.

boto3's client is blocking, so each call runs in a worker thread. Uploads stream: bytes are
hashed and sent as multipart-upload parts of `part_size` (at least S3's 5 MiB minimum) as they
arrive, so at most about one part is held in memory; a file smaller than one part goes up in a
single PutObject. If the incoming chunks raise (the client disconnects, the size limit trips)
or S3 fails, the multipart upload is aborted, so nothing is left behind.

Configured from the environment (see `S3Blobs.from_env`); credentials come from boto3's usual
chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, a profile, an instance
role...).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from .files import _SAFE_KEY, CHUNK

log = logging.getLogger("onward.files")

MIN_PART = 5 * 1024 * 1024  # S3's smallest allowed part (all but the last)
DEFAULT_PART = 8 * 1024 * 1024
STALE_UPLOAD = 24 * 3600  # multipart uploads older than this were left by a killed process


class S3Blobs:
    """One object per key, at `prefix + key` in `bucket`."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", part_size: int = DEFAULT_PART) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"S3 multipart parts must be at least {MIN_PART} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size

    @classmethod
    async def from_env(cls) -> S3Blobs:
        """Build from ONWARD_S3_BUCKET, ONWARD_S3_ENDPOINT_URL, ONWARD_S3_REGION and
        ONWARD_S3_PREFIX, and check the bucket can be reached (RuntimeError if not)."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise RuntimeError("ONWARD_S3_BUCKET is set but boto3 is not installed: pip install 'onward[s3]'") from exc
        bucket = os.environ["ONWARD_S3_BUCKET"].strip()
        endpoint = os.environ.get("ONWARD_S3_ENDPOINT_URL") or None
        region = os.environ.get("ONWARD_S3_REGION") or None
        prefix = (os.environ.get("ONWARD_S3_PREFIX") or "").strip("/")
        config = Config(
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            # checksums only where S3 requires them: many S3-compatible stores reject the rest
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)
        blobs = cls(client, bucket, prefix + "/" if prefix else "")
        await blobs.check()
        await blobs.sweep_partials()
        return blobs

    @property
    def location(self) -> str:
        return f"s3:{self.bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        if not _SAFE_KEY.match(key):
            raise ValueError(f"not a valid storage key: {key!r}")
        return self.prefix + key

    async def check(self) -> None:
        """Fail with a clear message if the bucket is missing or cannot be reached."""
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except Exception as exc:
            where = self.client.meta.endpoint_url
            raise RuntimeError(
                f"Cannot use S3 bucket {self.bucket!r} at {where} for file storage: {exc}. "
                "Check ONWARD_S3_BUCKET, ONWARD_S3_ENDPOINT_URL, ONWARD_S3_REGION and the AWS credentials "
                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or unset ONWARD_S3_BUCKET to keep files on local disk."
            ) from exc

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        name = self._key(key)
        digest = hashlib.sha256()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        done = False

        def _send_part(data: bytes) -> None:
            nonlocal upload_id
            digest.update(data)
            if upload_id is None:
                upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
            number = len(parts) + 1
            etag = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data)["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})

        def _finish(data: bytes) -> None:
            if upload_id is None:  # smaller than one part: a single PutObject
                digest.update(data)
                self.client.put_object(Bucket=self.bucket, Key=name, Body=data)
                return
            if data:
                _send_part(data)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts})

        inflight: asyncio.Future[None] | None = None

        async def _in_thread(fn: Any, data: bytes) -> None:
            # shielded so a cancelled upload still knows when the thread's S3 call has ended
            nonlocal inflight
            inflight = asyncio.ensure_future(asyncio.to_thread(fn, data))
            await asyncio.shield(inflight)

        try:
            buf = bytearray()
            async for chunk in chunks:
                buf += chunk
                size += len(chunk)
                if len(buf) >= self.part_size:
                    data, buf = bytes(buf), bytearray()
                    await _in_thread(_send_part, data)
            await _in_thread(_finish, bytes(buf))
            done = True
        finally:
            if not done:
                # runs even when the upload task is being cancelled: let a part still in
                # flight end, then abort the multipart upload so no parts are kept
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._abandon(name, inflight, lambda: upload_id))
        return size, digest.hexdigest()

    async def _abandon(self, name: str, inflight: asyncio.Future[None] | None, upload_id: Any) -> None:
        if inflight is not None:
            with contextlib.suppress(BaseException):
                await inflight
        if upload_id() is not None:
            await self._abort(name, upload_id())

    async def _abort(self, name: str, upload_id: str) -> None:
        try:
            await asyncio.to_thread(self.client.abort_multipart_upload, Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception:
            log.warning("could not abort multipart upload %s of %s", upload_id, name, exc_info=True)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        name = self._key(key)
        try:
            resp = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=name)
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(name) from None
        except self.client.exceptions.ClientError as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(name) from None
            raise
        body = resp["Body"]

        async def _chunks() -> AsyncIterator[bytes]:
            try:
                while data := await asyncio.to_thread(body.read, CHUNK):
                    yield data
            finally:
                body.close()

        return _chunks()

    async def delete(self, key: str) -> bool:
        name = self._key(key)

        def _delete() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=name)
            except self.client.exceptions.ClientError as exc:
                if _status(exc) == 404:
                    return False
                raise
            self.client.delete_object(Bucket=self.bucket, Key=name)
            return True

        return await asyncio.to_thread(_delete)

    async def sweep_partials(self, older_than: float = STALE_UPLOAD) -> int:
        """Abort multipart uploads under the prefix that a killed process left behind (only
        old ones: another process may be uploading right now). Best effort."""

        def _sweep() -> int:
            cutoff, count = time.time() - older_than, 0
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() < cutoff:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        count += 1
            return count

        try:
            return await asyncio.to_thread(_sweep)
        except Exception:
            log.warning("could not sweep stale multipart uploads in bucket %s", self.bucket, exc_info=True)
            return 0


def _status(exc: Any) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = exc.response.get("Error", {}).get("Code")
    if code in ("NoSuchKey", "NotFound", "404"):
        return 404
    return int(status) if status is not None else None
