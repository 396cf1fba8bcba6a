"""Read-only HTML pages of the local hub at the Hub's own URLs: a preview of a release.

Cards are rendered by markdown-it-py with raw HTML off (a card's `<script>` shows as text) and
its link validation on (`javascript:` and other unsafe links stay text); every other value
that comes from a repo is escaped here. A link to a huggingface.co repo that this hub holds
points to its page here; one into a namespace this hub holds, to a repo it does not hold, is
marked broken; other Hub links stay as they are. Relative links and images resolve inside the
repo at the shown revision. No JavaScript.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import quote

import yaml

from hubkit.cards.lint import split_card
from hubkit.localhub.store import REPO_TYPES, HubError, Store
from hubkit.repos import HUB, human_bytes, repo_path, repo_url

_HUB_REPO = re.compile(r"^(?:(datasets|spaces)/)?([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(/.*)?$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CARD_FIELDS = ("license", "base_model", "base_model_relation", "datasets", "pipeline_tag", "library_name", "sdk",
               "sdk_version", "tags", "language")  # fmt: skip

CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:12px 24px}
header a{color:#1f2328;text-decoration:none;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
nav.tabs a{display:inline-block;padding:6px 14px;margin-right:4px;border:1px solid #d0d7de;border-bottom:none;
 border-radius:6px 6px 0 0;color:#1f2328;text-decoration:none}
nav.tabs a.on{background:#fff;font-weight:600;border-bottom:2px solid #fd8c73}
nav.tabs{border-bottom:1px solid #d0d7de;margin:12px 0 16px}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:10px;background:#eaeef2;margin:0 4px 4px 0}
.badge.lfs{background:#ddf4ff}.badge.private{background:#fff1e5}.badge.tag{background:#dafbe1}
aside.meta{border:1px solid #d0d7de;border-radius:6px;padding:8px 16px;margin-bottom:16px;background:#f6f8fa}
aside.meta dt{font-weight:600;float:left;clear:left;width:190px}aside.meta dd{margin:0 0 4px 200px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
article img{max-width:100%}pre{background:#f6f8fa;padding:10px;overflow:auto}
a.broken{color:#cf222e;text-decoration:line-through wavy}a.broken::after{content:" (not on this hub)";font-size:12px}
.diff .add{background:#dafbe1}.diff .del{background:#ffebe9}.diff .hunk{color:#6e7781}
.muted{color:#6e7781;font-size:13px}
"""


def front_matter(card: str) -> dict[str, Any] | None:
    """A card's YAML front matter as a mapping (None without one); anything else is a 400 saying why."""
    front, _ = split_card(card)
    return None if front is None else load_front(front)


def load_front(front: str) -> dict[str, Any]:
    """Front matter text -> mapping. It is anyone's YAML: deep nesting or a bad date is a 400, not a crash."""
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise HubError(400, f"Invalid YAML in README.md front matter: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise HubError(400, "README.md front matter is nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. a date that does not exist: 2024-02-30
        raise HubError(400, f"Invalid value in README.md front matter: {exc}") from None
    if meta is not None and not isinstance(meta, dict):
        raise HubError(400, "README.md front matter must be a YAML mapping")
    return meta or {}


def scalar(value: Any) -> str:
    """A front-matter value as text, scalars only: str() of a YAML alias bomb would expand it."""
    return str(value) if isinstance(value, str | int | float | bool) else f"({type(value).__name__})"


def base_url(repo_type: str, repo_id: str) -> str:
    return repo_url("", repo_type, repo_id)


def layout(title: str, body: str, crumbs: list[tuple[str, str]] = ()) -> str:
    trail = " / ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for text, href in crumbs)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
        f'<body><header><a href="/">hubkit local hub</a>{" / " + trail if trail else ""}</header>'
        f"<main>{body}</main></body></html>"
    )


