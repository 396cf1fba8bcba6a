"""The one reasoning splitter: a thinking model's raw text -> (reasoning, answer, closed).

Standard library only and importing nothing from hubkit, because the Space (which cannot
import hubkit on the Hub) gets this very file copied in when hubkit builds it.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


def split_reasoning(text: str, opened: bool = False) -> tuple[str | None, str, bool]:
    """(reasoning, answer, closed) of a model's raw text: the one reasoning splitter.

    `opened`: the prompt already opened `<think>` (Qwen3-Thinking templates pre-fill it), so
    the text starts inside the reasoning. A `<think>` never closed leaves no answer.
    """
    body = text.lstrip()
    if body.startswith(OPEN):
        body, opened = body[len(OPEN) :], True
    elif CLOSE in body and OPEN not in body.split(CLOSE, 1)[0]:
        opened = True  # a closing tag alone: the template pre-filled the opening one
    if not opened:
        return None, text.strip(), True
    if CLOSE not in body:
        return body.strip("\n"), "", False
    reasoning, answer = body.split(CLOSE, 1)
    return reasoning.strip("\n"), answer.strip(), True
