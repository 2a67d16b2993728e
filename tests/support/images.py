"""Pictures for photo uploads in tests: real encoded images, made in memory."""

from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage


def image_bytes(fmt: str = "PNG", size=(40, 30), colour=(120, 200, 40), exif: bool = False) -> bytes:
    """An image encoded as `fmt`; with `exif`, it carries a camera maker tag (which uploads strip)."""
    image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    if exif:
        metadata = Image.Exif()
        metadata[0x010F] = "PhoneMaker"  # Make
        image.save(buffer, format=fmt, exif=metadata)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes(size=(40, 30)) -> bytes:
    return image_bytes("PNG", size)


def png_upload(name: str = "photo.png") -> FileStorage:
    """A PNG as a form upload (what a view or `save_photo` receives)."""
    return FileStorage(io.BytesIO(png_bytes()), filename=name, content_type="image/png")
