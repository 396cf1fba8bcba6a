"""What publishing would change, per repo: compare built artifacts with the remote by content hash.

Large (LFS) files are compared by the sha256 the Hub reports; regular files by their git
blob id. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hubkit.artifacts import Artifact
from hubkit.graph import UP_TO_DATE, Graph
from hubkit.hub.auth import Credentials
from hubkit.repos import human_bytes
from hubkit.workspace import MANIFEST

KEEP = {".gitattributes"}  # made by the Hub with every repo; never ours to delete


@dataclass
class RepoPlan:
    artifact: str
    repo_id: str
    repo_type: str
    folder: Path
    private: bool = False
    sdk: str | None = None
    skipped: str | None = None  # why this artifact is not published
    create: bool = False
    head: str | None = None
    add: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    upload_bytes: int = 0
    tag: str = ""
    tag_action: str = "create"  # "create" | "exists" | "conflict"

    @property
    def changed(self) -> bool:
        return bool(self.create or self.add or self.update or self.delete)

    @property
    def action(self) -> str:
        if self.skipped:
            return f"skip: {self.skipped}"
        if self.tag_action == "conflict":
            return f"conflict: {self.tag} already exists at another commit"
        if self.changed:
            return "create repo + commit" if self.create else "commit"
        return "tag" if self.tag_action == "create" else "nothing to do"


def _local_files(manifest: dict, unpublished: tuple[str, ...] = ()) -> dict[str, dict]:
    """The artifact's files plus its rendered card (README.md, chart, eval results)."""
    files = {**manifest.get("files", {}), **manifest.get("card_files", {})}
    return {p: info for p, info in files.items() if p != MANIFEST and not p.startswith(unpublished)}


def plan_repo(art: Artifact, folder: Path, manifest: dict, version: str, api) -> RepoPlan:
    from huggingface_hub.utils import RepositoryNotFoundError
    from huggingface_hub.utils.sha import git_hash

    plan = RepoPlan(
        art.name, art.repo_id, art.repo_type, folder,
        private=art.private, sdk=art.sdk, tag=f"v{version}",
    )  # fmt: skip
    local = _local_files(manifest, tuple(f"{d}/" for d in art.unpublished))
    try:
        info = api.repo_info(art.repo_id, repo_type=art.repo_type, files_metadata=True)
    except RepositoryNotFoundError:
        plan.create = True
        plan.add = sorted(local)
        plan.upload_bytes = sum(f["size"] for f in local.values())
        return plan
    plan.head = info.sha
    remote = {s.rfilename: s for s in info.siblings or []}
    for path, f in sorted(local.items()):
        r = remote.get(path)
        if r is None:
            plan.add.append(path)
        elif (r.lfs.sha256 == f["sha256"]) if r.lfs else (r.blob_id == git_hash((folder / path).read_bytes())):
            plan.unchanged.append(path)
        else:
            plan.update.append(path)
    plan.delete = sorted(p for p in remote if p not in local and p not in KEEP)
    plan.upload_bytes = sum(local[p]["size"] for p in plan.add + plan.update)
    tags = {t.name: t.target_commit for t in api.list_repo_refs(art.repo_id, repo_type=art.repo_type).tags}
    if plan.tag in tags:
        plan.tag_action = "exists" if tags[plan.tag] == plan.head and not plan.changed else "conflict"
    return plan


def plan_release(graph: Graph, creds: Credentials, report=print, backoff=None) -> list[RepoPlan]:
    """What publishing would change, per repo of every artifact of the command's plan."""
    from hubkit.hub.retry import retrying
    from hubkit.retry import DEFAULT

    release, workspace = graph.release, graph.workspace
    plans = []
    for name in graph.order:
        art, state = graph.nodes[name], graph.state(name)
        if state.status != UP_TO_DATE:
            why = state.status + (f" ({state.reason})" if state.reason else "")
            plans.append(RepoPlan(name, art.repo_id, art.repo_type, workspace.path(name), skipped=why))
            continue
        folder, manifest = workspace.path(name), workspace.manifest(name)
        plans.append(retrying(
            lambda _, art=art, folder=folder, manifest=manifest: plan_repo(
                art, folder, manifest, release.version, creds.api(art.repo_type, art.repo_id)),
            endpoint=creds.endpoint, repo_id=art.repo_id, report=report, backoff=backoff or DEFAULT,
        ))  # fmt: skip
    return plans


def markdown(plans: list[RepoPlan], endpoint: str) -> str:
    """A summary for $GITHUB_STEP_SUMMARY."""
    lines = [
        f"### hubkit plan → {endpoint}",
        "",
        "| repo | action | add | update | delete | upload | tag |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for p in plans:
        lines.append(
            f"| `{p.repo_type}:{p.repo_id}` | {p.action} | {len(p.add)} | {len(p.update)} | "
            f"{len(p.delete)} | {human_bytes(p.upload_bytes)} | {p.tag or '-'} ({p.tag_action}) |"
        )
    return "\n".join(lines) + "\n"
