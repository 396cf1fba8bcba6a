"""Model-written code is hostile until proven otherwise: each attack is contained."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from hubkit.bench.extract import final_answer, last_boxed, last_fenced, strip_reasoning
from hubkit.bench.sandbox import Limits, run_python

FAST = Limits(wall_s=4, cpu_s=2)


def run(code: str, limits: Limits = FAST):
    return run_python({"main.py": code}, "main.py", limits=limits)


def test_ordinary_code_runs_and_reads_its_own_files():
    r = run_python({"main.py": "import data\nprint(data.X * 2)", "data.py": "X = 21"}, "main.py")
    assert r.ok and r.stdout == "42\n"


def test_infinite_loop_is_stopped():
    t = time.monotonic()
    r = run("while True:\n    pass\n")
    assert not r.ok and time.monotonic() - t < FAST.wall_s + 3


def test_fork_bomb_is_contained_and_leaves_nothing_behind():
    marker = "hubkit-forkbomb-marker"
    r = run(f"import os\nMARK = '{marker}'\nwhile True:\n    os.fork()\n")
    assert not r.ok and "not allowed" in r.stderr
    time.sleep(0.3)
    alive = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _cmdline(p).count("main.py") and marker in _cmdline(p)
    ]
    assert alive == []


def _cmdline(p: Path) -> str:
    try:
        return (p / "cmdline").read_bytes().decode(errors="ignore")
    except OSError:
        return ""


def test_huge_allocation_fails_inside_the_sandbox():
    r = run("x = bytearray(10 * 1024 ** 3)\nprint('allocated')\n")
    assert not r.ok and "MemoryError" in r.stderr and "allocated" not in r.stdout


def test_writes_outside_its_folder_are_refused(tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)  # even a world-writable folder stays out of reach
    r = run(f"open({str(target)!r}, 'w').write('x')\n")
    assert not r.ok and not target.exists()
    r = run(f"import os\nos.remove({str(Path(__file__).resolve())!r})\n")
    assert not r.ok and Path(__file__).exists()
    r = run("open('inside.txt', 'w').write('fine')\nprint(open('inside.txt').read())\n")
    assert r.ok and r.stdout == "fine\n"


def test_the_environment_holds_no_secrets(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123456")
    r = run("import os\nprint(dict(os.environ))\n")
    assert r.ok and "hf_secret_value_123456" not in r.stdout and "HF_TOKEN" not in r.stdout


def test_sockets_are_refused_and_nothing_arrives():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]
    got = []
    threading.Thread(target=lambda: _accept(server, got), daemon=True).start()
    r = run(f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\ns.send(b'leak')\n")
    time.sleep(0.5)
    server.close()
    assert not r.ok and got == []


def _accept(server, got):
    with contextlib.suppress(OSError):
        got.append(server.accept())


@pytest.mark.parametrize("code", [
    "import subprocess\nsubprocess.run(['id'])\n",
    "import os\nos.system('id')\n",
    "import ctypes\nctypes.CDLL(None)\n",
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
])  # fmt: skip
def test_new_processes_signals_and_ctypes_are_refused(code):
    r = run(code)
    assert not r.ok and "sandbox:" in r.stderr


def test_nothing_runs_in_the_graders_process():
    before = dict(sys.modules)
    r = run("import builtins, sys\nbuiltins.HACKED = True\nsys.exit(0)\n")
    assert r.ok and not hasattr(__builtins__, "HACKED") and sys.modules.keys() == before.keys()


PROBE = r"""
import json, os, resource, sys
seen = {"env": sorted(os.environ), "cwd": os.getcwd(), "files": sorted(os.listdir(".")), "uid": os.getuid(),
        "as": resource.getrlimit(resource.RLIMIT_AS)[0], "pid": os.getpid(), "version": sys.version}
try:
    seen["net"] = [line.split(":")[0].strip() for line in open("/proc/self/net/dev").read().splitlines()[2:]]
except OSError:
    seen["net"] = None
seen["mounts"] = [(f[4], f[f.index("-") + 1]) for f in (line.split() for line in open("/proc/self/mountinfo"))]
try:
    open("/tmp/hubkit-probe-outside", "w").close()
    seen["hook"] = False
except PermissionError as e:
    seen["hook"] = str(e).startswith("sandbox:")
