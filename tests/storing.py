"""Both storages for tests: the app's local directory, and a bucket on a local S3-compatible
server (moto's server mode, started once per run); plus small files of each kind."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator, Iterator

import pytest
from PIL import Image
from quart import Quart

from chat_app.storage import FileMissing, Storage
from chat_app.storage.local import LocalStorage
from chat_app.storage.s3 import S3Storage
from tests.conftest import free_port

BUCKET = "parley-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server with an empty bucket."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # pragma: no cover - moto[server] is in the dev extras
        pytest.skip(f"moto[server] is not installed: {error}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, app: Quart) -> AsyncIterator[Storage]:
    """The app's storage for this test: its local directory, or the S3 bucket."""
    real: Storage = app.extensions["storage"]
    if request.param == "local":
        yield real
        return
    bucket = S3Storage(
        bucket=BUCKET,
        prefix="run",
        endpoint_url=request.getfixturevalue("s3_endpoint"),
        access_key_id="test",
        secret_access_key="test",
    )
    app.extensions["storage"] = bucket
    try:
        yield bucket
    finally:
        app.extensions["storage"] = real
        await bucket.close()


async def exists(storage: Storage, key: str) -> bool:
    """Whether the storage holds ``key``."""
    try:
        await storage.get(key)
    except FileMissing:
        return False
    return True


def local_root(storage: Storage) -> LocalStorage | None:
    """The storage as a local directory, or None."""
    return storage if isinstance(storage, LocalStorage) else None


def photo(width: int = 64, height: int = 32, orientation: int = 6) -> bytes:
    """A JPEG with an EXIF orientation (6: turn 90° clockwise to show) and a GPS position."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {2: (48.0, 51.0, 24.0), 1: "N"}  # GPSInfo: somebody's home
    exif[0x010F] = "CameraMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 10, height: int = 10) -> bytes:
    """A small PNG."""
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 255, 255)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data: a
    decompression bomb's shape (its pixels would be gigabytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x21" + b"\x00" * 33 + b"\xff\xfb\x90\x00" + b"\x55" * 400


def _usv(text: str) -> str:
    """``text`` as a browser sends it: a lone surrogate becomes U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def multipart(
    fields: dict[str, str], files: list[tuple[str, str, bytes]]
) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body as a browser posts a form (several files under one field
    name, which the test client's ``files`` cannot send) and its Content-Type header."""
    boundary = "----ParleyTestBoundary7MA4YWxkTrZu0gW"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + _usv(value).encode()
            + b"\r\n"
        )
    for field, filename, data in files:
        # As a browser does: quotes and line breaks in a file name are escaped.
        quoted = _usv(filename).replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{quoted}"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
