"""Constrained writing: verifiable constraints, IFEval-style. Every failed check is reported."""

from __future__ import annotations

import json
import re
from typing import Any

from hubkit.bench.extract import strip_reasoning
from hubkit.bench.graders import Verdict


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


CHECKS = {
    "min_words": lambda t, n: len(_words(t)) >= n,
    "max_words": lambda t, n: len(_words(t)) <= n,
    "lines": lambda t, n: len(_lines(t)) == n,
    "must_include": lambda t, words: all(re.search(rf"\b{re.escape(w)}\b", t, re.I) for w in words),
    "forbid": lambda t, words: not any(re.search(rf"\b{re.escape(w)}\b", t, re.I) for w in words),
    "acrostic": lambda t, word: "".join(line.strip()[:1] for line in _lines(t)).upper() == word.upper(),
    "ends_with": lambda t, s: t.rstrip().endswith(s),
    "no_letter": lambda t, ch: ch.lower() not in t.lower(),
    "format": lambda t, f: _format(t, f),
}


def _format(text: str, fmt: str) -> bool:
    if fmt == "json":
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    if fmt == "bullets":
        return all(line.lstrip().startswith(("- ", "* ")) for line in _lines(text))
    raise ValueError(f"unknown format {fmt!r}")


def grade(spec: dict[str, Any], response: str) -> Verdict:
    text = strip_reasoning(response)
    failed = [name for name, arg in spec["checks"].items() if not CHECKS[name](text, arg)]
    return Verdict(not failed, "constraints", f"failed: {', '.join(failed)}" if failed else "all constraints hold")
