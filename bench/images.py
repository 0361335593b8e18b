"""``python -m bench.images``: what an image upload costs the server (chat_app.media.picture:
orient, strip, re-encode, thumbnail) against the baseline of only reading and thumbnailing it,
for a phone photo and a screenshot. Milliseconds per image, median of ``--repeat`` runs."""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable

from PIL import Image

from chat_app.media import THUMB_BOX, picture

MAX_PIXELS = 40_000_000


def _photo(width: int, height: int) -> bytes:
    # Noise compresses like a real photo does (a flat colour would flatter every number).
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def _screenshot(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (240, 240, 240))
    for y in range(0, height, 40):
        image.paste((30, 30, 30), (20, y, width // 2, y + 12))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _thumbnail_only(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.thumbnail(THUMB_BOX)
    image.save(io.BytesIO(), "WEBP")


def _median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    samples = {
        "photo 4000x3000 JPEG": _photo(4000, 3000),
        "screenshot 1920x1080 PNG": _screenshot(1920, 1080),
    }
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeat} runs")
    print(f"{'image':28} {'bytes':>10} {'picture() ms':>13} {'baseline ms':>12}")
    for name, data in samples.items():
        ours = _median_ms(lambda d=data: picture(d, MAX_PIXELS), args.repeat)  # type: ignore[misc]
        base = _median_ms(lambda d=data: _thumbnail_only(d), args.repeat)  # type: ignore[misc]
        print(f"{name:28} {len(data):>10,} {ours:>13.0f} {base:>12.0f}")


if __name__ == "__main__":
    main()