class Pages:
    """HTML views over a store. `readable(repo_type, meta)` applies the API's access rules."""

    def __init__(self, store: Store, readable: Callable[[str, dict], bool]):
        self.store, self.readable = store, readable

    # --- helpers --------------------------------------------------------------------------
    def _repo(self, repo_type: str, repo_id: str) -> dict[str, Any]:
        meta = self.store.repo(repo_type, repo_id)
        if not self.readable(repo_type, meta):
            raise HubError(404, "Repository not found")  # private: the same answer as missing
        return meta

    def exists(self, repo_type: str, repo_id: str) -> bool:
        try:
            self._repo(repo_type, repo_id)
            return True
        except HubError:
            return False

    @functools.cached_property
    def namespaces(self) -> set[str]:
        """Namespaces this hub holds (read once per page: every link asks)."""
        return {m["id"].split("/")[0] for t in REPO_TYPES for m in self.store.repos(t)}

    def link(self, href: str, repo_type: str, repo_id: str, rev: str) -> tuple[str, str | None]:
        """(href to use here, why it is broken or None)."""
        if href.startswith(HUB + "/"):
            m = _HUB_REPO.match(href[len(HUB) + 1 :])
            if not m:
                return href, None
            kind = {"datasets": "dataset", "spaces": "space"}.get(m.group(1) or "", "model")
            if self.exists(kind, m.group(2)):
                return base_url(kind, m.group(2)) + (m.group(3) or ""), None
            if m.group(2).split("/")[0] in self.namespaces:
                return href, f"{repo_path(kind, m.group(2))} is not on this hub"
            return href, None
        if _SCHEME.match(href) or href.startswith(("/", "#", "//")):
            return href, None
        path = href.split("#")[0].split("?")[0]
        return f"{base_url(repo_type, repo_id)}/resolve/{quote(rev, safe='')}/{quote(path)}", None

    def markdown(self, text: str, repo_type: str, repo_id: str, rev: str) -> str:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
        tokens = md.parse(text)
        for token in tokens:
            for t in token.children or []:
                attr = "href" if t.type == "link_open" else "src" if t.type == "image" else None
                if attr and t.attrGet(attr) is not None:
                    href, broken = self.link(str(t.attrGet(attr)), repo_type, repo_id, rev)
                    t.attrSet(attr, href)
                    if broken:
                        t.attrSet("class", "broken")
                        t.attrSet("title", broken)
        return md.renderer.render(tokens, md.options, {})

    def _anchor(self, href: str, text: str, repo_type: str, repo_id: str, rev: str) -> str:
        target, broken = self.link(href, repo_type, repo_id, rev)
        extra = f' class="broken" title="{escape(broken)}"' if broken else ""
        return f'<a href="{escape(target)}"{extra}>{escape(text)}</a>'

    def _blob_text(self, tree: dict, path: str) -> str | None:
        entry = tree.get(path)
        if entry is None:
            return None
        return self.store.blob_path(entry["sha256"]).read_bytes().decode("utf-8", "replace")

    def _tabs(self, repo_type: str, repo_id: str, active: str) -> str:
        b = base_url(repo_type, repo_id)
        items = [("card", "Card", b), ("files", "Files", f"{b}/tree/main"), ("history", "History", f"{b}/commits/main")]
        return '<nav class="tabs">' + "".join(
            f'<a href="{escape(h)}"{" class=on" if k == active else ""}>{t}</a>' for k, t, h in items
        ) + "</nav>"  # fmt: skip

    def _header(self, repo_type: str, repo_id: str, meta: dict, active: str) -> str:
        tags = sorted(self.store.refs(repo_type, repo_id)["tags"])
        badges = "".join(f'<span class="badge tag">{escape(t)}</span>' for t in tags)
        private = '<span class="badge private">private</span>' if meta["private"] else ""
        kind = {"model": "Model", "dataset": "Dataset", "space": "Space"}[repo_type]
        return (f'<h1><span class="muted">{kind}:</span> {escape(repo_id)}</h1>'
                f"<div>{private}{badges}</div>{self._tabs(repo_type, repo_id, active)}")  # fmt: skip

    def _crumbs(self, repo_type: str, repo_id: str) -> list[tuple[str, str]]:
        return [(repo_path(repo_type, repo_id), base_url(repo_type, repo_id))]

    # --- pages ----------------------------------------------------------------------------
    def index(self) -> str:
        parts = ["<h1>Repos on this hub</h1>"]
        for repo_type in REPO_TYPES:
            metas = [m for m in self.store.repos(repo_type) if self.readable(repo_type, m)]
            parts.append(f"<h2>{repo_type.capitalize()}s</h2>")
            if not metas:
                parts.append('<p class="muted">none</p>')
                continue
            rows = []
            for m in sorted(metas, key=lambda m: m["id"]):
                refs = self.store.refs(repo_type, m["id"])
                last = ""
                if "main" in refs["heads"]:
                    c = self.store.commit(repo_type, m["id"], refs["heads"]["main"])
                    last = f'{escape(c["title"])} <span class="muted">{escape(c["date"][:16])}</span>'
                tags = "".join(f'<span class="badge tag">{escape(t)}</span>' for t in sorted(refs["tags"]))
                private = '<span class="badge private">private</span>' if m["private"] else ""
                rows.append(f'<tr><td>{escape(m["id"].split("/")[0])}</td><td><a href="'
                            f'{escape(base_url(repo_type, m["id"]))}">{escape(m["id"])}</a> {private}</td>'
                            f"<td>{tags}</td><td>{last}</td></tr>")  # fmt: skip
            parts.append("<table><tr><th>namespace</th><th>repo</th><th>tags</th><th>last commit</th></tr>"
                         + "".join(rows) + "</table>")  # fmt: skip
        return layout("hubkit local hub", "".join(parts))

    def card(self, repo_type: str, repo_id: str) -> str:
        meta = self._repo(repo_type, repo_id)
        sha, tree = self.store.tree(repo_type, repo_id, "main")
        text = self._blob_text(tree, "README.md")
        body = [self._header(repo_type, repo_id, meta, "card")]
        if repo_type == "space" and (secrets := self.store.secrets(repo_id)):  # names and times, never values
            names = ", ".join(f"{escape(k)} (set {escape(v['updatedAt'])})" for k, v in sorted(secrets.items()))
            body.append(f'<p class="muted space-secrets">Space secrets: {names}</p>')
        if text is None:
            body.append('<p class="muted">No model card (README.md) in this repo.</p>')
        else:
            front, rest = split_card(text)
            body.append(self._front_matter(front, repo_type, repo_id, sha))
            body.append(f"<article>{self.markdown(rest, repo_type, repo_id, sha)}</article>")
        return layout(f"{repo_id} · hubkit local hub", "".join(body), self._crumbs(repo_type, repo_id))

    def _front_matter(self, front: str | None, repo_type: str, repo_id: str, rev: str) -> str:
        if front is None:
            return '<aside class="meta">No front matter (YAML metadata).</aside>'
        try:
            meta = load_front(front)
        except HubError as err:
            return f'<aside class="meta broken">{escape(err.message)}</aside>'
        rows = []
        for key in CARD_FIELDS:
            if key not in meta:
                continue
            values = meta[key] if isinstance(meta[key], list) else [meta[key]]
            if key in ("base_model", "datasets"):
                prefix = "datasets/" if key == "datasets" else ""
                shown = ", ".join(
                    self._anchor(f"{HUB}/{prefix}{scalar(v)}", scalar(v), repo_type, repo_id, rev) for v in values
                )
            else:
                shown = " ".join(f'<span class="badge">{escape(scalar(v))}</span>' for v in values)
            rows.append(f"<dt>{escape(key)}</dt><dd>{shown}</dd>")
        html = f'<aside class="meta"><dl>{"".join(rows)}</dl>'
        return html + self._eval_results(meta.get("model-index")) + "</aside>"

    @staticmethod
    def _eval_results(index: Any) -> str:
        """model-index results as the Hub's evaluation table: task, dataset, metric, value."""

        def items(value: Any, key: str) -> list[dict]:  # a card is anyone's YAML: skip what is not a mapping
            found = value.get(key) if isinstance(value, dict) else None
            return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []

        def field(value: Any, key: str) -> Any:
            return value.get(key) if isinstance(value, dict) else None

        rows = []
        for model in items({"index": index}, "index"):
            for result in items(model, "results"):
                task = field(result.get("task"), "type") or ""
                data = field(result.get("dataset"), "name") or field(result.get("dataset"), "type") or ""
                for metric in items(result, "metrics"):
                    rows.append(f"<tr><td>{escape(scalar(task))}</td><td>{escape(scalar(data))}</td>"
                                f"<td>{escape(scalar(metric.get('name') or metric.get('type', '')))}</td>"
                                f'<td class="num">{escape(scalar(metric.get("value", "")))}</td></tr>')  # fmt: skip
        if not rows:
            return ""
        head = "<tr><th>task</th><th>dataset</th><th>metric</th><th>value</th></tr>"
        return f"<h3>Evaluation results</h3><table>{head}{''.join(rows)}</table>"

    def files(self, repo_type: str, repo_id: str, rev: str) -> str:
        meta = self._repo(repo_type, repo_id)
        sha, tree = self.store.tree(repo_type, repo_id, rev)
        b = base_url(repo_type, repo_id)
        rows = []
        for path, e in sorted(tree.items()):
            lfs = '<span class="badge lfs">LFS</span>' if e.get("lfs") else ""
            href = f"{b}/resolve/{quote(sha)}/{quote(path)}"
            rows.append(f'<tr><td><a href="{escape(href)}">{escape(path)}</a> {lfs}</td>'
                        f'<td class="num">{human_bytes(e["size"])}</td></tr>')  # fmt: skip
        total = human_bytes(sum(e["size"] for e in tree.values()))
        body = (self._header(repo_type, repo_id, meta, "files")
                + f'<p class="muted">{len(tree)} files, {total} at {escape(rev)} ({sha[:8]})</p>'
                + "<table><tr><th>path</th><th>size</th></tr>" + "".join(rows) + "</table>")  # fmt: skip
        return layout(f"Files · {repo_id}", body, self._crumbs(repo_type, repo_id))

    def history(self, repo_type: str, repo_id: str, rev: str) -> str:
        meta = self._repo(repo_type, repo_id)
        refs = self.store.refs(repo_type, repo_id)
        b = base_url(repo_type, repo_id)
        tags_at: dict[str, list[str]] = {}
        for name, target in refs["tags"].items():
            tags_at.setdefault(target, []).append(name)
        rows = []
        for c in self.store.history(repo_type, repo_id, rev):
            tags = "".join(f'<span class="badge tag">{escape(t)}</span>' for t in sorted(tags_at.get(c["id"], [])))
            link = f'<a href="{escape(b)}/commit/{c["id"]}">{c["id"][:8]}</a>'
            when = f'<td class="muted">{escape(c["date"])}</td>'
            rows.append(f"<tr><td>{link}</td><td>{escape(c['title'])} {tags}</td>{when}</tr>")
        parts = [self._header(repo_type, repo_id, meta, "history"), f"<h2>Commits on {escape(rev)}</h2>",
                 "<table><tr><th>commit</th><th>title</th><th>date</th></tr>" + "".join(rows) + "</table>"]  # fmt: skip
        ordered = sorted(refs["tags"].items())
        if ordered:
            parts.append("<h2>Tags</h2><ul>")
            for i, (name, target) in enumerate(ordered):
                diff = ""
                if i:
                    prev = ordered[i - 1][0]
                    href = f"{b}/compare/{quote(prev)}...{quote(name)}"
                    diff = f' · <a href="{escape(href)}">changes since {escape(prev)}</a>'
                parts.append(f'<li><span class="badge tag">{escape(name)}</span> {target[:8]}{diff}</li>')
            parts.append("</ul>")
        prs = sorted(refs["prs"].items(), key=lambda kv: int(kv[0]))
        parts.append("<h2>Pull requests</h2>" + ("<ul>" + "".join(
            f'<li><a href="{escape(b)}/compare/main...{quote("refs/pr/" + n, safe="")}">#{escape(n)}</a> '
            f'{escape(self.store.commit(repo_type, repo_id, s)["title"])}</li>' for n, s in prs) + "</ul>"
            if prs else '<p class="muted">none</p>'))  # fmt: skip
        return layout(f"History · {repo_id}", "".join(parts), self._crumbs(repo_type, repo_id))

    def compare(self, repo_type: str, repo_id: str, old: str, new: str) -> str:
        meta = self._repo(repo_type, repo_id)
        old_tree = self.store.tree(repo_type, repo_id, old)[1] if old else {}
        new_tree = self.store.tree(repo_type, repo_id, new)[1]
        return self._diff(repo_type, repo_id, meta, old or "(nothing)", new, old_tree, new_tree)

    def commit(self, repo_type: str, repo_id: str, sha: str) -> str:
        meta = self._repo(repo_type, repo_id)
        full = self.store.resolve(repo_type, repo_id, sha)
        c = self.store.commit(repo_type, repo_id, full)
        parent = c["parents"][0] if c["parents"] else None
        old_tree = self.store.commit(repo_type, repo_id, parent)["tree"] if parent else {}
        return self._diff(repo_type, repo_id, meta, parent[:8] if parent else "(nothing)", full[:8], old_tree,
                          c["tree"], title=c["title"])  # fmt: skip

    def _diff(self, repo_type, repo_id, meta, old, new, old_tree, new_tree, title: str | None = None) -> str:
        added = sorted(set(new_tree) - set(old_tree))
        removed = sorted(set(old_tree) - set(new_tree))
        changed = sorted(p for p in set(old_tree) & set(new_tree) if old_tree[p]["oid"] != new_tree[p]["oid"])
        parts = [self._header(repo_type, repo_id, meta, "history"),
                 f"<h2>Changes {escape(old)} → {escape(new)}</h2>" + (f"<p>{escape(title)}</p>" if title else ""),
                 f'<p class="muted">{len(added)} added, {len(changed)} changed, {len(removed)} removed</p>',
                 "<table><tr><th>file</th><th>change</th><th>size</th></tr>"]  # fmt: skip
        for kind, paths, tree in (("added", added, new_tree), ("changed", changed, new_tree),
                                  ("removed", removed, old_tree)):  # fmt: skip
            for p in paths:
                size = human_bytes(tree[p]["size"])
                parts.append(f'<tr><td>{escape(p)}</td><td>{kind}</td><td class="num">{size}</td></tr>')
        parts.append("</table>")
        if "README.md" in changed or "README.md" in added:
            before = (self._blob_text(old_tree, "README.md") or "").splitlines()
            after = (self._blob_text(new_tree, "README.md") or "").splitlines()
            lines = []
            for line in list(difflib.unified_diff(before, after, "README.md", "README.md", lineterm=""))[2:]:
                cls = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
                lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
            parts.append('<h3>Card (README.md)</h3><pre class="diff">' + "\n".join(lines) + "</pre>")
        return layout(f"Changes · {repo_id}", "".join(parts), self._crumbs(repo_type, repo_id))
