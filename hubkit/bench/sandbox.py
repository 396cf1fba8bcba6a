"""Run untrusted, model-written Python in a separate, contained process.

Layers, each covering what the others might miss:
- a private temp folder as cwd and HOME, and a clean environment (no tokens, no proxies);
- Linux namespaces via `unshare` when available: no network at all, and a PID namespace, so
  every process the code starts dies with it;
- resource limits: CPU seconds, address space, file size, open files (and processes when
  not root); a wall-clock timeout that kills the whole process group;
- as root, the code runs as `nobody`; when `nobody` cannot read the interpreter's own files
  (hubkit in a virtual environment under root's home, mode 700), a private mount namespace
  hides each unreadable ancestor (e.g. /root) behind an empty tmpfs and mounts the
  interpreter's folders back, read-only, at their own paths; where no mount namespace is
  allowed, the code runs as root and the labels say so (`launcher()` decides once);
- a Python audit hook, installed before the code runs, that refuses writes outside the
  folder, sockets, new processes, signals and ctypes.
Nothing from the answer runs in the grader's own process. A sandbox that cannot start, or
cannot import what the harness needs (`requires`), is reported as `env_error`: the grader's
environment is broken, which is not a verdict on the answer.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534

BOOTED = "HUBKIT-BOOTED"  # the child's first words on stderr: the sandbox started
NEEDS = "HUBKIT-CANNOT-IMPORT"  # what the child says, and exits 3 with, when a required module is missing

# Runs first in the child: says it started, imports what the harness needs, installs the audit
# hook, then runs the answer's main file.
_BOOT = r"""
import os, sys
sys.stderr.write("HUBKIT-BOOTED\n")
sys.stderr.flush()
for _name in __REQUIRES__:
    try:
        __import__(_name)
    except Exception as _exc:  # the grader's environment, not the answer: reported apart
        sys.stderr.write(f"\nHUBKIT-CANNOT-IMPORT {_name}: {type(_exc).__name__}: {_exc}\n")
        sys.stderr.flush()
        os._exit(3)
ROOT = os.path.realpath(os.getcwd())
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
DENY = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
        "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
        "os.putenv", "os.unsetenv", "os.chdir", "sys.setprofile", "sys.settrace",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents"}  # the gc ones would find the nonce's closure
PATHS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
         "os.link", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"}

def _inside(p):
    try:
        p = os.path.realpath(os.fsdecode(p))
    except TypeError:
        return False
    return p == ROOT or p.startswith(ROOT + os.sep)

