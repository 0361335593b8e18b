"""What an uploaded file is (sniffed from its bytes) and what images become: oriented,
stripped of their metadata, thumbnailed, or cropped square for avatars. Pure functions of
bytes: no database, no storage; slow ones are run in a worker thread by the caller."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_BOX = (480, 360)  # a thumbnail fits in this box (the partial shows it at half size)
AVATAR_SIZE = 128
SNIFF_BYTES = 8192
# Served by no browser as a page of ours, yet refused too: a chat has no use for sharing
# markup that runs, and executables are a classic of phishing through chat.
REFUSED_TYPES = {
    "text/html": "HTML pages",
    "image/svg+xml": "SVG images",
    "application/xml": "XML documents",
    "application/x-msdownload": "Windows programs",
    "application/x-executable": "programs",
    "application/x-mach-binary": "programs",
}
MARKUP_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")
# Invisible or direction-changing characters: "\u202egnp.exe" shows as "exe.png".
# Lone surrogates too (a JSON "\ud800" decodes to one; no database can store it).
UNSEEN_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
NAME_MAX = 200


class MediaRejected(ValueError):
    """The file cannot be taken; ``str()`` says why."""


def sniff_type(data: bytes) -> str:
    """The content type the bytes say (never the client's claim): a known binary format by
    its magic number, ``text/plain`` for UTF-8 text, else ``application/octet-stream``."""
    head = data[:SNIFF_BYTES]
    guessed = filetype.guess_mime(head)
    if guessed:
        return str(guessed)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(MARKUP_STARTS):
        return "text/html"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    if text.startswith(b"<?xml"):
        return "application/xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        if error.start < len(head) - 3:
            return "application/octet-stream"
    return "text/plain"


def refuse_type(content_type: str) -> None:
    """MediaRejected for a type that is never taken."""
    what = REFUSED_TYPES.get(content_type)
    if what:
        raise MediaRejected(f"{what} cannot be shared here; put it in a zip file first.")


def clean_filename(raw: object) -> str:
    """A name fit to show and to offer as a download: the last path part, without invisible
    or direction-changing characters, at most NAME_MAX characters (the extension kept)."""
    name = raw if isinstance(raw, str) else ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSEEN_RE.sub("", unicodedata.normalize("NFC", name))
    name = " ".join(name.split()).strip(". ")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        name = name[: NAME_MAX - len(ext) - 1].rstrip() + ("." + ext if ext else "")
    return name or "file"


@dataclass(frozen=True, slots=True)
class Picture:
    """An image made safe to show: ``full`` re-encoded without metadata (None: the original
    is kept, as for GIFs whose frames would be lost), its size, and its thumbnail."""

    full: bytes | None
    width: int
    height: int
    thumb: bytes
    thumb_width: int
    thumb_height: int


def _opened(data: bytes, max_pixels: int) -> Image.Image:
    """The image, or MediaRejected: unreadable, or more pixels than ``max_pixels`` (checked
    from the header, before any pixel is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise MediaRejected("This image has too many pixels to be shown.") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise MediaRejected("This image could not be read; is the file damaged?") from error
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise MediaRejected(
            f"This image has {pixels / 1e6:.0f} megapixels; at most "
            f"{max_pixels / 1e6:.0f} can be shared."
        )
    return image


def _upright(image: Image.Image) -> Image.Image:
    """Decoded, turned as its EXIF orientation says (the tag is then dropped)."""
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaRejected("This image could not be read; is the file damaged?") from error


def _encoded(image: Image.Image, fmt: str) -> bytes:
    """``image`` in ``fmt`` with no metadata: only pixels are written, no EXIF, XMP or ICC."""
    out = io.BytesIO()
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    options = {"quality": 88} if fmt in ("JPEG", "WEBP") else {}
    image.save(out, fmt, **options)
    return out.getvalue()


def picture(data: bytes, max_pixels: int) -> Picture:
    """The image in ``data`` oriented, stripped and thumbnailed, or MediaRejected."""
    image = _opened(data, max_pixels)
    fmt = image.format or "PNG"
    animated = getattr(image, "n_frames", 1) > 1
    upright = _upright(image)
    # Re-encoded from the pixels alone, so the GPS position and camera serial a photo
    # carries stay with its owner. An animation keeps its frames (GIF has little metadata).
    full = None if animated or fmt == "GIF" else _encoded(upright, fmt)
    thumb = upright.copy()
    if thumb.mode not in ("RGB", "RGBA", "L", "LA"):
        thumb = thumb.convert("RGBA")
    thumb.thumbnail(THUMB_BOX)
    return Picture(
        full,
        upright.width,
        upright.height,
        _encoded(thumb, "WEBP"),
        thumb.width,
        thumb.height,
    )


def square_avatar(data: bytes, max_pixels: int) -> bytes:
    """An avatar: the image oriented, cropped to its centre square, AVATAR_SIZE pixels a
    side, as WebP without metadata; or MediaRejected."""
    if sniff_type(data) not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
        raise MediaRejected("An avatar must be a JPEG, PNG, GIF or WebP image.")
    upright = _upright(_opened(data, max_pixels))
    if upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA")
    square = ImageOps.fit(upright, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    return _encoded(square, "WEBP")
