import pytest
import time_machine

from tests.support.orders import NOW
from tests.support.web import config_values


@pytest.fixture(autouse=True)
def frozen_time():
    """The pages judge slots against the app clock: a fixed Monday morning."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def uploads(app, tmp_path):
    """Photos go to a directory of the test's own."""
    with config_values(app, UPLOAD_DIR=str(tmp_path / "uploads")):
        yield tmp_path / "uploads"
