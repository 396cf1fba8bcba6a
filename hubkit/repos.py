"""How the Hub names repos in URLs (and sizes files), shared by the publishing client, the local hub and the cards."""

from __future__ import annotations

from urllib.parse import quote

HUB = "https://huggingface.co"
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_TYPES = {"datasets": "dataset", "spaces": "space"}


def repo_path(repo_type: str, repo_id: str) -> str:
    """`ns/name`, `datasets/ns/name` or `spaces/ns/name`: the repo's path on the Hub (an OIDC resource too)."""
    return PREFIX[repo_type] + repo_id


def repo_url(endpoint: str, repo_type: str, repo_id: str) -> str:
    return f"{endpoint.rstrip('/')}/{PREFIX[repo_type]}{quote(repo_id)}"


def parse_repo_path(path: str) -> tuple[str, str] | None:
    """(repo_type, repo_id) of `ns/name`, `datasets/ns/name` or `spaces/ns/name`; None otherwise."""
    parts = path.strip("/").split("/")
    repo_type = "model"
    if len(parts) == 3 and parts[0] in _TYPES:
        repo_type, parts = _TYPES[parts[0]], parts[1:]
    return (repo_type, "/".join(parts)) if len(parts) == 2 and all(parts) else None


def human_bytes(n: int) -> str:
    """1536 -> "1.5 KiB"."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
