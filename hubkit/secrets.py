"""Secrets come from the environment and never leave it: one redaction for every output path."""

from __future__ import annotations

import os

# Variables hubkit reads secrets from; the config's `api_key_env` names join them when read.
_NAMES = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUBKIT_HUB_TOKEN"}
_VALUES: set[str] = set()
MIN_LEN = 8  # shorter values would redact ordinary words


def from_env(name: str) -> str | None:
    """The secret in variable `name` (None if unset or empty), remembered for redaction."""
    _NAMES.add(name)
    value = os.environ.get(name) or None
    if value:
        remember(value)
    return value


def remember(value: str | None) -> None:
    """Redact `value` from now on (a token resolved some other way, e.g. minted by OIDC)."""
    if value and len(value) >= MIN_LEN:
        _VALUES.add(value)


def redact(text: str) -> str:
    """`text` with every known secret replaced by ***."""
    values = set(_VALUES)
    for name in _NAMES:
        value = os.environ.get(name)
        if value and len(value) >= MIN_LEN:
            values.add(value)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return text
