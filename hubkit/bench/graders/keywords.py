"""The deterministic point matcher: is a point asserted in an answer, in one of the phrasings it lists?

A point lists alternatives (`any`); an alternative is one or more terms joined by ` & `, all of
which must be asserted in one sentence; a term is one or more phrasings joined by `|`, and a
term written `~term` must instead be *denied* there ("not the fertilizer", "a leak was ruled
out"). A phrasing matches at a word start; each of its words of four letters or more also
matches longer forms ("overheat": overheated, overheating), shorter ones only themselves and
their plural ("no" is not "not").

Both sides are read the same way first: unicode folded (NFKC: CO₂ is CO2), lower case,
markdown emphasis dropped, British spelling in its American form, hyphens as spaces, "30 %"
and "30 percent" as "30%". A mention denied in its clause does not assert it: a negation cue
before it in the clause ("not", "no", "never", "rather than", "ruled out", "n't", ...) or a
denying predicate right after it ("a leak was ruled out", "the euro played no part").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from hubkit.bench.extract import spelling, strip_reasoning

_BEFORE = re.compile(
    r"(?<!\w)(?:not(?! only| just)|no|never|neither|nor|without|\w*n't|rather than|instead of|as opposed to|"
    r"ruled? out|rules out|ruling out|exclud\w*|unlikely|cannot|nothing to do with|irrelevant|unrelated|"
    r"regardless of|free of)(?!\w)"
)
_DENIED_AFTER = (
    r"(?:(?:was|were|is|are|has been|had been|have been|can be|could be|would be|will be|be|seems?|appears?)\s+)?"
    r"(?:not\b|never\b|n't\b|ruled out|excluded|unlikely|irrelevant|unrelated|innocent|cleared|"
    r"\w+n't\b|did not|does not|do not|had no|has no|have no|"
    r"played no|plays no|made no|makes no|had nothing|has nothing|no factor|no part|no role|not a factor|"
    r"to be ruled out)"
)
_AFTER = re.compile(r"^\W*" + _DENIED_AFTER)
# Looser, for `~term`: "the fertilizer switch can be ruled out" denies the fertilizer.
_AFTER_LOOSE = re.compile(r"^\W*(?:[a-z0-9']+\s+){0,3}?" + _DENIED_AFTER)
_CLAUSE_END = re.compile(
    r"[.;:!?\n,()\u2013\u2014]|\s-+\s|->|\u2192|=>|\bbut\b|\bhowever\b|\bwhereas\b|\bwhile\b|\balthough\b"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKUP = re.compile(r"\*\*|__|~~|[*`#>]")


def normalise(text: str) -> str:
    """Text as the matcher reads it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _MARKUP.sub("", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)
    text = re.sub(r"(\d)\s*(?:%|percent\b|per cent\b)", r"\1%", spelling(text))
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 30,000 is 30000
    return re.sub(r"[ \t]+", " ", text)


def answer_text(response: str) -> str:
    """The visible answer (reasoning stripped), normalised."""
    return normalise(strip_reasoning(response))


@lru_cache(maxsize=4096)
def _phrase(phrase: str) -> re.Pattern:
    words = normalise(phrase).split()
    parts = []
    for w in words:
        e = re.escape(w)
        parts.append(e + r"[a-z]*" if len(w) >= 4 and w.isalpha() else e + r"(?:s|es)?(?![a-z0-9])")
    return re.compile(r"(?<![a-z0-9])" + r"[^\w.,;:!?\n]+".join(parts))


def _denied(sentence: str, start: int, end: int, loose: bool) -> bool:
    before = _CLAUSE_END.split(sentence[:start])[-1]
    after = _CLAUSE_END.split(sentence[end:], maxsplit=1)[0]
    return bool(_BEFORE.search(before) or (_AFTER_LOOSE if loose else _AFTER).search(after))


def _term(sentence: str, term: str) -> bool:
    """One term in one sentence: a phrasing asserted (or, for `~term`, denied)."""
    want_denied = term.startswith("~")
    for phrasing in term.lstrip("~").split("|"):
        if not phrasing.strip():
            continue
        for m in _phrase(phrasing.strip()).finditer(sentence):
            if _denied(sentence, m.start(), m.end(), loose=want_denied) == want_denied:
                return True
    return False


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def asserted(alternatives: list[str], text: str) -> str | None:
    """The first alternative asserted in normalised `text` (all its terms in one sentence), or None."""
    parts = sentences(text)
    for alt in alternatives:
        terms = [t.strip() for t in alt.split(" & ")]
        if any(all(_term(s, t) for t in terms) for s in parts):
            return alt
    return None
