"""A local Hub-compatible HTTP server (Starlette + uvicorn) over `Store`.

It serves the subset of the huggingface.co API that huggingface_hub, datasets and
transformers use to publish and load repos: repo CRUD and info, preupload, the LFS batch
API (basic transfer, HMAC-signed upload URLs), NDJSON commits (PRs included), branches,
tags, refs, trees, paths-info, commits, resolve (with Range) and the trusted-publishing token
exchange (`trust.py`). `ROUTES` maps method + raw path to a handler: raw, because the Hub quotes
revisions such as `refs/pr/1` into one path segment.

Clients must talk LFS, not Xet: hubkit sets `HF_HUB_DISABLE_XET` for a non-Hub endpoint; a
client that asks for a Xet token is told so.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import sys
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hubkit.background import BackgroundServer
from hubkit.localhub.pages import Pages, layout
from hubkit.localhub.store import LFS_THRESHOLD, HubError, Store, check_path, lfs_pointer
from hubkit.localhub.trust import Grant, Trust
from hubkit.repos import repo_path, repo_url

USER = "hubkit"
XET_HINT = "this local hub speaks LFS, not Xet: set HF_HUB_DISABLE_XET=1 in the uploading process"
_API = r"api/(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_REPO = r"(?:(?P<prefix>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)"
# (methods, raw-path pattern, handler): matched in order with re.fullmatch; groups are unquoted.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"api/whoami-v2", "whoami"),
    ("POST", r"api/repos/create", "create_repo"),
    ("DELETE", r"api/repos/delete", "delete_repo"),
    ("POST", r"api/validate-yaml", "validate_yaml"),
    ("GET", r"api/(?P<kind>models|datasets|spaces)", "list_repos"),
    ("GET", rf"{_API}(?:/revision/(?P<rev>.+))?", "repo_info"),
    ("GET", rf"{_API}/refs", "refs"),
    ("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
    ("POST", rf"{_API}/paths-info/(?P<rev>[^/]+)", "paths_info"),
    ("GET", rf"{_API}/commits/(?P<rev>[^/]+)", "commits"),
    ("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"{_API}/commit/(?P<rev>[^/]+)", "commit"),
    ("POST DELETE", rf"{_API}/branch/(?P<name>.+)", "branch"),
    ("POST DELETE", rf"{_API}/tag/(?P<name>.+)", "tag"),
    ("PUT", rf"{_API}/settings", "settings"),
    ("POST DELETE", r"api/spaces/(?P<repo>[^/]+/[^/]+)/secrets", "space_secret"),
    ("GET POST", rf"{_API}/xet-(?P<access>read|write)-token/(?P<rev>.+)", "xet_token"),
    ("POST", r"oauth/token", "token_exchange"),
    ("POST", rf"{_REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
    ("PUT", r"lfs/(?P<sha>[0-9a-f]{64})", "lfs_put"),
    ("POST", r"lfs/(?P<sha>[0-9a-f]{64})/verify", "lfs_verify"),
    ("GET HEAD", rf"{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    # HTML pages (pages.py), at the Hub's URLs: swap the host of a Hub link to preview it here.
    ("GET", r"", "page_index"),
    ("GET", _REPO, "page_card"),
    ("GET", rf"{_REPO}/tree/(?P<rev>[^/]+)(?:/.*)?", "page_files"),
    ("GET", rf"{_REPO}/commits/(?P<rev>[^/]+)", "page_history"),
    ("GET", rf"{_REPO}/commit/(?P<sha>[0-9a-f]{{4,40}})", "page_commit"),
    ("GET", rf"{_REPO}/compare/(?P<old>[^/]*)\.\.\.(?P<new>[^/]+)", "page_compare"),
]
_COMPILED = [(set(m.split()), re.compile(p), h) for m, p, h in ROUTES]


def _repo_args(params: dict[str, str]) -> tuple[str, str]:
    """(repo_type, repo_id) from a route's `kind` (api/models/...) or `prefix` (datasets/...)."""
    kind, prefix = params.pop("kind", None), params.pop("prefix", None)
    return (kind or prefix or "models")[:-1], params.pop("repo")


