"""Distillation datasets: prompts answered by a teacher model, with reasoning traces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, file_digest, size_category
from hubkit.config import DistillDataset, Release


@dataclass
class DistillData(Artifact):
    kind = "distill-data"
    repo_type = "dataset"
    section: DistillDataset | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "dataset": self.section.model_dump(mode="json"),
            "prompts_sha256": file_digest(self.release, self.section.prompts),
        }

    def unavailable(self) -> str | None:
        return "teacher generation is not implemented yet"

    def card_context(self, path: Path) -> dict[str, Any]:
        d = self.section
        return {
            **super().card_context(path),
            "pretty_name": d.pretty_name or d.name,
            "teacher": d.teacher.model,
            "domains": list(d.domains),
            "size": str(d.size),
            "students": [self.release.repo_id(m.name) for m in self.release.models if m.dataset == d.name],
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import DatasetCardData

        d, rel = self.section, self.release
        return DatasetCardData(
            license=rel.license, language=rel.language, pretty_name=ctx["pretty_name"],
            task_categories=["text-generation"], size_categories=[size_category(d.size)],
            tags=["reasoning", "distillation", "synthetic", "hubkit"],
            configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    return [DistillData(d.name, release, section=d) for d in release.datasets]