print(json.dumps(seen))
"""


@pytest.fixture(params=["as set up here", "without private mounts"])
def launcher(request, monkeypatch):
    """The sandbox as this machine sets it up, and as one where no private mount namespace is
    allowed (where nobody cannot read the interpreter, it must then run as root and say so)."""
    from hubkit.bench import sandbox

    monkeypatch.setattr(sandbox, "_LAUNCHER", None)
    if request.param == "without private mounts":
        monkeypatch.setattr(sandbox, "_hiding_script", lambda *a: None)
    return request.param


def test_isolation_labels_are_what_the_answer_observes(monkeypatch, launcher):
    """Each label the sandbox reports is a layer the code inside can observe, and no more."""
    from hubkit.bench.sandbox import _interpreter_paths, _reachable

    monkeypatch.setenv("HUBKIT_CANARY", "visible-only-outside")
    r = run_python({"main.py": PROBE}, "main.py")
    assert r.ok, r.stderr
    seen = json.loads(r.stdout)
    tmpfs = {point for point, fstype in seen["mounts"] if fstype == "tmpfs"}
    observed = {
        "clean env": set(seen["env"]) <= {"HOME", "LANG", "PATH", "TMPDIR"},
        "own folder": seen["cwd"].startswith(tempfile.gettempdir()) and seen["files"] == ["_boot.py", "main.py"],
        "rlimits": seen["as"] == Limits().memory_mb << 20,
        "audit hook": seen["hook"] is True,
        "no network (netns)": seen["net"] == ["lo"],
        "pid namespace": seen["pid"] <= 2,
        "runs as nobody": seen["uid"] == 65534,
    }
    for label in r.isolation:  # "private mounts (/root hidden)": each named folder is an empty tmpfs there
        if label.startswith("private mounts ("):
            observed[label] = set(label[len("private mounts (") : -len(" hidden)")].split(", ")) <= tmpfs
    assert set(r.isolation) == {label for label, held in observed.items() if held}, (r.isolation, seen)
    assert not os.path.exists("/tmp/hubkit-probe-outside")
    assert seen["version"] == sys.version  # the interpreter's own standard library, not another one
    if os.geteuid() == 0 and not all(_reachable(p) for p in _interpreter_paths()):
        # nobody cannot read this interpreter: either the private mounts make it readable, or it runs as root
        assert ("runs as nobody" in r.isolation) is (launcher == "as set up here")


def test_a_sandbox_that_cannot_start_or_import_is_an_environment_error(monkeypatch):
    from hubkit.bench import sandbox
    from hubkit.bench.cases import case_by_id
    from hubkit.bench.graders import GraderUnavailable, grade

    r = run_python({"main.py": "print(1)"}, "main.py", requires=("hubkit_no_such_module",))
    assert r.env_error.startswith("the sandbox cannot import hubkit_no_such_module: ModuleNotFoundError")
    r = run_python({"main.py": "import hubkit_no_such_module"}, "main.py")  # the answer's own import: its failure
    assert r.env_error is None and not r.ok and "ModuleNotFoundError" in r.stderr
    for broken in (["/nonexistent/launcher"], [shutil.which("false")]):  # missing, or exits before Python starts
        monkeypatch.setattr(sandbox, "_LAUNCHER", (broken, []))
        r = run_python({"main.py": "print(1)"}, "main.py")
        assert r.env_error.startswith("the sandbox did not start"), r
        with pytest.raises(GraderUnavailable, match=r"python grader: the sandbox did not start.*answer was not graded"):
            grade(case_by_id("py-01").grader, case_by_id("py-01").reference)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("<think>long\nreasoning 7</think>\nThe answer is 42.", "The answer is 42."),
        ("<think>never closed, 99 is tempting", ""),
        ("pre-filled think</think>\n\nFinal answer: 12", "12"),
        ("Some text.\n**Final Answer:** $\\frac{3}{4}$\n", "$\\frac{3}{4}$"),
    ],
)
def test_reasoning_is_stripped_before_the_answer_is_taken(text, want):
    assert final_answer(text) == want


def test_boxed_and_fenced_extraction():
    assert last_boxed("first \\boxed{1} then \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{unclosed") is None
    text = "```sql\nSELECT 1;\n```\nthen\n```python\nprint(2)\n```\n```sql\nSELECT 2;\n```"
    assert last_fenced(text, ("sql",)) == "SELECT 2;"
    assert last_fenced(text, ("python", "py")) == "print(2)"
    assert last_fenced("no code") is None
    assert strip_reasoning("<think>```python\nbad()\n```</think>```python\ngood()\n```") == "```python\ngood()\n```"


@pytest.mark.skipif(os.geteuid() != 0, reason="the layout is root's: a venv under a mode-700 home, run as root")
def test_hubkit_in_a_venv_under_a_private_home_grades_python_as_root(tmp_path):
    """hubkit installed in a virtual environment nobody can read (root's home, mode 700), run as
    root: the sandbox drops to nobody, and the harness still imports hypothesis from that venv."""
    import hypothesis
    import sortedcontainers

    from tests.conftest import ROOT

    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    venv = home / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    (site,) = venv.glob("lib/python3.*/site-packages")
    for module in (hypothesis, sortedcontainers):  # what the harness imports lives only in the private venv
        shutil.copytree(Path(module.__file__).parent, site / module.__name__)
    for helper in Path(hypothesis.__file__).parent.parent.glob("_hypothesis_*.py"):
        shutil.copy(helper, site)
    # The grading process also finds hubkit and its dependencies; the sandbox (-I, a clean env) never
    # reads PYTHONPATH, so for it the private venv is the only place hypothesis is.
    shared = str(Path(hypothesis.__file__).parent.parent)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{ROOT}:{shared}", "HOME": str(home), "OMP_NUM_THREADS": "1"}
    python = str(venv / "bin" / "python")
    r = subprocess.run([python, "-m", "hubkit", "bench", "selfcheck"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "every reference passes" in r.stdout and "runs as nobody" in r.stdout, r.stdout
    assert f"private mounts ({home} hidden)" in r.stdout or "private mounts (" in r.stdout, r.stdout
    # hubkit eval checks each grader kind on a reference answer before it asks any model: it passes here too.
    code = "from hubkit.bench import cases, evaluate; print(evaluate.preflight(cases.load_cases()))"
    r = subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "'python'" in r.stdout, r.stderr[-3000:]
