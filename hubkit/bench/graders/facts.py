"""RAG: required facts from the given context present, contradicting claims absent."""

from __future__ import annotations

import re
from typing import Any

from hubkit.bench.extract import strip_reasoning
from hubkit.bench.graders import Verdict


def _has(text: str, phrase: str) -> bool:
    """`phrase` at a word start; inflections count ("blossom" finds "blossoms"), except for
    phrases of three letters or fewer, which must be whole words ("no" must not find "not")."""
    end = r"(?!\w)" if len(phrase) <= 3 else ""
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}{end}", text) is not None


def grade(spec: dict[str, Any], response: str) -> Verdict:
    text = strip_reasoning(response).lower()
    # Each required fact is a list of acceptable phrasings; one of them must appear.
    missing = [alts[0] for alts in spec.get("required", []) if not any(_has(text, a) for a in alts)]
    wrong = [c for c in spec.get("forbidden", []) if _has(text, c)]
    problems = [f"missing {m!r}" for m in missing] + [f"contradicts with {w!r}" for w in wrong]
    return Verdict(not problems, "facts", "; ".join(problems) or "all facts present, none contradicted")
