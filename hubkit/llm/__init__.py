"""The one chat client of hubkit: typed results, reasoning kept apart from the answer.

Teachers, the evaluation's OpenAI-compatible backend and the rubric judge all go through
`ChatClient` (client.py). Everything here is importable without the openai SDK.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from hubkit.llm.reasoning import CLOSE, OPEN, split_reasoning

__all__ = ["CLOSE", "OPEN", "ChatRequest", "ChatResult", "derive_seed", "split_reasoning"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to ask for; `key` is the caller's name for it (e.g. a journal key)."""

    key: str
    messages: list[dict[str, str]]
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChatResult:
    """What a chat model said: its reasoning (None if it showed none) and its answer, apart.

    `closed` is False when the output ended inside its reasoning: then there is no answer,
    whatever the reasoning mentions.
    """

    reasoning: str | None
    content: str
    finish_reason: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float = 0.0
    closed: bool = True

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatResult:
        return cls(**data)


def derive_seed(base: int, *parts: object) -> int:
    """A request's seed from what it asks (prompt or case, sample), never from batch offsets."""
    digest = hashlib.sha256("\x1f".join(map(str, (base, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
