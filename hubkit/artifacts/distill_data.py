"""Distillation datasets: prompts answered by a teacher model, with reasoning traces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubkit.artifacts.base import Artifact, file_digest
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


def artifacts(release: Release) -> list[Artifact]:
    return [DistillData(d.name, release, section=d) for d in release.datasets]
