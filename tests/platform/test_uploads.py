"""Photo uploads (US-120 worker photos; later US-180 check-in and report photos)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.platform.uploads import photo_file, save_photo
from app.platform.validation import ValidationError
from tests.support.images import image_bytes


def _upload(data: bytes, name: str = "photo.jpg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def upload_app(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.test_request_context():
        yield app
    app.config["UPLOAD_DIR"] = previous


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_real_photo_is_stored_outside_static_with_random_name(upload_app, fmt):
    relative = save_photo(_upload(image_bytes(fmt), "../../etc/passwd.jpg"), "workers")
    stored = photo_file(relative)
    assert stored.is_file() and "passwd" not in stored.name
    assert str(stored).startswith(upload_app.config["UPLOAD_DIR"])
    with Image.open(stored) as image:
        assert image.format == fmt


def test_metadata_is_stripped(upload_app):
    relative = save_photo(_upload(image_bytes("JPEG", exif=True)), "workers")
    with Image.open(photo_file(relative)) as image:
        assert not image.getexif()


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"GIF89a" + b"\x00" * 20, image_bytes("JPEG")[:40]],
    ids=["empty", "text", "fake-gif", "truncated-jpeg"],
)
def test_non_photos_are_refused_with_a_message(upload_app, data):
    with pytest.raises(ValidationError) as refused:
        save_photo(_upload(data), "workers")
    assert refused.value.errors["photo"]


def test_gif_is_refused(upload_app):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    with pytest.raises(ValidationError, match="JPEG, PNG or WebP"):
        save_photo(_upload(buffer.getvalue(), "x.gif"), "workers")


def test_size_limit(upload_app):
    previous = upload_app.config["MAX_PHOTO_BYTES"]
    upload_app.config["MAX_PHOTO_BYTES"] = 1000
    try:
        with pytest.raises(ValidationError, match="larger than"):
            save_photo(_upload(image_bytes("PNG", size=(400, 400)) + b"\x00" * 2000), "workers")
    finally:
        upload_app.config["MAX_PHOTO_BYTES"] = previous


def test_missing_file(upload_app):
    with pytest.raises(ValidationError, match="Choose a photo"):
        save_photo(None, "workers")


def test_paths_outside_the_upload_folder_are_never_served(upload_app):
    with pytest.raises(FileNotFoundError):
        photo_file("../../../etc/passwd")
