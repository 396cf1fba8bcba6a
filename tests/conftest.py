from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubkit.retry import Backoff

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


# Any use of the default Hub endpoint goes to a closed local port and fails at once; tests
# that publish pass their own local hub's URL explicitly. Set for the whole session, before any
# test module imports huggingface_hub (which reads HF_ENDPOINT once), so session- and
# module-scoped fixtures never see a developer's real endpoint or token either.
NO_HUB = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": ""}
LOOPBACK = ("127.", "::1", "localhost")
NO_WAIT = Backoff(base=0.0, jitter=False)  # retries without back-off sleeps (a server's Retry-After still holds)


class NetworkRefused(OSError):
    """A test tried to reach a host that is not this machine."""


def _guard_sockets() -> None:
    """Refuse, in this process, any connection or name lookup that is not loopback (or a Unix socket)."""
    import socket

    def local(host) -> bool:
        return isinstance(host, str) and (host.startswith(LOOPBACK) or host in ("", "0.0.0.0"))

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            raise NetworkRefused(f"tests may not reach {address[0]}:{address[1]} (loopback only)")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not local(host if isinstance(host, str) else host.decode()):
            raise NetworkRefused(f"tests may not look up {host!r} (loopback only)")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


def pytest_configure(config):
    os.environ.update(NO_HUB)
    os.environ.pop("HF_HUB_OFFLINE", None)
    _guard_sockets()


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


def quick_students(config: Path) -> Path:
    """The demo's students trained for one step each, from bases of their own (seeds 1 and 2),
    for tests about the other stages (publishing, staleness, evaluation, the Space): the real
    training path, in seconds. The demo itself, its cards and tests/test_train.py train in full.
    A test makes a student change by changing its `base_fixture.seed`.
    """
    import yaml

    recipe = yaml.safe_load((config.parent / "train" / "demo-lora.yaml").read_text())
    recipe["sft"].update(max_steps=1, save_steps=1, warmup_steps=0)
    (config.parent / "train" / "quick.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    data = yaml.safe_load(config.read_text())
    for i, m in enumerate(data["models"]):
        m["base_fixture"]["seed"] = i + 1
        m["train"]["config"] = "train/quick.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


# -- demo workspaces built once per session ---------------------------------------------------
# Building the demo is the costliest thing the suite does, so each distinct demo is built once
# per session (once in all, under pytest-xdist: the first worker builds, behind a file lock,
# the others wait and reuse it). Tests never change a shared build: they take a copy
# (`copy_demo`), and the graph rebuilds only what a test's change makes stale.


def _shared(tmp_path_factory, name: str, make) -> Path:
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, shared by the workers
    root = base / f"shared-{name}"
    with FileLock(f"{root}.lock"):
        if not (root / ".built").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            make(root)
            (root / ".built").write_text("")
    return root


def copy_demo(src: Path, dst: Path, workspace: str = "ws") -> Path:
    """A private copy of a shared demo (configs, cards, spaces, the workspace renamed `workspace`)."""

    def ignore(folder, names):
        return [".built"] if Path(folder) == src else []

    shutil.copytree(src, dst, ignore=ignore)
    if workspace != "ws":
        (dst / "ws").rename(dst / workspace)
    return dst


@pytest.fixture(scope="session")
def fixture_demo(tmp_path_factory) -> Path:
    """The demo with quick students (publishing, cards, evaluation, Space are the subject), built;
    what the build reported is in `build.log`."""

    def make(root: Path) -> None:
        from hubkit import pipeline
        from hubkit.config import load_release
        from hubkit.workspace import Workspace

        quick_students(copy_project(root) / "demo.yaml")
        said: list[str] = []
        pipeline.build(load_release(root / "configs" / "demo.yaml"), Workspace(root / "ws"), report=said.append)
        (root / "build.log").write_text("\n".join(said) + "\n")

    return _shared(tmp_path_factory, "fixture-demo", make)


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory) -> Path:
    """The demo exactly as `make demo` builds it (students trained for real), by the real entry
    point in a process of its own; what it printed is in `build.log`."""

    def make(root: Path) -> None:
        config = copy_project(root) / "demo.yaml"
        r = run_cli_process("build", "-c", str(config), "-w", str(root / "ws"))
        (root / "build.log").write_text(r.stdout)
        assert r.returncode == 0, r.stderr[-3000:]

    return _shared(tmp_path_factory, "trained-demo", make)


# -- the CLI ------------------------------------------------------------------------------------


