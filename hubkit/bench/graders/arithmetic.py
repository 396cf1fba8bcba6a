"""Sums an explanation writes out ("0.6 x 50 = 20", "12 + 8 + 10 = 30 million"), checked.

A sum is numbers joined by + - x / (or their unicode signs; a number may carry a currency sign,
a %, a scale word such as "million" or "k", and a bracketed label: "12 (fuel) + 8 (freeze)"), then
`=` (or its approximate sign, "equals", "comes to") and the stated result. It is wrong when no
reading of it gives that result to the precision stated: a % read as a share (60% x 50 = 30) or
as a number (20% + 10% = 30%), scale words applied or not (12m + 8m = 20m). An approximate sign,
"about" or "roughly" allows 5 %. Evaluated with `ast` on numbers and the four operators only:
nothing an answer writes runs. A share of an amount is checked the same way: "a third of the 90
million - about 45 million" is wrong, and so is what it leaves ("..., leaving 30 million").
"""

from __future__ import annotations

import ast
import itertools
import operator
import re

_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_SCALES = "|".join(_SCALE)
# A term: its number, its %, its scale word (groups 1-3 of _TERM); _SUM repeats it without groups.
_TERM_PATTERN = r"[$£€]?\s?{0}\d+(?:\.\d+)?)\s?{0}%?)(?:\s?{0}" + _SCALES + r")\b)?(?:\s?\([^()\n]{{0,40}}\))?"
_TERM = re.compile(_TERM_PATTERN.format("("))
_NUMBER = _TERM_PATTERN.format("(?:")
_OP = r"\s*[-+*/x\u00d7\u00f7\u2212\u2013\u00b7]\s*"
# A stated result: its number, %, scale word (three groups).
_AMOUNT = rf"[$£€]?\s?(\d+(?:\.\d+)?)(?![\d.]\d)\s?(%?)\s?({_SCALES})?(?!\w)"
_SUM = re.compile(
    rf"(?<![\w.,]){_NUMBER}(?:{_OP}{_NUMBER})+\s*"
    r"(=|\u2248|~=|equals|comes to|works out (?:to|at)|gives)\s*(about |roughly |approximately |around |~\s?)?"
    + _AMOUNT
)
# A share of an amount and what it comes to or leaves: "a third of the 90 million - about 45
# million", "30% of 10% = 3%", "grants cover a third of the 90 million, leaving 30 million".
_FRACTIONS = {"half": 1 / 2, "a half": 1 / 2, "one half": 1 / 2, "a third": 1 / 3, "one third": 1 / 3,
              "two thirds": 2 / 3, "a quarter": 1 / 4, "one quarter": 1 / 4, "three quarters": 3 / 4,
              "a fifth": 1 / 5, "one fifth": 1 / 5, "a tenth": 1 / 10, "one tenth": 1 / 10}
_SHARE = re.compile(
    rf"(?<![\w.])({'|'.join(_FRACTIONS)}|\d+(?:\.\d+)?%) of (?:the |its |their |a |an )?{_AMOUNT}"
    r"(?: [a-z]+){0,2}?\s*(=|\u2248|[-\u2013\u2014:(]|is|comes to|equals|i\.e\.,?|,? (?:so |which )?leav(?:es|ing))"
    rf"\s*(about |roughly |approximately |around |~\s?|just |only )?{_AMOUNT}"
)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.left), _value(node.right))
    raise ValueError("not a sum")


def _readings(expr: str) -> set[float]:
    """Every value the written sum can mean (a % as a share or a number; scale words or not)."""
    terms = list(_TERM.finditer(expr))
    ops = [re.sub(r"[x\u00d7\u00b7]", "*", re.sub(r"[\u2212\u2013-]", "-", o.strip())).replace("\u00f7", "/")
           for o in (expr[a.end() : b.start()] for a, b in itertools.pairwise(terms))]
    out = set()
    for share, scaled in itertools.product((False, True), repeat=2):
        nums = [float(t.group(1)) / (100 if share and t.group(2) else 1)
                * (_SCALE.get(t.group(3) or "", 1) if scaled else 1) for t in terms]
        source = "".join(f"{n!r}{op}" for n, op in zip(nums, [*ops, ""], strict=True))
        try:
            out.add(_value(ast.parse(source, mode="eval").body))
        except (ValueError, SyntaxError, ZeroDivisionError):
            continue
    return out


def _near(value: float, stated: float, decimals: int, approx: bool, scale: float = 1.0) -> bool:
    """Whether `value` rounds to `stated` as written: to its digits (in the scale it was written in),
    plus 1 %; 5 % when approximate."""
    return abs(value - stated) <= (0.05 * abs(stated) if approx else 0.5 * 10**-decimals * scale + 0.01 * abs(stated))


def _wrong_share(m: re.Match) -> bool:
    """Whether a share written out (`_SHARE`) states the wrong part, or the wrong remainder."""
    share, number, pct, scale, link, approx, result, rpct, rscale = m.groups()
    if bool(pct) != bool(rpct):
        return False  # "a third of 60% - about 20 points": units this reading does not carry
    whole = float(number) * _SCALE.get(scale or "", 1)
    part = whole * (_FRACTIONS[share] if share in _FRACTIONS else float(share[:-1]) / 100)
    if "leav" in link:
        part = whole - part
    stated = float(result) * _SCALE.get(rscale or scale or "", 1)
    rough = bool(approx) and approx.strip() not in ("just", "only")
    return not _near(part, stated, len(result.partition(".")[2]), rough)


def wrong_sum(text: str) -> str | None:
    """The first sum written out in (normalised) `text` whose stated result is wrong, or None."""
    for m in _SHARE.finditer(text):
        if _wrong_share(m):
            return m.group(0).strip()
    for m in _SUM.finditer(text):
        expr = text[m.start() : m.start(1)].rstrip()
        stated = float(m.group(3))
        approx = bool(m.group(2)) or m.group(1) in ("\u2248", "~=")
        decimals = len(m.group(3).partition(".")[2])
        targets = {stated, stated * _SCALE.get(m.group(5) or "", 1), stated / (100 if m.group(4) else 1)}
        readings = _readings(expr)
        ok = any(_near(v, t, decimals, approx, t / stated if stated else 1) for v in readings for t in targets)
        if readings and not ok:
            return m.group(0).strip()
    return None
