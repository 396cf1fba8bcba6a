"""Training examples from a distillation dataset: the inference prompt, then the completion.

Qwen3-Thinking templates drop the `<think>` part of earlier assistant turns and have no
`{% generation %}` markers, so TRL's `assistant_only_loss` cannot be used. Each row becomes
prompt tokens (exactly what the chat template gives at inference, generation prompt included)
followed by completion tokens `<think>\\n{reasoning}\\n</think>\\n\\n{answer}<|im_end|>` (less
whatever the generation prompt already opened); only the completion is in the loss.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from hubkit.errors import UsageError
from hubkit.llm import CLOSE, OPEN, derive_seed
from hubkit.llm.reasoning import opens_thinking

IGNORE = -100  # the label of tokens outside the loss (torch's cross-entropy ignore_index)


@dataclass(frozen=True)
class Example:
    id: str
    prompt_ids: list[int]
    completion_ids: list[int]

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)

    def features(self) -> dict[str, list[int]]:
        return {
            "input_ids": self.prompt_ids + self.completion_ids,
            "labels": [IGNORE] * len(self.prompt_ids) + self.completion_ids,
        }


def inference_prompt(tokenizer, prompt: str) -> str:
    """The text a served model sees for one user question (as the bench and the Space send it)."""
    chat = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)


def completion_text(tokenizer, prompt_text: str, reasoning: str, answer: str) -> str:
    """What the model should write after `prompt_text`: reasoning, closed, then the answer and end of turn."""
    full = f"{OPEN}\n{reasoning.strip()}\n{CLOSE}\n\n{answer.strip()}{tokenizer.eos_token}"
    if opens_thinking(prompt_text):  # Qwen3-Thinking: the generation prompt opened <think> already
        opened = prompt_text[prompt_text.rindex(OPEN) :]
        if full.startswith(opened):
            return full[len(opened) :]
    return full


def render(tokenizer, row: dict[str, Any]) -> tuple[str, str]:
    """(prompt text, completion text) of a dataset row, checked against the chat template.

    The template renders the same conversation with the reasoning as the last assistant turn;
    prompt + completion must be a prefix of it, or the student would learn a format that the
    published template never produces.
    """
    prompt = inference_prompt(tokenizer, row["prompt"])
    completion = completion_text(tokenizer, prompt, row["reasoning"], row["answer"])
    chat = [
        {"role": "user", "content": row["prompt"]},
        {"role": "assistant", "content": row["answer"].strip(), "reasoning_content": row["reasoning"].strip()},
    ]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False)
    if not rendered.startswith(prompt + completion):
        raise UsageError(
            f"row {row.get('id')!r}: the chat template renders this conversation differently from "
            "prompt + <think>reasoning</think> answer; hubkit cannot train on it without changing the format"
        )
    return prompt, completion


def tokenize(tokenizer, row: dict[str, Any]) -> Example:
    prompt, completion = render(tokenizer, row)
    return Example(
        str(row.get("id") or ""),
        tokenizer(prompt, add_special_tokens=False)["input_ids"],
        tokenizer(completion, add_special_tokens=False)["input_ids"],
    )


def held_out(ids: list[str], fraction: float, seed: int) -> set[str]:
    """The ids kept for the eval loss: a stable choice (hubkit's one seed hash), independent of row order."""
    if fraction <= 0 or len(ids) < 2:
        return set()
    n = min(len(ids) - 1, max(1, round(fraction * len(ids))))
    ranked = sorted(ids, key=lambda i: (derive_seed(seed, "held-out", i), i))
    return set(ranked[:n])


@dataclass(frozen=True)
class Lengths:
    """Token lengths of the examples and what a max_length does to them."""

    lengths: list[int]
    max_length: int
    too_long: list[str]  # ids of examples longer than max_length

    def summary(self) -> str:
        xs = sorted(self.lengths)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        return (
            f"{len(xs)} examples, tokens min {xs[0]} / median {int(statistics.median(xs))} / p95 {p95} / "
            f"max {xs[-1]}; max_length {self.max_length}: {len(self.too_long)} longer"
        )


def choose_max_length(examples: list[Example], wanted: int | str, limit: int | None) -> Lengths:
    """`wanted` tokens, or with "auto" the longest example; never more than the model's positions."""
    lengths = [len(e) for e in examples]
    if not lengths:
        raise UsageError("no training examples: the dataset has no rows")
    max_length = max(lengths) if wanted == "auto" else int(wanted)
    if limit and max_length > limit:
        if wanted == "auto":
            max_length = limit
        else:
            raise UsageError(f"max_length {max_length} is more than the model's {limit} positions")
    return Lengths(lengths, max_length, [e.id for e in examples if len(e) > max_length])
