"""The small protocol every artifact kind implements; the graph, CLI and publish use only this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hubkit.config import Release
from hubkit.workspace import MANIFEST


@dataclass
class BuildContext:
    release: Release
    out: Path  # an empty staging folder; becomes the artifact's folder if build() returns
    inputs: dict[str, Path]  # built folders of this artifact's inputs, by name
    report: Callable[[str], None] = print
    # Kept across builds, failed ones included (journals): Workspace.journal(artifact)
    cache: Path | None = None
    # Content fingerprints of the inputs (what a dependent records, so a rebuilt input makes it stale).
    contents: dict[str, str] = field(default_factory=dict)


@dataclass
class Artifact:
    """One repo of the release. Subclasses set `kind` and `repo_type` and override the hooks."""

    kind: ClassVar[str]
    repo_type: ClassVar[str]  # "model" | "dataset" | "space"
    # Folders kept in the built artifact for other artifacts but not published in its repo.
    unpublished: ClassVar[tuple[str, ...]] = ()
    # Whether its section's `compute` places it (on Jobs): the kinds that train or evaluate.
    placeable: ClassVar[bool] = False

    name: str
    release: Release
    inputs: tuple[str, ...] = field(default=())
    section: Any = None  # the artifact's part of the release config

    @property
    def repo_id(self) -> str:
        return self.release.repo_id(self.name)

    # `source: hub` (a section with `repo` and `revision`): the artifact is that commit of a repo.
    def hub_spec(self) -> dict[str, Any]:
        """What a `source: hub` artifact is, for its fingerprint: a commit of a repo."""
        return {"hub": {"repo": self.section.repo or self.repo_id, "revision": self.section.revision}}

    def take_from_hub(self, ctx: BuildContext, skip: tuple[str, ...] = ()) -> None:
        """A `source: hub` artifact's build: the repo's files at the pinned commit (card aside)."""
        repo, revision = self.section.repo or self.repo_id, self.section.revision
        n = download_repo(self.repo_type, repo, revision, ctx.out, skip)
        ctx.report(f"{self.name}: {n} files of {repo} at {revision[:12]} (source: hub)")

    @property
    def private(self) -> bool:
        return bool(getattr(self.section, "private", False))

    @property
    def sdk(self) -> str | None:
        return getattr(self.section, "sdk", None)

    def spec(self) -> dict[str, Any]:
        """Everything from the config that decides the output; fingerprinted for staleness."""
        raise NotImplementedError

    @property
    def jobs(self):
        """Where it builds: the config's `compute.jobs` (a Hugging Face Job, `config.Jobs`) or None (here)."""
        compute = getattr(self.section, "compute", None) if self.placeable else None
        return compute.jobs if compute is not None else None

    @property
    def extras(self) -> tuple[str, ...]:
        """hubkit's optional dependencies a Job building this artifact installs (pyproject extras)."""
        return ()

    def check(self, machine: bool = True) -> None:
        """Refuse (UsageError) what would fail later, before anything of the build runs; with
        `machine` False only what the config decides (the build runs elsewhere, a Job checks its machine)."""

    def build(self, ctx: BuildContext) -> None:
        raise NotImplementedError

    def card_context(self, path: Path) -> dict[str, Any]:
        """Values the card template needs, read from the built folder at `path`."""
        return {"name": self.name, "repo_id": self.repo_id, "kind": self.kind}

    def card_data(self, ctx: dict[str, Any]):
        """The card's YAML front matter, as a huggingface_hub CardData object."""
        raise NotImplementedError


def size_category(n: int) -> str:
    """The Hub's `size_categories` bucket for n rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def model_facts(path: Path) -> dict[str, Any]:
    """Architecture and size of a built model folder, for its card."""
    import json

    cfg = json.loads((path / "config.json").read_text())
    manifest = json.loads((path / "manifest.json").read_text())
    # The model's own weights: top-level shards, not an adapter kept in a subfolder.
    weights = sum(f["size"] for p, f in manifest["files"].items() if p.endswith(".safetensors") and "/" not in p)
    return {
        "architecture": (cfg.get("architectures") or ["?"])[0],
        "layers": str(cfg.get("num_hidden_layers")),
        "hidden_size": str(cfg.get("hidden_size")),
        "dtype": str(cfg.get("dtype") or cfg.get("torch_dtype")),
        "tied_embeddings": "yes" if cfg.get("tie_word_embeddings") else "no",
        "weights_mib": f"{weights / 2**20:.1f}",
    }


def write_parquet(rows: list[dict[str, Any]], features, path: Path) -> None:
    """Rows as one typed parquet file (also right for no rows at all), without a progress bar."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features).to_parquet(str(path))


# What `source: hub` leaves out of a downloaded repo: the card (rendered by hubkit for this release),
# the Hub's own file, a manifest of another workspace, and what a Job was given to build from.
NOT_DOWNLOADED = ("README.md", ".gitattributes", MANIFEST)
JOB_FOLDER = "hubkit-job"  # what a Job is given, on its output's staging branch (hub/jobs.py)
NOT_DOWNLOADED_FOLDERS = (".eval_results/", f"{JOB_FOLDER}/")


def download_repo(repo_type: str, repo_id: str, revision: str, out: Path, skip: tuple[str, ...] = ()) -> int:
    """A Hub repo's files at `revision` into `out` (through huggingface_hub: HF_ENDPOINT, HF_TOKEN),
    but its card and what `skip` names; returns how many files."""
    from huggingface_hub import HfApi

    api = HfApi()
    files = [f for f in api.list_repo_files(repo_id, repo_type=repo_type, revision=revision)
             if f not in NOT_DOWNLOADED + skip and not f.startswith(NOT_DOWNLOADED_FOLDERS)]  # fmt: skip
    download_files(api, repo_type, repo_id, revision, files, out)
    return len(files)


def download_files(api, repo_type: str, repo_id: str, revision: str, paths: list[str], dest: Path) -> None:
    """`paths` of a repo at `revision` into `dest` (real files; huggingface_hub's metadata stays out)."""
    import shutil
    import tempfile

    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as tmp:
        for p in paths:
            got = api.hf_hub_download(repo_id, p, repo_type=repo_type, revision=revision, local_dir=tmp)
            (dest / p).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(got, dest / p)


def file_digest(release: Release, path: Path | None) -> str | None:
    """Content hash of a file the config points to, so editing that file makes artifacts stale."""
    if path is None:
        return None
    from hubkit.workspace import file_sha256

    return file_sha256(release.resolve(path))
