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
from hubkit.retry import DEFAULT, Backoff

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
                 create_pr: bool, report: Report, backoff: Backoff = DEFAULT) -> str:  # fmt: skip
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

    return retrying(attempt, endpoint=creds.endpoint, repo_id=plan.repo_id, report=report, backoff=backoff)


def space_secrets(release: Release, *, required: bool = True) -> dict[str, str | None]:
    """The Space's secrets (name -> value) from the publishing job's environment, remembered for
    redaction; a missing variable is one line before anything is published (`required`)."""
    from hubkit import secrets

    out = {}
    for key, env in (release.space.secrets if release.space else {}).items():
        out[key] = secrets.from_env(env)
        if out[key] is None and required:
            raise UsageError(f"space.secrets.{key}: the environment variable {env} is not set; "
                             "publish sets the Space's secret from it")  # fmt: skip
    return out


def _set_secrets(plan: RepoPlan, creds: Credentials, release: Release, values: dict[str, str | None], *,
                 dry_run: bool, create_pr: bool, report: Report, backoff: Backoff = DEFAULT) -> None:  # fmt: skip
    """Set the Space's secrets (on every publish: a rotated token reaches the Space without a commit)."""
    where = f"space:{plan.repo_id}"
    if release.space.arena and "HF_TOKEN" not in release.space.secrets:
        votes = release.repo_id(release.space.arena.votes)
        report(f"{where}: the Arena saves votes only with a Space secret HF_TOKEN that may write {votes}: "
               "set space.secrets, or add it in the Space's settings")  # fmt: skip
    if not values:
        return
    names = ", ".join(f"{k} from ${env}{'' if values[k] else ' (not set)'}" for k, env in release.space.secrets.items())
    if dry_run or create_pr:
        why = "" if dry_run else " after the PR is merged: publish without --create-pr"
        report(f"{where}: would set secrets {names}{why}")
        return

    def attempt(n: int) -> None:
        api = creds.api(plan.repo_type, plan.repo_id)
        for key, value in values.items():
            env = release.space.secrets[key]
            api.add_space_secret(plan.repo_id, key, value, description=f"set by hubkit from ${env}")

    retrying(attempt, endpoint=creds.endpoint, repo_id=plan.repo_id, report=report, backoff=backoff)
    report(f"{where}: secrets set: {names}")


def publish_release(
    graph: Graph, endpoint: str, token: str | None, *,
    create_pr: bool = False, dry_run: bool = False, report: Report = print, browse: str | None = None,
    backoff: Backoff = DEFAULT,
) -> list[tuple[RepoPlan, str]]:  # fmt: skip
    """Plan, then publish every built, up-to-date artifact. Returns (plan, outcome) per repo.

    `token` None: HF_TOKEN / the login token, or trusted publishing when HF_OIDC_RESOURCE is set.
    Each repo's line ends with its page on `browse` (default: the endpoint), e.g. a local preview.
    """
    release, workspace = graph.release, graph.workspace
    creds = Credentials(endpoint, token)
    report(f"publish: {creds.endpoint}, authenticated by {creds.mode}")
    plans = plan_release(graph, creds, report=report, backoff=backoff)
    conflicts = [p for p in plans if not p.skipped and p.tag_action == "conflict"]
    if conflicts and not create_pr:
        p = conflicts[0]
        raise UsageError(f"{p.repo_id}: files changed but tag {p.tag} already exists; bump `version` in the config")
    publishes_space = any(p.repo_type == "space" and not p.skipped for p in plans)
    values = space_secrets(release, required=not dry_run and not create_pr) if publishes_space else {}
    results = []
    for plan in plans:
        if plan.skipped or dry_run:
            results.append((plan, plan.action))
            report(f"{plan.repo_type}:{plan.repo_id}: {plan.action}")
            if not plan.skipped and plan.repo_type == "space":
                _set_secrets(plan, creds, release, values, dry_run=True, create_pr=create_pr, report=report)
            continue
        outcome = publish_repo(
            plan, creds, release, graph.nodes[plan.artifact], workspace.manifest(plan.artifact),
            create_pr=create_pr, report=report, backoff=backoff,
        )  # fmt: skip
        page = repo_url(browse or endpoint, plan.repo_type, plan.repo_id)
        report(f"{plan.repo_type}:{plan.repo_id}: {outcome}  {page}")
        if plan.repo_type == "space":
            _set_secrets(plan, creds, release, values, dry_run=False, create_pr=create_pr, report=report,
                         backoff=backoff)
        results.append((plan, outcome))
    return results
