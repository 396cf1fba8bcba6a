"""Execute a plan: one commit per repo (or a PR), tag `v{version}`, retries that cannot duplicate.

After a transient failure the repo is planned again before retrying, so a commit whose
response was lost is recognised (nothing left to do) instead of committed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hubkit.config import Release
from hubkit.errors import UsageError
from hubkit.graph import Graph
from hubkit.hub.auth import Credentials
from hubkit.hub.plan import RepoPlan, plan_release, plan_repo
from hubkit.hub.retry import retrying
from hubkit.repos import human_bytes, repo_url
from hubkit.workspace import Workspace

Report = Callable[[str], None]


def _commit(plan: RepoPlan, api, message: str, create_pr: bool):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops = [CommitOperationAdd(p, str(Path(plan.folder) / p)) for p in plan.add + plan.update]
    ops += [CommitOperationDelete(p) for p in plan.delete]
    if plan.create:
        api.create_repo(
            plan.repo_id, repo_type=plan.repo_type, private=plan.private, exist_ok=True,
            space_sdk=plan.sdk if plan.repo_type == "space" else None,
        )  # fmt: skip
    if not ops:
        return None
    return api.create_commit(
        plan.repo_id, ops, repo_type=plan.repo_type, commit_message=message,
        parent_commit=plan.head, create_pr=create_pr,
    )  # fmt: skip


def publish_repo(plan: RepoPlan, creds: Credentials, release: Release, artifact, manifest: dict, *,
                 create_pr: bool, report: Report) -> str:  # fmt: skip
    """Bring one repo to the plan; returns what happened. A retry re-plans first (with a fresh token)."""
    message = f"Release v{release.version}: {plan.artifact}"

    def attempt(n: int) -> str:
        api = creds.api(plan.repo_type, plan.repo_id)
        p = plan_repo(artifact, plan.folder, manifest, release.version, api) if n else plan
        if p.tag_action == "conflict":
            raise UsageError(f"{p.repo_id}: tag {p.tag} already exists at another commit; bump `version` in the config")
        if not p.changed and (create_pr or p.tag_action == "exists"):
            return "nothing to do"
        info = _commit(p, api, message, create_pr) if p.changed else None
        if create_pr:
            return f"opened {info.pr_revision}" if info else "nothing to do"
        target = info.oid if info else p.head
        if p.tag_action == "create":
            api.create_tag(p.repo_id, tag=p.tag, revision=target, repo_type=p.repo_type,
                           tag_message=message, exist_ok=True)  # fmt: skip
        if info is None:
            return f"tagged {p.tag}"
        counts = f"{len(p.add)} added, {len(p.update)} updated, {len(p.delete)} deleted"
        return f"committed {target[:8]} ({counts}, {human_bytes(p.upload_bytes)}), tagged {p.tag}"

    return retrying(attempt, endpoint=creds.endpoint, repo_id=plan.repo_id, report=report)


def publish_release(
    release: Release, workspace: Workspace, endpoint: str, token: str | None, *,
    create_pr: bool = False, dry_run: bool = False, report: Report = print, artifacts=None, browse: str | None = None,
) -> list[tuple[RepoPlan, str]]:  # fmt: skip
    """Plan, then publish every built, up-to-date artifact. Returns (plan, outcome) per repo.

    `token` None: HF_TOKEN / the login token, or trusted publishing when HF_OIDC_RESOURCE is set.
    Each repo's line ends with its page on `browse` (default: the endpoint), e.g. a local preview.
    """
    creds = Credentials(endpoint, token)
    report(f"publish: {creds.endpoint}, authenticated by {creds.mode}")
    plans = plan_release(release, workspace, creds, report=report, artifacts=artifacts)
    conflicts = [p for p in plans if not p.skipped and p.tag_action == "conflict"]
    if conflicts and not create_pr:
        p = conflicts[0]
        raise UsageError(f"{p.repo_id}: files changed but tag {p.tag} already exists; bump `version` in the config")
    graph = Graph(release, workspace, artifacts)
    results = []
    for plan in plans:
        if plan.skipped or dry_run:
            results.append((plan, plan.action))
            report(f"{plan.repo_type}:{plan.repo_id}: {plan.action}")
            continue
        outcome = publish_repo(
            plan, creds, release, graph.nodes[plan.artifact], workspace.manifest(plan.artifact),
            create_pr=create_pr, report=report,
        )  # fmt: skip
        page = repo_url(browse or endpoint, plan.repo_type, plan.repo_id)
        report(f"{plan.repo_type}:{plan.repo_id}: {outcome}  {page}")
        results.append((plan, outcome))
    return results
