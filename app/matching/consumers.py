"""The matching consumer: matches every requested order after its commit (US-060..073)."""

from app.events import Consumer

matching = Consumer("matching")
