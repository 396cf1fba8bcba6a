"""Python debugging: the answer's fixed code must pass hidden tests, run in the sandbox."""

from __future__ import annotations

from typing import Any

from hubkit.bench.extract import last_fenced, strip_reasoning
from hubkit.bench.graders import Verdict
from hubkit.bench.sandbox import Limits, run_python


def grade(spec: dict[str, Any], response: str) -> Verdict:
    code = last_fenced(strip_reasoning(response), ("python", "py"))
    if code is None:
        return Verdict(False, "python", "no ```python block found")
    tests = "from solution import *  # noqa\n" + spec["tests"]
    limits = Limits(wall_s=float(spec.get("timeout_s", 10)), cpu_s=int(spec.get("cpu_s", 5)))
    r = run_python({"solution.py": code, "hidden_tests.py": tests}, "hidden_tests.py", limits=limits)
    if r.timed_out:
        return Verdict(False, "python", "timed out")
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["failed"])[-1]
        return Verdict(False, "python", f"hidden tests failed: {last[:200]}")
    return Verdict(True, "python", "hidden tests passed")
