"""Every fixture lives in tests/support/; this file only registers the library."""

pytest_plugins = ["tests.support.fixtures"]
