"""The one reasoning splitter: a thinking model's raw text -> (reasoning, answer, closed).

The rule, used by the graders, the evaluation, the Space and the training examples:
- the text is in its reasoning from the start if the prompt opened `<think>` (`opened`, see
  `opens_thinking`) or if the text itself starts with `<think>` (after white space);
- a `</think>` anywhere ends the reasoning at the LAST one: everything before it is reasoning,
  everything after it is the answer (a model that closes twice has not answered in between);
- reasoning that never closes leaves no answer, whatever it mentions (`closed` is False);
- otherwise there is no reasoning: a `<think>` mentioned inside an answer is just text.

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


def opens_thinking(prompt: str) -> bool:
    """Whether a rendered generation prompt leaves the model inside `<think>` (Qwen3-Thinking
    templates pre-fill it): the one place that decides it."""
    return prompt.rstrip().endswith(OPEN)


def split_reasoning(text: str, opened: bool = False) -> tuple[str | None, str, bool]:
    """(reasoning, answer, closed) of a model's raw text, by the rule in this module's docstring."""
    body = text.lstrip()
    if body.startswith(OPEN):
        body, opened = body[len(OPEN) :], True
    if CLOSE in body:
        reasoning, answer = body.rsplit(CLOSE, 1)
        return reasoning.strip("\n"), answer.strip(), True
    if opened:
        return body.strip("\n"), "", False
    return None, text.strip(), True
