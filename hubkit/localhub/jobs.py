"""Hugging Face Jobs in the local hub: the Jobs API's jobs run as local processes.

A job is its command (and arguments) run in a scratch folder under `<root>/jobs/scratch/` with
the given environment and secrets. There is no container: the image is recorded, not pulled, and
the command runs in this hub's own environment (its Python's bin folder first on PATH,
PYTHONPATH passed through, HOME the scratch folder), so `hubkit` in a job is the hubkit that
serves the hub. Nothing else of the hub's environment reaches a job (never its token).

Secrets reach the process's environment only: the record on disk and every answer name them,
never their values. Stages: SCHEDULING until the process starts, RUNNING, then COMPLETED (exit
0), ERROR (a non-zero exit, a command that cannot start, the timeout) or CANCELED. Logs are kept
as JSON lines (timestamp, text) beside the record. When the hub stops, its running jobs are
stopped (ERROR); a job left RUNNING by a hub that died is marked ERROR when the next one starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hubkit.localhub.store import HubError, _write_json, now

TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")
DEFAULT_TIMEOUT = 30 * 60  # the Hub's default
STARTED = "===== Job started"  # huggingface_hub drops log lines starting with this
# What a job inherits from the hub's environment: enough to run its Python, nothing secret.
PASSED = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
          "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV", "SSL_CERT_FILE")  # fmt: skip


def _flavor(name: str, pretty: str, cpu: str, ram: str, usd_per_hour: float, gpu: str | None = None,
            count: int = 1, vram: str = "") -> dict[str, Any]:  # fmt: skip
    micro = round(usd_per_hour * 1_000_000 / 60)
    accelerator = {"type": "gpu", "model": gpu, "quantity": str(count), "vram": vram, "manufacturer": "Nvidia"}
    return {"name": name, "prettyName": pretty, "cpu": cpu, "ram": ram, "ephemeralStorage": "N/A",
            "accelerator": accelerator if gpu else None, "unitCostMicroUSD": micro, "unitCostUSD": micro / 1e6,
            "unitLabel": "minute"}  # fmt: skip


# `GET /api/jobs/hardware`, in the Hub's shape. Offline there is no price list to ask: these are the
# Hub's list prices per hour for the common flavors as this table was written (huggingface.co/pricing),
# so `hubkit status` can show a price cap against a local hub. The Hub's own answer is authoritative.
HARDWARE = [
    _flavor("cpu-basic", "CPU Basic", "2 vCPU", "16 GB", 0.01),
    _flavor("cpu-upgrade", "CPU Upgrade", "8 vCPU", "32 GB", 0.03),
    _flavor("t4-small", "Nvidia T4 - small", "4 vCPU", "15 GB", 0.40, "T4", 1, "16 GB"),
    _flavor("t4-medium", "Nvidia T4 - medium", "8 vCPU", "30 GB", 0.60, "T4", 1, "16 GB"),
    _flavor("l4x1", "1x Nvidia L4", "8 vCPU", "30 GB", 0.80, "L4", 1, "24 GB"),
    _flavor("l4x4", "4x Nvidia L4", "48 vCPU", "186 GB", 3.80, "L4", 4, "96 GB"),
    _flavor("l40sx1", "1x Nvidia L40S", "8 vCPU", "62 GB", 1.80, "L40S", 1, "48 GB"),
    _flavor("l40sx4", "4x Nvidia L40S", "48 vCPU", "382 GB", 8.30, "L40S", 4, "192 GB"),
    _flavor("l40sx8", "8x Nvidia L40S", "192 vCPU", "1534 GB", 23.50, "L40S", 8, "384 GB"),
    _flavor("a10g-small", "Nvidia A10G - small", "4 vCPU", "15 GB", 1.00, "A10G", 1, "24 GB"),
    _flavor("a10g-large", "Nvidia A10G - large", "12 vCPU", "46 GB", 1.50, "A10G", 1, "24 GB"),
    _flavor("a10g-largex2", "2x Nvidia A10G - large", "24 vCPU", "92 GB", 3.00, "A10G", 2, "48 GB"),
    _flavor("a10g-largex4", "4x Nvidia A10G - large", "48 vCPU", "184 GB", 5.00, "A10G", 4, "96 GB"),
    _flavor("a100-large", "Nvidia A100 - large", "12 vCPU", "142 GB", 2.50, "A100", 1, "80 GB"),
    _flavor("h200", "Nvidia H200", "23 vCPU", "256 GB", 5.00, "H200", 1, "141 GB"),
]  # fmt: skip
FLAVORS = {h["name"] for h in HARDWARE}


def parse(s: str) -> datetime:
    """A time as the store writes it (`store.now()`)."""
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@dataclass
class Live:
    """A job of this hub process that has not finished: its process, once started, and why it stops."""

    proc: subprocess.Popen | None = None
    stop: str | None = None  # "cancel" or "close" (the hub stopping)
    done: threading.Event = field(default_factory=threading.Event)


def _kill(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the job's whole process group: what it started dies with it


class JobStore:
    """Every job of one local hub: records and logs under `<root>/jobs/<namespace>/`."""

    def __init__(self, root: Path | str):
        self.root = Path(root) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.live: dict[str, Live] = {}
        self.closing = False
        for path in self.root.glob("*/*.json"):  # left running by a hub process that is gone
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if rec["status"]["stage"] not in TERMINAL:
                self._finish(rec, "ERROR", "lost: the local hub stopped while this job ran")

    # --- records -----------------------------------------------------------------------
    def _path(self, namespace: str, job_id: str, suffix: str = ".json") -> Path:
        return self.root / namespace / f"{job_id}{suffix}"

    def _save(self, rec: dict[str, Any]) -> None:
        _write_json(self._path(rec["namespace"], rec["id"]), rec)

    def get(self, namespace: str, job_id: str) -> dict[str, Any]:
        if not job_id.isalnum():
            raise HubError(404, "Job not found")
        try:
            return json.loads(self._path(namespace, job_id).read_text())
        except FileNotFoundError:
            raise HubError(404, f"Job not found: {job_id[:40]}") from None

    def find(self, namespace: str, stages: list[str], labels: dict[str, str]) -> list[dict[str, Any]]:
        """Newest first, filtered by stage (any of) and labels (all of)."""
        out = []
        for path in (self.root / namespace).glob("*.json"):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if stages and rec["status"]["stage"] not in stages:
                continue
            if any(rec["labels"].get(k) != v for k, v in labels.items()):
                continue
            out.append(rec)
        return sorted(out, key=lambda r: (r["createdAt"], r["id"]), reverse=True)

    def _update(self, rec: dict[str, Any], **changes: Any) -> None:
        """Change fields of the stored record (read again: labels may have changed meanwhile)."""
        with self.lock:
            stored = self.get(rec["namespace"], rec["id"])
            stored.update(changes)
            self._save(stored)

    def _finish(self, rec: dict[str, Any], stage: str, message: str | None) -> None:
        self._update(rec, status={"stage": stage, "message": message}, finishedAt=now())

    # --- running -----------------------------------------------------------------------
    def start(self, namespace: str, spec, env_secrets: dict[str, str]) -> dict[str, Any]:
        """Record a job, start its process in a thread; the secrets live in that process only."""
        if self.closing:
            raise HubError(503, "The local hub is stopping")
        rec = {
            "id": secrets.token_hex(12), "namespace": namespace, "createdAt": now(), "startedAt": None,
            "finishedAt": None, "dockerImage": spec.dockerImage, "spaceId": spec.spaceId, "command": spec.command,
            "arguments": spec.arguments, "environment": spec.environment, "secrets": sorted(env_secrets),
            "flavor": spec.flavor, "labels": spec.labels, "timeoutSeconds": spec.timeoutSeconds or DEFAULT_TIMEOUT,
            "status": {"stage": "SCHEDULING", "message": None},
        }  # fmt: skip
        with self.lock:
            self._save(rec)
            self.live[rec["id"]] = Live()
        threading.Thread(target=self._run, args=(rec, dict(env_secrets)), daemon=True, name=f"job-{rec['id']}").start()
        return rec

    def _environment(self, scratch: Path, rec: dict[str, Any], env_secrets: dict[str, str]) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED if k in os.environ}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        env["HOME"] = str(scratch)
        return {**env, **rec["environment"], **env_secrets}

    def _run(self, rec: dict[str, Any], env_secrets: dict[str, str]) -> None:
        live = self.live[rec["id"]]
        scratch = self.root / "scratch" / rec["id"]
        scratch.mkdir(parents=True, exist_ok=True)
        log = self._path(rec["namespace"], rec["id"], ".log").open("a", encoding="utf-8")
        try:
            self._line(log, f"{STARTED} at {now()} =====")
            cmd = [*rec["command"], *rec["arguments"]]
            with self.lock:
                if live.stop is None:
                    try:
                        live.proc = subprocess.Popen(
                            cmd, cwd=scratch, env=self._environment(scratch, rec, env_secrets),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )  # fmt: skip
                    except OSError as exc:
                        why = f"cannot start {cmd[0][:100]!r}: {exc.strerror or exc}"
                        self._line(log, why)
                        self._finish(rec, "ERROR", why)
                        return
                    self._update(rec, startedAt=now(), status={"stage": "RUNNING", "message": None})
            env_secrets.clear()
            if live.proc is None:  # canceled (or the hub stopped) before it started
                self._finish(rec, "CANCELED" if live.stop == "cancel" else "ERROR", self._stopped(live))
                return
            reader = threading.Thread(target=self._copy, args=(live.proc, log), daemon=True)
            reader.start()
            timed_out = False
            try:
                code = live.proc.wait(timeout=rec["timeoutSeconds"])
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(live.proc, signal.SIGKILL)
                code = live.proc.wait()
            reader.join(timeout=10)
            if live.stop is not None:
                stage, message = ("CANCELED" if live.stop == "cancel" else "ERROR"), self._stopped(live)
            elif timed_out:
                stage, message = "ERROR", f"Job timed out: it ran longer than its timeout of {rec['timeoutSeconds']}s"
            elif code == 0:
                stage, message = "COMPLETED", None
            else:
                stage, message = "ERROR", f"Job failed with exit code {code}"
            if message:
                self._line(log, message)
            self._finish(rec, stage, message)
        finally:
            log.close()
            shutil.rmtree(scratch, ignore_errors=True)
            with self.lock:
                self.live.pop(rec["id"], None)
            live.done.set()

    @staticmethod
    def _stopped(live: Live) -> str:
        return "Job canceled" if live.stop == "cancel" else "the local hub stopped while this job ran"

    def _line(self, log, text: str) -> None:
        log.write(json.dumps({"timestamp": now(), "data": text}, ensure_ascii=False) + "\n")
        log.flush()

    def _copy(self, proc: subprocess.Popen, log) -> None:
        for raw in proc.stdout:
            self._line(log, raw.decode("utf-8", "replace").rstrip("\r\n"))

    def cancel(self, namespace: str, job_id: str) -> dict[str, Any]:
        """Stop a job (SIGTERM to its process group, SIGKILL after 5 s); a finished job stays as it is."""
        self.get(namespace, job_id)
        with self.lock:
            live = self.live.get(job_id)
            if live is not None and live.stop is None:
                live.stop = "cancel"
                if live.proc is not None:
                    _kill(live.proc, signal.SIGTERM)
        if live is not None and not live.done.wait(5) and live.proc is not None:
            _kill(live.proc, signal.SIGKILL)
            live.done.wait(5)
        return self.get(namespace, job_id)

    def set_labels(self, namespace: str, job_id: str, labels: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            rec = self.get(namespace, job_id)
            rec["labels"] = labels
            self._save(rec)
            return rec

    def close(self) -> None:
        """The hub is stopping: stop every job it runs."""
        with self.lock:
            self.closing = True
            running = list(self.live.values())
            for live in running:
                if live.stop is None:
                    live.stop = "close"
                if live.proc is not None:
                    _kill(live.proc, signal.SIGKILL)
        for live in running:
            live.done.wait(10)

    # --- reading -----------------------------------------------------------------------
    def log_since(self, namespace: str, job_id: str, offset: int) -> tuple[list[dict[str, str]], int]:
        """Complete log lines written after byte `offset`, and the offset after them."""
        try:
            with self._path(namespace, job_id, ".log").open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        lines = []
        for raw in data[:end].splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines, offset + end

    @staticmethod
    def info(rec: dict[str, Any]) -> dict[str, Any]:
        """A record as the Jobs API answers it (the fields huggingface_hub's JobInfo reads)."""
        created, t = parse(rec["createdAt"]), datetime.now(timezone.utc)
        started = parse(rec["startedAt"]) if rec.get("startedAt") else None
        finished = parse(rec["finishedAt"]) if rec.get("finishedAt") else None
        end = finished or t
        owner_id = hashlib.sha1(rec["namespace"].encode()).hexdigest()[:24]
        return {
            "id": rec["id"], "createdAt": rec["createdAt"], "startedAt": rec.get("startedAt"),
            "finishedAt": rec.get("finishedAt"), "dockerImage": rec["dockerImage"], "spaceId": rec["spaceId"],
            "command": rec["command"], "arguments": rec["arguments"], "environment": rec["environment"],
            "secrets": {name: None for name in rec["secrets"]},  # names only: values never leave the job
            "flavor": rec["flavor"], "labels": rec["labels"], "timeoutSeconds": rec["timeoutSeconds"],
            "status": rec["status"],
            "durations": {
                "schedulingSecs": int(((started or end) - created).total_seconds()),
                "runningSecs": int((end - started).total_seconds()) if started else None,
                "totalSecs": int((end - created).total_seconds()),
            },
            "owner": {"id": owner_id, "name": rec["namespace"], "type": "user"},
            "initiator": {"type": "user", "id": owner_id, "name": rec["namespace"]},
        }  # fmt: skip
