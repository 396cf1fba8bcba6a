"""The comparison Space as published: downloaded from the local hub, started, asked over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hubkit import pipeline
from hubkit.config import load_release
from hubkit.hub.publish import publish_release
from hubkit.pipeline import plan
from hubkit.workspace import Workspace
from tests.conftest import ROOT, LocalHub, copy_demo, free_port, output_dir

# Its tests share one published demo (a module fixture): under pytest-xdist they run on one worker.
pytestmark = pytest.mark.xdist_group("space")

MODELS = ["hubkit-demo/tiny-qwen3-a-distilled", "hubkit-demo/tiny-qwen3-b-distilled", "hubkit-demo/tiny-qwen3-slerp"]
VOTES = "hubkit-demo/tiny-qwen3-compare-votes"


@pytest.fixture(scope="module")
def published(fixture_demo, tmp_path_factory):
    """The demo built and published to a local hub, its Space downloaded from there and started
    as the Hub starts it (`python app.py`), reading models and evaluation from that hub."""
    import httpx
    import yaml
    from huggingface_hub import snapshot_download

    from hubkit.hub.auth import hf_api

    root = copy_demo(fixture_demo, tmp_path_factory.mktemp("published") / "demo")  # fixture students
    config = root / "configs" / "demo.yaml"
    data = yaml.safe_load(config.read_text())
    # Long enough answers to see them stream; votes committed within seconds; the scoreboard after one.
    data["space"].update(max_new_tokens=1024, arena={**data["space"]["arena"], "every_minutes": 0.02, "min_votes": 1})
    data["space"]["secrets"] = {"HF_TOKEN": "HUBKIT_SPACE_TOKEN"}  # the Space's write token, set at publish
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    rel, ws = load_release(config), Workspace(root / "ws")
    pipeline.build(rel, ws, report=lambda m: None)
    pipeline.cards(rel, ws, report=lambda m: None)
    hub = LocalHub(root / "hub-data")
    app = None
    try:
        os.environ["HUBKIT_SPACE_TOKEN"] = hub.token
        try:
            publish_release(plan(rel, ws), hub.url, hub.token, report=lambda m: None)
        finally:
            del os.environ["HUBKIT_SPACE_TOKEN"]
        space = Path(snapshot_download("hubkit-demo/tiny-qwen3-compare", repo_type="space", endpoint=hub.url,
                                       local_dir=root / "space", token=hub.token))  # fmt: skip
        port = free_port()
        # The Hub runs a Space with its secrets as environment variables: HF_TOKEN, as publish set it.
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": hub.token,
               "HF_HOME": str(root / "hf"), "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_PORT": str(port),
               "GRADIO_SERVER_NAME": "127.0.0.1", "NO_PROXY": "127.0.0.1,localhost"}  # fmt: skip
        log = (root / "app.log").open("w")
        app = subprocess.Popen([sys.executable, "app.py"], cwd=space, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while True:
            assert app.poll() is None, (root / "app.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Space did not start"
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        from gradio_client import Client

        # As a Space's first visitor would: the models are loaded (and the workers warm) after one answer.
        Client(url, verbose=False).predict(MODELS, "warm up", 0.7, 0.95, 16, 0, api_name="/compare")
        yield SimpleNamespace(url=url, hub=hub, api=hf_api(hub.url, hub.token), space=space, log=root / "app.log")
    finally:
        if app is not None:
            app.terminate()
            app.wait(timeout=30)
        hub.stop()


@pytest.mark.e2e
def test_the_published_space_carries_hubkits_splitter_and_its_inputs(published):
    from importlib.metadata import version

    space = published.space
    assert {"app.py", "engines.py", "arena.py", "board.py", "reasoning.py", "space_config.json", "README.md"} <= {
        p.name for p in space.iterdir()
    }
    # The splitter is hubkit's own file, byte for byte, not a second copy kept by hand.
    assert (space / "reasoning.py").read_bytes() == (ROOT / "hubkit" / "llm" / "reasoning.py").read_bytes()
    cfg = json.loads((space / "space_config.json").read_text())
    assert cfg["models"] == MODELS and cfg["arena"]["votes"] == VOTES and len(cfg["examples"]) == 10
    assert cfg["benchmark"] == "hubkit-demo/tiny-cmdr-bench" and cfg["details"] == "hubkit-demo/tiny-cmdr-bench-details"
    card = (space / "README.md").read_text()
    assert f"sdk_version: {version('gradio')}" in card and "suggested_hardware: cpu-basic" in card
    # Publish set the Space's secret HF_TOKEN (the token the Space runs with here), kept as a digest.
    from hubkit.localhub.store import Store

    secret = Store(published.hub.root).secrets("hubkit-demo/tiny-qwen3-compare")["HF_TOKEN"]
    assert secret["sha256"] == hashlib.sha256(published.hub.token.encode()).hexdigest()
    # The card says where votes go (a repo the Space creates; card lint knows it is the release's).
    assert f"(https://huggingface.co/datasets/{VOTES})" in card and "**Cases**" in card


@pytest.mark.e2e
def test_the_api_streams_every_column_more_than_once(published):
    from gradio_client import Client

    client = Client(published.url, verbose=False)
    job = client.submit(MODELS[:2], "What is 6 times 7?", 0.7, 0.95, 96, 0, api_name="/compare")
    updates = list(job)
    assert len(updates) > 2, updates
    final = updates[-1]
    for i in range(2):  # (stats, reasoning, answer) per column of the chosen models
        stats = [u[3 * i] for u in updates]
        assert "TTFT" in final[3 * i] and "tok/s" in final[3 * i], final
        assert sum("generating" in x for x in stats) >= 1  # seen while it was still going
        assert len({u[3 * i + 1] for u in updates}) > 1  # the reasoning grew over several updates
    assert final[6:] == ("", "", "")  # the third model was not chosen
    with pytest.raises(Exception, match="Pick 2 to 4 models"):
        client.predict(MODELS[:1], "hi", 0.7, 0.95, 32, 0, api_name="/compare")
    with pytest.raises(Exception, match="up to 2,000"):
        client.predict(MODELS[:2], "x" * 2001, 0.7, 0.95, 32, 0, api_name="/compare")


@pytest.mark.e2e
def test_the_space_in_a_real_browser(published, browser):
    """Compare streams into every column; reasoning opens; Benchmark and Cases explain; a blind
    vote lands in the votes dataset on the hub. Screenshots: test-output/space/."""
    shots = output_dir("space")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(published.url)
    page.locator("#question textarea").fill("What is 6 times 7?")
    page.locator("#compare").click()
    # Every column shows tokens (TTFT, a count) while it is still generating: streamed, not
    # delivered at the end. Polled every 20 ms in the page, so no moment is missed.
    page.evaluate("""() => { window.seen = new Set();
        window.poll = setInterval(() => document.querySelectorAll('.model-column').forEach((col, i) => {
            const t = col.querySelector('.column-stats')?.innerText || '';
            if (t.includes('TTFT') && t.includes('generating')) window.seen.add(i); }), 20); }""")
    page.wait_for_function("() => window.seen.size === 3", timeout=60_000)
    page.screenshot(path=str(shots / "compare-streaming.png"), full_page=True)
    page.get_by_text("Reasoning", exact=True).first.click()
    reasoning = page.locator(".model-column .reasoning").first
    reasoning.wait_for(state="visible")
    assert reasoning.inner_text().strip()
    page.locator("#stop").click()
    page.wait_for_function(
        """() => ![...document.querySelectorAll('.model-column .column-stats')]
                 .some(e => e.innerText.includes('generating'))""",
        timeout=30_000,
    )
    # 1024 tokens each: the models still going when Stop was pressed say so (one may have ended by itself).
    assert "stopped" in page.locator(".model-column").all_inner_texts().__str__()
    page.screenshot(path=str(shots / "compare-stopped.png"), full_page=True)

    page.get_by_role("tab", name="Benchmark").click()
    bench = page.locator("#benchmark")
    bench.get_by_text("Overall").first.wait_for()
    assert all(m.split("/")[-1] in bench.inner_text() for m in MODELS)
    assert "What the data supports" in bench.inner_text()
    page.screenshot(path=str(shots / "benchmark.png"), full_page=True)

    page.get_by_role("tab", name="Cases").click()
    cases = page.locator("#cases")
    cases.get_by_text("Reference:").wait_for()
    assert page.locator("#cases .case-model").count() == 3 and "grader" in cases.inner_text()
    page.screenshot(path=str(shots / "cases.png"), full_page=True)

    page.get_by_role("tab", name="Arena").click()
    page.locator("#arena-question textarea").fill("Name a prime number.")
    page.locator("#arena-ask").click()
    page.locator("#vote-a").click(timeout=120_000)  # enabled once both answers are complete
    page.locator("#reveal").get_by_text("Model A was").wait_for()
    assert "your vote is saved" in page.locator("#reveal").inner_text()
    assert page.locator("#vote-b").is_disabled()  # one vote per answer pair
    page.screenshot(path=str(shots / "arena.png"), full_page=True)
    page.get_by_role("tab", name="Benchmark").click()
    page.get_by_role("button", name="Refresh the scoreboard").click()
    page.locator("#scoreboard").get_by_text("Bradley").wait_for()  # min_votes is 1 here
    assert "1 blind vote;" in page.locator("#scoreboard").inner_text()
    page.close()

    deadline = time.monotonic() + 90  # the Space's CommitScheduler pushes every ~1 s here
    votes = []
    while not votes and time.monotonic() < deadline:
        try:
            files = [f for f in published.api.list_repo_files(VOTES, repo_type="dataset") if f.endswith(".jsonl")]
        except Exception:
            files = []
        for f in files:
            path = published.api.hf_hub_download(VOTES, f, repo_type="dataset", cache_dir=str(published.space.parent))
            votes += [json.loads(x) for x in Path(path).read_text(encoding="utf-8").split("\n") if x]
        time.sleep(1)
    assert votes, published.log.read_text()[-2000:]
    (v,) = votes
    assert v["question"] == "Name a prime number." and v["vote"] == "a" and set(v["models"]) <= set(MODELS)
    assert len(v["answers"]) == 2 and not {"ip", "user", "session"} & set(v)


def space_of(config):
    from hubkit.artifacts.space import artifacts

    return artifacts(load_release(config))[0]


def test_the_app_folder_is_copied_with_its_subfolders_and_nested_changes_rebuild(demo_config, tmp_path):
    from hubkit.artifacts.base import BuildContext

    app = demo_config.parent.parent / "spaces" / "compare"
    (app / "assets" / "nested").mkdir(parents=True)
    (app / "assets" / "nested" / "note.txt").write_text("one")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    space = space_of(demo_config)
    assert space.inputs == ("tiny-cmdr-bench", "tiny-cmdr-bench-details")  # what its tabs read
    before = space.spec()
    out = tmp_path / "out"
    out.mkdir()
    space.build(BuildContext(space.release, out, {}, report=lambda m: None))
    built = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"app.py", "requirements.txt", "reasoning.py", "space_config.json", "assets/nested/note.txt"} <= built
    assert not any("__pycache__" in p for p in built)
    (app / "assets" / "nested" / "note.txt").write_text("two")
    assert space_of(demo_config).spec() != before  # a nested change makes the Space stale


@pytest.mark.parametrize("name", ["reasoning.py", "space_config.json"])
def test_an_app_file_hubkit_would_overwrite_is_refused(demo_config, tmp_path, name):
    from hubkit.artifacts.base import BuildContext
    from hubkit.errors import UsageError

    app = demo_config.parent.parent / "spaces" / "compare"
    (app / name).write_text("# a hand-kept copy\n")
    space = space_of(demo_config)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match=f"{name}: hubkit writes this file"):
        space.build(BuildContext(space.release, out, {}, report=lambda m: None))


def test_unknown_space_hardware_is_a_config_error(demo_config):
    from hubkit.errors import ConfigError

    demo_config.write_text(demo_config.read_text().replace("hardware: cpu-basic", "hardware: h100-huge"))
    with pytest.raises(ConfigError, match="unknown Space hardware 'h100-huge'"):
        load_release(demo_config)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("hardware: cpu-basic", "hardware: cpu-basic\n  backend: {kind: endpoint}", "needs base_url"),
        ("hardware: cpu-basic", "hardware: cpu-basic\n  backend: {kind: endpoint, base_url: 'http://x/v1', "
         "api_key_env: 'hf_abc123-secret'}", "space.backend.api_key_env: must name an environment variable"),
        ("hardware: cpu-basic", "hardware: cpu-basic\n  backend: {served: {nope: x}}", "not one of space.models"),
        ("votes: tiny-qwen3-compare-votes", "votes: tiny-cmdr-bench", "duplicate artifact name 'tiny-cmdr-bench'"),
        ("requests_per_minute: 30", "requests_per_minute: 0", "greater than 0"),
    ],
)  # fmt: skip
def test_space_backend_limits_and_arena_are_checked(demo_config, old, new, message):
    from hubkit.errors import ConfigError

    assert old in demo_config.read_text()
    demo_config.write_text(demo_config.read_text().replace(old, new))
    with pytest.raises(ConfigError, match=message) as err:
        load_release(demo_config)
    assert "hf_abc123" not in str(err.value)


def test_examples_are_one_benchmark_question_per_category_nearest_the_middle_level(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hubkit.artifacts.space import examples

    rows = [{"category": c, "level": lvl, "message": f"c{c} l{lvl}"} for c in (0, 1) for lvl in (1, 4, 6, 10)]
    rows += [{"category": 2, "level": 9, "message": "only one"}]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "test-00000-of-00001.parquet")
    assert examples(tmp_path) == ["c0 l4", "c1 l4", "only one"]  # 4 and 6 are equally near 5: the first wins
