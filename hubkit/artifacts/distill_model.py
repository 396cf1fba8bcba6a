"""Distilled models: the base model fine-tuned (QLoRA) on one distillation dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, file_digest, model_facts
from hubkit.config import DistilledModel, Release


@dataclass
class DistillModel(Artifact):
    kind = "distill-model"
    repo_type = "model"
    section: DistilledModel | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "model": self.section.model_dump(mode="json"),
            "train_config_sha256": file_digest(self.release, self.section.train.config),
        }

    def unavailable(self) -> str | None:
        if self.section.source == "fixture":
            return None
        return "training (TRL + PEFT / Unsloth) is not implemented yet"

    def build(self, ctx: BuildContext) -> None:
        from hubkit.testing import save_tiny_qwen3

        fx = self.section.fixture
        ctx.report(f"{self.name}: writing tiny random Qwen3 fixture (seed {fx.seed})")
        save_tiny_qwen3(ctx.out, seed=fx.seed, layers=fx.layers, tie_word_embeddings=fx.tie_word_embeddings)

    def card_context(self, path: Path) -> dict[str, Any]:
        s = self.section
        data = next(d for d in self.release.datasets if d.name == s.dataset)
        fixture = s.fixture.model_dump(mode="json") if s.fixture else None
        return {
            **super().card_context(path),
            "base_model": s.base_model,
            "base_model_relation": "finetune",
            "dataset": self.release.repo_id(s.dataset),
            "teacher": data.teacher.model,
            "source": s.source,
            "fixture": {k: str(v) for k, v in fixture.items()} if fixture else None,
            "train": {k: str(v) for k, v in s.train.model_dump(mode="json").items() if v is not None},
            "facts": model_facts(path),
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import ModelCardData

        rel, s = self.release, self.section
        tags = ["reasoning", "distillation", s.train.method, "hubkit"]
        if s.source == "fixture":
            tags.append("test-fixture")
        return ModelCardData(
            license=rel.license, language=rel.language, library_name="transformers",
            pipeline_tag="text-generation", tags=tags, base_model=s.base_model,
            base_model_relation="finetune", datasets=[rel.repo_id(s.dataset)],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    # A fixture stands in for training, so it does not wait for its dataset to be built.
    return [
        DistillModel(m.name, release, inputs=() if m.source == "fixture" else (m.dataset,), section=m)
        for m in release.models
    ]
