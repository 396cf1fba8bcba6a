"""The Gradio Space that puts the release's models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext
from hubkit.config import Release, Space, details_name

SHARED = {"reasoning.py": Path(__file__).parents[1] / "llm" / "reasoning.py"}  # copied into the app
GENERATED = {"space_config.json", *SHARED}
_SKIP = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}


def app_files(app: Path) -> list[Path]:
    """Every file of the app folder, subfolders included (paths relative to it), caches left out."""
    out = []
    for path in sorted(app.rglob("*")):
        rel = path.relative_to(app)
        if path.is_file() and not _SKIP & set(rel.parts) and path.suffix != ".pyc":
            out.append(rel)
    return out


def examples(bench: Path, level: int = 5) -> list[str]:
    """One CMDR-Bench question per category (the one nearest `level`): the Space's examples."""
    import pyarrow.parquet as pq

    rows = [r for f in sorted((bench / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    best: dict[int, dict] = {}
    for r in rows:
        if r["category"] not in best or abs(r["level"] - level) < abs(best[r["category"]]["level"] - level):
            best[r["category"]] = r
    return [best[c]["message"] for c in sorted(best)]


@dataclass
class SpaceArtifact(Artifact):
    kind = "space"
    repo_type = "space"
    section: Space | None = None

    def spec(self) -> dict[str, Any]:
        from hubkit.workspace import file_sha256

        app = self.release.resolve(self.section.app)
        files = {str(p): file_sha256(app / p) for p in app_files(app)}
        shared = {name: file_sha256(src) for name, src in SHARED.items()}
        # Secrets are set at publish, not built: naming one does not make the Space stale.
        section = self.section.model_dump(mode="json", exclude={"secrets"})
        return {"space": section, "app_sha256": files, "shared_sha256": shared}

    def build(self, ctx: BuildContext) -> None:
        import json
        import shutil

        app = self.release.resolve(self.section.app)
        for rel in app_files(app):
            if str(rel) in GENERATED:
                from hubkit.errors import UsageError

                raise UsageError(f"{app / rel}: hubkit writes this file into the Space; remove it from the app")
            (ctx.out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(app / rel, ctx.out / rel)
        for name, src in SHARED.items():
            shutil.copy2(src, ctx.out / name)
        bench = self.release.benchmark
        config = self.config()
        config["examples"] = examples(ctx.inputs[bench.name]) if bench and bench.name in ctx.inputs else []
        (ctx.out / "space_config.json").write_text(json.dumps(config, indent=1) + "\n")
        ctx.report(f"{self.name}: Gradio app for {len(config['models'])} models")

    def config(self) -> dict[str, Any]:
        """`space_config.json` (examples aside): what the app reads, and what its card describes."""
        rel, bench, sec = self.release, self.release.benchmark, self.section
        backend = sec.backend.model_dump(mode="json")
        backend["served"] = {rel.model_ref(k): v for k, v in sec.backend.served.items()}
        return {
            "title": sec.title or self.name,
            "models": [rel.model_ref(r) for r in sec.models],
            "max_new_tokens": sec.max_new_tokens,
            # Read by repo id on the Hub (the Space's Benchmark and Cases tabs); None: not published.
            "benchmark": rel.repo_id(bench.name) if bench else None,
            "details": rel.repo_id(details_name(bench)) if bench and bench.evaluate else None,
            "backend": backend,
            "limits": sec.limits.model_dump(mode="json"),
            "arena": sec.arena and {**sec.arena.model_dump(mode="json"), "votes": rel.repo_id(sec.arena.votes)},
        }

    def card_context(self, path: Path) -> dict[str, Any]:
        config = self.config()
        return {
            **super().card_context(path),
            "title": config["title"],
            "models": config["models"],
            "local": config["backend"]["kind"] == "local",
            "votes": (config["arena"] or {}).get("votes"),
            "details": config["details"],
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import SpaceCardData

        rel = self.release
        datasets = [rel.repo_id(rel.benchmark.name)] if rel.benchmark else []
        from importlib.metadata import version

        extra = {"suggested_hardware": self.section.hardware} if self.section.hardware else {}
        return SpaceCardData(
            title=ctx["title"], sdk="gradio", sdk_version=version("gradio"), app_file="app.py",
            license=rel.license, models=ctx["models"], datasets=datasets, tags=["hubkit", "comparison"], **extra,
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    if not release.space:
        return []
    bench = release.benchmark
    inputs = (bench.name, *([details_name(bench)] if bench.evaluate else [])) if bench else ()
    return [SpaceArtifact(release.space.name, release, inputs=inputs, section=release.space)]
