"""The development mailbox: what the local SMTP sink of `make run` stores, and how it is read back.

The sink stores each message as `<name>.eml`, names sorting in arrival order, and appends one JSON
line with its headers (`id`, `from`, `to`, `subject`, `date`) to `index.jsonl` in the same
directory. A list page then needs no message file at all: it lists the names (one directory scan),
takes their headers from the index (read once per process, then only what was appended since) and
filters and pages in memory; only the one message a person opens is parsed. A message the index
does not know (stored by an older sink, or whose line is not written yet) has its headers parsed
once and remembered by the process.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import threading
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

INDEX_NAME = "index.jsonl"
SUFFIX = ".eml"


@dataclass(frozen=True)
class Summary:
    """What the list shows of a message: its headers, decoded."""

    id: str
    sender: str
    to: str
    subject: str
    date: str

    def matches(self, term: str) -> bool:
        """`term` (case-folded) in the recipient or the subject."""
        return term in self.to.casefold() or term in self.subject.casefold()


def _header(message, name: str) -> str:
    value = message[name]
    return " ".join(str(value).split()) if value is not None else ""


def summarise(name: str, raw: bytes) -> Summary:
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    return Summary(
        name, _header(headers, "From"), _header(headers, "To"), _header(headers, "Subject"), _header(headers, "Date")
    )


def store(directory: Path, name: str, raw: bytes) -> None:
    """Keep a message the sink received: the file, then its line in the index.

    The sink is one asyncio loop, so lines are appended one at a time; a reader takes only whole
    lines, so a line being written is picked up by the next request."""
    (directory / f"{name}{SUFFIX}").write_bytes(raw)
    summary = summarise(name, raw)
    line = json.dumps(
        {"id": name, "from": summary.sender, "to": summary.to, "subject": summary.subject, "date": summary.date},
        ensure_ascii=False,
    )
    with open(directory / INDEX_NAME, "a", encoding="utf-8") as index:
        index.write(line + "\n")


def read_message(directory: Path, name: str) -> dict | None:
    """The whole message `name` (headers and text body), or None if there is no such message."""
    if not name.replace("-", "").replace("_", "").isalnum():
        return None
    path = directory / f"{name}{SUFFIX}"
    if not path.is_file():
        return None
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    return {
        "id": name,
        "from": message["From"],
        "to": message["To"],
        "subject": message["Subject"],
        "date": message["Date"],
        "message_id": message["Message-ID"],
        "body": body.get_content() if body is not None else "",
    }


class _Catalogue:
    """One directory's headers, kept by the process between requests (threads share it)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.lock = threading.Lock()
        self.index_offset = 0
        self.known: dict[str, Summary] = {}
        # The last listing and what it was made from: (the directory's mtime, the index's size).
        self.listing: list[Summary] = []
        self.listed_from: tuple[int, int] | None = None

    def _read_index(self, size: int) -> None:
        path = self.directory / INDEX_NAME
        if size < self.index_offset:  # the index was replaced (the mailbox emptied): start again
            self.index_offset, self.known = 0, {}
        if size == self.index_offset:
            return
        with open(path, "rb") as index:
            index.seek(self.index_offset)
            data = index.read(size - self.index_offset)
        complete = data[: data.rfind(b"\n") + 1]
        self.index_offset += len(complete)
        for line in complete.splitlines():
            try:
                row = json.loads(line)
                summary = Summary(row["id"], row["from"], row["to"], row["subject"], row["date"])
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line: the message's own headers are read instead
            self.known[summary.id] = summary

    def newest_first(self) -> list[Summary]:
        with self.lock:
            try:
                directory_mtime = self.directory.stat().st_mtime_ns
            except FileNotFoundError:
                return []
            try:
                index_size = (self.directory / INDEX_NAME).stat().st_size
            except FileNotFoundError:
                index_size = 0
            # Every message the sink keeps grows the index, and adding or removing a file touches
            # the directory: when neither changed, the last listing still holds (the scan of
            # thousands of names is most of a request's cost).
            if self.listed_from == (directory_mtime, index_size):
                return self.listing
            self._read_index(index_size)
            try:
                names = [
                    entry.name[: -len(SUFFIX)] for entry in os.scandir(self.directory) if entry.name.endswith(SUFFIX)
                ]
            except FileNotFoundError:
                return []
            names.sort(reverse=True)
            for name in names:
                if name not in self.known:
                    try:
                        self.known[name] = summarise(name, (self.directory / f"{name}{SUFFIX}").read_bytes())
                    except FileNotFoundError:
                        continue
            self.listing = [self.known[name] for name in names if name in self.known]
            self.listed_from = (directory_mtime, index_size)
            return self.listing


_catalogues: dict[Path, _Catalogue] = {}
_catalogues_lock = threading.Lock()


def messages(directory: Path) -> list[Summary]:
    """Every message of the mailbox in `directory`, newest first."""
    with _catalogues_lock:
        catalogue = _catalogues.setdefault(directory, _Catalogue(directory))
    return catalogue.newest_first()


def search(summaries: list[Summary], text: str) -> list[Summary]:
    """Those whose recipient or subject contains `text`, whatever its case (all for no text)."""
    term = text.strip().casefold()
    return [summary for summary in summaries if summary.matches(term)] if term else summaries
