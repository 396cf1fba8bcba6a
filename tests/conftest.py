from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


# Any use of the default Hub endpoint goes to a closed local port and fails at once; tests
# that publish pass their own local hub's URL explicitly.
NO_HUB = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": ""}


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch):
    for key, value in NO_HUB.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def copy_project(dst: Path) -> Path:
    """configs/, cards/ and spaces/ copied under `dst` (a config finds them at ../cards, ../spaces)."""
    shutil.copytree(CONFIGS, dst / "configs")
    shutil.copytree(ROOT / "cards", dst / "cards")
    shutil.copytree(ROOT / "spaces", dst / "spaces")
    return dst / "configs"


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """A private copy of configs/ (and cards/) so a test can edit the demo profile freely."""
    return copy_project(tmp_path) / "demo.yaml"


def fixture_models(config: Path) -> Path:
    """Swap the demo's trained students for `source: fixture` models, for tests about other stages.

    Fixtures skip training (and wait for no dataset), so publishing, staleness and evaluation
    tests stay fast; the demo itself, its cards and tests/test_train.py train for real.
    """
    import yaml

    data = yaml.safe_load(config.read_text())
    for i, m in enumerate(data["models"]):
        m.pop("train", None)
        m.pop("base_fixture", None)
        m.update(source="fixture", fixture={"seed": i + 1, "layers": 9})
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def built_demo(root: Path, workspace: str = "ws") -> Path:
    """The demo (fixture students) copied under `root` and built into `root/workspace`."""
    from hubkit import pipeline
    from hubkit.config import load_release
    from hubkit.workspace import Workspace

    fixture_models(copy_project(root) / "demo.yaml")  # publishing is the subject, not training
    pipeline.build(load_release(root / "configs" / "demo.yaml"), Workspace(root / workspace), report=lambda m: None)
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input_text: str | None = None):
    """The real `hubkit` entry point in a subprocess: real exit codes, real stderr."""
    full_env = {**os.environ, **NO_HUB, "COLUMNS": "200", **(env or {})}
    full_env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-m", "hubkit", *args],
        cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=600, input=input_text,
    )  # fmt: skip


KIMI = "khazarai/Qwen3-4B-Kimi2.5-Reasoning-Distilled"
QWEN = "khazarai/Qwen3-4B-Qwen3.6-plus-Reasoning-Distilled"


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory) -> dict[str, Path]:
    """Two tiny 9-layer Qwen3 models standing in for the seed's two distilled models."""
    from hubkit.testing import save_tiny_qwen3

    root = tmp_path_factory.mktemp("pair")
    return {
        KIMI: save_tiny_qwen3(root / "kimi", seed=1, layers=9),
        QWEN: save_tiny_qwen3(root / "qwen", seed=2, layers=9),
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubProcess:
    """`hubkit hub serve` in a real subprocess, so tests can kill and restart it."""

    def __init__(self, root: Path, token: str = "test-token", extra: tuple[str, ...] = ()):
        self.root, self.token, self.extra = root, token, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> HubProcess:
        import time

        import httpx

        cmd = [sys.executable, "-m", "hubkit", "hub", "serve", "--root", str(self.root), "--port", str(self.port)]
        env = {**os.environ, "HUBKIT_HUB_TOKEN": self.token}
        self.proc = subprocess.Popen([*cmd, *self.extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub died: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(f"{self.url}/api/models", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("hub did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def hub(tmp_path):
    h = HubProcess(tmp_path / "hub-data").start()
    yield h
    h.stop()


@pytest.fixture
def api(hub):
    from hubkit.hub.auth import hf_api

    return hf_api(hub.url, hub.token)


def find_browser() -> str | None:
    for name in (os.environ.get("HUBKIT_BROWSER"), "chromium", "google-chrome", "google-chrome-stable", "chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture
def browser():
    """Chromium through Playwright, headless; never `playwright install` (.ci/run finds or apt-installs one).

    Function-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, and code under test that calls asyncio.run() (dataset generation)
    fails inside it; build what a browser test needs in a fixture of wider scope."""
    path = find_browser()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium/Chrome on this CI machine: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium/Chrome here (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=flags)
        yield b
        b.close()


def output_dir(name: str) -> Path:
    """A folder for what a reviewer should look at (screenshots): test-output/<name>, gitignored."""
    out = Path(os.environ.get("HUBKIT_TEST_OUTPUT") or ROOT / "test-output") / name
    out.mkdir(parents=True, exist_ok=True)
    return out
