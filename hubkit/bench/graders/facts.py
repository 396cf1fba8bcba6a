"""RAG: required facts from the given context present, contradicting claims absent."""

from __future__ import annotations

import re
from typing import Any

from hubkit.bench.extract import strip_reasoning
from hubkit.bench.graders.base import Verdict

# A mention is denied by a cue before it in its clause ("it was not the flu", "rather than a
# leak", "ruled out a leak") or right after it ("a leak was ruled out", "the flu is unlikely").
_BEFORE = re.compile(
    r"(?<!\w)(?:not(?! only| just)|no|never|neither|nor|without|n't|rather than|instead of|as opposed to|"
    r"ruled? out|rules out|exclud\w*|unlikely|cannot be|can't be|isn't|wasn't|aren't|weren't|doesn't|didn't)(?!\w)"
)
_AFTER = re.compile(
    r"^\W*(?:(?:was|were|is|are|has been|had been|can be|could be)\s+)?(?:not\b|never\b|n't\b|ruled out|excluded|"
    r"unlikely|(?:was|is)n't\b|did not|does not|didn't|doesn't)"
)
_CLAUSE_END = re.compile(r"[.;:!?\n,]|\s[-\u2013\u2014]+\s|\bbut\b|\bhowever\b|\bwhereas\b")
_MARKUP = re.compile(r"\*\*|__|[*`]")  # emphasis and code marks split phrases ("release **oxygen**")


def plain(response: str) -> str:
    """The visible answer, lower case, without markdown emphasis."""
    return _MARKUP.sub("", strip_reasoning(response)).lower()


def _has(text: str, phrase: str) -> bool:
    """`phrase` asserted somewhere in `text` (lower case): at a word start, inflections
    counting ("blossom" finds "blossoms"; phrases of three letters or fewer must be whole
    words: "no" must not find "not"), and not denied in its clause (see _BEFORE, _AFTER)."""
    end = r"(?!\w)" if len(phrase) <= 3 else ""
    for m in re.finditer(rf"(?<!\w){re.escape(phrase.lower())}{end}", text):
        before = _CLAUSE_END.split(text[: m.start()])[-1]
        after = _CLAUSE_END.split(text[m.end() :], maxsplit=1)[0]
        if not _BEFORE.search(before) and not _AFTER.search(after):
            return True
    return False


def grade(spec: dict[str, Any], response: str) -> Verdict:
    text = plain(response)
    # Each required fact is a list of acceptable phrasings; one of them must be asserted.
    missing = [alts[0] for alts in spec.get("required", []) if not any(_has(text, a) for a in alts)]
    wrong = [c for c in spec.get("forbidden", []) if _has(text, c)]
    problems = [f"missing {m!r}" for m in missing] + [f"contradicts with {w!r}" for w in wrong]
    return Verdict(not problems, "facts", "; ".join(problems) or "all facts present, none contradicted")
