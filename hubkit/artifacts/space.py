"""The Gradio Space that puts the release's models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext
from hubkit.config import Release, Space


@dataclass
class SpaceArtifact(Artifact):
    kind = "space"
    repo_type = "space"
    section: Space | None = None

    def spec(self) -> dict[str, Any]:
        from hubkit.workspace import file_sha256

        app = self.release.resolve(self.section.app)
        files = {p.name: file_sha256(p) for p in sorted(app.iterdir()) if p.is_file()}
        return {"space": self.section.model_dump(mode="json"), "app_sha256": files}

    def build(self, ctx: BuildContext) -> None:
        import json
        import shutil

        app = self.release.resolve(self.section.app)
        for f in sorted(app.iterdir()):
            if f.is_file() and f.name != "space_config.json":
                shutil.copy2(f, ctx.out / f.name)
        config = {
            "title": self.section.title or self.name,
            "models": [self.release.model_ref(r) for r in self.section.models],
            "max_new_tokens": self.section.max_new_tokens,
        }
        (ctx.out / "space_config.json").write_text(json.dumps(config, indent=1) + "\n")
        ctx.report(f"{self.name}: Gradio app for {len(config['models'])} models")

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
