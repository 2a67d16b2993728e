"""The demo data of `make run`, split by concern: who and what (data), how the past happened (story),
the pictures (photos), and what `flask demo load` runs (load)."""

from app.demo.load import load_demo

__all__ = ["load_demo"]
