"""Files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2 ...), through aiobotocore: the
asynchronous botocore, so uploads and downloads never block the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from chat_app.storage import FileMissing, Stored, check_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

DELETE_BATCH = 1000  # S3's DeleteObjects takes at most this many keys


class S3Storage:
    """Objects under ``prefix`` in ``bucket``. One client per process, opened on first use."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._options: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            # Path-style addressing works with every S3-compatible server.
            "config": AioConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        }
        self._client: S3Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        async with self._lock:
            if self._client is not None:
                return self._client
            made = get_session().create_client("s3", **self._options)
            client: S3Client = await self._stack.enter_async_context(made)
            self._client = client
            return client

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload the object."""
        s3 = await self._s3()
        await s3.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        """The object's bytes, or FileMissing."""
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise FileMissing(key) from error
            raise
        async with answer["Body"] as body:
            return bytes(await body.read())

    def local_path(self, key: str) -> Path | None:
        """None: the bytes are remote."""
        return None

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects, a thousand per request."""
        names = [self._name(key) for key in keys]
        if not names:
            return
        s3 = await self._s3()
        for start in range(0, len(names), DELETE_BATCH):
            batch = names[start : start + DELETE_BATCH]
            await s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
            )

    async def stored(self) -> AsyncIterator[Stored]:
        """Every object under the prefix that has a key of ours."""
        s3 = await self._s3()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        async for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                with contextlib.suppress(ValueError):
                    yield Stored(check_key(key), item["LastModified"])

    async def close(self) -> None:
        """Close the client's connections."""
        await self._stack.aclose()
        self._stack, self._client = contextlib.AsyncExitStack(), None
