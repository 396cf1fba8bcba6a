"""A local Hub-compatible HTTP server (Starlette + uvicorn) over `Store`.

It serves the subset of the huggingface.co API that huggingface_hub, datasets and
transformers use to publish and load repos: repo CRUD and info, preupload, the LFS batch
API (basic transfer, HMAC-signed upload URLs), NDJSON commits (PRs included), branches,
tags, refs, trees, paths-info, commits, resolve (with Range), the trusted-publishing token
exchange (`trust.py`) and Hugging Face Jobs (`jobs.py`: run, list, inspect, logs, cancel, labels,
hardware), whose jobs run as local processes.

`ROUTES` is the one table of the API: method, raw path (raw, because the Hub quotes revisions
such as `refs/pr/1` into one path segment), handler, who may call it, and the schemas of its
body and query (`schemas.py`). `dispatch` matches a route, checks the caller's credentials, and
only then reads and validates the body, so a handler gets typed input; every refusal is a 4xx
in the Hub's shape (`{"error": ...}` and an `X-Error-Message` header that holds no raw request
text). Adding an endpoint is one row and one handler.

Clients must talk LFS, not Xet: hubkit sets `HF_HUB_DISABLE_XET` for a non-Hub endpoint; a
client that asks for a Xet token is told so.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse

from hubkit.background import BackgroundServer
from hubkit.errors import UsageError
from hubkit.localhub import schemas as s
from hubkit.localhub.jobs import FLAVORS, HARDWARE, TERMINAL, JobStore
from hubkit.localhub.pages import Pages, front_matter, layout
from hubkit.localhub.store import LFS_THRESHOLD, HubError, Store, check_path, lfs_pointer
from hubkit.localhub.trust import Grant, Trust
from hubkit.repos import parse_repo_path, repo_path, repo_url

USER = "hubkit"
XET_HINT = "this local hub speaks LFS, not Xet: set HF_HUB_DISABLE_XET=1 in the uploading process"
MAX_ERROR = 500  # characters of an error message sent back
_API = r"api/(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_REPO = r"(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)"

# Who may call a route: anyone (PUBLIC), any valid token (TOKEN), whoever may read the path's repo
# (READ: private repos need a token covering them), a token that may write the path's repo, which
# must exist (WRITE), whoever holds an upload URL signed by the LFS batch answer (SIGNED), or a token
# that may run Jobs (JOBS: the hub's own; a token minted for one repo may not).
PUBLIC, TOKEN, READ, WRITE, SIGNED, JOBS = "public", "token", "read", "write", "signed", "jobs"
JOBS_PAGE = 20  # jobs per page of a listing; the `Link: <...>; rel="next"` header points to the next
_JOB = r"api/jobs/(?P<namespace>[^/]+)/(?P<job>[^/]+)"


@dataclass(frozen=True)
class Endpoint:
    """One route: methods, raw-path pattern (groups are unquoted), handler name, access, schemas."""

    methods: str
    pattern: str
    handler: str
    access: str = PUBLIC
    body: type[s.Body] | None = None
    query: type[s.Query] | None = None
    page: bool = False  # an HTML page: errors are pages too
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


# Matched in order with re.fullmatch.
ROUTES: list[Endpoint] = [
    Endpoint("GET", r"api/whoami-v2", "whoami", TOKEN),
    Endpoint("POST", r"api/repos/create", "create_repo", TOKEN, s.CreateRepo),
    Endpoint("DELETE", r"api/repos/delete", "delete_repo", TOKEN, s.RepoName),
    Endpoint("POST", r"api/validate-yaml", "validate_yaml", body=s.ValidateYaml),
    Endpoint("GET", r"api/(?P<kind>models|datasets|spaces)", "list_repos", query=s.ListQuery),
    Endpoint("GET", rf"{_API}(?:/revision/(?P<rev>.+))?", "repo_info", READ),
    Endpoint("GET", rf"{_API}/refs", "refs", READ, query=s.RefsQuery),
    Endpoint("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree", READ, query=s.TreeQuery),
    Endpoint("POST", rf"{_API}/paths-info/(?P<rev>[^/]+)", "paths_info", READ, s.PathsInfo),
    Endpoint("GET", rf"{_API}/commits/(?P<rev>[^/]+)", "commits", READ),
    Endpoint("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", "preupload", WRITE, s.Preupload),
    Endpoint("POST", rf"{_API}/commit/(?P<rev>[^/]+)", "commit", WRITE, s.Commit, s.CommitQuery),
    Endpoint("POST", rf"{_API}/branch/(?P<name>.+)", "create_branch", WRITE, s.Branch),
    Endpoint("DELETE", rf"{_API}/branch/(?P<name>.+)", "delete_branch", WRITE),
    Endpoint("POST", rf"{_API}/tag/(?P<rev>.+)", "create_tag", WRITE, s.Tag),
    Endpoint("DELETE", rf"{_API}/tag/(?P<name>.+)", "delete_tag", WRITE),
    Endpoint("PUT", rf"{_API}/settings", "settings", WRITE, s.Settings),
    Endpoint("POST", r"api/(?P<kind>spaces)/(?P<repo>[^/]+/[^/]+)/secrets", "set_secret", WRITE, s.Secret),
    Endpoint("DELETE", r"api/(?P<kind>spaces)/(?P<repo>[^/]+/[^/]+)/secrets", "delete_secret", WRITE, s.SecretKey),
    Endpoint("GET POST", rf"{_API}/xet-(?P<access>read|write)-token/(?P<rev>.+)", "xet_token"),
    Endpoint("POST", r"oauth/token", "token_exchange", body=s.TokenRequest),
    Endpoint("POST", rf"{_REPO}\.git/info/lfs/objects/batch", "lfs_batch", WRITE, s.LfsBatch),
    Endpoint("PUT", r"lfs/(?P<sha>[0-9a-f]{64})", "lfs_put", SIGNED, query=s.LfsSigned),
    Endpoint("POST", r"lfs/(?P<sha>[0-9a-f]{64})/verify", "lfs_verify", SIGNED, s.LfsVerify, s.LfsSigned),
    Endpoint("GET HEAD", rf"{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve", READ),
    # Hugging Face Jobs (jobs.py): local processes.
    Endpoint("GET", r"api/jobs/hardware", "jobs_hardware"),
    Endpoint("POST", r"api/jobs/(?P<namespace>[^/]+)", "run_job", JOBS, s.JobSpec),
    Endpoint("GET", r"api/jobs/(?P<namespace>[^/]+)", "list_jobs", JOBS, query=s.JobsQuery),
    Endpoint("GET", _JOB, "inspect_job", JOBS),
    Endpoint("GET", rf"{_JOB}/logs", "job_logs", JOBS, query=s.LogsQuery),
    Endpoint("POST", rf"{_JOB}/cancel", "cancel_job", JOBS),
    Endpoint("PUT", rf"{_JOB}/labels", "label_job", JOBS, s.JobLabels),
    # HTML pages (pages.py), at the Hub's URLs: swap the host of a Hub link to preview it here.
    Endpoint("GET", r"", "page_index", page=True),
    Endpoint("GET", _REPO, "page_card", page=True),
    Endpoint("GET", rf"{_REPO}/tree/(?P<rev>[^/]+)(?:/.*)?", "page_files", page=True),
    Endpoint("GET", rf"{_REPO}/commits/(?P<rev>[^/]+)", "page_history", page=True),
    Endpoint("GET", rf"{_REPO}/commit/(?P<sha>[0-9a-f]{{4,40}})", "page_commit", page=True),
    Endpoint("GET", rf"{_REPO}/compare/(?P<old>[^/]*)\.\.\.(?P<new>[^/]+)", "page_compare", page=True),
]  # fmt: skip


@dataclass
class Call:
    """What a handler gets: the request, the caller's grant (None where the route needs none), the
    path's repo as (repo_type, repo_id), and the validated body and query."""

    request: Request
    grant: Grant | None = None
    repo: tuple[str, str] | None = None
    body: Any = None
    query: Any = None


