"""Constrained writing: verifiable constraints, IFEval-style. Every failed check is reported.

What is checked is the piece of writing, not the message around it: the last fenced block if
there is one, else the visible answer without an introduction line ("Here is the poem:"),
markdown headings or emphasis. Required words match their inflections and British or American
spelling (rain: rainy, raining; harbor: harbour); a forbidden word matches its plural and
spelling variant.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hubkit.bench.extract import fenced, spelling, strip_reasoning
from hubkit.bench.graders.base import Verdict

_SUFFIXES = r"(?:s|es|ed|d|ing|y|ier|iest|er|ers|ly)?"
_INTRO = re.compile(r"(?i)^(?:here(?:'s| is| are)|sure|certainly|okay|ok)\b.*$|^.*:\s*$")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1")
_TYPES = {"string": str, "list[string]": list, "integer": int, "number": (int, float), "boolean": bool}


def _mentions(text: str, word: str, inflected: bool = True) -> bool:
    """The word, or (inflected) its forms: rain/rains/rainy/raining, sun/sunny, shine/shining."""
    w = spelling(word)
    if not inflected:
        return bool(re.search(rf"\b{re.escape(w)}(?:s|es)?\b", spelling(text)))
    if w.endswith("e"):  # shine: shines, shined, shining, shiny; not "shin"
        form = re.escape(w[:-1]) + r"(?:e(?:s|d|r|rs|ly)?|ing|ed|er|ers|y)"
    else:  # sun: suns, sunny; rain: rainy, raining
        form = re.escape(w) + f"{re.escape(w[-1])}?{_SUFFIXES}"
    return bool(re.search(rf"\b{form}\b", spelling(text)))


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", " ".join(_lines(text))) if _words(s)])


def _json_keys(text: str, keys: dict[str, str]) -> bool:
    """Exactly these keys, each value of its type ("list[string]": a list of strings)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    if not isinstance(obj, dict) or set(obj) != set(keys):
        return False
    for k, kind in keys.items():
        v = obj[k]
        if not isinstance(v, _TYPES[kind]) or (isinstance(v, bool) and kind != "boolean"):
            return False
        if kind == "list[string]" and not (v and all(isinstance(x, str) for x in v)):
            return False
    return True


CHECKS = {
    "min_words": lambda t, n: len(_words(t)) >= n,
    "max_words": lambda t, n: len(_words(t)) <= n,
    "lines": lambda t, n: len(_lines(t)) == n,
    "sentences": lambda t, n: _sentences(t) == n,
    "must_include": lambda t, words: all(_mentions(t, w) for w in words),
    # A forbidden word and its plural only: forbidding "the" does not forbid "they".
    "forbid": lambda t, words: not any(_mentions(t, w, inflected=False) for w in words),
    "acrostic": lambda t, word: "".join(line.strip()[:1] for line in _lines(t)).upper() == word.upper(),
    "ends_with": lambda t, s: t.rstrip().endswith(s),
    "no_letter": lambda t, ch: ch.lower() not in t.lower(),
    "format": lambda t, f: _format(t, f),
    "json_keys": _json_keys,
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


def writing(response: str) -> str:
    """The piece of writing inside a reply: a fenced block, else the text without its
    introduction line, headings and emphasis markers."""
    visible = strip_reasoning(response)
    blocks = fenced(visible, ("json", "text", "markdown", "md")) or fenced(visible)
    if blocks:
        return blocks[-1].strip()
    lines = visible.strip().splitlines()
    while lines and (not lines[0].strip() or _INTRO.match(lines[0].strip())):
        lines.pop(0)
    kept = [ln for ln in lines if not re.match(r"^\s*(#{1,6}\s|-{3,}\s*$|\*{3,}\s*$)", ln)]
    return _EMPHASIS.sub(r"\2", "\n".join(kept)).strip()


def grade(spec: dict[str, Any], response: str) -> Verdict:
    text = writing(response)
    failed = [name for name, arg in spec["checks"].items() if not CHECKS[name](text, arg)]
    return Verdict(not failed, "constraints", f"failed: {', '.join(failed)}" if failed else "all constraints hold")
