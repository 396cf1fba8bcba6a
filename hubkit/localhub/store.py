"""On-disk storage of the local Hub: content-addressed blobs, immutable commits, atomic refs.

Layout under `root`:
    blobs/ab/<sha256>                          file contents (regular and LFS alike)
    repos/<type>/<namespace>/<name>/repo.json  {id, type, private, sdk, createdAt}
    repos/.../refs.json                        {"heads": {...}, "tags": {...}, "prs": {...}}
    repos/.../commits/<sha1>.json              {id, parents, title, message, date, tree}
    repos/.../lfs/<sha256>                     (empty) this LFS object was uploaded for this repo

Blobs are shared, but a repo may reference an LFS object only if it was uploaded for that repo
(a marker under its `lfs/`): knowing a sha256 must not let one repo read another's file.

A commit is written before the ref that points at it, and every write is a rename of a
complete temp file, so a crash leaves either the old state or the new one, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hubkit.repos import human_bytes

REPO_TYPES = ("model", "dataset", "space")
# The Hub's rule (huggingface_hub's validate_repo_id): 1-96 of [A-Za-z0-9._-], starting with a letter
# or digit, ending with one (or "_"), no "--" or "..", not ending in ".git".
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub's limit for regular (non-LFS) files: larger ones go by LFS
DEFAULT_BRANCH = "main"
GITATTRIBUTES = (
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    "*.png filter=lfs diff=lfs merge=lfs -text\n"
)


class HubError(Exception):
    """An API error: HTTP status, the Hub's X-Error-Code (if any), and a message."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def check_repo_id(repo_id: str) -> tuple[str, str]:
    parts = repo_id.split("/")
    if (
        len(parts) != 2
        or not all(_NAME.match(p) and not p.endswith(".git") for p in parts)
        or ".." in repo_id
        or "--" in repo_id
    ):
        raise HubError(400, f"Invalid repo id {repo_id[:200]!r}: expected 'namespace/name' as the Hub allows")
    return parts[0], parts[1]


