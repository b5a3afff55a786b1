"""Untrusted image bytes -> model input: what is refused and why, conversions, fitting, data URLs, hashes."""

from __future__ import annotations

import base64
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFile

from explainlab.errors import IncompatibleError, InvalidInputError
from explainlab.imageio import (
    data_url,
    decode_image,
    image_sha256,
    parse_data_url,
    sniff_format,
    tensor_to_png,
    to_model_input,
)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def bilevel_png(width: int, height: int, pixels: bool = True) -> bytes:
    """A 1-bit greyscale PNG written by hand: tiny in bytes however many pixels; ``pixels=False`` omits IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    rows = bytes(height * (1 + (width + 7) // 8))  # filter byte 0 + packed bits, all black
    body = chunk(b"IDAT", zlib.compress(rows, 9)) if pixels else b""
    return b"\x89PNG\r\n\x1a\n" + header + body + chunk(b"IEND", b"")


def two_frames() -> list[Image.Image]:
    return [Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")]


# ---------------------------------------------------------------- decode_image: accepted


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_decode_to_loaded_rgb(fmt):
    img = decode_image(encode(Image.new("RGB", (40, 20), (200, 30, 30)), fmt))
    assert img.mode == "RGB" and img.size == (40, 20)
    r, g, b = img.getpixel((20, 10))
    assert abs(r - 200) <= 4 and abs(g - 30) <= 4 and abs(b - 30) <= 4


def test_greyscale_stays_one_channel():
    img = decode_image(encode(Image.new("L", (5, 4), 77), "PNG"))
    assert img.mode == "L" and img.getpixel((0, 0)) == 77


def test_transparency_is_composited_onto_white():
    clear = decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))
    assert clear.mode == "RGB" and clear.getpixel((1, 1)) == (255, 255, 255)
    half = decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 128)), "PNG"))
    assert abs(half.getpixel((1, 1))[0] - 127) <= 1
    grey_alpha = decode_image(encode(Image.new("LA", (4, 4), (0, 0)), "PNG"))
    assert grey_alpha.mode == "L" and grey_alpha.getpixel((0, 0)) == 255
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    keyed = decode_image(encode(palette, "PNG", transparency=0))
    assert keyed.mode == "RGB" and keyed.getpixel((0, 0)) == (255, 255, 255)


def test_palette_cmyk_and_16_bit_are_converted():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30])
    assert decode_image(encode(palette, "PNG")).getpixel((0, 0)) == (10, 200, 30)
    cmyk = decode_image(encode(Image.new("CMYK", (8, 8), (0, 255, 0, 0)), "JPEG"))
    assert cmyk.mode == "RGB" and cmyk.getpixel((4, 4))[1] < 10  # magenta: no green
    deep = np.array([[0, 128 * 257, 65535]], dtype=np.uint16)  # scaled to 8 bits, not clipped at 255
    img = decode_image(encode(Image.fromarray(deep), "PNG"))
    assert img.mode == "L" and list(np.asarray(img)[0]) == [0, 128, 255]


def test_exif_orientation_is_applied():
    stored = Image.new("RGB", (40, 20), "blue")
    stored.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise: the left half goes on top
    img = decode_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert img.size == (20, 40)
    assert img.getpixel((10, 5))[0] > 200 and img.getpixel((10, 35))[2] > 200


def test_mpo_style_multi_frame_jpeg_is_not_called_animated(monkeypatch):
    data = encode(Image.new("RGB", (8, 8), "red"), "JPEG")
    real_open = Image.open

    def open_as_mpo(*args, **kwargs):
        img = real_open(*args, **kwargs)
        img.format, img.n_frames = "MPO", 2
        return img

    monkeypatch.setattr(Image, "open", open_as_mpo)
    assert decode_image(data).size == (8, 8)


# ---------------------------------------------------------------- decode_image: refused


def refused(data: bytes, **kwargs) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        decode_image(data, **kwargs)
    return info.value


def test_empty_and_oversized_bytes():
    assert refused(b"").field == "image"
    err = refused(b"\0" * int(12.3 * 2**20), field="upload")
    assert err.field == "upload" and "12.3 MB" in str(err) and "10.0 MB" in str(err)


def test_not_an_image():
    err = refused(b"hello, this is a text file\n" * 20)
    assert "PNG, JPEG or WebP" in str(err)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_named_and_refused(fmt):
    err = refused(encode(Image.new("RGB", (8, 8), "red"), fmt))
    assert f"'{fmt}' is not an allowed format" in str(err) and "PNG, JPEG or WebP" in str(err)
    assert err.field == "image"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_are_refused(fmt):
    frames = two_frames()
    err = refused(encode(frames[0], fmt, save_all=True, append_images=frames[1:]))
    assert "animated" in str(err) and "2 frames" in str(err)


def test_animated_gif_is_refused():
    frames = two_frames()
    assert "'GIF'" in str(refused(encode(frames[0], "GIF", save_all=True, append_images=frames[1:])))


@pytest.mark.parametrize("trust_truncated", [False, True])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_refused(monkeypatch, fmt, trust_truncated):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", trust_truncated)  # a global someone may have set
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    err = refused(data[: len(data) // 2])
    assert "truncated" in str(err) and err.field == "image"


def test_pixel_limit_is_checked_from_the_header():
    err = refused(bilevel_png(8000, 7000))  # 56 megapixels in a few kB
    assert "8000x7000" in str(err) and "max_pixels" in str(err)
    # no pixel data at all: decoding it would fail as truncated, so the refusal came from the header alone
    err = refused(bilevel_png(8000, 7000, pixels=False))
    assert "max_pixels" in str(err) and "truncated" not in str(err)


def test_pixel_limit_boundary():
    data = encode(Image.new("L", (100, 100)), "PNG")
    assert "max_pixels = 9,999" in str(refused(data, max_pixels=9_999))
    assert decode_image(data, max_pixels=10_000).size == (100, 100)


def test_pillow_bomb_limits_become_invalid_input():
    huge = bilevel_png(20_000, 20_000, pixels=False)  # past Pillow's DecompressionBombError threshold
    assert refused(huge).field == "image"
    assert refused(huge, max_pixels=10**12).field == "image"
    with warnings.catch_warnings(record=True) as caught:  # past Pillow's warning threshold only
        warnings.simplefilter("always")
        assert refused(bilevel_png(10_000, 9_000, pixels=False), max_pixels=10**12).field == "image"
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_sniff_format():
    assert sniff_format(encode(Image.new("RGB", (2, 2)), "WEBP")) == "WEBP"
    assert sniff_format(b"GIF89a....") == "GIF"
    assert sniff_format(b"RIFF\0\0\0\0WAVEfmt ") is None
    assert sniff_format(b"") is None


# ---------------------------------------------------------------- to_model_input


def as_uint8(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().to(torch.uint8).numpy()


def border(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[0], x[-1], x[:, 0], x[:, -1]])


def test_exact_size_round_trips_exactly():
    pixels = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    x = to_model_input(Image.fromarray(pixels), (1, 28, 28))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(pixels).float().div(255.0)[None, None])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(tensor_to_png(x)))), pixels)
    rgb = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(as_uint8(to_model_input(Image.fromarray(rgb), [3, 32, 32])[0]), rgb.transpose(2, 0, 1))


def test_aspect_ratio_fit_pads_with_the_border_colour():
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((0, 255, 0), (1, 1, 39, 19))  # green inside a 1-pixel blue border
    x = as_uint8(to_model_input(img, (3, 32, 32))[0])  # fitted to 32x16, rows 8..23
    assert (x[:, :8] == np.array([0, 0, 255])[:, None, None]).all()
    assert (x[:, 24:] == np.array([0, 0, 255])[:, None, None]).all()
    assert x[1, 16, 16] > 240 and x[2, 16, 16] < 15


def test_one_channel_fit_without_mnist_centring():
    img = Image.new("L", (60, 20), 0)
    img.paste(255, (10, 5, 50, 15))
    x = to_model_input(img, (1, 30, 30))[0, 0]  # 30x10, rows 10..19
    assert x[:10].max() == 0 and x[20:].max() == 0 and x[15, 15] > 0.9


def digit_on_paper(size: tuple[int, int] = (300, 240), at: tuple[int, int] = (40, 30)) -> Image.Image:
    """A black "L"-shaped stroke drawn on white paper, off-centre."""
    img = Image.new("RGB", size, "white")
    x, y = at
    ImageDraw.Draw(img).line([(x, y), (x, y + 120), (x + 60, y + 120)], fill="black", width=14)
    return img


def test_auto_invert_makes_ink_on_paper_mnist_like():
    x = to_model_input(digit_on_paper(), (1, 28, 28))[0, 0]
    assert border(x).mean() < 0.05 and x.max() > 0.9
    kept = to_model_input(digit_on_paper(), (1, 28, 28), invert="no")[0, 0]
    assert border(kept).mean() > 0.95 and kept.min() < 0.1
    dark = Image.new("L", (28, 28), 0)
    assert to_model_input(dark, (1, 28, 28), invert="yes").min() == 1.0
    assert to_model_input(dark, (1, 28, 28)).max() == 0.0  # exact size and mode: "auto" leaves it alone


def test_mnist_style_fits_20x20_and_centres_the_mass():
    x = to_model_input(digit_on_paper(at=(200, 90)), (1, 28, 28))[0, 0]
    ys, xs = torch.nonzero(x > 0.1, as_tuple=True)
    height, width = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
    assert max(height, width) in (20, 21) and min(height, width) < 20  # LANCZOS may spill one pixel
    weights = x / x.sum()
    cy, cx = float(weights.sum(1) @ torch.arange(28.0)), float(weights.sum(0) @ torch.arange(28.0))
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    plain = to_model_input(digit_on_paper(at=(200, 90)), (1, 28, 28), mnist_style=False)[0, 0]
    assert not torch.equal(plain, x)


def test_blank_image_is_just_fitted():
    x = to_model_input(Image.new("L", (50, 40), 255), (1, 28, 28))
    assert x.max() == 0.0  # inverted white page, no ink to centre


def test_channel_conversions():
    red = to_model_input(Image.new("RGB", (10, 10), (255, 0, 0)), (1, 10, 10))
    assert red.shape == (1, 1, 10, 10) and torch.all(red == 76 / 255.0)  # ITU-R 601 luma of pure red
    grey = to_model_input(Image.new("L", (8, 8), 90), (3, 8, 8))
    assert grey.shape == (1, 3, 8, 8) and torch.all(grey == 90 / 255.0)


def test_bad_arguments():
    img = Image.new("L", (4, 4))
    with pytest.raises(InvalidInputError) as info:
        to_model_input(img, (1, 4, 4), invert="maybe")
    assert info.value.field == "invert"
    with pytest.raises(IncompatibleError):
        to_model_input(img, (4, 4, 4))
    with pytest.raises(IncompatibleError):
        to_model_input(img, (28, 28))


# ---------------------------------------------------------------- PNG out, data URLs, hashes


def test_tensor_to_png_shapes_rounding_and_scale():
    x = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    for shaped in (x, x[None], x[None, None]):
        img = Image.open(io.BytesIO(tensor_to_png(shaped)))
        assert img.mode == "L" and np.asarray(img).tolist() == [[0, 128], [255, 255]]
    rgb = Image.open(io.BytesIO(tensor_to_png(torch.rand(1, 3, 5, 7), scale=3)))
    assert rgb.mode == "RGB" and rgb.size == (21, 15)
    blocks = np.asarray(rgb)
    assert (blocks[:3, :3] == blocks[0, 0]).all()  # nearest-neighbour: 3x3 blocks of one colour
    with pytest.raises(ValueError):
        tensor_to_png(torch.rand(2, 4, 4))
    with pytest.raises(InvalidInputError):
        tensor_to_png(x, scale=0)


def test_data_url_round_trip():
    png = tensor_to_png(torch.rand(3, 4, 4))
    url = data_url(png)
    assert url.startswith("data:image/png;base64,")
    assert parse_data_url(url) == png
    bare = base64.b64encode(png).decode()
    assert parse_data_url(bare) == png
    assert parse_data_url("\n".join(bare[i : i + 60] for i in range(0, len(bare), 60))) == png
    assert parse_data_url(base64.urlsafe_b64encode(png).decode().rstrip("=")) == png


@pytest.mark.parametrize(
    "text", ["", "data:image/png;base64,", "not base64 at all!", "data:image/png,rawbytes", "abcde"]
)
def test_bad_data_urls_are_refused(text):
    with pytest.raises(InvalidInputError) as info:
        parse_data_url(text, field="drawing")
    assert info.value.field == "drawing"


def test_data_url_size_is_checked_before_decoding():
    with pytest.raises(InvalidInputError, match="MB"):
        parse_data_url("A" * 4000, max_bytes=1000)


def test_image_sha256():
    x = torch.rand(1, 3, 4, 4)
    assert image_sha256(x) == image_sha256(x.clone()) == image_sha256(x.double())
    assert image_sha256(x) != image_sha256(x.reshape(1, 3, 2, 8))  # same bytes, other shape
    y = x.clone()
    y[0, 0, 0, 0] += 1e-6
    assert image_sha256(x) != image_sha256(y)
    assert len(image_sha256(x)) == 64
