"""Python debugging: the answer's fixed code must pass hidden tests, run in the sandbox.

Passing means the tests ran to their last line and compared real values: the exit code is
not trusted (`sys.exit(0)` or `os._exit(0)` in the answer would make it 0), the sandbox's
per-run nonce must come back (see `run_python(proof=True)`), and every `assert a == b`,
`!=`, `in`, `not in` of the tests is rewritten to a type-strict comparison, so a returned
object whose `__eq__` always says True compares unequal. A sandbox that cannot start or import
the harness's own modules raises GraderUnavailable: no verdict, whatever the answer.
"""

from __future__ import annotations

import ast
import re
import sys
from typing import Any

from hubkit.bench.extract import answer_segment, fenced, strip_reasoning
from hubkit.bench.graders.base import GraderUnavailable, Verdict
from hubkit.bench.sandbox import Limits, describe, run_python

# Defined after the answer's `from solution import *`, so the answer cannot replace them.
STRICT = '''
_HUBKIT_SCALARS = (int, float, complex, str, bytes, bool, type(None))


def _hubkit_eq(a, b, exact=False):
    """Equal values of the same built-in types, all the way down (True is not 1; 1 == 1.0
    unless `exact`, as when the expected value comes from the reference fix itself)."""
    ta, tb = type(a), type(b)
    if {ta, tb} <= {int, float} and not exact:
        return a == b
    if ta is not tb:
        return False
    if ta in (list, tuple):
        return len(a) == len(b) and all(_hubkit_eq(x, y, exact) for x, y in zip(a, b))
    if ta is dict:
        keys = all(type(k) in _HUBKIT_SCALARS for k in a)
        return keys and len(a) == len(b) and all(k in b and _hubkit_eq(v, b[k], exact) for k, v in a.items())
    if ta in (set, frozenset):
        return all(type(x) in _HUBKIT_SCALARS for x in a) and a == b
    return a == b and b == a


def _hubkit_in(a, b):
    if type(b) in (list, tuple, set, frozenset, dict):
        return any(_hubkit_eq(a, x) for x in b)
    return type(a) in _HUBKIT_SCALARS and a in b
'''


class _Strict(ast.NodeTransformer):
    """`assert x == y` -> `assert _hubkit_eq(x, y)` (and !=, in, not in); other asserts stay."""

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, (left, right) = test.ops[0], (test.left, test.comparators[0])
            names = {ast.Eq: ("_hubkit_eq", False), ast.NotEq: ("_hubkit_eq", True),
                     ast.In: ("_hubkit_in", False), ast.NotIn: ("_hubkit_in", True)}  # fmt: skip
            if type(op) in names:
                fn, negate = names[type(op)]
                call: ast.expr = ast.Call(ast.Name(fn, ast.Load()), [left, right], [])
                node.test = ast.UnaryOp(ast.Not(), call) if negate else call
        return node


DIFFERENTIAL = """
import copy as _hubkit_copy
from hypothesis import HealthCheck as _HC, Phase as _Phase, given as _given, settings as _settings, strategies as st

import hypothesis.core as _hc, random as _random
# Hypothesis registers its PRNG through gc.get_referrers, which the sandbox refuses (it could
# find the proof's nonce); an already-set PRNG skips that registration.
_hc.threadlocal._hypothesis_global_random = _random.Random(0)

_hubkit_ref = {{}}
exec({reference!r}, _hubkit_ref)


def _hubkit_call(f, args):  # -> (the arguments after the call, the value, the exception)
    args = _hubkit_copy.deepcopy(args)
    try:
        return args, f(*args), None
    except Exception as e:  # SystemExit and friends pass: no proof, a failed run
        return args, None, e


@_settings(max_examples={examples}, deadline=None, database=None, derandomize=True,
           phases=[_Phase.explicit, _Phase.generate], suppress_health_check=list(_HC))
@_given(st.tuples({args}))
def _hubkit_differential(args):
    w_args, want, w_exc = _hubkit_call(_hubkit_ref[{function!r}], args)
    g_args, got, g_exc = _hubkit_call({function}, args)
    call = f"{function}{{args!r}}"
    if w_exc is not None:
        should = type(w_exc).__name__
        assert isinstance(g_exc, type(w_exc)), f"{{call}} gave {{g_exc or got!r}}; it should raise {{should}}"
    else:
        assert g_exc is None, f"{{call}} raised {{g_exc!r}}; the reference returned {{want!r}}"
        assert _hubkit_eq(got, want, exact=True), f"{{call}} gave {{got!r}}; the reference {{want!r}}"
    assert _hubkit_eq(g_args, w_args, exact=True), f"{{call}} changed its arguments to {{g_args!r}}"


_hubkit_differential()
"""


def harness(tests: str, differential: dict[str, Any] | None = None, reference: str | None = None) -> str:
    """The hidden tests as run: the answer imported, strict comparisons, generated inputs
    compared with the reference fix (EvalPlus-style, with hypothesis), the proof at the end."""
    tree = ast.fix_missing_locations(_Strict().visit(ast.parse(tests)))
    extra = ""
    if differential and reference:
        extra = DIFFERENTIAL.format(reference=reference, function=differential["function"],
                                    args=", ".join(differential["args"]),
                                    examples=int(differential.get("examples", 150)))  # fmt: skip
    return (f"from solution import *  # noqa\n{STRICT}\n{ast.unparse(tree)}\n{extra}"
            "import sys\nsys.audit('hubkit.done')\n")  # fmt: skip


def _fix(visible: str) -> str | None:
    """The fixed code: the last python block that defines something (a trailing usage example
    is not the fix), preferring blocks after a 'Final answer:' marker."""
    segment = answer_segment(visible)
    blocks = (fenced(segment, ("python",)) if segment else []) or fenced(visible, ("python",))
    defining = [b for b in blocks if re.search(r"(?m)^(?:async\s+)?(?:def|class)\s", b)]
    return (defining or blocks or [None])[-1]


def grade(spec: dict[str, Any], response: str) -> Verdict:
    code = _fix(strip_reasoning(response))
    if code is None:
        return Verdict(False, "python", "no ```python block found")
    limits = Limits(wall_s=float(spec.get("timeout_s", 10)), cpu_s=int(spec.get("cpu_s", 5)))
    reference = _fix(spec["reference"]) if spec.get("differential") else None
    files = {"solution.py": code, "hidden_tests.py": harness(spec["tests"], spec.get("differential"), reference)}
    requires = ("hypothesis",) if spec.get("differential") else ()
    r = run_python(files, "hidden_tests.py", limits=limits, proof=True, requires=requires)
    if r.env_error:
        raise GraderUnavailable(
            f"python grader: {r.env_error}; the answer was not graded. Fix the environment the sandbox runs "
            f"(it runs {sys.executable} with {describe()}): install hubkit where user nobody can read it, "
            "or allow unshare --mount, or run as a non-root user"
        )
    if r.timed_out:
        return Verdict(False, "python", "timed out")
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["failed"])[-1]
        return Verdict(False, "python", f"hidden tests failed: {last[:200]}")
    if not r.proved:
        return Verdict(False, "python", "the hidden tests did not run to the end (the code exited early)")
    return Verdict(True, "python", "hidden tests passed")
