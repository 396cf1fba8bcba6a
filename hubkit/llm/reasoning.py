"""The one reasoning splitter: a thinking model's raw text -> (reasoning, answer, closed).

Standard library only and importing nothing from hubkit, because the Space (which cannot
import hubkit on the Hub) gets this very file copied in when hubkit builds it.
"""

from __future__ import annotations

from typing import Any

OPEN, CLOSE = "<think>", "</think>"
REASONING_FIELDS = ("reasoning_content", "reasoning")  # DashScope/Moonshot/DeepSeek; current vLLM


def field(obj: Any, name: str) -> Any:
    """An attribute of an openai SDK object, or the same name among the fields the SDK did not model."""
    value = getattr(obj, name, None)
    if value is None:
        value = (getattr(obj, "model_extra", None) or {}).get(name)
    return value


def reasoning_of(obj: Any) -> str | None:
    """The separate reasoning text of a message or stream delta, whichever field the server uses."""
    for name in REASONING_FIELDS:
        value = field(obj, name)
        if isinstance(value, str):
            return value
    return None


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
