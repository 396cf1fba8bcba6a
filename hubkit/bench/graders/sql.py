"""SQL: run the answer's query on real SQLite databases built from the case, compare results.

One database is the case's own data (the rows the prompt's author had in mind). A `suite`
adds databases generated from a declarative description of each table (seeded, so every run
grades on the same ones): small value domains give ties, repeated values, rows outside the
asked filter and parents without children, which separate near-miss queries (no filter, the
wrong tie-break, no DISTINCT) that return the right rows on one hand-made table set. This is
the test-suite idea of Zhong et al. (2020) for text-to-SQL: the answer must match the
reference on every database.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import threading
from collections import Counter
from functools import lru_cache
from typing import Any

from hubkit.bench.extract import final_answer, last_fenced, strip_reasoning
from hubkit.bench.graders.base import Verdict

MAX_STEPS = 2_000_000  # VM instructions before a query is cut off (runaway recursive CTEs)
_LOCK = threading.Lock()  # the cached connections are shared; one grade at a time
_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _value(rule: Any, rng: random.Random, n: int, parent: int | None, ids: dict[str, list[int]], used: set):
    """One cell. Rules: id, parent, {ref: table}, {int: [lo, hi]}, {choice: [...]},
    {pick: [...]} (no repeats within the table), {first: [...]} (the n-th item), {date: [from, to, step]}."""
    if rule == "id":
        return n + 1
    if rule == "parent":
        return parent
    ((kind, arg),) = rule.items()
    if kind == "ref":
        return rng.choice(ids[arg])
    if kind == "int":
        return rng.randint(*arg)
    if kind == "choice":
        return rng.choice(arg)
    if kind == "first":
        return arg[n]
    if kind == "pick":
        value = rng.choice([v for v in arg if v not in used])
        used.add(value)
        return value
    if kind == "date":  # [from, to] or [from, to, every n days]: a coarse step makes same-day rows
        lo, hi = (dt.date.fromisoformat(str(d)) for d in arg[:2])
        step = arg[2] if len(arg) > 2 else 1
        return (lo + dt.timedelta(days=step * rng.randint(0, (hi - lo).days // step))).isoformat()
    raise ValueError(f"unknown column rule {rule!r}")


def _needs(t: dict[str, Any]) -> set[str]:
    refs = {rule["ref"] for rule in t["columns"].values() if isinstance(rule, dict) and "ref" in rule}
    return refs | ({t["per"]} if "per" in t else set())


def generate(tables: dict[str, Any], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Rows per table. Tables and columns are filled in name order (a table after those it refers
    to), so the spec's key order does not matter: the exported spec, keys sorted, gives the same
    databases.

    A table with `per: parent` gets `rows: [lo, hi]` rows for each parent row (`[0, 3]`: some
    orders have no items, some categories no products); otherwise `rows: [lo, hi]` in all. A
    table that refers to an empty one gets no rows.
    """
    rng = random.Random(seed)
    ids: dict[str, list[int]] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    todo = dict(sorted(tables.items()))
    while todo:
        name = next((n for n, t in todo.items() if _needs(t) <= out.keys()), None)
        if name is None:
            raise ValueError(f"tables {sorted(todo)} refer to each other or to unknown tables")
        t = todo.pop(name)
        columns = sorted(t["columns"].items())
        rows, used = [], {c: set() for c, _ in columns}
        refs = [rule["ref"] for _, rule in columns if isinstance(rule, dict) and "ref" in rule]
        empty = any(not ids[r] for r in refs)  # nothing to refer to (every category empty): no rows
        for parent in [] if empty else ids[t["per"]] if "per" in t else [None]:
            for _ in range(rng.randint(*t["rows"])):
                n = len(rows)
                rows.append({c: _value(rule, rng, n, parent, ids, used[c]) for c, rule in columns})
        out[name] = rows
        ids[name] = [r[c] for r in rows for c, rule in columns if rule == "id"]
    return out


@lru_cache(maxsize=64)
def _databases(schema: str, data: str, suite_key: str) -> tuple[sqlite3.Connection, ...]:
    """The case's database, then the suite's; read-only from here on (the authorizer)."""
    suite = json.loads(suite_key) if suite_key else None
    dbs = []
    for i in range(1 + (suite["databases"] if suite else 0)):
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.executescript(schema)
        if i == 0:
            conn.executescript(data)
        else:
            for table, rows in generate(suite["tables"], suite["seed"] + i).items():
                if rows:
                    cols = list(rows[0])
                    insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    conn.executemany(insert, [tuple(r[c] for c in cols) for r in rows])
        conn.commit()
        # The answer may only read: no ATTACH, PRAGMA, writes or schema changes.
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY)
        dbs.append(conn)
    return tuple(dbs)


def _run(conn: sqlite3.Connection, query: str) -> list[tuple]:
    steps = [0]

    def guard() -> int:
        steps[0] += 1
        return 1 if steps[0] > MAX_STEPS // 1000 else 0

    conn.set_progress_handler(guard, 1000)
    try:
        return [tuple(r) for r in conn.execute(query).fetchall()]
    finally:
        conn.set_progress_handler(None, 0)


def databases(spec: dict[str, Any]) -> tuple[sqlite3.Connection, ...]:
    suite = spec.get("suite")
    return _databases(spec["schema"], spec.get("data", ""), json.dumps(suite, sort_keys=True) if suite else "")


def extract_sql(response: str) -> str:
    visible = strip_reasoning(response)
    return (last_fenced(visible, ("sql",)) or final_answer(response)).strip().rstrip(";").strip()


def grade(spec: dict[str, Any], response: str) -> Verdict:
    query = extract_sql(response)
    if not query:
        return Verdict(False, "sql", "no query found")
    with _LOCK:
        dbs = databases(spec)
        return _compare(spec, query, dbs)


def _compare(spec: dict[str, Any], query: str, dbs: tuple[sqlite3.Connection, ...]) -> Verdict:
    for i, conn in enumerate(dbs):
        expected = _run(conn, spec["reference"])
        try:
            got = _run(conn, query)
        except sqlite3.Error as exc:
            return Verdict(False, "sql", f"query failed: {exc}")
        same = got == expected if spec.get("ordered", False) else Counter(got) == Counter(expected)
        if not same:
            where = "the case's database" if i == 0 else f"test database {i} of {len(dbs) - 1}"
            return Verdict(False, "sql", f"result differs on {where}: {len(got)} rows, expected {len(expected)}")
    suite = f" and {len(dbs) - 1} test databases" if len(dbs) > 1 else ""
    return Verdict(True, "sql", f"result matches on the case's database{suite}")