def check_path(path: str) -> str:
    """A file path inside a repo: relative, no '..', no empty or '.' parts, no backslash or NUL."""
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\0" in path
        or any(p in ("", ".", "..") for p in parts)
        or parts[0] == ".git"
    ):
        raise HubError(400, f"Invalid path in repo: {path[:500]!r}")
    return path


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Store:
    """All repos of one local Hub. Mutations are serialized by one lock; reads need none."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "repos").mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()

    # --- blobs -------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HubError(400, f"Invalid sha256 {sha256!r}")
        return self.root / "blobs" / sha256[:2] / sha256

    def blob_size(self, sha256: str) -> int | None:
        path = self.blob_path(sha256)
        return path.stat().st_size if path.is_file() else None

    # --- which LFS objects a repo may reference ------------------------------------------
    def add_lfs_object(self, repo_type: str, repo_id: str, sha256: str) -> None:
        """Record that `sha256` was uploaded for this repo (after the upload was checked)."""
        self.repo(repo_type, repo_id)  # never for a repo that is gone: a new one of that name starts empty
        marker = self.repo_dir(repo_type, repo_id) / "lfs" / self.blob_path(sha256).name
        marker.parent.mkdir(exist_ok=True)
        marker.touch()

    def lfs_object_size(self, repo_type: str, repo_id: str, sha256: str) -> int | None:
        """The size of an LFS object uploaded for this repo; None if it was not (wherever else it is)."""
        if not (self.repo_dir(repo_type, repo_id) / "lfs" / self.blob_path(sha256).name).is_file():
            return None
        return self.blob_size(sha256)

    def put_blob_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self._commit_blob(sha, lambda f: f.write(data))
        return sha

    def _commit_blob(self, sha: str, write) -> None:
        path = self.blob_path(sha)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # --- repos -------------------------------------------------------------------------
    def repo_dir(self, repo_type: str, repo_id: str) -> Path:
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"Invalid repo type {repo_type!r}")
        ns, name = check_repo_id(repo_id)
        return self.root / "repos" / repo_type / ns / name

    def repo(self, repo_type: str, repo_id: str) -> dict[str, Any]:
        path = self.repo_dir(repo_type, repo_id) / "repo.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise HubError(404, f"Repository not found: {repo_type} {repo_id}", "RepoNotFound") from None

    def repos(self, repo_type: str) -> list[dict[str, Any]]:
        base = self.root / "repos" / repo_type
        out = []
        for p in sorted(base.glob("*/*/repo.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):  # a damaged repo must not hide every other one
                continue
        return out

    def create_repo(self, repo_type: str, repo_id: str, private: bool, sdk: str | None) -> dict:
        with self.lock:
            d = self.repo_dir(repo_type, repo_id)
            if (d / "repo.json").exists():
                raise HubError(409, f"You already created this {repo_type} repo: {repo_id}")
            if repo_type == "space" and not sdk:
                raise HubError(400, "A Space needs an sdk (gradio, docker or static)")
            info = {
                "id": repo_id,
                "type": repo_type,
                "private": bool(private),
                "sdk": sdk,
                "createdAt": now(),
            }
            blob = self.put_blob_bytes(GITATTRIBUTES.encode())
            entry = {
                "sha256": blob,
                "size": len(GITATTRIBUTES),
                "oid": git_blob_sha1(GITATTRIBUTES.encode()),
            }
            sha = self._write_commit(d, [], {".gitattributes": entry}, "initial commit", "")
            _write_json(d / "refs.json", {"heads": {"main": sha}, "tags": {}, "prs": {}})
            _write_json(d / "repo.json", info)  # last: the repo exists once it is complete
            return info

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        with self.lock:
            self.repo(repo_type, repo_id)
            d = self.repo_dir(repo_type, repo_id)
            trash = d.with_name(f".deleted-{d.name}-{os.getpid()}")
            d.rename(trash)
            shutil.rmtree(trash)

    def update_settings(self, repo_type: str, repo_id: str, private: bool | None) -> None:
        with self.lock:
            info = self.repo(repo_type, repo_id)
            if private is not None:
                info["private"] = bool(private)
            _write_json(self.repo_dir(repo_type, repo_id) / "repo.json", info)

    def set_secret(self, repo_id: str, key: str, value: str | None) -> None:
        """Set (None: delete) a Space secret. Kept as a digest, never in the clear: this hub runs
        no Space, and what it must show is which secret was set to what (tests compare digests)."""
        with self.lock:
            self.repo("space", repo_id)
            secrets = self.secrets(repo_id)
            if value is None:
                secrets.pop(key, None)
            else:
                secrets[key] = {"sha256": hashlib.sha256(value.encode()).hexdigest(), "updatedAt": now()}
            _write_json(self.repo_dir("space", repo_id) / "secrets.json", secrets)

    def secrets(self, repo_id: str) -> dict[str, dict[str, str]]:
        """A Space's secrets: name -> {sha256, updatedAt}."""
        path = self.repo_dir("space", repo_id) / "secrets.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # --- refs and commits --------------------------------------------------------------
    def refs(self, repo_type: str, repo_id: str) -> dict[str, dict[str, str]]:
        self.repo(repo_type, repo_id)
        refs = json.loads((self.repo_dir(repo_type, repo_id) / "refs.json").read_text())
        return {"heads": {}, "tags": {}, "prs": {}, **refs}

    def commit(self, repo_type: str, repo_id: str, sha: str) -> dict[str, Any]:
        path = self.repo_dir(repo_type, repo_id) / "commits" / f"{sha}.json"
        return json.loads(path.read_text())

    def resolve(self, repo_type: str, repo_id: str, revision: str) -> str:
        """A branch, tag, refs/pr/N, refs/heads/x, refs/tags/x or (short) sha -> commit sha."""
        refs = self.refs(repo_type, repo_id)
        rev = revision
        for prefix, kind in (("refs/heads/", "heads"), ("refs/tags/", "tags")):
            if rev.startswith(prefix) and rev[len(prefix) :] in refs[kind]:
                return refs[kind][rev[len(prefix) :]]
        if (m := re.fullmatch(r"refs/pr/(\d+)", rev)) and m.group(1) in refs["prs"]:
            return refs["prs"][m.group(1)]
        if rev in refs["heads"]:
            return refs["heads"][rev]
        if rev in refs["tags"]:
            return refs["tags"][rev]
        if re.fullmatch(r"[0-9a-f]{7,40}", rev):
            commits = self.repo_dir(repo_type, repo_id) / "commits"
            found = [p.stem for p in commits.glob(f"{rev}*.json")]
            if len(found) == 1:
                return found[0]
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def tree(self, repo_type: str, repo_id: str, revision: str) -> tuple[str, dict[str, dict]]:
        sha = self.resolve(repo_type, repo_id, revision)
        return sha, self.commit(repo_type, repo_id, sha)["tree"]

    def history(self, repo_type: str, repo_id: str, revision: str) -> list[dict[str, Any]]:
        sha = self.resolve(repo_type, repo_id, revision)
        out = []
        while sha:
            c = self.commit(repo_type, repo_id, sha)
            out.append(c)
            sha = c["parents"][0] if c["parents"] else None
        return out

    def _write_commit(self, d: Path, parents: list[str], tree: dict, title: str, message: str) -> str:
        body = {"parents": parents, "tree": tree, "title": title, "message": message, "date": now()}
        sha = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
        _write_json(d / "commits" / f"{sha}.json", {"id": sha, **body})
        return sha

    def apply_commit(
        self,
        repo_type: str,
        repo_id: str,
        revision: str,
        ops: list[Any],
        title: str,
        message: str = "",
        parent_commit: str | None = None,
        create_pr: bool = False,
        any_lfs_object: bool = False,
    ) -> tuple[str, int | None]:
        """Apply file / lfsFile / deletedFile / deletedFolder operations as one new commit.

        `ops` are validated commit lines (`schemas.Commit.operations`: `.key`, `.value`). An
        lfsFile must name an object uploaded for this repo or already in its tree, unless
        `any_lfs_object` (the hub's own token, which reads every repo anyway). Returns (commit
        sha, PR number or None). Nothing changes unless all operations apply.
        """
        with self.lock:
            d = self.repo_dir(repo_type, repo_id)
            refs = self.refs(repo_type, repo_id)
            head = self.resolve(repo_type, repo_id, revision)
            if parent_commit is not None and not head.startswith(parent_commit):
                raise HubError(
                    412,
                    f"A commit has happened since {parent_commit}. Please refresh and try again.",
                )
            branch = revision if revision in refs["heads"] else None
            if not create_pr and branch is None:
                raise HubError(400, f"Can only commit to a branch, not to {revision!r}")
            tree = dict(self.commit(repo_type, repo_id, head)["tree"])
            in_tree = {e["sha256"] for e in tree.values() if e.get("lfs")}
            for op in ops:
                key, value = op.key, op.value
                # huggingface_hub names a folder to delete with its trailing "/" (CommitOperationDelete)
                path = check_path(value.path.removesuffix("/") if key == "deletedFolder" else value.path)
                if key == "file":
                    data = value.content
                    if len(data) > LFS_THRESHOLD:
                        raise HubError(413, f"{path} is {len(data)} bytes: a regular file must be at most "
                                            f"{human_bytes(LFS_THRESHOLD)}; upload it with LFS")  # fmt: skip
                    tree[path] = {
                        "sha256": self.put_blob_bytes(data),
                        "size": len(data),
                        "oid": git_blob_sha1(data),
                    }
                elif key == "lfsFile":
                    oid = value.oid
                    if any_lfs_object or oid in in_tree:
                        size = self.blob_size(oid)
                    else:
                        size = self.lfs_object_size(repo_type, repo_id, oid)
                    # One answer whether the object is missing or belongs to another repo: no oracle.
                    if size is None or value.size not in (None, size):
                        raise HubError(422, f"LFS object {oid} for {path} was not uploaded")
                    tree[path] = {
                        "sha256": oid, "size": size, "oid": git_blob_sha1(lfs_pointer(oid, size)), "lfs": True,
                    }  # fmt: skip
                elif key == "deletedFile":
                    if tree.pop(path, None) is None:
                        raise HubError(404, f"File not found in repo: {path}", "EntryNotFound")
                elif key == "deletedFolder":
                    gone = [p for p in tree if p.startswith(path.rstrip("/") + "/")]
                    if not gone:
                        raise HubError(404, f"Folder not found in repo: {path}", "EntryNotFound")
                    for p in gone:
                        del tree[p]
                else:
                    raise HubError(400, f"Unknown commit operation {key[:100]!r}")
            sha = self._write_commit(d, [head], tree, title, message)
            pr = None
            if create_pr:
                pr = max((int(n) for n in refs["prs"]), default=0) + 1
                refs["prs"][str(pr)] = sha
            else:
                refs["heads"][branch] = sha
            _write_json(d / "refs.json", refs)
            return sha, pr

    def set_ref(self, repo_type: str, repo_id: str, kind: str, name: str, target: str | None, exist_ok=False):
        """Create (target given) or delete (target None) a branch ("heads") or tag ("tags")."""
        with self.lock:
            refs = self.refs(repo_type, repo_id)
            if target is None:
                if kind == "heads" and name == DEFAULT_BRANCH:
                    raise HubError(403, f"Cannot delete the default branch {DEFAULT_BRANCH}")
                if refs[kind].pop(name, None) is None:
                    raise HubError(404, f"{kind[:-1]} {name[:200]!r} not found", "RevisionNotFound")
            else:
                if not re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", name) or ".." in name:
                    raise HubError(400, f"Invalid ref name {name[:200]!r}")
                if name in refs[kind]:
                    if exist_ok:
                        return
                    raise HubError(409, f"{'Branch' if kind == 'heads' else 'Tag'} {name!r} already exists")
                refs[kind][name] = self.resolve(repo_type, repo_id, target)
            _write_json(self.repo_dir(repo_type, repo_id) / "refs.json", refs)
