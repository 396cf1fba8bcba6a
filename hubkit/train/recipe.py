"""Training recipes: a YAML with `lora` (peft.LoraConfig) and `sft` (trl.SFTConfig) sections.

Keys are checked against those classes' own fields, so the recipe speaks TRL's and PEFT's
language and a new TRL option needs no change here. hubkit sets a few keys itself (where
checkpoints go, precision, what the loss covers) and refuses them in a recipe.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hubkit.errors import UsageError

# Keys of SFTConfig / LoraConfig that hubkit decides; a recipe that sets them is refused.
OWNED_SFT = {
    "output_dir": "checkpoints live in the workspace journal",
    "resume_from_checkpoint": "hubkit resumes from the last complete checkpoint itself",
    "bf16": "set models[].train.precision instead", "fp16": "set models[].train.precision instead",
    "push_to_hub": "hubkit publishes", "hub_model_id": "hubkit publishes", "hub_token": "hubkit publishes",
    "hub_strategy": "hubkit publishes", "hub_private_repo": "hubkit publishes", "hub_revision": "hubkit publishes",
    "hub_always_push": "hubkit publishes",
    "assistant_only_loss": "the loss covers the completion (reasoning and answer) by construction",
    "completion_only_loss": "the loss covers the completion (reasoning and answer) by construction",
    "dataset_text_field": "hubkit builds the examples", "dataset_kwargs": "hubkit builds the examples",
}  # fmt: skip
OWNED_LORA = {
    "task_type": "always CAUSAL_LM",
    "base_model_name_or_path": "the model's base_model",
    "inference_mode": "set when the adapter is saved",
}


class Recipe(BaseModel):
    """A validated recipe. `sft.max_length` may be "auto": the longest example decides."""

    model_config = ConfigDict(extra="forbid")

    eval_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.05  # held out for an eval loss
    too_long: Literal["error", "drop"] = "error"  # examples longer than max_length: refuse, or leave out
    lora: dict[str, Any] = Field(default_factory=dict)
    sft: dict[str, Any] = Field(default_factory=dict)

    @property
    def max_length(self) -> int | str:
        return self.sft.get("max_length", "auto")

    @property
    def seed(self) -> int:
        return int(self.sft.get("seed", 42))  # SFTConfig's default


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _unknown(where: str, key: str, known: set[str], owned: dict[str, str], what: str) -> str | None:
    if key in owned:
        return f"{where}.{key}: set by hubkit ({owned[key]})"
    if key not in known:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        return f"{where}.{key}: not a {what} option" + (f"; did you mean {close[0]}?" if close else "")
    return None


def load_recipe(path: Path) -> Recipe:
    """Read and check a recipe; every problem is one line `file: section.key: problem`."""
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: training recipe not found") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    try:
        recipe = Recipe.model_validate(doc or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UsageError(f"{path}: {loc}: {err['msg']}") from None

    from peft import LoraConfig
    from trl import SFTConfig

    problems = [
        p
        for section, keys, cls, owned in (
            ("lora", recipe.lora, LoraConfig, OWNED_LORA),
            ("sft", recipe.sft, SFTConfig, OWNED_SFT),
        )
        for key in keys
        if (p := _unknown(section, key, _fields(cls), owned, cls.__name__))
    ]
    if problems:
        raise UsageError(f"{path}: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
    max_length = recipe.max_length
    if max_length != "auto" and not (isinstance(max_length, int) and max_length > 0):
        raise UsageError(f"{path}: sft.max_length: a positive number of tokens or 'auto', not {max_length!r}")
    try:
        LoraConfig(task_type="CAUSAL_LM", **recipe.lora)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: lora: {str(exc).splitlines()[0]}") from None
    return recipe
