"""Photos uploaded by people (worker profiles now, check-in and report photos later).

A photo must be a real JPEG, PNG or WebP under the size limit. It is decoded, turned upright,
re-encoded without its metadata (phone photos carry GPS positions in EXIF), and stored under
UPLOAD_DIR, outside the web root, with a random name. Views serve it only after their own
access check, through `send_photo`.
"""

from __future__ import annotations

import io
import logging
import threading
import uuid
from pathlib import Path

from flask import current_app, send_file
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from app.platform.validation import ValidationError

log = logging.getLogger(__name__)

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
# Larger is a decompression bomb, not a phone photo (phones save 12 MP by default). Decoding is
# bounded three ways: this cap, JPEG's draft mode (decoded straight at about the stored size), and
# at most DECODE_CONCURRENCY decodes at once per process, so a burst of uploads cannot eat the memory.
MAX_PIXELS = 16_000_000
DECODE_CONCURRENCY = 2
_decoding = threading.BoundedSemaphore(DECODE_CONCURRENCY)
MAX_SIDE = 2560  # stored photos are scaled down to this; enough to read a signed report


def _upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]).resolve()


def max_photo_bytes() -> int:
    return int(current_app.config.get("MAX_PHOTO_BYTES", 8 * 1024 * 1024))


def _read_upload(upload: FileStorage | None, field: str) -> bytes:
    if upload is None or not upload.filename:
        raise ValidationError(**{field: "Choose a photo."})
    data = upload.stream.read(max_photo_bytes() + 1)
    if len(data) > max_photo_bytes():
        raise ValidationError(**{field: f"The photo is larger than {max_photo_bytes() // (1024 * 1024)} MB."})
    return data


def _probe(data: bytes, field: str) -> str:
    """The image format from the header alone (cheap: nothing is decoded); raises ValidationError."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            if image_format not in FORMATS:
                raise ValidationError(**{field: "Use a JPEG, PNG or WebP photo."})
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(**{field: "The photo has too many pixels."})
            return image_format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(**{field: "This file is not a photo we can read."}) from None


def _reencode(data: bytes, field: str) -> tuple[bytes, str]:
    image_format = _probe(data, field)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with _decoding, Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft(None, (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when large
            image.load()
            image = ImageOps.exif_transpose(image)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            if image_format == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            encoded = io.BytesIO()
            image.save(encoded, format=image_format)  # a fresh file: no EXIF, no trailing payload
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(**{field: "This file is not a photo we can read."}) from None
    return encoded.getvalue(), image_format


def _write(data: bytes, folder: str, extension: str) -> str:
    relative = Path(folder) / f"{uuid.uuid4().hex}.{extension}"
    target = _upload_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative.as_posix()


def save_photo(upload: FileStorage | None, folder: str, field: str = "photo") -> str:
    """Check and store an uploaded photo; returns its path relative to UPLOAD_DIR."""
    encoded, image_format = _reencode(_read_upload(upload, field), field)
    return _write(encoded, folder, FORMATS[image_format][0])


def stash_photo(upload: FileStorage | None, folder: str, field: str = "photo") -> str:
    """Keep an upload as received after a cheap check of its header (size, format, pixels), for a
    job to re-encode later with `reencode_stashed`: a request that must stay cheap decodes nothing."""
    data = _read_upload(upload, field)
    _probe(data, field)
    return _write(data, folder, "upload")


def reencode_stashed(relative: str, folder: str, field: str = "photo") -> str:
    """Decode and re-encode a stashed upload like `save_photo`; the stashed file is removed either way."""
    try:
        data = photo_file(relative).read_bytes()
        encoded, image_format = _reencode(data, field)
        return _write(encoded, folder, FORMATS[image_format][0])
    finally:
        discard_photo(relative)


def photo_file(relative: str) -> Path:
    """The absolute path of a stored photo; refuses anything outside UPLOAD_DIR."""
    root = _upload_root()
    path = (root / relative).resolve()
    if root not in path.parents or not path.is_file():
        raise FileNotFoundError(relative)
    return path


def discard_photo(relative: str | None) -> None:
    """Remove a stored photo whose step was then refused (nothing may point at it)."""
    if relative is None:
        return
    try:
        photo_file(relative).unlink()
    except OSError:
        log.warning("could not remove the refused photo %s", relative)


def send_photo(relative: str):
    path = photo_file(relative)
    mimetype = next((mime for ext, mime in FORMATS.values() if path.suffix == f".{ext}"), "application/octet-stream")
    response = send_file(path, mimetype=mimetype, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