class HubApp:
    """The API over one store: the hub's own token may do anything; minted tokens one repo each."""

    def __init__(self, store: Store, token: str, trust: Trust | None = None, crash_after_bytes: int | None = None):
        self.store, self._token, self.trust = store, token, trust
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
        if repo_id is not None and not grant.covers(repo_type, repo_id):
            raise HubError(403, f"This token may write {grant} only, not {repo_path(repo_type, repo_id)}")
        return grant

    def can_read(self, request: Request, repo_type: str, meta: dict[str, Any]) -> bool:
        grant = self.grant(request)
        return not meta["private"] or (isinstance(grant, Grant) and grant.covers(repo_type, meta["id"]))

    def readable(self, request: Request, repo_type: str, repo_id: str) -> dict[str, Any]:
        info = self.store.repo(repo_type, repo_id)
        if not self.can_read(request, repo_type, info):
            # The Hub answers private repos without credentials as if they did not exist.
            raise HubError(401, "Repository not found", "RepoNotFound")
        return info

    def _sign(self, sha: str, size: int) -> str:
        return hmac.new(self._secret, f"{sha}:{size}".encode(), hashlib.sha256).hexdigest()

    # --- entry point -------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            return await self.dispatch(request)
        except HubError as err:
            if request.scope.get("hubkit_page"):
                body = f"<h1>{err.status}</h1><p>{escape(err.message)}</p>"
                return HTMLResponse(layout("hubkit local hub", body), err.status)
            # Header values must be latin-1: a repo path or message with other characters is escaped.
            headers = {"X-Error-Message": err.message.encode("ascii", "backslashreplace").decode()}
            if err.code:
                headers["X-Error-Code"] = err.code
            body = {"error": err.message}
            if err.code in ("invalid_grant", "invalid_request", "unsupported_grant_type"):
                body = {"error": err.code, "error_description": err.message}  # RFC 6749 error shape
            return JSONResponse(body, err.status, headers=headers)

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path", request.url.path.encode()).decode().split("?")[0].strip("/")
        for methods, pattern, handler in _COMPILED:
            m = pattern.fullmatch(raw)
            if m and request.method in methods:
                params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                return await getattr(self, handler)(request, **params)
        raise HubError(404, f"Not found: {request.method} /{raw}")

    # --- account and repos ---------------------------------------------------------------
    async def whoami(self, request: Request) -> Response:
        grant = self.require(request)
        role = "write" if grant.admin else "fineGrained"
        return JSONResponse({
            "type": "user", "name": USER, "fullname": "hubkit local hub", "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": role}},
        })  # fmt: skip

    async def create_repo(self, request: Request) -> Response:
        body = await request.json()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or USER}/{body.get('name', '')}"
        self.require(request, repo_type, repo_id)
        url = repo_url(str(request.base_url), repo_type, repo_id)
        try:
            await run_in_threadpool(self.store.create_repo, repo_type, repo_id, _private(body) or False,
                                    body.get("sdk"))  # fmt: skip
        except HubError as err:
            if err.status != 409:
                raise
            # Like the Hub: the conflict still names the repo (clients with exist_ok read it).
            return JSONResponse({"error": err.message, "url": url}, 409, headers={"X-Error-Message": err.message})
        return JSONResponse({"url": url, "name": repo_id})

    async def delete_repo(self, request: Request) -> Response:
        body = await request.json()
        repo_type, repo_id = body.get("type") or "model", f"{body.get('organization') or USER}/{body.get('name', '')}"
        self.require(request, repo_type, repo_id)
        await run_in_threadpool(self.store.delete_repo, repo_type, repo_id)
        return JSONResponse({})

    async def validate_yaml(self, request: Request) -> Response:
        body = await request.json()
        return validate_card(body.get("content", ""))

    async def list_repos(self, request: Request, kind: str) -> Response:
        return self.list_json(request, kind[:-1])

    async def repo_info(self, request: Request, **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        return JSONResponse(self.info(repo_type, repo_id, p.get("rev") or "main"))

    async def refs(self, request: Request, **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        return JSONResponse(self.refs_json(repo_type, repo_id, "include_prs" in request.query_params))

    async def tree(self, request: Request, rev: str, path: str = "", **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        recursive = request.query_params.get("recursive", "").lower() in ("1", "true")
        return JSONResponse(self.tree_json(repo_type, repo_id, rev, path, recursive))

    async def paths_info(self, request: Request, rev: str, **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        form = parse_qs((await request.body()).decode())
        return JSONResponse(self.paths_json(repo_type, repo_id, rev, form.get("paths", [])))

    async def commits(self, request: Request, rev: str, **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        return JSONResponse([
            {"id": c["id"], "title": c["title"], "message": c["message"], "date": c["date"],
             "authors": [{"user": USER}]}
            for c in self.store.history(repo_type, repo_id, rev)
        ])  # fmt: skip

    # --- writes to a repo ----------------------------------------------------------------
    def writable(self, request: Request, p: dict[str, str]) -> tuple[str, str]:
        repo_type, repo_id = _repo_args(p)
        self.require(request, repo_type, repo_id)
        self.store.repo(repo_type, repo_id)
        return repo_type, repo_id

    async def preupload(self, request: Request, rev: str, **p: str) -> Response:
        repo_type, repo_id = self.writable(request, p)
        body = await request.json()
        return JSONResponse(self.preupload_json(repo_type, repo_id, rev, body.get("files", [])))

    async def branch(self, request: Request, name: str, **p: str) -> Response:
        repo_type, repo_id = self.writable(request, p)
        if request.method == "POST":
            body = await _json_or_empty(request)
            start, exist_ok = body.get("startingPoint") or "main", bool(body.get("exist_ok"))
            await run_in_threadpool(self.store.set_ref, repo_type, repo_id, "heads", name, start, exist_ok)
        else:
            await run_in_threadpool(self.store.set_ref, repo_type, repo_id, "heads", name, None)
        return JSONResponse({})

    async def tag(self, request: Request, name: str, **p: str) -> Response:
        repo_type, repo_id = self.writable(request, p)
        if request.method == "POST":
            body = await request.json()
            await run_in_threadpool(self.store.set_ref, repo_type, repo_id, "tags", body["tag"], name)
        else:
            await run_in_threadpool(self.store.set_ref, repo_type, repo_id, "tags", name, None)
        return JSONResponse({})

    async def settings(self, request: Request, **p: str) -> Response:
        repo_type, repo_id = self.writable(request, p)
        body = await request.json()
        await run_in_threadpool(self.store.update_settings, repo_type, repo_id, _private(body))
        return JSONResponse({})

    async def space_secret(self, request: Request, repo: str) -> Response:
        _, repo_id = self.writable(request, {"kind": "spaces", "repo": repo})
        body = await request.json()
        key = body.get("key")
        if not isinstance(key, str) or not key.isidentifier():
            raise HubError(400, "A secret needs a key that is a variable name")
        value = str(body.get("value", "")) if request.method == "POST" else None
        await run_in_threadpool(self.store.set_secret, repo_id, key, value)
        return JSONResponse({})

    async def xet_token(self, request: Request, access: str, rev: str, **p: str) -> Response:
        # huggingface_hub uploads through Xet whenever hf_xet is installed: say why that fails here.
        print(f"local hub: a client asked for a Xet {access} token; {XET_HINT}", file=sys.stderr, flush=True)
        raise HubError(501, XET_HINT, "XetNotSupported")

    async def token_exchange(self, request: Request) -> Response:
        if self.trust is None:
            raise HubError(400, "this hub trusts no OIDC issuer (start it with --trust FILE)", "invalid_request")
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        try:
            body = json.loads(raw) if "json" in ctype or raw.strip().startswith(b"{") else {
                k: v[0] for k, v in parse_qs(raw.decode()).items()}  # fmt: skip
        except ValueError:
            raise HubError(400, "the token request is neither JSON nor a form", "invalid_request") from None
        try:
            response, line = self.trust.exchange(body if isinstance(body, dict) else {})
        except HubError as err:
            print(f"local hub: trusted publishing refused: {err.message}", file=sys.stderr, flush=True)
            raise
        print(f"local hub: {line}", file=sys.stderr, flush=True)
        return JSONResponse(response, headers={"Cache-Control": "no-store"})

    # --- HTML pages ----------------------------------------------------------------------
    def pages(self, request: Request) -> Pages:
        request.scope["hubkit_page"] = True  # errors become HTML pages
        return Pages(self.store, functools.partial(self.can_read, request))

    async def page_index(self, request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(self.pages(request).index))

    async def page_card(self, request: Request, **p: str) -> Response:
        pages = self.pages(request)
        return HTMLResponse(await run_in_threadpool(pages.card, *_repo_args(p)))

    async def page_files(self, request: Request, rev: str, **p: str) -> Response:
        pages = self.pages(request)
        return HTMLResponse(await run_in_threadpool(pages.files, *_repo_args(p), rev))

    async def page_history(self, request: Request, rev: str, **p: str) -> Response:
        pages = self.pages(request)
        return HTMLResponse(await run_in_threadpool(pages.history, *_repo_args(p), rev))

    async def page_commit(self, request: Request, sha: str, **p: str) -> Response:
        pages = self.pages(request)
        return HTMLResponse(await run_in_threadpool(pages.commit, *_repo_args(p), sha))

    async def page_compare(self, request: Request, old: str, new: str, **p: str) -> Response:
        pages = self.pages(request)
        return HTMLResponse(await run_in_threadpool(pages.compare, *_repo_args(p), old, new))

    # --- read views ----------------------------------------------------------------------
    def info(self, repo_type: str, repo_id: str, revision: str) -> dict[str, Any]:
        meta = self.store.repo(repo_type, repo_id)
        sha, tree = self.store.tree(repo_type, repo_id, revision)
        commit = self.store.commit(repo_type, repo_id, sha)
        siblings = []
        for path, e in sorted(tree.items()):
            s = {"rfilename": path, "size": e["size"], "blobId": e["oid"]}
            if e.get("lfs"):
                s["lfs"] = {
                    "sha256": e["sha256"],
                    "size": e["size"],
                    "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
                }
            siblings.append(s)
        info = {
            "id": repo_id, "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "author": repo_id.split("/")[0], "sha": sha, "private": meta["private"],
            "lastModified": commit["date"], "createdAt": meta["createdAt"], "disabled": False,
            "gated": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }  # fmt: skip
        if repo_type == "space":
            info["sdk"] = meta.get("sdk")
        return info

    def list_json(self, request: Request, repo_type: str) -> Response:
        q = request.query_params
        author, search = q.get("author"), (q.get("search") or "").lower()
        out = []
        for meta in self.store.repos(repo_type):
            if not self.can_read(request, repo_type, meta):
                continue
            if author and meta["id"].split("/")[0] != author:
                continue
            if search and search not in meta["id"].lower():
                continue
            out.append(self.info(repo_type, meta["id"], "main"))
        limit = q.get("limit")
        return JSONResponse(out[: int(limit)] if limit and limit.isdigit() else out)

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
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "path": p})
        return out

    # --- writes --------------------------------------------------------------------------
    def preupload_json(self, repo_type: str, repo_id: str, revision: str, files: list[dict]) -> dict[str, Any]:
        try:
            _, tree = self.store.tree(repo_type, repo_id, revision)
        except HubError:
            tree = {}
        out = []
        for f in files:
            path = check_path(f.get("path", ""))
            sample = base64.b64decode(f.get("sample", ""))
            lfs = f.get("size", 0) >= LFS_THRESHOLD or b"\0" in sample
            e = tree.get(path)
            oid = (e["sha256"] if e.get("lfs") else e["oid"]) if e else None
            out.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return {"files": out, "commitOid": None}

    async def commit(self, request: Request, rev: str, **p: str) -> Response:
        repo_type, repo_id = self.writable(request, p)
        lines = [json.loads(line) for line in (await request.body()).decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "A commit starts with a header line")
        header = lines[0]["value"]
        create_pr = request.query_params.get("create_pr") in ("1", "true")
        sha, pr = await run_in_threadpool(
            self.store.apply_commit, repo_type, repo_id, rev,
            [(x["key"], x["value"]) for x in lines[1:]],
            header.get("summary") or "update", header.get("description") or "",
            header.get("parentCommit"), create_pr,
        )  # fmt: skip
        base = repo_url(str(request.base_url), repo_type, repo_id)
        body = {"success": True, "commitOid": sha, "commitUrl": f"{base}/commit/{sha}"}
        if pr is not None:
            body["pullRequestUrl"] = f"{base}/discussions/{pr}"
        return JSONResponse(body)

    async def lfs_batch(self, request: Request, **p: str) -> Response:
        self.writable(request, p)
        body = await request.json()
        base = str(request.base_url).rstrip("/")
        objects = []
        for obj in body.get("objects", []):
            sha, size = obj["oid"], int(obj["size"])
            entry: dict[str, Any] = {"oid": sha, "size": size}
            if not self.store.has_blob(sha):
                sig = self._sign(sha, size)
                entry["actions"] = {
                    "upload": {"href": f"{base}/lfs/{sha}?size={size}&sig={sig}"},
                    "verify": {"href": f"{base}/lfs/{sha}/verify", "header": {}},
                }
            objects.append(entry)
        return JSONResponse({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    async def lfs_put(self, request: Request, sha: str) -> Response:
        size = int(request.query_params.get("size", "-1"))
        sig = request.query_params.get("sig", "")
        if not hmac.compare_digest(sig, self._sign(sha, size)):
            raise HubError(403, "Invalid or expired upload signature")
        await self._receive(request, sha, size)
        return Response(status_code=200)

    async def lfs_verify(self, request: Request, sha: str) -> Response:
        body = await request.json()
        path = self.store.blob_path(sha)
        if not path.is_file() or path.stat().st_size != int(body.get("size", -1)):
            raise HubError(404, f"LFS object {sha} not found")
        return JSONResponse({})

    async def _receive(self, request: Request, sha: str, size: int) -> None:
        path = self.store.blob_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        h, n = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in request.stream():
                    f.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
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

    async def resolve(self, request: Request, rev: str, path: str, **p: str) -> Response:
        repo_type, repo_id = _repo_args(p)
        self.readable(request, repo_type, repo_id)
        sha, tree = self.store.tree(repo_type, repo_id, rev)
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


def validate_card(content: str) -> Response:
    """The README front matter must be a YAML mapping (the Hub checks much more)."""
    import yaml

    m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
    warnings = [] if m else [{"message": "empty or missing yaml metadata in repo card"}]
    if m:
        try:
            meta = yaml.safe_load(m.group(1))
        except yaml.YAMLError as exc:
            raise HubError(400, f"Invalid YAML in README.md front matter: {exc}") from None
        if meta is not None and not isinstance(meta, dict):
            raise HubError(400, "README.md front matter must be a YAML mapping")
    return JSONResponse({"errors": [], "warnings": warnings})


def _private(body: dict[str, Any]) -> bool | None:
    """huggingface_hub 1.x sends `visibility`; older clients send `private`."""
    if body.get("visibility") is not None:
        return body["visibility"] != "public"
    return body.get("private")


async def _json_or_empty(request: Request) -> dict[str, Any]:
    body = await request.body()
    return json.loads(body) if body.strip() else {}


def create_app(root: Path | str, token: str, trust: Trust | None = None,
               crash_after_bytes: int | None = None) -> Starlette:  # fmt: skip
    if not token:
        raise ValueError("the local hub needs a token")
    hub = HubApp(Store(root), token, trust, crash_after_bytes)
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", hub.handle, methods=methods)])


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
