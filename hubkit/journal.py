"""Append-only JSONL journals: each record written, flushed and fsynced before the next.

A `kill -9` can tear at most the last line; it is skipped when read and cut before the next
append, so every completed record survives and none is written twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def repair_tail(path: Path) -> None:
    """Cut a torn last line (a kill mid-write) so appended records start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a journal; a torn line (a crash mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


class Journal:
    """`with Journal(path) as j: j.append(record)`; records are durable once append returns."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Journal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self._f = self.path.open("a", encoding="utf-8")
        return self

    def append(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def __exit__(self, *exc) -> None:
        self._f.close()
