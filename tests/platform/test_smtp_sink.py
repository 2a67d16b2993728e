"""The local SMTP sink of `make run` and the browser tests keeps messages in arrival order: the dev
mailbox and the US-300 order checks read them sorted by file name."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace

from scripts import devservices


def test_file_names_sort_in_arrival_order_across_a_clock_wrap(tmp_path, monkeypatch):
    # Within one wall-clock second a sub-second counter can wrap; arrival order must survive it.
    monotonic = itertools.cycle([999_999_000, 1_000])
    monkeypatch.setattr(devservices.time, "monotonic_ns", lambda: next(monotonic) + 5_000_000_000)
    monkeypatch.setattr(devservices.time, "strftime", lambda _format: "20261202-120000")
    handler = devservices.MailboxHandler(tmp_path)
    for number in range(6):
        envelope = SimpleNamespace(original_content=f"X-N: {number}\n\nbody".encode(), content=None)
        asyncio.run(handler.handle_DATA(None, None, envelope))
    names = sorted(path.name for path in tmp_path.glob("*.eml"))
    assert [(tmp_path / name).read_bytes().split(b"\n")[0] for name in names] == [
        f"X-N: {number}".encode() for number in range(6)
    ]
