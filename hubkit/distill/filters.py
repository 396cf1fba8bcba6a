"""What keeps a teacher's answer out of a dataset: each check returns a reason or None."""

from __future__ import annotations

import re
from itertools import pairwise

from hubkit.llm import ChatResult

_WORD = re.compile(r"[a-z0-9]+")
# A refusal opens the answer: an optional apology, then "I can't/won't/am unable to <help|...>".
# Verbs are listed, so "I can't stress enough" or "we cannot divide by zero" are not refusals,
# and "I cannot help but notice" is not either.
_REFUSAL = re.compile(
    r"^\W*(?:(?:i'?m|i am)\s+(?:really\s+|so\s+)?sorry|sorry|i apologi[sz]e|unfortunately"
    r"|as an ai(?: language model)?)?"
    r"[\s,.!;:-]*(?:but\s+)?(?:i|we)\s*(?:can(?:no|')?t|cannot|won'?t|will not|(?:am|'m)\s+(?:not able|unable)\s+to|"
    r"must decline to|am not comfortable|(?:do not|don'?t) feel comfortable)\s+"
    r"(?:help(?!\s+but\b)|assist|provide|comply|do that|fulfil+|support|share|create|write|answer|generate|give)",
    re.I,
)


def reason_kind(reason: str) -> str:
    """The kind of a rejection reason: 'near-duplicate of p-1 (Jaccard 0.9)' -> 'near-duplicate'."""
    return reason.split(":")[0].split(" of ")[0]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def refusal(answer: str) -> bool:
    """True when the answer opens by declining the request."""
    head = answer.strip()[:300].replace("\u2019", "'")
    return bool(_REFUSAL.match(head))


def answer_problem(result: ChatResult, *, refusals: bool = True) -> str | None:
    """Why a teacher's answer cannot be training data, or None."""
    if result.truncated or not result.closed:
        return "truncated"
    if not (result.reasoning or "").strip():
        return "empty reasoning"
    if not result.content.strip():
        return "empty answer"
    if refusals and refusal(result.content):
        return "refusal"
    return None


class Dedup:
    """Exact and near duplicates (MinHash LSH candidates, confirmed by exact Jaccard)."""

    def __init__(self, threshold: float | None, num_perm: int = 128):
        self.threshold = threshold
        self.num_perm = num_perm
        self.exact: dict[str, str] = {}
        self.shingles: dict[str, set[str]] = {}
        self.lsh = None
        if threshold is not None:
            from datasketch import MinHashLSH

            # A lower LSH threshold for candidates: recall near the limit; exact Jaccard decides.
            self.lsh = MinHashLSH(threshold=max(0.05, threshold - 0.2), num_perm=num_perm)

    @staticmethod
    def _shingles(text: str) -> set[str]:
        w = words(text)
        return set(w) | {f"{a} {b}" for a, b in pairwise(w)}

    def check(self, key: str, text: str) -> str | None:
        """Reason if `text` repeats one seen before (exactly or nearly), else remember it."""
        norm = " ".join(words(text))
        if norm in self.exact:
            return f"duplicate of {self.exact[norm]}"
        if self.lsh is not None:
            from datasketch import MinHash

            sh = self._shingles(text)
            mh = MinHash(num_perm=self.num_perm, seed=1)
            for s in sh:
                mh.update(s.encode())
            for other in self.lsh.query(mh):
                theirs = self.shingles[other]
                jaccard = len(sh & theirs) / max(1, len(sh | theirs))
                if jaccard >= self.threshold:
                    return f"near-duplicate of {other} (Jaccard {jaccard:.2f})"
            self.lsh.insert(key, mh)
            self.shingles[key] = sh
        self.exact[norm] = key
        return None


class Contamination:
    """Word n-gram overlap with benchmark texts (normalised: case, punctuation, spacing).

    A prompt is contaminated when the share of shared n-grams reaches `threshold`, measured
    against the shorter of the two texts: a benchmark case pasted into a longer prompt counts,
    and so does a prompt that is a piece of a case.
    """

    COMMON = 3  # an n-gram in this many cases is the benchmark's boilerplate (instructions), not content

    def __init__(self, texts: dict[str, str], n: int = 8, threshold: float = 0.5):
        self.n, self.threshold = n, threshold
        index: dict[tuple[str, ...], set[str]] = {}
        self.norm: dict[str, str] = {}
        for key, text in texts.items():
            self.norm[key] = " ".join(words(text))
            for g in self._grams(words(text)):
                index.setdefault(g, set()).add(key)
        self.common = {g for g, keys in index.items() if len(keys) >= self.COMMON}
        self.index = {g: keys for g, keys in index.items() if g not in self.common}
        self.sizes: dict[str, int] = {}
        for keys in self.index.values():
            for key in keys:
                self.sizes[key] = self.sizes.get(key, 0) + 1

    def _grams(self, w: list[str]) -> set[tuple[str, ...]]:
        return {tuple(w[i : i + self.n]) for i in range(len(w) - self.n + 1)}

    def check(self, text: str) -> tuple[str, float] | None:
        """(benchmark key, overlap) of the case this text overlaps most, if at or above the threshold."""
        w = words(text)
        if len(w) < self.n:  # too short for an n-gram: a verbatim piece of a case still counts
            norm = " ".join(w)
            hit = next((k for k, t in self.norm.items() if len(w) >= 5 and f" {norm} " in f" {t} "), None)
            return (hit, 1.0) if hit else None
        grams = self._grams(w) - self.common
        shared: dict[str, int] = {}
        for g in grams:
            for key in self.index.get(g, ()):
                shared[key] = shared.get(key, 0) + 1
        best = max(((k, c / max(1, min(len(grams), self.sizes[k]))) for k, c in shared.items()),
                   key=lambda kv: kv[1], default=None)  # fmt: skip
        return best if best and best[1] >= self.threshold else None


def verified(reference: str | None, answer: str) -> bool | None:
    """Whether the answer equals the reference (math-verify); None when there is no reference."""
    if reference is None:
        return None
    from hubkit.bench.graders.math import grade

    return grade({"answer": reference}, answer).passed
