"""The one fixture library: fixtures (registered by tests/conftest.py), factories and helpers by subject."""