def _repo_args(params: dict[str, str]) -> tuple[str, str]:
    """(repo_type, repo_id) from a route's `kind` (api/models/...) or `prefix` (datasets/...)."""
    kind, prefix = params.pop("kind", None), params.pop("prefix", None)
    return (kind or prefix or "models")[:-1], params.pop("repo")


def header_safe(message: str) -> str:
    """A header value: printable ASCII only (a NUL or CR/LF from a request path becomes `\\x00`, `\\r`)."""
    return message.encode("unicode_escape").decode("ascii")


def error_response(err: HubError, extra: dict[str, Any] | None = None) -> JSONResponse:
    message = err.message if len(err.message) <= MAX_ERROR else err.message[:MAX_ERROR] + "..."
    headers = {"X-Error-Message": header_safe(message)}
    if err.code:
        headers["X-Error-Code"] = err.code
    body: dict[str, Any] = {"error": message, **(extra or {})}
    if err.code in ("invalid_grant", "invalid_request", "unsupported_grant_type"):
        body = {"error": err.code, "error_description": message}  # RFC 6749 error shape
    return JSONResponse(body, err.status, headers=headers)


class HubApp:
    """The API over one store: the hub's own token may do anything; minted tokens one repo each."""

    def __init__(self, store: Store, token: str, trust: Trust | None = None, crash_after_bytes: int | None = None):
        self.store, self._token, self.trust = store, token, trust
        self.jobs = JobStore(store.root)
        self._secret = hashlib.sha256(b"hubkit-lfs:" + token.encode()).digest()
        self._crash_after = crash_after_bytes  # fault injection for tests: die mid-upload
        self._received = 0

    # --- auth --------------------------------------------------------------------------
    def grant(self, request: Request) -> Grant | str | None:
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not given:
            return None
        if hmac.compare_digest(given.encode(), self._token.encode()):
            return Grant(admin=True)
        return self.trust.lookup(given) if self.trust else None

    def require(self, request: Request, repo_type: str | None = None, repo_id: str | None = None) -> Grant:
        """The request's grant, which must cover the repo (401 without one, 403 outside its scope)."""
        grant = self.grant(request)
        if grant == "expired":
            raise HubError(401, "Invalid credentials in Authorization header: the token has expired")
        if not isinstance(grant, Grant):
            raise HubError(401, "Invalid credentials in Authorization header")
        if repo_id is not None:
            self.check_scope(grant, repo_type, repo_id)
        return grant

    @staticmethod
    def check_scope(grant: Grant, repo_type: str, repo_id: str) -> None:
        if not grant.covers(repo_type, repo_id):
            raise HubError(403, f"This token may write {grant} only, not {repo_path(repo_type, repo_id)}")

    def can_read(self, request: Request, repo_type: str, meta: dict[str, Any]) -> bool:
        grant = self.grant(request)
        return not meta["private"] or (isinstance(grant, Grant) and grant.covers(repo_type, meta["id"]))

    def readable(self, request: Request, repo_type: str, repo_id: str) -> dict[str, Any]:
        info = self.store.repo(repo_type, repo_id)
        if not self.can_read(request, repo_type, info):
            # The Hub answers private repos without credentials as if they did not exist.
            raise HubError(401, "Repository not found", "RepoNotFound")
        return info

    def _sign(self, sha: str, size: int, repo: str) -> str:
        return hmac.new(self._secret, f"{sha}:{size}:{repo}".encode(), hashlib.sha256).hexdigest()

    def authorize(self, access: str, call: Call, params: dict[str, str]) -> None:
        """The route's access rule, checked before its body is read."""
        if access == TOKEN:
            call.grant = self.require(call.request)
        elif access == READ:
            self.readable(call.request, *call.repo)
        elif access == WRITE:
            call.grant = self.require(call.request, *call.repo)
            self.store.repo(*call.repo)
        elif access == JOBS:
            call.grant = self.require(call.request)
            if not call.grant.admin:
                raise HubError(403, f"This token may write {call.grant} only: it may not run or see Jobs")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}", params["namespace"]):
                raise HubError(400, f"Invalid namespace {params['namespace'][:100]!r}")
        elif access == SIGNED:
            q = call.query
            if not hmac.compare_digest(q.sig.encode(), self._sign(params["sha"], q.size, q.repo).encode()):
                raise HubError(403, "Invalid or expired upload signature")
            call.repo = parse_repo_path(q.repo)

    # --- entry point -------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            return await self.dispatch(request)
        except HubError as err:
            if request.scope.get("hubkit_page"):
                body = f"<h1>{err.status}</h1><p>{escape(err.message[:MAX_ERROR])}</p>"
                return HTMLResponse(layout("hubkit local hub", body), err.status)
            return error_response(err)

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        raw = raw.decode("utf-8", "replace").split("?")[0].strip("/")
        for ep in ROUTES:
            m = ep.regex.fullmatch(raw)
            if m and request.method in ep.methods.split():
                break
        else:
            raise HubError(404, f"Not found: {request.method} /{raw}")
        if ep.page:
            request.scope["hubkit_page"] = True
        params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
        call = Call(request)
        if "repo" in params:
            call.repo = _repo_args(params)
        if ep.query:
            call.query = s.query(ep.query, request.url.query)
        self.authorize(ep.access, call, params)
        if ep.body:
            call.body = await s.read_body(request, ep.body)
        return await getattr(self, ep.handler)(call, **params)

    # --- account and repos ---------------------------------------------------------------
    async def whoami(self, c: Call) -> Response:
        role = "write" if c.grant.admin else "fineGrained"
        return JSONResponse({
            "type": "user", "name": USER, "fullname": "hubkit local hub", "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": role}},
        })  # fmt: skip

    async def create_repo(self, c: Call) -> Response:
        repo_type, repo_id = c.body.repo(USER)
        self.check_scope(c.grant, repo_type, repo_id)
        url = repo_url(str(c.request.base_url), repo_type, repo_id)
        try:
            await run_in_threadpool(self.store.create_repo, repo_type, repo_id, bool(c.body.is_private), c.body.sdk)
        except HubError as err:
            if err.status != 409:
                raise
            # Like the Hub: the conflict still names the repo (clients with exist_ok read it).
            return error_response(err, {"url": url})
        return JSONResponse({"url": url, "name": repo_id})

    async def delete_repo(self, c: Call) -> Response:
        repo_type, repo_id = c.body.repo(USER)
        self.check_scope(c.grant, repo_type, repo_id)
        await run_in_threadpool(self.store.delete_repo, repo_type, repo_id)
        return JSONResponse({})

    async def validate_yaml(self, c: Call) -> Response:
        front = front_matter(c.body.content)
        warnings = [] if front is not None else [{"message": "empty or missing yaml metadata in repo card"}]
        return JSONResponse({"errors": [], "warnings": warnings})

    async def list_repos(self, c: Call, kind: str) -> Response:
        repo_type, q = kind[:-1], c.query
        out = []
        for meta in self.store.repos(repo_type):
            if not self.can_read(c.request, repo_type, meta):
                continue
            if q.author and meta["id"].split("/")[0] != q.author:
                continue
            if q.search and q.search.lower() not in meta["id"].lower():
                continue
            out.append(self.info(repo_type, meta["id"], "main", listing=True))
        return JSONResponse(out[: q.limit] if q.limit is not None else out)

    async def repo_info(self, c: Call, rev: str = "main") -> Response:
        return JSONResponse(self.info(*c.repo, rev))

    async def refs(self, c: Call) -> Response:
        return JSONResponse(self.refs_json(*c.repo, c.query.include_prs))

    async def tree(self, c: Call, rev: str, path: str = "") -> Response:
        return JSONResponse(self.tree_json(*c.repo, rev, path, c.query.recursive))

    async def paths_info(self, c: Call, rev: str) -> Response:
        return JSONResponse(self.paths_json(*c.repo, rev, c.body.paths))

    async def commits(self, c: Call, rev: str) -> Response:
        return JSONResponse([
            {"id": x["id"], "title": x["title"], "message": x["message"], "date": x["date"],
             "authors": [{"user": USER}]}
            for x in self.store.history(*c.repo, rev)
        ])  # fmt: skip

    # --- writes to a repo ----------------------------------------------------------------
    async def preupload(self, c: Call, rev: str) -> Response:
        return JSONResponse(self.preupload_json(*c.repo, rev, c.body.files))

    async def create_branch(self, c: Call, name: str) -> Response:
        start = c.body.startingPoint or "main"
        await run_in_threadpool(self.store.set_ref, *c.repo, "heads", name, start, c.body.exist_ok)
        return JSONResponse({})

    async def delete_branch(self, c: Call, name: str) -> Response:
        await run_in_threadpool(self.store.set_ref, *c.repo, "heads", name, None)
        return JSONResponse({})

    async def create_tag(self, c: Call, rev: str) -> Response:
        await run_in_threadpool(self.store.set_ref, *c.repo, "tags", c.body.tag, rev)
        return JSONResponse({})

    async def delete_tag(self, c: Call, name: str) -> Response:
        await run_in_threadpool(self.store.set_ref, *c.repo, "tags", name, None)
        return JSONResponse({})

    async def settings(self, c: Call) -> Response:
        await run_in_threadpool(self.store.update_settings, *c.repo, c.body.is_private)
        return JSONResponse({})

    async def set_secret(self, c: Call) -> Response:
        await run_in_threadpool(self.store.set_secret, c.repo[1], c.body.key, c.body.value)
        return JSONResponse({})

    async def delete_secret(self, c: Call) -> Response:
        await run_in_threadpool(self.store.set_secret, c.repo[1], c.body.key, None)
        return JSONResponse({})

    async def xet_token(self, c: Call, access: str, rev: str) -> Response:
        # huggingface_hub uploads through Xet whenever hf_xet is installed: say why that fails here.
        print(f"local hub: a client asked for a Xet {access} token; {XET_HINT}", file=sys.stderr, flush=True)
        raise HubError(501, XET_HINT, "XetNotSupported")

    async def token_exchange(self, c: Call) -> Response:
        if self.trust is None:
            raise HubError(400, "this hub trusts no OIDC issuer (start it with --trust FILE)", "invalid_request")
        try:
            response, line = self.trust.exchange(c.body.model_dump(exclude_none=True))
        except HubError as err:
            print(f"local hub: trusted publishing refused: {err.message}", file=sys.stderr, flush=True)
            raise
        print(f"local hub: {line}", file=sys.stderr, flush=True)
        return JSONResponse(response, headers={"Cache-Control": "no-store"})

    # --- Jobs ----------------------------------------------------------------------------
    async def jobs_hardware(self, c: Call) -> Response:
        return JSONResponse(HARDWARE)

    async def run_job(self, c: Call, namespace: str) -> Response:
        spec = c.body
        if spec.flavor not in FLAVORS:
            raise HubError(400, f"Unknown flavor {spec.flavor[:50]!r}: GET /api/jobs/hardware lists them")
        rec = await run_in_threadpool(self.jobs.start, namespace, spec, spec.secrets)
        print(f"local hub: job {rec['id']} in {namespace}: {' '.join(spec.command)[:200]}", file=sys.stderr, flush=True)
        return JSONResponse(self.jobs.info(rec))

    async def list_jobs(self, c: Call, namespace: str) -> Response:
        q = c.query
        labels = dict(item.partition("=")[::2] for item in q.label)
        found = await run_in_threadpool(self.jobs.find, namespace, [st.upper() for st in q.stage], labels)
        size = q.limit or JOBS_PAGE
        page = found[q.cursor : q.cursor + size]
        headers = {}
        if q.cursor + size < len(found):
            headers["Link"] = f'<{c.request.url.include_query_params(cursor=q.cursor + size)}>; rel="next"'
        return JSONResponse([self.jobs.info(r) for r in page], headers=headers)

    async def inspect_job(self, c: Call, namespace: str, job: str) -> Response:
        return JSONResponse(self.jobs.info(self.jobs.get(namespace, job)))

    async def cancel_job(self, c: Call, namespace: str, job: str) -> Response:
        return JSONResponse(self.jobs.info(await run_in_threadpool(self.jobs.cancel, namespace, job)))

    async def label_job(self, c: Call, namespace: str, job: str) -> Response:
        rec = await run_in_threadpool(self.jobs.set_labels, namespace, job, c.body.labels)
        return JSONResponse(self.jobs.info(rec))

    async def job_logs(self, c: Call, namespace: str, job: str) -> Response:
        """Server-sent events, one per log line (`data: {"timestamp", "data"}`), until the job has ended."""
        import asyncio
        import json
        import time

        self.jobs.get(namespace, job)
        tail = c.query.tail

        def sse(lines: list) -> str:
            return "".join(f"data: {json.dumps(x, ensure_ascii=False)}\n\n" for x in lines)

        async def events():
            offset, last = 0, time.monotonic()
            if tail is not None:
                lines, offset = self.jobs.log_since(namespace, job, 0)
                yield sse(lines[-tail:] if tail else [])
            while True:
                ended = self.jobs.get(namespace, job)["status"]["stage"] in TERMINAL  # before reading: no line lost
                lines, offset = self.jobs.log_since(namespace, job, offset)
                if lines:
                    yield sse(lines)
                    last = time.monotonic()
                if ended or self.jobs.closing:
                    return
                if time.monotonic() - last > 30:
                    yield ": keep-alive\n\n"
                    last = time.monotonic()
                await asyncio.sleep(0.2)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # --- HTML pages ----------------------------------------------------------------------
    def pages(self, request: Request) -> Pages:
        return Pages(self.store, functools.partial(self.can_read, request))

    async def page_index(self, c: Call) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).index))

    async def page_card(self, c: Call) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).card, *c.repo))

    async def page_files(self, c: Call, rev: str) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).files, *c.repo, rev))

    async def page_history(self, c: Call, rev: str) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).history, *c.repo, rev))

    async def page_commit(self, c: Call, sha: str) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).commit, *c.repo, sha))

    async def page_compare(self, c: Call, old: str, new: str) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(c.request).compare, *c.repo, old, new))

    # --- read views ----------------------------------------------------------------------
    def info(self, repo_type: str, repo_id: str, revision: str, listing: bool = False) -> dict[str, Any]:
        """The repo's info at `revision`; in a listing, a repo whose revision is gone still shows (no files)."""
        meta = self.store.repo(repo_type, repo_id)
        try:
            sha, tree = self.store.tree(repo_type, repo_id, revision)
            modified = self.store.commit(repo_type, repo_id, sha)["date"]
        except HubError:
            if not listing:
                raise
            sha, tree, modified = None, {}, meta["createdAt"]
        siblings = []
        for path, e in sorted(tree.items()):
            sib = {"rfilename": path, "size": e["size"], "blobId": e["oid"]}
            if e.get("lfs"):
                sib["lfs"] = {
                    "sha256": e["sha256"],
                    "size": e["size"],
                    "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
                }
            siblings.append(sib)
        info = {
            "id": repo_id, "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "author": repo_id.split("/")[0], "sha": sha, "private": meta["private"],
            "lastModified": modified, "createdAt": meta["createdAt"], "disabled": False,
            "gated": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }  # fmt: skip
        if repo_type == "space":
            info["sdk"] = meta.get("sdk")
        return info

    def refs_json(self, repo_type: str, repo_id: str, prs: bool) -> dict[str, Any]:
        refs = self.store.refs(repo_type, repo_id)

        def fmt(kind, pre):
            return [{"name": n, "ref": f"{pre}{n}", "targetCommit": s} for n, s in sorted(refs[kind].items())]

        out = {
            "branches": fmt("heads", "refs/heads/"),
            "tags": fmt("tags", "refs/tags/"),
            "converts": [],
        }
        if prs:
            out["pullRequests"] = [
                {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": s}
                for n, s in sorted(refs["prs"].items(), key=lambda kv: int(kv[0]))
            ]
        return out

    @staticmethod
    def _entry(path: str, e: dict) -> dict[str, Any]:
        out = {"type": "file", "oid": e["oid"], "size": e["size"], "path": path}
        if e.get("lfs"):
            out["lfs"] = {
                "oid": e["sha256"],
                "size": e["size"],
                "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
            }
        return out

    def tree_json(self, repo_type: str, repo_id: str, revision: str, folder: str, recursive: bool):
        _, tree = self.store.tree(repo_type, repo_id, revision)
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in tree):
            raise HubError(404, f"Entry not found: {folder}", "EntryNotFound")
        out, dirs = [], set()
        for path, e in sorted(tree.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for i in range(1, len(parts) if recursive else min(2, len(parts))):
                d = prefix + "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    out.append(
                        {
                            "type": "directory",
                            "oid": hashlib.sha1(d.encode()).hexdigest(),
                            "size": 0,
                            "path": d,
                        }
                    )
            if recursive or len(parts) == 1:
                out.append(self._entry(path, e))
        return out

    def paths_json(self, repo_type: str, repo_id: str, revision: str, paths: list[str]):
        _, tree = self.store.tree(repo_type, repo_id, revision)
        out = []
        for p in paths:
            p = p.strip("/")
            if p in tree:
                out.append(self._entry(p, tree[p]))
            elif p == "" or any(k.startswith(p + "/") for k in tree):
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode("utf-8", "replace")).hexdigest(),
                            "path": p})  # fmt: skip
        return out

    # --- writes --------------------------------------------------------------------------
    def preupload_json(self, repo_type: str, repo_id: str, revision: str, files: list[s.PreuploadFile]):
        try:
            _, tree = self.store.tree(repo_type, repo_id, revision)
        except HubError:
            tree = {}
        out = []
        for f in files:
            path = check_path(f.path)
            lfs = f.size >= LFS_THRESHOLD or b"\0" in f.sample
            e = tree.get(path)
            oid = (e["sha256"] if e.get("lfs") else e["oid"]) if e else None
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return {"files": out, "commitOid": None}

    async def commit(self, c: Call, rev: str) -> Response:
        header = c.body.header
        sha, pr = await run_in_threadpool(
            self.store.apply_commit, *c.repo, rev, c.body.operations, header.summary or "update",
            header.description, header.parentCommit, c.query.create_pr, c.grant.admin,
        )  # fmt: skip
        base = repo_url(str(c.request.base_url), *c.repo)
        body = {"success": True, "commitOid": sha, "commitUrl": f"{base}/commit/{sha}"}
        if pr is not None:
            body["pullRequestUrl"] = f"{base}/discussions/{pr}"
        return JSONResponse(body)

    async def lfs_batch(self, c: Call) -> Response:
        """Upload actions for every object this repo does not hold yet. Whether another repo holds
        it is never said: the answer is the same either way, and the upload is accepted."""
        base = str(c.request.base_url).rstrip("/")
        repo = repo_path(*c.repo)
        objects = []
        for obj in c.body.objects:
            sha, size = obj.oid, obj.size
            held = self.store.blob_size(sha) if c.grant.admin else self.store.lfs_object_size(*c.repo, sha)
            entry: dict[str, Any] = {"oid": sha, "size": size}
            if held != size:
                signed = f"size={size}&repo={quote(repo, safe='/')}&sig={self._sign(sha, size, repo)}"
                entry["actions"] = {
                    "upload": {"href": f"{base}/lfs/{sha}?{signed}"},
                    "verify": {"href": f"{base}/lfs/{sha}/verify?{signed}", "header": {}},
                }
            objects.append(entry)
        return JSONResponse({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    async def lfs_put(self, c: Call, sha: str) -> Response:
        await self._receive(c.request, sha, c.query.size)
        await run_in_threadpool(self.store.add_lfs_object, *c.repo, sha)
        return Response(status_code=200)

    async def lfs_verify(self, c: Call, sha: str) -> Response:
        if c.body.oid != sha or c.body.size != c.query.size or self.store.lfs_object_size(*c.repo, sha) != c.body.size:
            raise HubError(404, f"LFS object {sha} not found")
        return JSONResponse({})

    async def _receive(self, request: Request, sha: str, size: int) -> None:
        """Stream an upload to a temp file; it becomes the blob only if it has the signed size and sha256."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) != size:
            raise HubError(400, f"Upload of {declared} bytes, but this URL is signed for {size}")
        path = self.store.blob_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        h, n = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in request.stream():
                    n += len(chunk)
                    if n > size:
                        raise HubError(400, f"Upload larger than the {size} bytes this URL is signed for")
                    f.write(chunk)
                    h.update(chunk)
                    self._received += len(chunk)
                    if self._crash_after is not None and self._received >= self._crash_after:
                        os._exit(17)  # simulate a killed server: no cleanup, no response
                f.flush()
                os.fsync(f.fileno())
            if n != size or h.hexdigest() != sha:
                raise HubError(400, f"Upload does not match: {n} bytes with sha256 {h.hexdigest()}")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    async def resolve(self, c: Call, rev: str, path: str) -> Response:
        sha, tree = self.store.tree(*c.repo, rev)
        entry = tree.get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        headers = {"X-Repo-Commit": sha, "ETag": f'"{entry["oid"]}"', "Accept-Ranges": "bytes"}
        if entry.get("lfs"):
            headers |= {
                "X-Linked-Etag": f'"{entry["sha256"]}"',
                "X-Linked-Size": str(entry["size"]),
            }
        return FileResponse(
            self.store.blob_path(entry["sha256"]),
            headers=headers,
            media_type="application/octet-stream",
        )


def create_app(root: Path | str, token: str, trust: Trust | None = None,
               crash_after_bytes: int | None = None) -> Starlette:  # fmt: skip
    if not token:
        raise ValueError("the local hub needs a token")
    hub = HubApp(Store(root), token, trust, crash_after_bytes)

    async def every_request(scope, receive, send) -> None:
        response = await hub.handle(Request(scope, receive))
        await response(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(hub.jobs.close)  # the hub stops: so do the jobs it runs

    app = Starlette(lifespan=lifespan)
    app.router.default = every_request  # not a path Route: those stop at a newline (%0a) in the path
    return app


def check_serve_args(root: Path | str, token: str, host: str, port: int) -> None:
    """`hub serve`'s arguments, each refused in one line (UsageError) before anything starts."""
    import socket

    if not token:
        raise UsageError("hub serve: the token is empty: pass --token or set HUBKIT_HUB_TOKEN")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        raise UsageError("hub serve: the token must be printable ASCII without spaces (it travels in a header)")
    if not 1 <= port <= 65535:
        raise UsageError(f"hub serve: --port {port}: a port is 1-65535")
    try:
        Store(root)
    except OSError as exc:
        raise UsageError(f"hub serve: --root {root}: {exc.strerror or exc}") from None
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind((host, port))
    except OSError as exc:
        raise UsageError(f"hub serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class BackgroundHub(BackgroundServer):
    """A local hub served from a thread of this process (the embedded default of a release)."""

    what = "local hub"

    def __init__(self, root: Path | str, token: str, host: str = "127.0.0.1", port: int = 0,
                 trust: Trust | None = None):  # fmt: skip
        super().__init__(create_app(root, token, trust), host, port)


def serve(root: Path | str, token: str, host: str = "127.0.0.1", port: int = 8808, trust: Trust | None = None,
          crash_after_bytes=None) -> None:  # fmt: skip
    import uvicorn

    uvicorn.run(create_app(root, token, trust, crash_after_bytes), host=host, port=port, log_level="warning")
