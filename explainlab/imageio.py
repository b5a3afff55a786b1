"""Untrusted image bytes to model input, and tensors back to PNG.

``decode_image`` refuses, with :class:`InvalidInputError`, anything that is not one still PNG, JPEG or WebP
within the byte and pixel limits, and checks the pixel count from the header before any pixel is decoded.
Transparent pixels are composited onto white (what a browser shows behind a transparent drawing), so a
black digit drawn on a transparent canvas becomes black-on-white and ``to_model_input`` can invert it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from explainlab.errors import IncompatibleError, InvalidInputError

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
DEFAULT_MAX_BYTES = 10 * 2**20
DEFAULT_MAX_PIXELS = 25_000_000

_ALLOWED_TEXT = "PNG, JPEG or WebP"
_MIB = 2**20
_MNIST_SIZE, _MNIST_BOX = 28, 20
_MNIST_INK = 25  # uint8 pixels above 0.1 * 255 count as ink when cropping a digit
_ORIENTATION_TAG = 0x0112
_ORIENTATION = {  # EXIF orientation -> the transpose that shows the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_MAGIC = (  # (prefix, offset, name): names a refused or damaged file that Pillow would not open
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"WEBP", 8, "WEBP"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"8BPS", 0, "PSD"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
)


def decode_image(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS, field: str = "image"
) -> Image.Image:
    """A fully loaded "RGB" or "L" image from untrusted bytes, EXIF orientation applied; refuses anything else."""
    if not data:
        raise InvalidInputError(f"{field}: is empty; send a {_ALLOWED_TEXT} image", field)
    if len(data) > max_bytes:
        raise InvalidInputError(
            f"{field}: is {len(data) / _MIB:.1f} MB; the limit is {max_bytes / _MIB:.1f} MB", field, "too_large"
        )
    img = _open_header(data, max_pixels, field)
    fmt = img.format or "?"
    frames = getattr(img, "n_frames", 1)
    if frames > 1 and fmt != "MPO":  # MPO: a camera JPEG with extra views; its first frame is the photo
        raise InvalidInputError(
            f"{field}: is animated ({frames} frames); send a single still image", field, "unsupported_format"
        )
    _check_pixels(img.size, max_pixels, field)
    if not _looks_complete(data, fmt):  # do not trust ImageFile.LOAD_TRUNCATED_IMAGES to be False
        raise InvalidInputError(f"{field}: the {fmt} file is truncated", field, "corrupt")
    try:
        img.load()
        flat = _flatten(img)
    except Exception as exc:  # anything a decoder raises on these bytes is the bytes' fault
        raise InvalidInputError(f"{field}: the {fmt} file is truncated or corrupt ({exc})", field, "corrupt") from exc
    turn = _ORIENTATION.get(_exif_orientation(img))
    return flat.transpose(turn) if turn is not None else flat


def _exif_orientation(img: Image.Image) -> int:
    """The EXIF Orientation tag (1 = as stored); 1 when absent or when the EXIF block is malformed."""
    try:
        return int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a malformed EXIF block: keep the pixels as stored
        return 1


def _open_header(data: bytes, max_pixels: int, field: str) -> Image.Image:
    """The lazily opened image (header read, no pixels), with Pillow's own failures as InvalidInputError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(
            f"{field}: has too many pixels ({exc}); max_pixels is {max_pixels:,}", field, "too_large"
        ) from exc
    except UnidentifiedImageError as exc:
        name = sniff_format(data)
        if name is None:
            raise InvalidInputError(f"{field}: is not a {_ALLOWED_TEXT} image", field, "unsupported_format") from exc
        if name in ALLOWED_FORMATS:
            raise InvalidInputError(f"{field}: the {name} file is truncated or corrupt", field, "corrupt") from exc
        raise InvalidInputError(
            f"{field}: {name!r} is not an allowed format; send {_ALLOWED_TEXT}", field, "unsupported_format"
        ) from exc
    except Exception as exc:  # a plugin that recognised the file and then failed on it
        name = sniff_format(data) or "image"
        raise InvalidInputError(f"{field}: the {name} file is truncated or corrupt ({exc})", field, "corrupt") from exc


def sniff_format(data: bytes) -> str | None:
    """The format the first bytes announce (PNG, JPEG, WEBP, GIF, BMP, TIFF, HEIC...), or None."""
    for prefix, offset, name in _MAGIC:
        if data[offset : offset + len(prefix)] == prefix and (name != "WEBP" or data[:4] == b"RIFF"):
            return name
    return None


