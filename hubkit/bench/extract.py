"""Pull the gradable answer out of a reasoning model's output."""

from __future__ import annotations

import re

from hubkit.llm.reasoning import split_reasoning

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.S)
_FINAL = re.compile(r"(?im)^[ \t>*#_]*(?:final answer|answer)[ \t*_]*[:\uff1a][ \t*_]*(.*)$")
# Fence labels models use for the same language.
LANGUAGES = {"py": "python", "python3": "python", "py3": "python", "sqlite": "sql", "sqlite3": "sql",
             "postgresql": "sql", "postgres": "sql", "mysql": "sql", "jsonc": "json", "json5": "json"}  # fmt: skip
# An alternative offered after the answer: "or 5/6", "(or maybe ...)", "either A or B".
_HEDGE = re.compile(
    r"(?i)(?:^|[\s(,;])(?:or|alternatively)\b[\s:]*(?:maybe\s+|possibly\s+|perhaps\s+)?[-+\d\\$(\[{\"'`]"
    r"|\beither\b.*\bor\b"
)


# British spellings and their American forms, as one spelling (colour/color, realise/realize,
# centre/center, programme/program): applied to both sides of a comparison.
_SPELLING = [
    (re.compile(r"(?<=[a-z]{2})our(?=[a-z]*\b)"), "or"),
    (re.compile(r"(?<=[a-z]{3})is(e|es|ed|ing|er|ers|ation|ations)\b"), r"iz\1"),
    (re.compile(r"(?<=[a-z]{2})ys(e|es|ed|ing)\b"), r"yz\1"),
    (re.compile(r"(?<=[a-z]{2})([bt])re(s?)\b"), r"\1er\2"),
    (re.compile(r"(?<=gram)me(s?)\b"), r"\1"),
]


def spelling(text: str) -> str:
    """Lower case, British spellings in their American form: one spelling for both variants."""
    text = text.lower()
    for pattern, repl in _SPELLING:
        text = pattern.sub(repl, text)
    return text


def strip_reasoning(text: str) -> str:
    """The answer part of `text`, by hubkit's one reasoning splitter (hubkit.llm.reasoning)."""
    return split_reasoning(text)[1]


def boxed(text: str) -> list[tuple[str, int]]:
    """Every `\\boxed{...}` (nested braces allowed): its content and where it ends."""
    out, start = [], text.find("\\boxed{")
    while start >= 0:
        i, depth = start + len("\\boxed{"), 1
        while i < len(text) and depth:
            depth += (text[i] == "{") - (text[i] == "}")
            i += 1
        if depth == 0:
            out.append((text[start + len("\\boxed{") : i - 1].strip(), i))
        start = text.find("\\boxed{", i if depth == 0 else start + 1)
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`, or None."""
    found = boxed(text)
    return found[-1][0] if found else None


def fenced(text: str, languages: tuple[str, ...] = ()) -> list[str]:
    """Fenced code blocks in order (of one of `languages`, labels normalised, if given; else unlabelled ones)."""
    want = {LANGUAGES.get(x, x) for x in languages}
    blocks = [(LANGUAGES.get(lang.lower(), lang.lower()), body.strip("\n")) for lang, body in _FENCE.findall(text)]
    if want:
        blocks = [b for b in blocks if b[0] in want] or [b for b in blocks if not b[0]]
    return [body for _, body in blocks]


def last_fenced(text: str, languages: tuple[str, ...] = ()) -> str | None:
    """The last fenced code block (of one of `languages`, if given), or None; a block after
    the final-answer marker wins over earlier ones."""
    tail = answer_segment(text)
    blocks = (fenced(tail, languages) if tail else []) or fenced(text, languages)
    return blocks[-1] if blocks else None


def answer_segment(text: str) -> str | None:
    """What follows the last 'Final answer:' marker (the rest of its line, or the next lines
    when the line ends there), or None without a marker."""
    marks = list(_FINAL.finditer(text))
    if not marks:
        return None
    m = marks[-1]
    rest = m.group(1).strip().strip("*_ ").strip()
    if rest:
        return rest
    after = text[m.end() :].lstrip("\n")
    if after.lstrip().startswith("```"):
        end = after.find("```", after.find("```") + 3)
        return after[: end + 3].strip() if end >= 0 else after.strip()
    return after.split("\n\n", 1)[0].strip()


def final_answer(text: str) -> str:
    """The answer part: what follows the last 'Final answer:' marker if any, else the whole visible text."""
    visible = strip_reasoning(text)
    found = answer_segment(visible)
    return found if found is not None else visible


def hedge(text: str) -> str | None:
    """The alternative an answer offers besides itself ("... or 5/6"), or None."""
    m = _HEDGE.search(text)
    return m.group(0).strip() if m else None
