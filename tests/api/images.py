"""Image files made in memory for upload tests: good ones and every kind of bad one."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def png(size: tuple[int, int] = (28, 28), mode: str = "L", draw_digit: bool = True) -> bytes:
    img = Image.new(mode, size, 0)
    if draw_digit:
        ImageDraw.Draw(img).line([(size[0] // 2, size[1] // 5), (size[0] // 2, 4 * size[1] // 5)], fill=255, width=3)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    img = Image.new("RGB", size, (240, 240, 240))
    ImageDraw.Draw(img).ellipse([8, 8, size[0] - 8, size[1] - 8], outline=(0, 0, 0), width=5)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("L", (28, 28), v) for v in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buffer.getvalue()


def huge_png(width: int = 8000, height: int = 6250) -> bytes:
    """50 megapixels in a few KB (1-bit, all black): must be refused from its header."""
    buffer = io.BytesIO()
    Image.new("1", (width, height), 0).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def truncated_png() -> bytes:
    data = png((64, 64), "RGB")
    return data[: len(data) // 2]