def _check_pixels(size: tuple[int, int], max_pixels: int, field: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidInputError(f"{field}: has no pixels ({width}x{height})", field)
    if width * height > max_pixels:
        raise InvalidInputError(
            f"{field}: {width}x{height} is {width * height / 1e6:.1f} megapixels; "
            f"the limit is max_pixels = {max_pixels:,} ({max_pixels / 1e6:.1f} megapixels)",
            field,
            "too_large",
        )


def _looks_complete(data: bytes, fmt: str) -> bool:
    """False when a PNG or JPEG visibly ends early; True when complete or when its structure is unclear."""
    if fmt == "PNG":
        return _png_complete(data)
    if fmt in ("JPEG", "MPO"):
        return _jpeg_complete(data)
    return True  # libwebp decodes the whole buffer at once and fails on its own


def _png_complete(data: bytes) -> bool:
    """Every chunk fits in the data and an IEND chunk is reached."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length  # length, type, data, crc
        if pos > len(data):
            return False
        if kind == b"IEND":
            return True
    return False


def _jpeg_complete(data: bytes) -> bool:
    """An end-of-image marker follows the first scan of the main image (segments before it are skipped)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return True  # unusual layout: leave the judgement to the decoder
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
        elif marker == 0xDA:
            return data.find(b"\xff\xd9", pos) >= 0
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _flatten(img: Image.Image) -> Image.Image:
    """ "L" or "RGB": alpha composited onto white, 16-bit grey scaled (not clipped) to 8 bits."""
    mode = img.mode
    if mode in ("L", "RGB") and "transparency" not in img.info:
        return img
    if mode.startswith("I"):  # 16-bit greyscale PNG ("I;16", "I;16B", or "I" from older files)
        grey = np.clip(np.asarray(img, dtype=np.float64), 0, 65535) / 257.0
        return Image.fromarray(np.rint(grey).astype(np.uint8))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, img.convert("RGBA")).convert("RGB")
        return flat.convert("L") if mode in ("L", "LA", "La", "1") else flat
    return img.convert("L" if mode == "1" else "RGB")  # 1, P, CMYK, YCbCr, RGBX...


def to_model_input(
    img: Image.Image,
    input_size: tuple[int, int, int] | list[int],
    *,
    invert: Literal["auto", "yes", "no"] = "auto",
    mnist_style: bool = True,
) -> torch.Tensor:
    """A (1, C, H, W) float32 tensor in [0, 1]: mode converted, aspect-preserving fit, padding in the background.

    An image already of the model's size and mode is used as is (no resampling, and "auto" does not invert).
    For 1 channel, "auto" inverts when the border is mostly bright (black ink on white paper -> MNIST-like),
    and for a 28x28 1-channel model ``mnist_style`` crops the ink, fits it into 20x20 and centres its centre
    of mass in 28x28, the way MNIST digits were made.
    """
    channels, height, width = _model_size(input_size)
    if invert not in ("auto", "yes", "no"):
        raise InvalidInputError(f"invert: {invert!r} is not one of 'auto', 'yes', 'no'", "invert")
    mode = "L" if channels == 1 else "RGB"
    if img.mode == mode and img.size == (width, height) and "transparency" not in img.info:
        return _to_tensor(ImageOps.invert(img) if channels == 1 and invert == "yes" else img)
    img = _flatten(img).convert(mode)
    if channels == 3:
        background = tuple(round(v) for v in _border_mean(np.asarray(img)))
        return _to_tensor(_fit(img, width, height, background))
    border = float(_border_mean(np.asarray(img))[0]) / 255.0
    if invert == "yes" or (invert == "auto" and border > 0.5):
        img, border = ImageOps.invert(img), 1.0 - border
    background = 255 if border > 0.5 else 0
    if mnist_style and background == 0 and height == width == _MNIST_SIZE and img.size != (width, height):
        centred = _mnist_centre(img)
        if centred is not None:
            return _to_tensor(centred)
    return _to_tensor(_fit(img, width, height, background))


def _model_size(input_size: tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    if len(input_size) != 3 or min(input_size) < 1:
        raise IncompatibleError(f"input_size must be (channels, height, width), got {tuple(input_size)}")
    channels, height, width = (int(v) for v in input_size)
    if channels not in (1, 3):
        raise IncompatibleError(f"images can feed 1- or 3-channel models, not {channels} channels")
    return channels, height, width


def _border_mean(arr: np.ndarray) -> np.ndarray:
    """Mean of the 1-pixel border, per channel (a 1-element array for greyscale)."""
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1).astype(np.float64)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return border.mean(axis=0)


