"""The merged model: a mergekit merge (any method mergekit has) of the release's distilled models, linted first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, file_digest, model_facts
from hubkit.config import Merge, Release

LINT_FILE = "merge_lint.json"
CONFIG_FILE = "mergekit_config.yml"


def referenced_models(release: Release) -> list[str]:
    """Model references in the mergekit config, in order (base_model included once).

    Only the references: the release graph needs its edges for every command, and mergekit's
    own check of the file (`merge.read`) waits for `check()`, `merge lint` and the build.
    """
    from hubkit.config import read_yaml
    from hubkit.merge import model_refs

    doc, _ = read_yaml(release.resolve(release.merge.config))
    found = model_refs(doc)
    # Inputs in the config's order, then the base model if it is not one of them.
    ordered = [r for loc, r in found if loc[-1] != "base_model"] + [r for loc, r in found if loc[-1] == "base_model"]
    return list(dict.fromkeys(ordered))


def release_model_name(release: Release, ref: str) -> str | None:
    """The release model a reference means (`name` or `namespace/name`), else None (a Hub id)."""
    names = {m.name for m in release.models}
    name = ref.removeprefix(f"{release.namespace}/")
    return name if name in names else None


def local_models(release: Release, folders: dict[str, Path]) -> dict[str, Path]:
    """References a merge config may use for the release's models -> their built folders."""
    out: dict[str, Path] = {}
    for name, path in folders.items():
        out[name] = out[release.repo_id(name)] = path
    return out


@dataclass
class MergeArtifact(Artifact):
    kind = "merge"
    repo_type = "model"
    section: Merge | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "merge": self.section.model_dump(mode="json"),
            "config_sha256": file_digest(self.release, self.section.config),
        }

    def check(self, machine: bool = True) -> None:
        """The mergekit config on its own (schema, method, parameters, dtype): one line each, before any build."""
        from hubkit import merge

        merge.read(self.release.resolve(self.section.config))

    def build(self, ctx: BuildContext) -> None:
        from hubkit import merge

        config = self.release.resolve(self.section.config)
        spec = merge.load(config, local_models(self.release, ctx.inputs))
        report = merge.checked_run(
            spec, ctx.out, shard_size=self.section.shard_size,
            report=lambda msg: ctx.report(f"{self.name}: {msg}"),
        )  # fmt: skip
        (ctx.out / LINT_FILE).write_text(json.dumps(report.to_json(), indent=1) + "\n")

    def card_context(self, path: Path) -> dict[str, Any]:
        lint = json.loads((path / LINT_FILE).read_text())
        parents = [self.release.repo_id(n) if (n := release_model_name(self.release, r)) else r
                   for r in referenced_models(self.release)]  # fmt: skip
        return {
            **super().card_context(path),
            "base_model": parents,
            "base_model_relation": "merge",
            "merge_config": (path / CONFIG_FILE).read_text().strip(),
            "lint": {"method": "slerp", "pretty_name": "SLERP", **lint},  # built before other methods: SLERP
            "facts": model_facts(path),
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import ModelCardData

        rel = self.release
        names = [release_model_name(rel, p) for p in ctx["base_model"]]
        datasets = sorted({rel.repo_id(m.dataset) for m in rel.models if m.name in names})
        return ModelCardData(
            license=rel.license, language=rel.language, library_name="transformers",
            pipeline_tag="text-generation", tags=["mergekit", "merge", ctx["lint"]["method"], "hubkit"],
            base_model=ctx["base_model"], base_model_relation="merge", datasets=datasets,
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    if release.merge is None:
        return []
    parents = [release_model_name(release, r) for r in referenced_models(release)]
    return [MergeArtifact(release.merge.name, release, tuple(p for p in parents if p), release.merge)]


def problems(release: Release) -> list[tuple[tuple, str]]:
    """Checked when the config is loaded: the merge file reads and names a method mergekit has."""
    from hubkit.merge import quick_problems

    if release.merge is None:
        return []
    return [(("merge", "config", *loc), msg) for loc, msg in quick_problems(release.resolve(release.merge.config))]
