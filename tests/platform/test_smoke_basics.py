from tests.support.factories import ManagerFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login


def test_manager_logs_in_and_sees_home(client):
    manager = ManagerFactory()
    login(client, manager)
    response = client.get("/manage/")
    assert response.status_code == 200
    assert b"Overview" in response.data


def test_worker_cannot_reach_manage(client):
    worker = WorkerFactory()
    login(client, worker)
    assert client.get("/manage/").status_code == 403


def test_csrf_token_is_on_every_page(client):
    assert csrf_token(client, "/login")
