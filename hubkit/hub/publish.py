"""Execute a plan: one commit per repo (or a PR), tag `v{version}`, retries that cannot duplicate.

After a transient failure the repo is planned again before retrying, so a commit whose
response was lost is recognised (nothing left to do) instead of committed twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hubkit.config import Release
from hubkit.errors import HubkitError, UsageError
from hubkit.graph import Graph
from hubkit.hub.plan import RepoPlan, hf_api, human_bytes, plan_release, plan_repo
from hubkit.workspace import Workspace

Report = Callable[[str], None]
RETRIES = 5


def _transient(exc: BaseException) -> bool:
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(exc, HfHubHTTPError) and status is not None and status >= 500


def explain(exc: BaseException, endpoint: str, repo_id: str) -> HubkitError:
    """One actionable line for an HTTP error; the token never appears in it."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    what = {
        401: f"{endpoint}: the token was rejected (401); set HF_TOKEN to a write token or run `hf auth login`",
        403: f"{repo_id}: the token may not write here (403); use a token with write access to this namespace",
        404: f"{repo_id}: not found on {endpoint} (404); check the namespace and repo type",
        409: f"{repo_id}: conflict (409): {_first_line(exc)}",
        412: f"{repo_id}: the remote changed while publishing (412); run `hubkit plan` and publish again",
    }.get(status)
    if what is None and _transient(exc):
        what = f"{endpoint}: unreachable or failing after {RETRIES} tries: {_first_line(exc)}"
    return HubkitError(what or f"{repo_id}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


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


def publish_repo(plan: RepoPlan, api, release: Release, artifact, manifest: dict, *, create_pr: bool,
                 report: Report, endpoint: str, sleep=time.sleep) -> str:  # fmt: skip
    """Bring one repo to the plan; returns what happened."""
    message = f"Release v{release.version}: {plan.artifact}"
    for attempt in range(RETRIES):
        try:
            if attempt:
                plan = plan_repo(artifact, plan.folder, manifest, release.version, api)
            if plan.tag_action == "conflict":
                raise UsageError(
                    f"{plan.repo_id}: tag {plan.tag} already exists at another commit; bump `version` in the config"
                )
            if not plan.changed and (create_pr or plan.tag_action == "exists"):
                return "nothing to do"
            info = _commit(plan, api, message, create_pr) if plan.changed else None
            if create_pr:
                return f"opened {info.pr_revision}" if info else "nothing to do"
            target = info.oid if info else plan.head
            if plan.tag_action == "create":
                api.create_tag(plan.repo_id, tag=plan.tag, revision=target, repo_type=plan.repo_type,
                               tag_message=message, exist_ok=True)  # fmt: skip
            if info is None:
                return f"tagged {plan.tag}"
            counts = f"{len(plan.add)} added, {len(plan.update)} updated, {len(plan.delete)} deleted"
            return f"committed {target[:8]} ({counts}, {human_bytes(plan.upload_bytes)}), tagged {plan.tag}"
        except HubkitError:
            raise
        except Exception as exc:
            if not _transient(exc) or attempt == RETRIES - 1:
                raise explain(exc, endpoint, plan.repo_id) from None
            wait = min(8.0, 0.5 * 2**attempt)
            report(f"{plan.repo_id}: {_first_line(exc)}; retrying in {wait:.1f}s")
            sleep(wait)
    raise AssertionError("unreachable")


def publish_release(
    release: Release, workspace: Workspace, endpoint: str, token: str | None, *,
    create_pr: bool = False, dry_run: bool = False, report: Report = print,
) -> list[tuple[RepoPlan, str]]:  # fmt: skip
    """Plan, then publish every built, up-to-date artifact. Returns (plan, outcome) per repo."""
    api = hf_api(endpoint, token)
    try:
        plans = plan_release(release, workspace, api)
    except Exception as exc:
        if isinstance(exc, HubkitError):
            raise
        raise explain(exc, endpoint, release.namespace) from None
    conflicts = [p for p in plans if not p.skipped and p.tag_action == "conflict"]
    if conflicts and not create_pr:
        p = conflicts[0]
        raise UsageError(f"{p.repo_id}: files changed but tag {p.tag} already exists; bump `version` in the config")
    graph = Graph(release, workspace)
    results = []
    for plan in plans:
        if plan.skipped or dry_run:
            results.append((plan, plan.action))
            report(f"{plan.repo_type}:{plan.repo_id}: {plan.action}")
            continue
        outcome = publish_repo(
            plan, api, release, graph.nodes[plan.artifact], workspace.manifest(plan.artifact),
            create_pr=create_pr, report=report, endpoint=endpoint,
        )  # fmt: skip
        report(f"{plan.repo_type}:{plan.repo_id}: {outcome}")
        results.append((plan, outcome))
    return results
