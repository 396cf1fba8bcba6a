"""Artifacts built as Hugging Face Jobs: the runner's side (stage, start or find, wait, bring back)
and the transfers both sides share.

Placement is not a kind: a Job runs the same hubkit (`hubkit jobs work`, pipeline.work) on the same
config and builds that one artifact from inputs pinned on the Hub. The runner

1. looks for the output on the artifact's staging branch `hubkit-stage-<fingerprint[:16]>` (a
   manifest with this fingerprint: an earlier Job built it) and otherwise for a live Job of this
   fingerprint (the journal in `<workspace>/.journal/<artifact>/jobs.jsonl`, then the Job labels);
2. if there is none: pushes each input (its files and manifest) to the input's own staging branch,
   pushes what the Job needs (the release's config files and `hubkit-job/plan.json`: artifact,
   fingerprint, inputs by commit) to the output's staging branch, starts the Job, and journals its
   id before waiting;
3. streams the Job's log with a prefix, polls its stage, and on COMPLETED downloads the output and
   its manifest from the staging branch, checking fingerprints and every file's sha256: the
   artifact is then up to date exactly as if built here. Staging branches are never `main`;
   publishing promotes the artifact from the workspace as usual.

Tokens: the one that starts and watches Jobs comes from `compute.jobs.token_env` (HF_JOBS_TOKEN),
else HF_TOKEN / the login token; the Job gets it as its secret HF_TOKEN (never in its environment
listing). Every token is remembered by hubkit.secrets, so no output shows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubkit import secrets
from hubkit.artifacts.base import JOB_FOLDER, download_files
from hubkit.errors import HubkitError, UsageError
from hubkit.graph import Graph
from hubkit.hub.auth import hf_api, is_hub
from hubkit.hub.retry import retrying
from hubkit.journal import Journal, records
from hubkit.repos import human_bytes
from hubkit.workspace import MANIFEST, Workspace, file_sha256, fingerprint

Report = Callable[[str], None]
STAGE = "hubkit-stage-"
PLAN = f"{JOB_FOLDER}/plan.json"
KEY_LABEL, ARTIFACT_LABEL = "hubkit-key", "hubkit-artifact"
UV_IMAGE = "ghcr.io/astral-sh/uv:python3.12-bookworm"  # huggingface_hub's DEFAULT_UV_IMAGE
TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")
LAST_LINES = 20  # of a failed Job's log, shown with its error
POLL = 10.0  # seconds between looks at a running Job's stage, at most


def branch(key: str) -> str:
    """The staging branch of an artifact with fingerprint `key`."""
    return STAGE + key[:16]


def slug(text: str) -> str:
    """A Job label value (letters, digits, - and _)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:100]


def jobs_token(token_env: str = "HF_JOBS_TOKEN") -> str | None:
    """The token that starts and watches Jobs: `token_env`, else HF_TOKEN or the login token."""
    from huggingface_hub import get_token

    token = secrets.from_env(token_env) or get_token()
    secrets.remember(token)
    return token


def default_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


