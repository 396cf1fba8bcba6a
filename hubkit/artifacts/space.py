"""The Gradio Space that puts the release's models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact
from hubkit.config import Release, Space


@dataclass
class SpaceArtifact(Artifact):
    kind = "space"
    repo_type = "space"
    section: Space | None = None

    def spec(self) -> dict[str, Any]:
        return {"space": self.section.model_dump(mode="json")}

    def unavailable(self) -> str | None:
        return "the comparison Space is not implemented yet"

    def card_context(self, path: Path) -> dict[str, Any]:
        return {
            **super().card_context(path),
            "title": self.section.title or self.name,
            "models": [self.release.model_ref(r) for r in self.section.models],
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import SpaceCardData

        rel = self.release
        datasets = [rel.repo_id(rel.benchmark.name)] if rel.benchmark else []
        return SpaceCardData(
            title=ctx["title"], sdk="gradio", app_file="app.py", license=rel.license,
            models=ctx["models"], datasets=datasets, tags=["hubkit", "comparison"],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    return [SpaceArtifact(release.space.name, release, section=release.space)] if release.space else []
