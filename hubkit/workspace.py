"""Where artifacts live on disk: one folder each, a manifest.json, content fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
KEY_LIBRARIES = (
    "hubkit", "torch", "transformers", "huggingface_hub", "datasets",
    "peft", "trl", "mergekit", "safetensors", "tokenizers",
)  # fmt: skip


def fingerprint(data: Any) -> str:
    """sha256 of canonical JSON: equal data, equal fingerprint, whatever the key order."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    out = {}
    for name in KEY_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """hubkit's own commit when it runs from a git checkout, else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def list_files(root: Path) -> dict[str, dict[str, Any]]:
    """Every file under `root` (manifest excluded) with its size and sha256."""
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(root).as_posix()] = {
                "size": p.stat().st_size,
                "sha256": file_sha256(p),
            }
    return files


class Workspace:
    """A folder of built artifacts: `<root>/<artifact>/` plus its `manifest.json`."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def journal(self, name: str) -> Path:
        """What an artifact keeps across builds, failed ones included (journals, checkpoints)."""
        return self.root / ".journal" / name

    @property
    def hub_root(self) -> Path:
        """The embedded local hub's data, when a release publishes without --hub."""
        return self.root / ".hub"

    def manifest(self, name: str) -> dict[str, Any] | None:
        return self.read_manifest(self.path(name))

    @staticmethod
    def read_manifest(folder: Path) -> dict[str, Any] | None:
        try:
            return json.loads((folder / MANIFEST).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def missing_files(self, name: str, manifest: dict[str, Any]) -> list[str]:
        """Files the manifest lists that are gone or changed size (cheap: no hashing)."""
        root = self.path(name)
        bad = []
        for rel, info in manifest.get("files", {}).items():
            p = root / rel
            if not p.is_file() or p.stat().st_size != info["size"]:
                bad.append(rel)
        return bad

    @contextmanager
    def staging(self, name: str):
        """A fresh folder to build into; replaces the artifact only if the block succeeds.

        A failed build leaves the previous output (and its manifest) exactly as it was.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        tmp.chmod(0o755)  # mkdtemp makes it private; an artifact folder is an ordinary one
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = self.path(name)
        old = None
        if final.exists():
            old = final.with_name(f".{name}.old.{os.getpid()}")
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def write_manifest(out: Path, record: dict[str, Any]) -> dict[str, Any]:
        files = list_files(out)
        manifest = {
            **record,
            "files": files,
            # Dependents record this, so a rebuild with different bytes makes them stale.
            "content": fingerprint(files),
            "versions": library_versions(),
            "hubkit_commit": git_commit(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        Workspace.save_manifest(out, manifest)
        return manifest

    @staticmethod
    def save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
