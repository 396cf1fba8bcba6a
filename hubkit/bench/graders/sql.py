"""SQL: run the answer's query on a real SQLite database built from the case, compare results."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from hubkit.bench.extract import final_answer, last_fenced, strip_reasoning
from hubkit.bench.graders import Verdict

MAX_STEPS = 2_000_000  # VM instructions before a query is cut off (runaway recursive CTEs)
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _run(schema: str, query: str) -> list[tuple]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        # The answer may only read: no ATTACH, PRAGMA, writes or schema changes.
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY)
        steps = [0]

        def guard() -> int:
            steps[0] += 1
            return 1 if steps[0] > MAX_STEPS // 1000 else 0

        conn.set_progress_handler(guard, 1000)
        return [tuple(r) for r in conn.execute(query).fetchall()]
    finally:
        conn.close()


def extract_sql(response: str) -> str:
    visible = strip_reasoning(response)
    return (last_fenced(visible, ("sql",)) or final_answer(response)).strip().rstrip(";").strip()


def grade(spec: dict[str, Any], response: str) -> Verdict:
    query = extract_sql(response)
    if not query:
        return Verdict(False, "sql", "no query found")
    expected = _run(spec["schema"], spec["reference"])
    try:
        got = _run(spec["schema"], query)
    except sqlite3.Error as exc:
        return Verdict(False, "sql", f"query failed: {exc}")
    same = got == expected if spec.get("ordered", False) else Counter(got) == Counter(expected)
    detail = "result matches" if same else f"result differs: {len(got)} rows, expected {len(expected)}"
    return Verdict(same, "sql", detail)