def _fit(img: Image.Image, width: int, height: int, background: int | tuple[int, ...]) -> Image.Image:
    """Scale to fit inside width x height keeping the aspect ratio; pad, centred, with ``background``."""
    if img.size == (width, height):
        return img
    scale = min(width / img.width, height / img.height)
    size = (max(1, min(width, round(img.width * scale))), max(1, min(height, round(img.height * scale))))
    resized = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    canvas = Image.new(img.mode, (width, height), background)
    canvas.paste(resized, ((width - size[0]) // 2, (height - size[1]) // 2))
    return canvas


def _mnist_centre(img: Image.Image) -> Image.Image | None:
    """Ink bounding box fitted into 20x20, centre of mass at the centre of 28x28; None if there is no ink."""
    ys, xs = np.nonzero(np.asarray(img) > _MNIST_INK)
    if ys.size == 0:
        return None
    box = img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    scale = _MNIST_BOX / max(box.size)
    size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
    digit = box.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    ink = np.asarray(digit, dtype=np.float64)
    total = ink.sum()
    cy = (ink.sum(axis=1) @ np.arange(size[1])) / total if total else (size[1] - 1) / 2
    cx = (ink.sum(axis=0) @ np.arange(size[0])) / total if total else (size[0] - 1) / 2
    half = _MNIST_SIZE / 2  # pixel i covers [i, i + 1), so its centre is i + 0.5
    top = int(np.clip(round(half - cy - 0.5), 0, _MNIST_SIZE - size[1]))
    left = int(np.clip(round(half - cx - 0.5), 0, _MNIST_SIZE - size[0]))
    canvas = Image.new("L", (_MNIST_SIZE, _MNIST_SIZE), 0)
    canvas.paste(digit, (left, top))
    return canvas


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """(1, C, H, W) float32 = uint8 / 255, the same arithmetic as ImageDataset.float_images."""
    arr = np.array(img, dtype=np.uint8)  # a writable copy
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr)).to(torch.float32).div_(255.0).unsqueeze(0)


def tensor_to_png(x: torch.Tensor | np.ndarray, scale: int = 1) -> bytes:
    """PNG of a (H, W), (C, H, W) or (1, C, H, W) image in [0, 1]: "L" for 1 channel, "RGB" for 3."""
    t = torch.as_tensor(x).detach().to("cpu", torch.float32)
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"expected (H, W), (C, H, W) or (1, C, H, W) with C in (1, 3), got {tuple(x.shape)}")
    arr = (t.nan_to_num(0.0).clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).numpy()
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    return encode_png(Image.fromarray(np.ascontiguousarray(arr)), scale)


def encode_png(img: Image.Image, scale: int = 1) -> bytes:
    """PNG bytes of ``img``, upscaled ``scale`` times with nearest-neighbour (crisp pixels)."""
    if not isinstance(scale, int) or scale < 1:
        raise InvalidInputError(f"scale: must be a whole number >= 1, got {scale!r}", "scale")
    if img.width * img.height * scale * scale > DEFAULT_MAX_PIXELS:
        raise InvalidInputError(f"scale: {scale} would make a {img.width * scale}x{img.height * scale} image", "scale")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes, mime: str = "image/png") -> str:
    """``data:<mime>;base64,...`` for an <img src>."""
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def parse_data_url(s: str, field: str = "image", max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a base64 data URL (``data:image/png;base64,...``) or of bare base64 (URL-safe accepted)."""
    s = s.strip()
    if s.startswith("data:"):
        header, sep, s = s.partition(",")
        if not sep or not header.endswith(";base64"):
            raise InvalidInputError(f"{field}: only base64 data URLs are accepted (data:image/png;base64,...)", field)
    payload = "".join(s.split()).translate(str.maketrans("-_", "+/"))
    if not payload:
        raise InvalidInputError(f"{field}: is empty; send a {_ALLOWED_TEXT} image", field)
    if len(payload) * 3 // 4 > max_bytes + 2:
        raise InvalidInputError(
            f"{field}: is about {len(payload) * 3 / 4 / _MIB:.1f} MB; the limit is {max_bytes / _MIB:.1f} MB",
            field,
            "too_large",
        )
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"{field}: is not valid base64 ({exc})", field) from exc


def image_sha256(x: torch.Tensor) -> str:
    """Hex sha256 of a tensor's shape and float32 values, for content-addressed caches."""
    t = x.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(repr(tuple(t.shape)).encode("ascii"))
    digest.update(t.numpy().tobytes())
    return digest.hexdigest()
