"""Pull the gradable answer out of a reasoning model's output."""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.S)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.S)
_FINAL = re.compile(r"(?im)^[ \t>*#_]*(?:final answer|answer)[ \t*_]*[:\uff1a][ \t*_]*(.+)$")


def strip_reasoning(text: str) -> str:
    """Drop `<think>...</think>` blocks; an unterminated `<think>` hides everything after it.

    A stray `</think>` without its opening tag (templates that pre-fill `<think>`) ends the
    reasoning: only what follows it is the answer.
    """
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text.strip()


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (nested braces allowed), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth, out = start + len("\\boxed{"), 1, []
    while i < len(text):
        ch = text[i]
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return "".join(out).strip()
        out.append(ch)
        i += 1
    return None


def last_fenced(text: str, languages: tuple[str, ...] = ()) -> str | None:
    """The last fenced code block (of one of `languages`, if given), or None."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if languages:
        blocks = [b for b in blocks if b[0] in languages] or [b for b in blocks if not b[0]]
    return blocks[-1][1].strip("\n") if blocks else None


def final_answer(text: str) -> str:
    """The answer part: the last 'Final answer:' line if any, else the whole visible text."""
    visible = strip_reasoning(text)
    found = _FINAL.findall(visible)
    return found[-1].strip().strip("*_ ").strip() if found else visible
