"""plan / publish against the local hub with the real client: no-ops, conflicts, PRs, failures."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading

import httpx
import pytest
import yaml

from hubkit import pipeline
from hubkit.config import load_release
from hubkit.errors import HubkitError, UsageError
from hubkit.hub.plan import hf_api, plan_release
from hubkit.hub.publish import publish_release
from hubkit.workspace import Workspace
from tests.conftest import HubProcess, copy_project, run_cli

MODELS = ["tiny-qwen3-a-distilled", "tiny-qwen3-b-distilled", "tiny-qwen3-slerp"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    copy_project(root)
    pipeline.build(load_release(root / "configs" / "demo.yaml"), Workspace(root / "ws"), report=lambda m: None)
    return root


@pytest.fixture
def demo(built, tmp_path):
    """(release config path, workspace) copies that a test may change."""
    shutil.copytree(built, tmp_path / "d")
    return tmp_path / "d" / "configs" / "demo.yaml", Workspace(tmp_path / "d" / "ws")


def commits(api, repo):
    return [c.commit_id for c in api.list_repo_commits(f"hubkit-demo/{repo}")]


def quiet(msg):
    return None


def edit(config, fn):
    data = yaml.safe_load(config.read_text())
    fn(data)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_publish_then_publish_again_is_a_noop(demo, hub, api):
    config, ws = demo
    rel = load_release(config)
    first = publish_release(rel, ws, hub.url, hub.token, report=quiet)
    outcomes = {p.artifact: o for p, o in first}
    assert all(outcomes[m].startswith("committed ") and outcomes[m].endswith("tagged v0.1.0") for m in MODELS)
    assert outcomes["tiny-teacher-a-reasoning"].startswith("skip: not available")
    history = {m: commits(api, m) for m in MODELS}
    assert all(len(h) == 2 for h in history.values())  # the Hub's initial commit + the release
    blobs = sorted(p.name for p in (hub.root / "blobs").rglob("*") if p.is_file())

    again = publish_release(rel, ws, hub.url, hub.token, report=quiet)
    assert {p.artifact: o for p, o in again if p.artifact in MODELS} == dict.fromkeys(MODELS, "nothing to do")
    assert {m: commits(api, m) for m in MODELS} == history
    assert sorted(p.name for p in (hub.root / "blobs").rglob("*") if p.is_file()) == blobs
    plans = [p for p in plan_release(rel, ws, api) if p.artifact in MODELS]
    assert [(p.upload_bytes, p.add, p.update, p.delete, p.action) for p in plans] == [
        (0, [], [], [], "nothing to do")
    ] * 3

    # Published files are byte-identical to the workspace.
    for m in MODELS:
        for path, info in ws.manifest(m)["files"].items():
            data = httpx.get(f"{hub.url}/hubkit-demo/{m}/resolve/v0.1.0/{path}").content
            assert hashlib.sha256(data).hexdigest() == info["sha256"], (m, path)


def test_a_change_needs_a_new_version_then_updates_only_what_changed(demo, hub, api):
    config, ws = demo
    publish_release(load_release(config), ws, hub.url, hub.token, report=quiet)
    before = {m: commits(api, m) for m in MODELS}
    edit(config, lambda d: d["models"][1]["fixture"].update(seed=9))
    pipeline.build(load_release(config), ws, report=quiet)
    with pytest.raises(UsageError, match=r"tag v0\.1\.0 already exists; bump `version`"):
        publish_release(load_release(config), ws, hub.url, hub.token, report=quiet)
    assert {m: commits(api, m) for m in MODELS} == before  # refused before any commit

    edit(config, lambda d: d.update(version="0.1.1"))
    rel = load_release(config)
    plans = {p.artifact: p for p in plan_release(rel, ws, api)}
    assert plans["tiny-qwen3-b-distilled"].update == ["model.safetensors"]
    assert plans["tiny-qwen3-a-distilled"].action == "tag"
    publish_release(rel, ws, hub.url, hub.token, report=quiet)
    after = {m: commits(api, m) for m in MODELS}
    assert after["tiny-qwen3-a-distilled"] == before["tiny-qwen3-a-distilled"]
    assert len(after["tiny-qwen3-b-distilled"]) == 3 and len(after["tiny-qwen3-slerp"]) == 3
    tags = {t.name for t in api.list_repo_refs("hubkit-demo/tiny-qwen3-a-distilled").tags}
    assert tags == {"v0.1.0", "v0.1.1"}


def test_create_pr_leaves_main_alone(demo, hub, api):
    config, ws = demo
    publish_release(load_release(config), ws, hub.url, hub.token, report=quiet)
    main = commits(api, "tiny-qwen3-b-distilled")
    edit(config, lambda d: (d["models"][1]["fixture"].update(seed=9), d.update(version="0.2.0")))
    pipeline.build(load_release(config), ws, report=quiet)
    out = dict((p.artifact, o) for p, o in publish_release(load_release(config), ws, hub.url, hub.token,
                                                           create_pr=True, report=quiet))  # fmt: skip
    assert out["tiny-qwen3-b-distilled"] == "opened refs/pr/1"
    assert commits(api, "tiny-qwen3-b-distilled") == main
    refs = api.list_repo_refs("hubkit-demo/tiny-qwen3-b-distilled", include_pull_requests=True)
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]


def test_dry_run_changes_nothing(demo, hub, api):
    config, ws = demo
    out = publish_release(load_release(config), ws, hub.url, hub.token, dry_run=True, report=quiet)
    assert {o for p, o in out if p.artifact in MODELS} == {"create repo + commit"}
    assert list(api.list_models(author="hubkit-demo")) == []


def test_cli_plan_markdown_and_publish(demo, hub):
    config, ws = demo
    args = ["-c", str(config), "-w", str(ws.root), "--hub", hub.url]
    env = {"HF_TOKEN": hub.token}
    r = run_cli("plan", *args, "--format", "markdown", env=env)
    assert r.returncode == 0, r.stderr
    assert "| repo | action | add | update | delete | upload | tag |" in r.stdout
    assert "| `model:hubkit-demo/tiny-qwen3-slerp` | create repo + commit | 8 | 0 | 0 |" in r.stdout
    r = run_cli("publish", *args, env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("publish", *args, "--dry-run", env=env)
    assert "model:hubkit-demo/tiny-qwen3-slerp: nothing to do" in r.stdout


def test_bad_token_is_one_line_and_never_shown(demo, hub):
    config, ws = demo
    secret = "hf_wrong_secret_token_0123456789"
    r = run_cli("publish", "-c", str(config), "-w", str(ws.root), "--hub", hub.url, env={"HF_TOKEN": secret})
    assert r.returncode == 1
    assert r.stderr.endswith("the token was rejected (401); set HF_TOKEN to a write token or run `hf auth login`\n")
    assert len(r.stderr.splitlines()) == 1
    assert secret not in r.stdout + r.stderr
    assert not any(secret in p.read_text(errors="ignore") for p in ws.root.rglob("*") if p.is_file())


class FlakyProxy(http.server.ThreadingHTTPServer):
    """Forwards to the hub, but each distinct request fails once with 503. A commit is
    forwarded *before* its 503, so the client loses the answer of a commit that landed."""

    def __init__(self, target: str):
        self.target, self.seen, self.failed, self.lost_commits = target, set(), 0, 0
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                key = (self.command, self.path.split("?")[0])
                with lock:
                    fail = key not in proxy.seen
                    proxy.seen.add(key)
                    proxy.failed += fail
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                if fail and "/commit/" in self.path:
                    httpx.request(self.command, proxy.target + self.path, headers=headers, content=body)
                    proxy.lost_commits += 1
                if fail:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                r = httpx.request(self.command, proxy.target + self.path, headers=headers, content=body)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection"):
                        self.send_header(k, v.replace(proxy.target, f"http://127.0.0.1:{proxy.server_port}"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(
                        r.content.replace(proxy.target.encode(), f"http://127.0.0.1:{proxy.server_port}".encode())
                    )

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        super().__init__(("127.0.0.1", 0), Handler)


def test_transient_errors_are_retried_without_duplicate_commits(demo, hub, api):
    config, ws = demo
    proxy = FlakyProxy(hub.url)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{proxy.server_port}"
        publish_release(load_release(config), ws, url, hub.token, report=quiet)
    finally:
        proxy.shutdown()
    assert proxy.failed >= 10 and proxy.lost_commits == 5  # three models, the benchmark dataset, the Space
    assert all(len(commits(api, m)) == 2 for m in MODELS)  # initial + exactly one release commit
    bench = api.list_repo_commits("hubkit-demo/tiny-cmdr-bench", repo_type="dataset")
    space = api.list_repo_commits("hubkit-demo/tiny-qwen3-compare", repo_type="space")
    assert len(bench) == len(space) == 2
    for m in MODELS:
        assert [t.name for t in api.list_repo_refs(f"hubkit-demo/{m}").tags] == ["v0.1.0"]


def test_server_killed_mid_upload_then_publish_again(demo, tmp_path):
    config, ws = demo
    root = tmp_path / "hub-data"
    dying = HubProcess(root, extra=("--crash-after-bytes", "400000")).start()  # inside the first model file
    try:
        with pytest.raises(HubkitError, match="unreachable or failing after 5 tries"):
            publish_release(load_release(config), ws, dying.url, dying.token, report=quiet)
        assert dying.proc.wait(timeout=10) == 17
    finally:
        dying.stop()
    back = HubProcess(root).start()
    try:
        api = hf_api(back.url, back.token)
        publish_release(load_release(config), ws, back.url, back.token, report=quiet)
        for m in MODELS:
            history = api.list_repo_commits(f"hubkit-demo/{m}")
            assert [c.title for c in history] == [f"Release v0.1.0: {m}", "initial commit"]
            for path, info in ws.manifest(m)["files"].items():
                data = httpx.get(f"{back.url}/hubkit-demo/{m}/resolve/main/{path}").content
                assert hashlib.sha256(data).hexdigest() == info["sha256"]
    finally:
        back.stop()