def _hook(event, args):
    if event in DENY:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            return
        writes = (flags & WRITE) if isinstance(flags, int) else any(c in str(mode or "") for c in "wax+")
        if writes and not _inside(path):
            raise PermissionError(f"sandbox: writing outside the sandbox folder: {path}")
    elif event in PATHS and not all(_inside(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
        raise PermissionError(f"sandbox: {event} outside the sandbox folder")

sys.addaudithook(_hook)
sys.path.insert(0, ROOT)  # -I leaves the script's folder off sys.path
sys.argv = [sys.argv[1]]


def _arm(code):
    # The nonce lives only in this hook's closure once _arm returns: no frame holds it while the
    # answer runs, and the gc functions that could find the closure are refused above.
    nonce = sys.stdin.readline().strip()

    def _done(event, args):
        if event == "hubkit.done" and sys._getframe(1).f_code is code:
            sys.stdout.write("\nHUBKIT-DONE " + nonce + "\n")
            sys.stdout.flush()

    sys.addaudithook(_done)


# The main file's own code object, compiled here: only its top level may prove completion.
_path = os.path.join(ROOT, sys.argv[0])
with open(_path) as _fh:
    _code = compile(_fh.read(), _path, "exec")
if __PROOF__:
    os.remove(_path)  # compiled: the answer cannot read the checks (or the reference they hold)
    _arm(_code)
del _arm
exec(_code, {"__name__": "__main__", "__file__": _path, "__builtins__": __builtins__})
"""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 1024
    file_mb: int = 16
    open_files: int = 64
    processes: int = 32  # applies when not root (root ignores RLIMIT_NPROC; namespaces cover it)


@dataclass
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    isolation: list[str] = field(default_factory=list)
    proved: bool = False  # run with proof=True: the main file reached its last statement
    env_error: str | None = None  # the sandbox did not start, or could not import what was required

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _namespaces() -> list[str]:
    """The `unshare` prefix that works on this machine, or [] (checked once per process)."""
    global _NS
    if _NS is None:
        _NS = []
        exe = shutil.which("unshare")
        if exe:
            base = [exe, "--net", "--pid", "--fork", "--kill-child"]
            for cmd in (base, [*base[:1], "--map-root-user", *base[1:]]):
                try:
                    if subprocess.run([*cmd, "true"], capture_output=True, timeout=10).returncode == 0:
                        _NS = cmd
                        break
                except (OSError, subprocess.SubprocessError):
                    continue
    return _NS


_NS: list[str] | None = None


def _reachable(path: Path, read: bool = True) -> bool:
    """Whether user nobody can reach `path` (search every folder on the way) and list it."""
    path = Path(os.path.realpath(path))
    for d in [*reversed(path.parents), path]:
        try:
            st = d.stat()
        except OSError:
            return False
        shift = 6 if st.st_uid == NOBODY else 3 if st.st_gid == NOBODY else 0
        want = (stat.S_IXOTH | (stat.S_IROTH if read and d == path else 0)) << shift
        if st.st_mode & want != want:
            return False
    return True


def _interpreter_paths() -> list[Path]:
    """The folders the sandboxed interpreter reads: its prefixes, its binary's folder, and the
    entries of its own sys.path (asked of the interpreter, run as the sandbox runs it)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(sys.executable)}  # fmt: skip
    probe = subprocess.run([sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)  # fmt: skip
    if probe.returncode == 0:
        found |= {p if os.path.isdir(p) else os.path.dirname(p) for p in json.loads(probe.stdout) if p}
    paths = sorted({Path(os.path.realpath(p)) for p in found if p and os.path.isdir(p)})
    return [p for p in paths if not any(q != p and q in p.parents for q in paths)]  # outermost only


def _blocked(path: Path) -> Path:
    """The outermost folder on the way to `path` that nobody cannot search (e.g. /root)."""
    for d in [*reversed(path.parents), path]:
        if not _reachable(d, read=False):
            return d
    return path


def _hiding_script(needed: list[Path], stage: Path) -> tuple[str, list[Path]] | None:
    """A shell script that, in a private mount namespace, hides each folder nobody cannot search
    behind an empty tmpfs and mounts `needed` back read-only at its own path (None if a needed
    folder is unreadable even then, or the temp folder would be hidden)."""
    hidden = sorted({_blocked(p) for p in needed if not _reachable(p)})
    hidden = [h for h in hidden if not any(o != h and o in h.parents for o in hidden)]
    if any(not _reachable(p) and _blocked(p) == p for p in needed):
        return None  # the folder itself is closed: no mount makes it readable
    temp = Path(os.path.realpath(tempfile.gettempdir()))
    if any(h == temp or h in temp.parents or h == Path("/") for h in hidden):
        return None
    lines = ["set -e"]
    under = [p for p in needed if any(h == p or h in p.parents for h in hidden)]
    for i, p in enumerate(under):
        (stage / str(i)).mkdir(exist_ok=True)
        lines.append(f"mount --bind {shlex.quote(str(p))} {stage / str(i)}")
    lines += [f"mount -t tmpfs -o mode=755,size=64k hubkit-hidden {shlex.quote(str(h))}" for h in hidden]
    for i, p in enumerate(under):
        q = shlex.quote(str(p))
        lines += [f"mkdir -p {q}", f"mount --bind {stage / str(i)} {q}", f"mount -o remount,bind,ro {q}"]
    return "\n".join([*lines, "unset PWD OLDPWD SHLVL", 'exec "$@"']), hidden  # the shell's own variables stay out


_LAUNCHER: tuple[list[str], list[str]] | None = None


def launcher() -> tuple[list[str], list[str]]:
    """(the command prefix that contains a run, the isolation layers it applies), decided once
    per process (`_decide`)."""
    global _LAUNCHER
    if _LAUNCHER is None:
        _LAUNCHER = _decide()
    return _LAUNCHER


def _decide() -> tuple[list[str], list[str]]:
    """Namespaces where available; as root, a drop to nobody, with a private mount namespace when
    nobody cannot otherwise read the interpreter, and as root with neither."""
    ns = _namespaces()
    layers = ["no network (netns)", "pid namespace"] if ns else []
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        return (ns, layers)
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    needed = _interpreter_paths()
    if all(_reachable(p) for p in needed):
        return ([*ns, *drop], [*layers, "runs as nobody"])
    stage = Path(tempfile.mkdtemp(prefix="hubkit-stage-"))
    atexit.register(shutil.rmtree, stage, ignore_errors=True)
    plan = _hiding_script(needed, stage)
    if plan and ns and (mount := ns[:1] + ["--mount"] + [a for a in ns[1:] if a != "--map-root-user"]):
        script, hidden = plan
        prefix = [*mount, "sh", "-c", script, "hubkit-sandbox", *drop]
        probe = [*prefix, sys.executable, "-I", "-c", "import sys"]
        try:
            ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            hides = ", ".join(map(str, hidden))
            return (prefix, [*layers, "runs as nobody", f"private mounts ({hides} hidden)"])
    # Nobody cannot read the interpreter and no private mount namespace is allowed: the run
    # keeps every other layer, as root; "runs as nobody" is absent from its labels.
    return (ns, layers)


def describe() -> str:
    """The layers a run gets here, in a line (what `bench selfcheck` prints)."""
    return ", ".join(_labels(launcher()[1]))


def _labels(layers: list[str]) -> list[str]:
    """Every layer a run gets, in order: env=, cwd=, the launcher's, contain()'s rlimits, _boot.py's hook."""
    return ["clean env", "own folder", *layers, "rlimits", "audit hook"]


def run_python(files: dict[str, str], main: str, *, limits: Limits = Limits(), stdin: str = "",
               proof: bool = False, requires: tuple[str, ...] = ()) -> RunResult:  # fmt: skip
    """Write `files` into a fresh folder and run `main` there under the sandbox.

    `proof`: exit codes are not trusted (code can `sys.exit(0)` or `os._exit(0)` before the
    checks run). The main file's last statement `sys.audit("hubkit.done")` prints a per-run
    nonce, which only that statement, at the main file's top level, can reveal; the result's
    `proved` says whether it appeared. `requires`: modules the child imports before any of
    the files runs; one that is missing is an `env_error`, not a failed run.
    """
    import secrets

    nonce = secrets.token_hex(16) if proof else ""
    root = Path(tempfile.mkdtemp(prefix="hubkit-sandbox-"))
    try:
        for name, text in files.items():
            path = (root / name).resolve()
            if root.resolve() not in path.parents:
                raise ValueError(f"sandbox file outside its folder: {name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        boot = _BOOT.replace("__PROOF__", str(proof)).replace("__REQUIRES__", repr(tuple(requires)))
        (root / "_boot.py").write_text(boot)
        as_root = os.geteuid() == 0
        prefix, layers = launcher()
        if "runs as nobody" in layers:
            for p in [root, *root.rglob("*")]:
                os.chown(p, NOBODY, NOBODY)
        # Each layer is named as it is applied: the labels say what this run really had.
        isolation = _labels(layers)
        cmd = list(prefix)

        def contain() -> None:
            os.setsid()
            mb = 1 << 20
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if not as_root:
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

        cmd += [sys.executable, "-I", "-B", str(root / "_boot.py"), main]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "TMPDIR": str(root), "LANG": "C.UTF-8"}
        try:
            proc = subprocess.Popen(
                cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=contain, text=True,
            )  # fmt: skip
        except OSError as exc:  # the launcher itself is missing or not executable
            return RunResult(None, "", "", False, isolation, env_error=f"the sandbox did not start: {exc}")
        try:
            out, err = proc.communicate(f"{nonce}\n{stdin}" if proof else stdin, timeout=limits.wall_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            timed_out = True
        proved = proof and f"\nHUBKIT-DONE {nonce}\n" in out
        out = out.replace(f"\nHUBKIT-DONE {nonce}\n", "\n") if proof else out
        started = err.startswith(BOOTED + "\n")
        err = err.removeprefix(BOOTED + "\n")
        env_error = None
        if not started and not timed_out:
            env_error = f"the sandbox did not start: {(err.strip().splitlines() or ['no output'])[-1][:200]}"
        elif proc.returncode == 3 and f"\n{NEEDS} " in err:
            env_error = "the sandbox cannot import " + err.rsplit(f"\n{NEEDS} ", 1)[1].strip().splitlines()[0][:200]
        return RunResult(proc.returncode, out[-20000:], err[-20000:], timed_out, isolation, proved, env_error)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
