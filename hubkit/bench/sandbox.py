"""Run untrusted, model-written Python in a separate, contained process.

Layers, each covering what the others might miss:
- a private temp folder as cwd and HOME, and a clean environment (no tokens, no proxies);
- Linux namespaces via `unshare` when available: no network at all, and a PID namespace, so
  every process the code starts dies with it;
- resource limits: CPU seconds, address space, file size, open files (and processes when
  not root); a wall-clock timeout that kills the whole process group;
- as root, the code runs as `nobody`;
- a Python audit hook, installed before the code runs, that refuses writes outside the
  folder, sockets, new processes, signals and ctypes.
Nothing from the answer runs in the grader's own process.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534

# Runs first in the child: installs the audit hook, then the answer's main file.
_BOOT = r"""
import os, sys
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


def run_python(files: dict[str, str], main: str, *, limits: Limits = Limits(), stdin: str = "",
               proof: bool = False) -> RunResult:  # fmt: skip
    """Write `files` into a fresh folder and run `main` there under the sandbox.

    `proof`: exit codes are not trusted (code can `sys.exit(0)` or `os._exit(0)` before the
    checks run). The main file's last statement `sys.audit("hubkit.done")` prints a per-run
    nonce, which only that statement, at the main file's top level, can reveal; the result's
    `proved` says whether it appeared.
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
        (root / "_boot.py").write_text(_BOOT.replace("__PROOF__", str(proof)))
        as_root = os.geteuid() == 0
        if as_root:
            for p in [root, *root.rglob("*")]:
                os.chown(p, NOBODY, NOBODY)
        # Each layer is named as it is applied: the labels say what this run really had.
        isolation = ["clean env", "own folder"]  # env= and cwd= of the Popen below
        cmd = [*_namespaces()]
        if cmd:
            isolation += ["no network (netns)", "pid namespace"]
        if as_root and (setpriv := shutil.which("setpriv")):
            cmd += [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            isolation.append("runs as nobody")
        isolation += ["rlimits", "audit hook"]  # contain() below; _boot.py installs the hook first

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
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=contain, text=True,
        )  # fmt: skip
        try:
            out, err = proc.communicate(f"{nonce}\n{stdin}" if proof else stdin, timeout=limits.wall_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            timed_out = True
        proved = proof and f"\nHUBKIT-DONE {nonce}\n" in out
        out = out.replace(f"\nHUBKIT-DONE {nonce}\n", "\n") if proof else out
        return RunResult(proc.returncode, out[-20000:], err[-20000:], timed_out, isolation, proved)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
