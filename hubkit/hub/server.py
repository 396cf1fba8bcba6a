"""A local Hub-compatible HTTP server (Starlette + uvicorn) over `Store`.

It serves the subset of the huggingface.co API that huggingface_hub, datasets and
transformers use to publish and load repos: repo CRUD and info, preupload, the LFS batch
API (basic transfer, HMAC-signed upload URLs), NDJSON commits (PRs included), branches,
tags, refs, trees, paths-info, commits and resolve (with Range). Routing reads the raw
path, because the Hub quotes revisions such as `refs/pr/1` into one path segment.

Clients must talk LFS, not Xet: hubkit sets `HF_HUB_DISABLE_XET` for a non-Hub endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hubkit.background import BackgroundServer
from hubkit.hub.store import LFS_THRESHOLD, HubError, Store, check_path, lfs_pointer

PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
USER = "hubkit"


class HubApp:
    """The API over one store, guarded by one write token."""

    def __init__(self, store: Store, token: str, crash_after_bytes: int | None = None):
        self.store, self._token = store, token
        self._secret = hashlib.sha256(b"hubkit-lfs:" + token.encode()).digest()
        self._crash_after = crash_after_bytes  # fault injection for tests: die mid-upload
        self._received = 0

    # --- auth --------------------------------------------------------------------------
    def authed(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        return bool(given) and hmac.compare_digest(given.encode(), self._token.encode())

    def require_auth(self, request: Request) -> None:
        if not self.authed(request):
            raise HubError(401, "Invalid credentials in Authorization header")

    def readable(self, request: Request, repo_type: str, repo_id: str) -> dict[str, Any]:
        info = self.store.repo(repo_type, repo_id)
        if info["private"] and not self.authed(request):
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
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            return JSONResponse({"error": err.message}, err.status, headers=headers)

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path", request.url.path.encode()).decode().split("?")[0]
        seg = [unquote(s) for s in raw.strip("/").split("/")]
        method = request.method
        if seg[:1] == ["api"]:
            return await self.api(request, method, seg[1:])
        if seg[:1] == ["lfs"] and len(seg) >= 2:
            return await self.lfs(request, method, seg[1:])
        repo_type = "model"
        if seg[0] in ("datasets", "spaces"):
            repo_type, seg = seg[0][:-1], seg[1:]
        if len(seg) >= 2 and seg[1].endswith(".git") and seg[2:] == ["info", "lfs", "objects", "batch"]:
            return await self.lfs_batch(request, repo_type, f"{seg[0]}/{seg[1][:-4]}")
        if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
            return await self.resolve(request, repo_type, f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]))
        raise HubError(404, f"Not found: {raw}")

    async def api(self, request: Request, method: str, seg: list[str]) -> Response:
        store = self.store
        if seg == ["whoami-v2"] and method == "GET":
            self.require_auth(request)
            return JSONResponse({
                "type": "user", "name": USER, "fullname": "hubkit local hub", "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": "write"}},
            })  # fmt: skip
        if seg == ["repos", "create"] and method == "POST":
            self.require_auth(request)
            body = await request.json()
            repo_type = body.get("type") or "model"
            repo_id = f"{body.get('organization') or USER}/{body.get('name', '')}"
            url = f"{str(request.base_url).rstrip('/')}/{PREFIX.get(repo_type, '')}{repo_id}"
            try:
                await run_in_threadpool(store.create_repo, repo_type, repo_id, _private(body) or False, body.get("sdk"))
            except HubError as err:
                if err.status != 409:
                    raise
                # Like the Hub: the conflict still names the repo (clients with exist_ok read it).
                return JSONResponse({"error": err.message, "url": url}, 409, headers={"X-Error-Message": err.message})
            return JSONResponse({"url": url, "name": repo_id})
        if seg == ["repos", "delete"] and method == "DELETE":
            self.require_auth(request)
            body = await request.json()
            repo_id = f"{body.get('organization') or USER}/{body.get('name', '')}"
            await run_in_threadpool(store.delete_repo, body.get("type") or "model", repo_id)
            return JSONResponse({})
        if seg == ["validate-yaml"] and method == "POST":
            body = await request.json()
            return validate_card(body.get("content", ""))
        if len(seg) == 1 and seg[0] in ("models", "datasets", "spaces") and method == "GET":
            return self.list_repos(request, seg[0][:-1])
        if len(seg) < 3 or seg[0] not in ("models", "datasets", "spaces"):
            raise HubError(404, f"Unknown API route /api/{'/'.join(seg)}")
        repo_type, repo_id, rest = seg[0][:-1], f"{seg[1]}/{seg[2]}", seg[3:]
        if method == "GET" and (rest == [] or rest[:1] == ["revision"]):
            self.readable(request, repo_type, repo_id)
            revision = "/".join(rest[1:]) if rest else "main"
            return JSONResponse(self.info(repo_type, repo_id, revision))
        if rest == ["refs"] and method == "GET":
            self.readable(request, repo_type, repo_id)
            return JSONResponse(self.refs_json(repo_type, repo_id, "include_prs" in request.query_params))
        if rest[:1] == ["tree"] and method == "GET" and len(rest) >= 2:
            self.readable(request, repo_type, repo_id)
            recursive = request.query_params.get("recursive", "").lower() in ("1", "true")
            return JSONResponse(self.tree_json(repo_type, repo_id, rest[1], "/".join(rest[2:]), recursive))
        if rest[:1] == ["paths-info"] and method == "POST" and len(rest) == 2:
            self.readable(request, repo_type, repo_id)
            form = parse_qs((await request.body()).decode())
            return JSONResponse(self.paths_info(repo_type, repo_id, rest[1], form.get("paths", [])))
        if rest[:1] == ["commits"] and method == "GET" and len(rest) == 2:
            self.readable(request, repo_type, repo_id)
            return JSONResponse([
                {"id": c["id"], "title": c["title"], "message": c["message"], "date": c["date"],
                 "authors": [{"user": USER}]}
                for c in store.history(repo_type, repo_id, rest[1])
            ])  # fmt: skip
        # Everything below writes.
        self.require_auth(request)
        store.repo(repo_type, repo_id)
        if rest[:1] == ["preupload"] and method == "POST" and len(rest) == 2:
            body = await request.json()
            return JSONResponse(self.preupload(repo_type, repo_id, rest[1], body.get("files", [])))
        if rest[:1] == ["commit"] and method == "POST" and len(rest) == 2:
            return await self.commit(request, repo_type, repo_id, rest[1])
        if rest[:1] == ["branch"] and len(rest) >= 2:
            name = "/".join(rest[1:])
            if method == "POST":
                body = await _json_or_empty(request)
                start = body.get("startingPoint") or "main"
                await run_in_threadpool(
                    store.set_ref,
                    repo_type,
                    repo_id,
                    "heads",
                    name,
                    start,
                    bool(body.get("exist_ok")),
                )
                return JSONResponse({})
            if method == "DELETE":
                await run_in_threadpool(store.set_ref, repo_type, repo_id, "heads", name, None)
                return JSONResponse({})
        if rest[:1] == ["tag"] and len(rest) >= 2:
            if method == "POST":
                body = await request.json()
                await run_in_threadpool(store.set_ref, repo_type, repo_id, "tags", body["tag"], "/".join(rest[1:]))
                return JSONResponse({})
            if method == "DELETE":
                await run_in_threadpool(store.set_ref, repo_type, repo_id, "tags", "/".join(rest[1:]), None)
                return JSONResponse({})
        if rest == ["settings"] and method == "PUT":
            body = await request.json()
            await run_in_threadpool(store.update_settings, repo_type, repo_id, _private(body))
            return JSONResponse({})
        raise HubError(404, f"Unknown API route /api/{'/'.join(seg)}")

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

    def list_repos(self, request: Request, repo_type: str) -> Response:
        q = request.query_params
        author, search = q.get("author"), (q.get("search") or "").lower()
        out = []
        for meta in self.store.repos(repo_type):
            if meta["private"] and not self.authed(request):
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

    def paths_info(self, repo_type: str, repo_id: str, revision: str, paths: list[str]):
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
    def preupload(self, repo_type: str, repo_id: str, revision: str, files: list[dict]) -> dict[str, Any]:
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

    async def commit(self, request: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        lines = [json.loads(line) for line in (await request.body()).decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "A commit starts with a header line")
        header = lines[0]["value"]
        create_pr = request.query_params.get("create_pr") in ("1", "true")
        sha, pr = await run_in_threadpool(
            self.store.apply_commit, repo_type, repo_id, revision,
            [(x["key"], x["value"]) for x in lines[1:]],
            header.get("summary") or "update", header.get("description") or "",
            header.get("parentCommit"), create_pr,
        )  # fmt: skip
        base = f"{str(request.base_url).rstrip('/')}/{PREFIX[repo_type]}{repo_id}"
        body = {"success": True, "commitOid": sha, "commitUrl": f"{base}/commit/{sha}"}
        if pr is not None:
            body["pullRequestUrl"] = f"{base}/discussions/{pr}"
        return JSONResponse(body)

    async def lfs_batch(self, request: Request, repo_type: str, repo_id: str) -> Response:
        self.require_auth(request)
        self.store.repo(repo_type, repo_id)
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

    async def lfs(self, request: Request, method: str, seg: list[str]) -> Response:
        sha = seg[0]
        if method == "PUT" and len(seg) == 1:
            size = int(request.query_params.get("size", "-1"))
            sig = request.query_params.get("sig", "")
            if not hmac.compare_digest(sig, self._sign(sha, size)):
                raise HubError(403, "Invalid or expired upload signature")
            await self._receive(request, sha, size)
            return Response(status_code=200)
        if method == "POST" and seg[1:] == ["verify"]:
            body = await request.json()
            path = self.store.blob_path(sha)
            if not path.is_file() or path.stat().st_size != int(body.get("size", -1)):
                raise HubError(404, f"LFS object {sha} not found")
            return JSONResponse({})
        raise HubError(404, "Not found")

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

    async def resolve(self, request: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        self.readable(request, repo_type, repo_id)
        sha, tree = self.store.tree(repo_type, repo_id, revision)
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


def create_app(root: Path | str, token: str, crash_after_bytes: int | None = None) -> Starlette:
    if not token:
        raise ValueError("the local hub needs a token")
    hub = HubApp(Store(root), token, crash_after_bytes)
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", hub.handle, methods=methods)])


def repo_url(endpoint: str, repo_type: str, repo_id: str) -> str:
    return f"{endpoint.rstrip('/')}/{PREFIX[repo_type]}{quote(repo_id)}"


class BackgroundHub(BackgroundServer):
    """A local hub served from a thread of this process (the embedded default of a release)."""

    what = "local hub"

    def __init__(self, root: Path | str, token: str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(create_app(root, token), host, port)


def serve(root: Path | str, token: str, host: str = "127.0.0.1", port: int = 8808, crash_after_bytes=None) -> None:
    import uvicorn

    uvicorn.run(create_app(root, token, crash_after_bytes), host=host, port=port, log_level="warning")
