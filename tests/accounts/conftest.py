import pytest

from tests.web.support import isolated_client


@pytest.fixture
def client(app, db):
    """A test client whose requests each get their own app context (see tests/web/support.py)."""
    return isolated_client(app)


@pytest.fixture
def new_client(app, db):
    """Another browser: `new_client()` gives a fresh client with its own cookies."""
    return lambda: isolated_client(app)
