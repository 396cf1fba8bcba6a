"""Offline checks of rendered cards; each problem is reported as `repo: field: problem`."""

from __future__ import annotations

import re

import yaml

from hubkit.config import Release

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


def split_card(text: str) -> tuple[str | None, str]:
    m = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, re.S)
    return (m.group(1), m.group(2)) if m else (None, text)


def lint_card(repo: str, text: str, release: Release, repo_ids: set[str]) -> list[str]:
    """Problems of one README.md: front matter, references, sections, placeholders, links."""
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


def lint_release(release: Release, cards: dict[str, str]) -> list[str]:
    """`cards` maps repo ids to README text."""
    from hubkit.artifacts import all_artifacts

    repo_ids = {a.repo_id for a in all_artifacts(release)}
    return [p for repo, text in cards.items() for p in lint_card(repo, text, release, repo_ids)]
