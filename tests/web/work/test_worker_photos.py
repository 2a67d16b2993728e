"""Worker profile photos (US-120): uploaded by a manager, seen by the manager, the worker, and the
client whose order the worker has; a bad file is refused next to the field and nothing is kept."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.orders.models import Order, ServiceType
from tests.support.factories import ClientFactory, ManagerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.images import png_bytes
from tests.support.web import user_by_email


def create_worker(client, email: str, photo: bytes, filename: str = "cat.png"):
    token = csrf_token(client, "/manage/workers")
    return client.post(
        "/manage/workers",
        data={"email": email, "name": "Photo Cat", "csrf_token": token, "photo": (io.BytesIO(photo), filename)},
        content_type="multipart/form-data",
    )


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_us120_manager_uploads_a_worker_photo_and_people_who_may_see_it_do(client, new_client, db, uploads):
    login(client, ManagerFactory())
    response = create_worker(client, "photo@example.com", png_bytes())
    assert response.status_code == 303
    worker = user_by_email(db, "photo@example.com")
    assert worker.worker_profile.photo_path.startswith("workers/")
    assert len(stored_files(uploads)) == 1
    assert client.get(f"/manage/workers/{worker.id}/photo").mimetype == "image/png"
    assert f"/manage/workers/{worker.id}/photo" in client.get("/manage/workers").get_data(as_text=True)

    service = ServiceType(name="Photo service")
    owner = ClientFactory()
    slot = datetime.now(UTC) + timedelta(days=1)
    order = Order(
        client=owner, worker=worker, service_type=service, description="x", address="y",
        slot_start=slot, slot_end=slot + timedelta(hours=2), status="matched",
    )  # fmt: skip
    db.session.add(order)
    db.session.flush()
    owner_client = new_client()
    login(owner_client, owner)
    assert owner_client.get(f"/client/orders/{order.id}/photos/worker").status_code == 200
    stranger = new_client()
    login(stranger, ClientFactory())
    assert stranger.get(f"/client/orders/{order.id}/photos/worker").status_code == 404


def test_us120_a_file_that_is_not_a_photo_is_refused_and_nothing_is_kept(client, db, uploads):
    login(client, ManagerFactory())
    response = create_worker(client, "bad@example.com", b"%PDF-1.4 not a photo", "cv.pdf")
    assert response.status_code == 422
    assert "not a photo" in response.get_data(as_text=True)
    assert user_by_email(db, "bad@example.com") is None
    assert stored_files(uploads) == []


def test_a_duplicate_email_with_a_photo_keeps_no_file(client, db, uploads):
    login(client, ManagerFactory())
    assert create_worker(client, "twice@example.com", png_bytes()).status_code == 303
    response = create_worker(client, "TWICE@example.com", png_bytes())
    assert response.status_code == 409
    assert len(stored_files(uploads)) == 1


def test_worker_sees_own_photo_only(client, db, uploads):
    login(client, ManagerFactory())
    create_worker(client, "me@example.com", png_bytes())
    worker = user_by_email(db, "me@example.com")
    from app.accounts.services import set_password
    from tests.support.fixtures import TEST_PASSWORD

    set_password(worker, TEST_PASSWORD)
    db.session.flush()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/manage/")})
    login(client, worker)
    assert client.get("/work/photo").status_code == 200
    assert "/work/photo" in client.get("/work/").get_data(as_text=True)