@dataclass
class Ran:
    """What a `hubkit` command did: exit code and what it printed (as subprocess.run gives)."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input_text: str | bytes | None = None) -> Ran:
    """`hubkit ARGS` in this process through the real entry point (`hubkit.cli.main`): its exit
    code, stdout and stderr (also log records and uncaught tracebacks, as a process would show
    them). For what needs a process boundary (kill -9, launchers, imports), use run_cli_process."""
    import contextlib
    import io
    import logging
    import traceback

    from hubkit.cli import main

    if any(k.startswith("HF_") and k != "HF_TOKEN" for k in env or {}):
        # huggingface_hub reads these once, at import: only a new process sees them as a user's would.
        return run_cli_process(*args, cwd=cwd, env=env, input_text=input_text)

    changes = {"COLUMNS": "200", **(env or {})}
    saved_env = {k: os.environ.get(k) for k in changes}
    out, err = io.StringIO(), io.StringIO()
    data = input_text.encode() if isinstance(input_text, str) else (input_text or b"")
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    saved = sys.argv, sys.stdin, os.getcwd()
    handler = logging.StreamHandler(err)
    code = 0
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sys.argv, sys.stdin = ["hubkit", *args], stdin
        os.chdir(cwd or ROOT)
        logging.getLogger().addHandler(handler)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                if isinstance(exit_.code, str):
                    err.write(exit_.code + "\n")
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except BaseException:  # what the interpreter would print before exiting 1
                traceback.print_exc(file=err)
                code = 1
    finally:
        logging.getLogger().removeHandler(handler)
        sys.argv, sys.stdin = saved[0], saved[1]
        os.chdir(saved[2])
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Ran(code, out.getvalue(), err.getvalue())


def run_cli_process(*args: str, cwd: Path | None = None, env: dict | None = None,
                    input_text: str | bytes | None = None) -> Ran:
    """The real `hubkit` entry point in a subprocess: real exit codes, real stderr."""
    full_env = {**os.environ, **NO_HUB, "COLUMNS": "200", **(env or {})}
    full_env.pop("HF_HUB_OFFLINE", None)
    data = input_text.encode() if isinstance(input_text, str) else input_text
    r = subprocess.run([sys.executable, "-m", "hubkit", *args], cwd=cwd or ROOT, env=full_env, capture_output=True,
                       timeout=600, input=data)  # fmt: skip
    return Ran(r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))


KIMI = "khazarai/Qwen3-4B-Kimi2.5-Reasoning-Distilled"
QWEN = "khazarai/Qwen3-4B-Qwen3.6-plus-Reasoning-Distilled"


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory) -> dict[str, Path]:
    """Two tiny 9-layer Qwen3 models standing in for the seed's two distilled models."""
    from hubkit.offline import save_tiny_qwen3

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
    """`hubkit hub serve` in a real subprocess, so tests can kill and restart it (its stderr to `log`
    if given, for tests that read what the server logged). With `crash_after_bytes`, the test
    kit's hub (hubkit.testing.hub) that dies once it has received that many bytes."""

    def __init__(self, root: Path, token: str = "test-token", extra: tuple[str, ...] = (), log: Path | None = None,
                 crash_after_bytes: int | None = None):  # fmt: skip
        self.root, self.token, self.extra, self.log = root, token, extra, log
        self.crash_after_bytes = crash_after_bytes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> HubProcess:
        import time

        import httpx

        where = ["--root", str(self.root), "--port", str(self.port)]
        cmd = [sys.executable, "-m", "hubkit", "hub", "serve", *where]
        if self.crash_after_bytes is not None:
            fault = ["--crash-after-bytes", str(self.crash_after_bytes)]
            cmd = [sys.executable, "-m", "hubkit.testing.hub", *where, *fault]
        env = {**os.environ, "HUBKIT_HUB_TOKEN": self.token}
        stderr = self.log.open("ab") if self.log else subprocess.PIPE
        self.proc = subprocess.Popen([*cmd, *self.extra], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        if self.log:
            stderr.close()  # the child holds its own copy
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.log.read_text() if self.log else self.proc.stderr.read().decode()
                raise RuntimeError(f"hub died: {said}")
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


class LocalHub:
    """`hubkit hub serve`'s app served from a thread of this process: a fresh hub costs
    milliseconds, not a Python start. HubProcess is for tests that kill or restart the server."""

    def __init__(self, root: Path, token: str = "test-token"):
        from hubkit.localhub.server import BackgroundHub

        self.root, self.token = root, token
        self._server = BackgroundHub(root, token).__enter__()
        self.url = self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None


@pytest.fixture
def hub(tmp_path):
    h = LocalHub(tmp_path / "hub-data")
    yield h
    h.stop()


@pytest.fixture
def hub_endpoint(hub, monkeypatch, tmp_path):
    """This process's huggingface_hub pointed at `hub`, as HF_ENDPOINT set before import would."""
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "ENDPOINT", hub.url)
    monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return hub


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


@pytest.fixture
def no_library_backoff(monkeypatch):
    """huggingface_hub's own retries (http_backoff) without their sleeps: what it would have waited."""
    import time

    from huggingface_hub.utils import _http

    waited: list[float] = []

    class Clock:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            waited.append(seconds)

    monkeypatch.setattr(_http, "time", Clock())
    return waited
