"""Offline checks of rendered cards; each problem is reported as `repo: field: problem`."""

from __future__ import annotations

import re

import yaml

from hubkit.artifacts import all_artifacts
from hubkit.config import Release
from hubkit.repos import repo_path

# Hub license identifiers (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = {
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1",
    "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr",
    "mpl-2.0", "odc-by", "odbl", "openmdw-1.0", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa",
    "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "fair-noncommercial-research-license",
    "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma", "unknown", "other",
}  # fmt: skip
PIPELINE_TAGS = {
    "text-generation", "text2text-generation", "text-classification", "token-classification",
    "question-answering", "summarization", "translation", "fill-mask", "feature-extraction",
    "sentence-similarity", "zero-shot-classification", "image-text-to-text", "conversational",
}  # fmt: skip
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
PLACEHOLDERS = ("{{", "}}", "{%", "%}", "[More Information Needed]", "TODO", "TBD")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")
_HUB_LINK = re.compile(r"^https://huggingface\.co/((?:datasets/|spaces/)?([^/\s#?]+)/[^/\s#?]+)")


def split_card(text: str) -> tuple[str | None, str]:
    m = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, re.S)
    return (m.group(1), m.group(2)) if m else (None, text)


def lint_card(repo: str, text: str, release: Release, repo_ids: set[str], targets: dict[str, bool] | None = None
              ) -> list[str]:  # fmt: skip
    """Problems of one README.md: front matter, references, sections, placeholders, links.

    `targets` maps this release's repos (`datasets/ns/name`, ...) to whether they are built: a
    link into one of their namespaces must reach one of them, and a built one.
    """
    problems: list[str] = []
    front, body = split_card(text)
    if front is None:
        return [f"{repo}: front matter: missing (a card starts with '---' YAML '---')"]
    try:
        meta = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        return [f"{repo}: front matter: invalid YAML: {str(exc).splitlines()[0]}"]
    if not isinstance(meta, dict):
        return [f"{repo}: front matter: not a mapping"]
    if meta.get("license") not in HUB_LICENSES:
        problems.append(f"{repo}: license: {meta.get('license')!r} is not a Hub license id")
    if "pipeline_tag" in meta and meta["pipeline_tag"] not in PIPELINE_TAGS:
        problems.append(f"{repo}: pipeline_tag: {meta['pipeline_tag']!r} is not a Hub pipeline tag")
    for key in ("base_model", "datasets", "models"):
        refs = meta.get(key) or []
        for ref in [refs] if isinstance(refs, str) else refs:
            if ref not in repo_ids and not HUB_ID.match(str(ref)):
                problems.append(f"{repo}: {key}: {ref!r} is neither a repo of this release nor a Hub id")
    in_code = False
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if token := next((t for t in PLACEHOLDERS if t in line), None):
            problems.append(f"{repo}: body line {i + 1}: unreplaced placeholder {token!r}")
        for url in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", url) and not url.startswith("https://"):
                problems.append(f"{repo}: body line {i + 1}: link {url!r} is neither https nor relative")
            elif url.startswith("/"):
                problems.append(f"{repo}: body line {i + 1}: link {url!r} is absolute; use https or relative")
            elif targets and (why := _link_target_problem(url, targets)):
                problems.append(f"{repo}: body line {i + 1}: link {url!r} points nowhere: {why}")
        if m := re.match(r"^(#+)\s+(.*)", line):
            level, rest = len(m.group(1)), lines[i + 1 :]
            content = []
            for nxt in rest:
                h = re.match(r"^(#+)\s", nxt)
                if h and len(h.group(1)) <= level:
                    break
                content.append(nxt)
            if not "".join(content).strip():
                problems.append(f"{repo}: section {m.group(2)!r}: empty")
    return problems


def _link_target_problem(url: str, targets: dict[str, bool]) -> str | None:
    m = _HUB_LINK.match(url)
    if not m or m.group(2) not in {t.split("/")[-2] for t in targets}:
        return None  # not a link into this release's namespaces
    if m.group(1) not in targets:
        return f"{m.group(1)} is not an artifact of this release"
    return None if targets[m.group(1)] else f"{m.group(1)} is not built"


def lint_release(release: Release, cards: dict[str, str], built: set[str] | None = None) -> list[str]:
    """`cards` maps repo ids to README text; `built` (repo ids) also checks that links reach built repos."""
    arts = all_artifacts(release)
    repo_ids = {a.repo_id for a in arts}
    targets = {repo_path(a.repo_type, a.repo_id): built is None or a.repo_id in built for a in arts}
    if release.space and release.space.arena:  # the Space creates and fills its votes dataset itself
        targets[repo_path("dataset", release.repo_id(release.space.arena.votes))] = True
    return [p for repo, text in cards.items() for p in lint_card(repo, text, release, repo_ids, targets)]
