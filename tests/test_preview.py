"""The release preview: the local hub's HTML pages, read as HTML and driven in a real browser.

Browser tests use Playwright with the machine's own Chromium or Chrome (`.ci/run` installs
Debian's `chromium` where there is none); screenshots go to `test-output/preview/` (or
$HUBKIT_TEST_OUTPUT) for a reviewer to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from hubkit import pipeline
from hubkit.cards.lint import lint_release
from hubkit.config import load_release
from hubkit.hub.auth import hf_api
from hubkit.hub.publish import publish_release
from hubkit.pipeline import plan
from hubkit.workspace import Workspace
from tests.conftest import CONFIGS, LocalHub, copy_demo, output_dir

# Its tests share one published demo (a module fixture): under pytest-xdist they run on one worker.
pytestmark = pytest.mark.xdist_group("preview")

HOSTILE = """---
license: apache-2.0
tags: ["<script>window.pwned='tag'</script>"]
---
# Card <script>window.pwned='heading'</script>

<img src=x onerror="window.pwned='img'">
[click](javascript:window.pwned='link') [data](data:text/html,<script>alert(1)</script>)
[gone](https://huggingface.co/datasets/evil/missing) [there](https://huggingface.co/evil/other)
[outside](https://huggingface.co/Qwen/Qwen3-4B-Thinking-2507)
"""
HOSTILE_FILE = "<img src=x onerror=window.pwned=1>.txt"


def publish_hostile(api) -> None:
    api.create_repo("evil/card")
    api.create_repo("evil/other")
    api.upload_file(path_or_fileobj=HOSTILE.encode(), path_in_repo="README.md", repo_id="evil/card")
    api.upload_file(path_or_fileobj=b"x", path_in_repo=HOSTILE_FILE, repo_id="evil/card")


def test_everything_from_a_repo_is_escaped_and_links_resolve_here(hub, api):
    publish_hostile(api)
    card = httpx.get(f"{hub.url}/evil/card").text
    files = httpx.get(f"{hub.url}/evil/card/tree/main").text
    history = httpx.get(f"{hub.url}/evil/card/commits/main").text
    for html in (card, files, history):
        assert "<script" not in html and not re.search(r"<img[^>]+onerror", html)
    assert "Card &lt;script&gt;window.pwned=" in card  # shown as text
    assert 'href="javascript:' not in card and 'href="data:' not in card
    assert "&lt;img src=x onerror=window.pwned=1&gt;.txt" in files
    assert re.search(r'<a href="https://huggingface.co/datasets/evil/missing" class="broken"', card)
    assert '<a href="/evil/other">there</a>' in card  # on this hub: the link stays here
    assert '<a href="https://huggingface.co/Qwen/Qwen3-4B-Thinking-2507">outside</a>' in card  # not ours: the Hub


def test_private_repos_have_no_page_without_a_token(hub, api):
    api.create_repo("secret/model", private=True)
    api.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n# hidden\n", path_in_repo="README.md",
                    repo_id="secret/model")  # fmt: skip
    for path in ("/secret/model", "/secret/model/tree/main", "/secret/model/commits/main"):
        assert httpx.get(hub.url + path).status_code == 404
        assert httpx.get(hub.url + path, headers={"authorization": f"Bearer {hub.token}"}).status_code == 200
    assert "secret/model" not in httpx.get(hub.url + "/").text
    assert "secret/model" in httpx.get(hub.url + "/", headers={"authorization": f"Bearer {hub.token}"}).text


def test_unknown_pages_are_html_404s(hub):
    r = httpx.get(f"{hub.url}/nobody/nothing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "not found" in r.text


@pytest.fixture(scope="module")
def two_versions(fixture_demo, tmp_path_factory):
    """The demo published as v0.1.0, then as v0.1.1 (every card changes: it names the version)."""
    root = copy_demo(fixture_demo, tmp_path_factory.mktemp("preview") / "demo", ".hubkit")
    hub = LocalHub(root / "hub-data")
    config = root / "configs" / "demo.yaml"
    quiet = lambda m: None  # noqa: E731
    rel, ws = load_release(config), Workspace(root / ".hubkit")
    pipeline.cards(rel, ws, report=quiet, strict=True)
    publish_release(plan(rel, ws), hub.url, hub.token, report=quiet)
    data = yaml.safe_load(config.read_text())
    data["version"] = "0.1.1"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    rel = load_release(config)
    pipeline.cards(rel, ws, report=quiet, strict=True)
    publish_release(plan(rel, ws), hub.url, hub.token, report=quiet)
    publish_hostile(hf_api(hub.url, hub.token))
    yield hub
    hub.stop()


def test_cards_link_to_each_other_on_the_preview_and_to_the_hub_when_published(two_versions):
    hub = two_versions
    page = httpx.get(f"{hub.url}/hubkit-demo/tiny-qwen3-slerp").text
    local = set(re.findall(r'href="(/hubkit-demo/[^"]+|/datasets/hubkit-demo/[^"]+)"', page))
    assert "/hubkit-demo/tiny-qwen3-a-distilled" in local and "/datasets/hubkit-demo/tiny-cmdr-bench" in local
    assert 'class="broken"' not in page
    raw = httpx.get(f"{hub.url}/hubkit-demo/tiny-qwen3-slerp/resolve/main/README.md").text
    assert "https://huggingface.co/hubkit-demo/tiny-qwen3-a-distilled" in raw  # the published card keeps Hub links
    diff = httpx.get(f"{hub.url}/hubkit-demo/tiny-qwen3-slerp/compare/v0.1.0...v0.1.1").text
    assert "-Released with hubkit as part of release v0.1.0" in diff.replace("&#x27;", "'")
    assert "+Released with hubkit as part of release v0.1.1" in diff


def test_cards_lint_reports_links_that_point_nowhere():
    rel = load_release(CONFIGS / "demo.yaml")
    card = (
        "---\nlicense: apache-2.0\n---\n# Card\n\nSee [a](https://huggingface.co/hubkit-demo/tiny-qwen3-a-distilled),\n"
        "[gone](https://huggingface.co/hubkit-demo/nope), [typo](https://huggingface.co/datasets/hubkit-demo/tiny-cmdr-bnch)"
        " and [base](https://huggingface.co/Qwen/Qwen3-4B-Thinking-2507).\n"
    )
    problems = lint_release(rel, {"hubkit-demo/tiny-qwen3-slerp": card}, built={"hubkit-demo/tiny-qwen3-slerp"})
    assert len(problems) == 3, problems
    assert "hubkit-demo/nope is not an artifact of this release" in problems[1]
    assert "datasets/hubkit-demo/tiny-cmdr-bnch is not an artifact" in problems[2]
    assert "tiny-qwen3-a-distilled is not built" in problems[0]
    built_all = {"hubkit-demo/tiny-qwen3-slerp", "hubkit-demo/tiny-qwen3-a-distilled"}
    assert len(lint_release(rel, {"hubkit-demo/tiny-qwen3-slerp": card}, built=built_all)) == 2


def test_unbuilt_link_targets_are_reported_but_only_unknown_ones_stop_a_publish(demo_config, tmp_path):
    from hubkit.errors import HubkitError
    from tests.conftest import run_cli

    rel, ws = load_release(demo_config), Workspace(tmp_path / "ws")
    pipeline.build(rel, ws, [d.name for d in rel.datasets], report=lambda m: None)  # students not built
    pipeline.cards(rel, ws, report=lambda m: None, strict=True)  # datasets may go out before the models
    r = run_cli("cards", "lint", "-c", str(demo_config), "-w", str(ws.root))
    assert r.returncode == 1 and "hubkit-demo/tiny-qwen3-a-distilled is not built" in r.stdout
    template = demo_config.parent.parent / "cards" / "dataset.md.j2"
    template.write_text(template.read_text() + "\nSee also [this](https://huggingface.co/hubkit-demo/no-such-model).\n")
    with pytest.raises(HubkitError, match="no-such-model is not an artifact of this release"):
        pipeline.cards(rel, ws, report=lambda m: None, strict=True)


# --- in a real browser ------------------------------------------------------------------------
@pytest.fixture
def shots() -> Path:
    return output_dir("preview")


def test_preview_in_a_browser(two_versions, browser, shots):
    hub = two_versions
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(hub.url + "/")
    for repo in ("tiny-qwen3-slerp", "tiny-qwen3-a-distilled", "tiny-qwen3-b-distilled"):
        assert page.get_by_role("link", name=f"hubkit-demo/{repo}", exact=True).count() == 1
    assert page.get_by_role("link", name="hubkit-demo/tiny-cmdr-bench", exact=True).count() == 1
    page.screenshot(path=shots / "index.png", full_page=True)

    page.get_by_role("link", name="hubkit-demo/tiny-qwen3-slerp", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith("/hubkit-demo/tiny-qwen3-slerp")
    assert page.locator("aside.meta").inner_text().count("apache-2.0") == 1
    chart = page.locator("article img[src*='cmdr_bench.png']")
    assert chart.count() == 1
    chart.scroll_into_view_if_needed()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 0  # the chart loads from the repo
    page.screenshot(path=shots / "model.png", full_page=True)

    parent = page.get_by_role("link", name="hubkit-demo/tiny-qwen3-a-distilled", exact=True)
    parent.first.click()  # a parent: on this hub, not on huggingface.co
    page.wait_for_load_state()
    assert page.url.endswith("/hubkit-demo/tiny-qwen3-a-distilled")

    page.goto(hub.url + "/hubkit-demo/tiny-qwen3-slerp")
    page.get_by_role("link", name="Files", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("td", has_text="model.safetensors").count() >= 1
    assert page.locator(".badge.lfs").count() >= 1
    page.screenshot(path=shots / "files.png", full_page=True)

    page.get_by_role("link", name="History", exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".badge.tag", has_text="v0.1.0").count() >= 1
    page.get_by_role("link", name="changes since v0.1.0", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("pre.diff .add", has_text="release v0.1.1").count() == 1
    page.screenshot(path=shots / "diff.png", full_page=True)

    for path in ("/datasets/hubkit-demo/tiny-cmdr-bench", "/spaces/hubkit-demo/tiny-qwen3-compare"):
        page.goto(hub.url + path)
        assert page.locator("article h1").count() >= 1, path
        page.screenshot(path=shots / (path.split("/")[-1] + ".png"), full_page=True)

    page.goto(hub.url + "/evil/card")
    assert page.get_by_role("link", name="click", exact=True).count() == 0  # the javascript: link is text, not a link
    for link in page.locator("article a").all():
        href = link.get_attribute("href") or ""
        if href.startswith(("javascript:", "data:")):
            raise AssertionError(f"unsafe link survived: {href}")
    page.goto(hub.url + "/evil/card/tree/main")
    page.screenshot(path=shots / "hostile.png", full_page=True)
    assert page.evaluate("window.pwned") is None and dialogs == []
    assert page.evaluate("document.scripts.length") == 0
    page.close()