# --- what the Job runs --------------------------------------------------------------------------
def hubkit_source() -> tuple[str, str] | None:
    """(repository URL, commit) of the hubkit running here: GitHub Actions' own, or this git checkout's."""
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if server and repo and sha:
        return f"{server}/{repo}", sha
    from hubkit.workspace import git_commit

    here = Path(__file__).resolve().parent
    commit = git_commit()
    try:
        url = subprocess.run(["git", "-C", str(here), "remote", "get-url", "origin"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if m := re.fullmatch(r"git@([^:]+):(.+)", url):  # a Job has no SSH key: fetch over HTTPS
        url = f"https://{m[1]}/{m[2]}"
    return (url, commit) if url and commit else None


def launcher(art, jobs) -> list[str]:
    """How the Job runs hubkit: the image's own `hubkit`, or uv installing it at this commit."""
    if jobs.image:
        return ["hubkit"]
    source = hubkit_source()
    if source is None:
        raise UsageError(f"{art.name}: compute.jobs: cannot tell which hubkit the Job should install (not GitHub "
                         "Actions, not a git checkout with a remote): set compute.jobs.image to an image with "
                         "hubkit")  # fmt: skip
    url, commit = source
    extras = f"[{','.join(art.extras)}]" if art.extras else ""
    return ["uv", "run", "--with", f"hubkit{extras} @ git+{url}@{commit}", "hubkit"]


def job_command(art, jobs, endpoint: str, revision: str) -> list[str]:
    repo = f"{art.repo_type}:{art.repo_id}"
    return [*launcher(art, jobs), "jobs", "work", "--hub", endpoint, "--repo", repo, "--revision", revision]


def check(graph: Graph, name: str, endpoint: str) -> None:
    """Before anything builds: what the config decides of the artifact, a token, and hubkit's source."""
    art = graph.nodes[name]
    art.check(machine=False)  # the Job checks its own machine
    ns = art.jobs.namespace or graph.release.namespace
    if not jobs_token(art.jobs.token_env):
        raise UsageError(f"{name}: compute.jobs: no token to start Jobs: set {art.jobs.token_env} (a fine-grained "
                         f"token that may start Jobs in {ns} and write the release's repos) or HF_TOKEN")  # fmt: skip
    launcher(art, art.jobs)
    hf_api(endpoint, None)  # HF_HUB_OFFLINE refuses here, not after the inputs are built


# --- transfers ---------------------------------------------------------------------------------
def staged_manifest(api, repo_type: str, repo_id: str, revision: str) -> tuple[str, dict[str, Any]] | None:
    """(commit, manifest) of an artifact staged at `revision`, or None if there is none."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        sha = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
        with tempfile.TemporaryDirectory() as tmp:
            path = api.hf_hub_download(repo_id, MANIFEST, repo_type=repo_type, revision=sha, local_dir=tmp)
            return sha, json.loads(Path(path).read_text())
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError, ValueError):
        return None


def pull(api, repo_type: str, repo_id: str, revision: str, dest: Path,
         found: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """An artifact staged at `revision` into `dest`: its manifest (`found`: already read, with its
    commit) and every file it lists, each checked against the manifest's size and sha256. Returns
    the manifest."""
    found = found or staged_manifest(api, repo_type, repo_id, revision)
    where = f"{repo_id}@{revision[:16]}"
    if found is None:
        raise HubkitError(f"{where}: no {MANIFEST}: nothing was staged there")
    manifest = found[1]
    files = manifest.get("files", {})
    download_files(api, repo_type, repo_id, found[0], sorted(files), dest)
    for p, info in files.items():
        if (dest / p).stat().st_size != info["size"] or file_sha256(dest / p) != info["sha256"]:
            raise HubkitError(f"{where}: {p} differs from its manifest (size or sha256)")
    if fingerprint(files) != manifest.get("content"):
        raise HubkitError(f"{where}: the manifest's content fingerprint does not match its files")
    Workspace.save_manifest(dest, manifest)
    return manifest


def push(api, repo_type: str, repo_id: str, folder: Path, manifest: dict[str, Any], branch_name: str, message: str,
         *, private: bool = False, delete_job: bool = False) -> str:  # fmt: skip
    """An artifact's files and manifest committed to `branch_name` (created from main); returns the commit."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    api.create_branch(repo_id, repo_type=repo_type, branch=branch_name, exist_ok=True)
    ops = [CommitOperationAdd(p, str(folder / p)) for p in [*sorted(manifest["files"]), MANIFEST]]
    if delete_job:
        ops.append(CommitOperationDelete(f"{JOB_FOLDER}/"))
    return api.create_commit(repo_id, ops, repo_type=repo_type, revision=branch_name, commit_message=message).oid


def project_files(release) -> tuple[Path, dict[str, Path]]:
    """(root, {path under root: file}): the config and every file or folder it points to, which is
    what loading it needs (the card templates, the Space's app, recipes, prompts, ...)."""
    config = release.source.resolve()
    wanted: list[Path] = [config]

    def walk(value: Any) -> None:
        if isinstance(value, Path):
            wanted.append(release.resolve(value).resolve())
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(release.model_dump())
    files: list[Path] = []
    for p in wanted:
        if p.is_dir():
            files += [f for f in sorted(p.rglob("*")) if f.is_file() and "__pycache__" not in f.parts
                      and not any(part.startswith(".") for part in f.relative_to(p).parts)]  # fmt: skip
        elif p.is_file():
            files.append(p)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    return root, {f.relative_to(root).as_posix(): f for f in files}


def fetch_plan(api, repo_type: str, repo_id: str, revision: str, dest: Path) -> dict[str, Any]:
    """The Job's side: what the runner staged for it (`hubkit-job/`) into `dest`; returns the plan."""
    files = [f for f in api.list_repo_files(repo_id, repo_type=repo_type, revision=revision)
             if f.startswith(f"{JOB_FOLDER}/")]  # fmt: skip
    if PLAN not in files:
        raise HubkitError(f"{repo_id}@{revision[:16]}: no {PLAN}: not a commit staged for a Job")
    download_files(api, repo_type, repo_id, revision, files, dest)
    return json.loads((dest / PLAN).read_text())


# --- the runner --------------------------------------------------------------------------------
class Runner:
    """Builds one artifact of a plan as a Job: `Runner(graph, name, endpoint, report).run()`."""

    def __init__(self, graph: Graph, name: str, endpoint: str, report: Report, *, force: bool = False):
        self.graph, self.name, self.endpoint = graph, name, endpoint.rstrip("/")
        self.force = force  # an output already on the Hub is not taken: a new Job builds it again
        self.art = graph.nodes[name]
        self.place = self.art.jobs
        self.key = graph.key(name)
        self.branch = branch(self.key)
        self.namespace = self.place.namespace or graph.release.namespace
        self.token = jobs_token(self.place.token_env)
        self.api = hf_api(self.endpoint, self.token)
        self.say = lambda m: report(f"{name}: {m}")
        self.journal = graph.workspace.journal(name) / "jobs.jsonl"

    def _retry(self, attempt):
        return retrying(attempt, endpoint=self.endpoint, repo_id=self.art.repo_id, report=self.say)

    def run(self) -> None:
        found = None if self.force else self._output()
        job = None
        if found is None:
            job = self._live()
            if job is not None:
                self.say(f"re-attaching to job {job.id} ({job.status.stage}), started earlier: {job.url}")
            else:
                job = self._start(self._stage())
            job = self._wait(job)
            found = self._output()
            if found is None:
                raise HubkitError(f"{self.name}: job {job.id} COMPLETED but left no output for fingerprint "
                                  f"{self.key[:12]} on {self.art.repo_id}@{self.branch}: {job.url}")  # fmt: skip
        else:
            self.say(f"built earlier by a Job: {self.art.repo_id}@{self.branch} ({found[0][:12]})")
        self._bring_back(found, job)

    def cancel_line(self, job_id: str) -> str:
        token = "" if self.place.token_env == "HF_JOBS_TOKEN" else f" --token-env {self.place.token_env}"
        return f"hubkit jobs cancel {job_id} --namespace {self.namespace} --hub {self.endpoint}{token}"

    # --- finding what exists ---------------------------------------------------------------
    def _output(self) -> tuple[str, dict[str, Any]] | None:
        found = self._retry(lambda _: staged_manifest(self.api, self.art.repo_type, self.art.repo_id, self.branch))
        return found if found is not None and found[1].get("fingerprint") == self.key else None

    def _live(self):
        """A Job of this fingerprint still scheduling or running: journaled, else found by its labels."""
        seen = set()
        for rec in reversed(list(records(self.journal))):
            if rec.get("key") == self.key and rec.get("endpoint") == self.endpoint and rec["job"] not in seen:
                seen.add(rec["job"])
                info = self._retry(lambda _, r=rec: self._inspect(r["job"], r["namespace"]))
                if info is not None and info.status.stage not in TERMINAL:
                    return info
        return self._labelled()

    def _inspect(self, job_id: str, namespace: str):
        """The Job, or None if the hub does not know it (a journal of another hub's Jobs)."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            return self.api.inspect_job(job_id=job_id, namespace=namespace)
        except HfHubHTTPError as exc:
            if getattr(exc.response, "status_code", None) == 404:
                return None
            raise

    def _labelled(self):
        found = self._retry(lambda _: list(self.api.list_jobs(
            labels={KEY_LABEL: self.key}, status=["SCHEDULING", "RUNNING"], namespace=self.namespace)))  # fmt: skip
        return found[0] if found else None

    # --- starting ------------------------------------------------------------------------
    def _stage(self) -> str:
        """Inputs to their staging branches, then the Job's plan and config to the output's; returns its commit."""
        from huggingface_hub import CommitOperationAdd

        graph, ws, art = self.graph, self.graph.workspace, self.art
        inputs = {}
        for dep in art.inputs:
            d, manifest = graph.nodes[dep], ws.manifest(dep)
            dep_branch = branch(graph.key(dep))
            there = self._retry(lambda _, d=d, b=dep_branch: staged_manifest(self.api, d.repo_type, d.repo_id, b))
            if there is not None and there[1].get("content") == manifest["content"]:
                sha = there[0]
                self.say(f"input {dep}: already staged at {d.repo_id}@{dep_branch}")
            else:
                size = sum(f["size"] for f in manifest["files"].values())
                self.say(f"input {dep}: staging {len(manifest['files'])} files ({human_bytes(size)}) "
                         f"to {d.repo_id}@{dep_branch}")  # fmt: skip
                sha = self._retry(lambda _, d=d, m=manifest, b=dep_branch: push(
                    self.api, d.repo_type, d.repo_id, ws.path(d.name), m, b, f"hubkit: stage {d.name} for a Job",
                    private=d.private))  # fmt: skip
            inputs[dep] = {"repo_type": d.repo_type, "repo_id": d.repo_id, "revision": sha,
                           "content": manifest["content"]}  # fmt: skip
        root, files = project_files(graph.release)
        config = graph.release.source.resolve().relative_to(root).as_posix()
        plan = {
            "artifact": self.name, "key": self.key, "config": config, "inputs": inputs,
            "output": {"repo_type": art.repo_type, "repo_id": art.repo_id, "branch": self.branch},
        }  # fmt: skip
        ops = [CommitOperationAdd(f"{JOB_FOLDER}/project/{p}", str(f)) for p, f in files.items()]
        ops.append(CommitOperationAdd(PLAN, json.dumps(plan, indent=1).encode()))

        def commit(_):
            from huggingface_hub.errors import RevisionNotFoundError

            self.api.create_repo(art.repo_id, repo_type=art.repo_type, private=art.private, exist_ok=True)
            with contextlib.suppress(RevisionNotFoundError):  # a fresh branch from main: nothing of before stays
                self.api.delete_branch(art.repo_id, repo_type=art.repo_type, branch=self.branch)
            self.api.create_branch(art.repo_id, repo_type=art.repo_type, branch=self.branch)
            return self.api.create_commit(
                art.repo_id,
                ops,
                repo_type=art.repo_type,
                revision=self.branch,
                commit_message=f"hubkit: what a Job needs to build {self.name}",
            ).oid

        return self._retry(commit)

    def _start(self, revision: str):
        art, place = self.art, self.place
        env = {} if is_hub(self.endpoint) else {"HF_ENDPOINT": self.endpoint, "HF_HUB_DISABLE_XET": "1"}

        def attempt(n: int):
            if n and (job := self._labelled()) is not None:  # the answer was lost, not the Job
                return job
            return self.api.run_job(
                image=place.image or UV_IMAGE, command=job_command(art, place, self.endpoint, revision), env=env,
                secrets={"HF_TOKEN": self.token}, flavor=place.flavor, timeout=place.seconds,
                labels={KEY_LABEL: self.key, ARTIFACT_LABEL: slug(self.name)}, name=f"hubkit-{slug(self.name)}",
                namespace=self.namespace,
            )  # fmt: skip

        job = self._retry(attempt)
        with Journal(self.journal) as j:  # before waiting: a rerun, even after kill -9, re-attaches
            j.append({"key": self.key, "endpoint": self.endpoint, "namespace": self.namespace, "job": job.id,
                      "url": job.url, "at": time.time()})  # fmt: skip
        self.say(f"job {job.id} started on {place.flavor} (timeout {place.timeout}): {job.url}")
        return job

    # --- waiting -------------------------------------------------------------------------
    def _stream(self, job_id: str) -> None:
        try:
            for line in self.api.fetch_job_logs(job_id=job_id, namespace=self.namespace, follow=True):
                self.say(f"[job] {secrets.redact(line)}")
        except Exception as exc:  # the log is a view; the stage is what counts
            self.say(f"(the job's log stream ended: {secrets.redact(str(exc).splitlines()[0] if str(exc) else '')})")

    def _wait(self, job):
        stream = threading.Thread(target=self._stream, args=(job.id,), daemon=True)
        stream.start()
        began, shown, stage = time.monotonic(), time.monotonic(), None
        try:
            while True:
                info = self._retry(lambda _: self.api.inspect_job(job_id=job.id, namespace=self.namespace))
                if info.status.stage in TERMINAL:
                    break
                elapsed = time.monotonic() - began
                if info.status.stage != stage or time.monotonic() - shown >= 60:
                    stage, shown = info.status.stage, time.monotonic()
                    self.say(f"job {job.id}: {stage}, {_duration(elapsed)} so far (timeout {self.place.timeout})")
                time.sleep(min(POLL, 1.0 + elapsed / 10))  # quick at first, then every POLL seconds
        except KeyboardInterrupt:
            self.say(f"interrupted; job {job.id} keeps running: {job.url}")
            self.say(f"  re-attach: run the same command again; cancel it: {self.cancel_line(job.id)}")
            raise
        stream.join(timeout=10)
        return self._outcome(info)

    def _outcome(self, info):
        if info.status.stage == "COMPLETED":
            self.say(f"job {info.id} COMPLETED")
            return info
        message = info.status.message or info.status.stage
        running = info.durations.running_secs if info.durations else None
        timed_out = "timed out" in message.lower() or "timeout" in message.lower() or (
            running is not None and running >= self.place.seconds)  # fmt: skip
        try:
            last = list(self.api.fetch_job_logs(job_id=info.id, namespace=self.namespace, tail=LAST_LINES))
        except Exception:  # the error below stands without them
            last = []
        if last:
            self.say(f"job {info.id}: its last {len(last)} log lines:")
            for line in last:
                self.say(f"  | {secrets.redact(line)}")
        logs = f"hubkit jobs logs {info.id} --namespace {self.namespace} --hub {self.endpoint}"
        if timed_out:
            raise HubkitError(f"{self.name}: job {info.id} timed out after {self.place.timeout} "
                              f"(compute.jobs.timeout; raise it and build again): {info.url}")  # fmt: skip
        if info.status.stage == "CANCELED":
            raise HubkitError(f"{self.name}: job {info.id} was canceled: {info.url}")
        raise HubkitError(f"{self.name}: job {info.id} failed ({info.status.stage}: {secrets.redact(message)}): "
                          f"{info.url}; whole log: {logs}")  # fmt: skip

    # --- bringing back -------------------------------------------------------------------
    def _bring_back(self, found: tuple[str, dict[str, Any]], job) -> None:
        ws, art, revision = self.graph.workspace, self.art, found[0]
        with ws.staging(self.name) as out:
            manifest = self._retry(lambda _: pull(self.api, art.repo_type, art.repo_id, revision, out, found))
            expected = {"fingerprint": self.key, "spec_fingerprint": fingerprint(art.spec()),
                        "inputs": {d: ws.manifest(d)["content"] for d in art.inputs}}  # fmt: skip
            for field_, value in expected.items():
                if manifest.get(field_) != value:
                    raise HubkitError(f"{self.name}: the output on {art.repo_id}@{revision[:12]} has another "
                                      f"{field_} than this build plans; build again (it is not used)")  # fmt: skip
            manifest["job"] = {"id": job.id if job else None, "url": job.url if job else None,
                               "flavor": self.place.flavor, "revision": revision}  # fmt: skip
            Workspace.save_manifest(out, manifest)
        size = sum(f["size"] for f in manifest["files"].values())
        self.say(f"brought back {len(manifest['files'])} files ({human_bytes(size)}) from "
                 f"{art.repo_id}@{self.branch}, hashes checked")  # fmt: skip


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


def build(graph: Graph, name: str, endpoint: str | None, report: Report, *, force: bool = False) -> None:
    """Build `name` as a Hugging Face Job (its `compute.jobs`) and bring its output back into the workspace."""
    Runner(graph, name, endpoint or default_endpoint(), report, force=force).run()


# --- prices and the `hubkit jobs` commands --------------------------------------------------------
def prices(endpoint: str, token: str | None = None) -> dict[str, float]:
    """USD per second of each flavor, from the hub's `/api/jobs/hardware`."""
    per = {"second": 1, "minute": 60, "hour": 3600}
    hardware = hf_api(endpoint, token).list_jobs_hardware()
    return {h.name: h.unit_cost_usd / per.get(h.unit_label, 60) for h in hardware}


def client(endpoint: str, token_env: str = "HF_JOBS_TOKEN"):
    token = jobs_token(token_env)
    if not token:
        raise UsageError(f"no token for Jobs: set {token_env} or HF_TOKEN (or run `hf auth login`)")
    return hf_api(endpoint, token)
