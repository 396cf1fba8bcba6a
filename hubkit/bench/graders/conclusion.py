"""Free-text cases (causal, science, scenario, ethics): a conclusion checked exactly, then points.

The prompt ends with the line the answer must give (`instruction`, built from the spec, so the
prompt and the grader cannot disagree): `Main cause: <one of the listed options>`. The last
line of the visible answer that starts with the label is the conclusion; it must be exactly one
option (case, markdown, quotes, a final full stop and British spelling aside; a reason may follow
after a dash, colon or bracket, if it names no other option and hedges nothing). A missing line,
a value that is not an option ("pump failure or tank leak", "probably no") and an earlier line
naming another option (a hedge) fail, and so does the wrong option, whatever else the answer says.

Then the explanation (the answer without its conclusion lines) must make the case's points
(`need` of them; all by default) and none of its `contradictions`. With a judge, each point is
judged on its own (graders/judge.py); without one, by the phrasings each point lists
(graders/keywords.py). A sum written out wrong ("0.6 x 50 = 20") fails it either way
(graders/arithmetic.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubkit.bench.extract import spelling, strip_reasoning
from hubkit.bench.graders.arithmetic import wrong_sum
from hubkit.bench.graders.base import Verdict
from hubkit.bench.graders.keywords import asserted, blamed, normalise, recommended, sentences, stated


class Conclusion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(pattern=r"^[A-Za-z][A-Za-z' ]*$")
    options: list[str] = Field(min_length=2)
    answer: str
    # How answers name the other options in their own words ("turn the money down" for "refuse
    # the donation"): an explanation that recommends or blames one of them fails.
    say: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> Conclusion:
        keys = [_value(o) for o in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"conclusion options must differ: {self.options}")
        if _value(self.answer) not in keys:
            raise ValueError(f"conclusion answer {self.answer!r} is not one of the options {self.options}")
        if bad := [k for k in self.say if _value(k) not in keys or _value(k) == _value(self.answer)]:
            raise ValueError(f"say: {bad} are not other options than the answer {self.answer!r}")
        return self


class Point(BaseModel):
    """What a correct explanation must state: `point` for a judge, `any` for the keyword matcher."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z_]+$")
    point: str
    any: list[str] = Field(min_length=1)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = "conclusion"
    conclusion: Conclusion
    points: list[Point] = Field(min_length=1)
    need: int | None = Field(default=None, ge=1)  # points to meet; default all
    contradictions: list[Point] = Field(default_factory=list)  # claims that fail the answer

    @model_validator(mode="after")
    def _need_fits(self) -> Spec:
        if self.need is not None and self.need > len(self.points):
            raise ValueError(f"need is {self.need}, but there are {len(self.points)} points")
        ids = [p.id for p in [*self.points, *self.contradictions]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"point ids must differ: {ids}")
        return self


MIN_WORDS = 6  # an explanation of fewer words (in sentences; arrows and signs aside) explains nothing

# An explanation that weighs the options as equal has not chosen, whatever its last line says.
HEDGES = [
    "either outcome|either answer|either option|either choice|either plan & possible|defensible|valid|reasonable|fine",
    "both are defensible|both are valid|both are reasonable|both options are|both plans are|matter equally"
    "|equally important|equally likely|equally valid|equally defensible|equally responsible|equally good choice"
    "|equally good option|equally good plan|are equally good|is equally good|equally good way"
    "|roughly equally|about equally|in equal measure|equally to blame|share the blame|shares the blame"
    "|share responsibility|shared responsibility|both to blame|both share",
    "just as responsible|just as good an option|just as good an approach|just as good an idea|just as good a choice"
    "|just as good a plan|just as good a way|would be just as good|just as good and politically"
    "|just as valid|just as defensible|just as reasonable|just as likely|just as safe"
    "|just as effective|equally effective|should do both|ideally do both|best to do both|work just as well"
    "|works just as well|do just as well|equally well|either is a|either would be acceptable|either would be fine"
    "|either would be perfectly|either would be legally|either would be reasonable|either would be defensible"
    "|either would cut|either would work|either would do|either would have|equally worth"
    "|work together equally|fund both|implement both|adopt both|do both together|pursue both|work best together"
    "|both plans together|both options together|just as fair"
    "|contributed as much|contributed just as much|either fix|either measure|either approach|just as acceptable"
    "|essentially equivalent|more or less equivalent|basically the same|makes little real difference"
    "|makes little difference|by a hair|would both deliver|would both work|would both achieve|would both succeed"
    "|both would work|both would deliver|both deliver|both achieve|equally reasonable|equally sound|come out the same"
    "|comes out the same|is just as important|are just as important|be just as important|been just as important"
    "|each accounts for|each account for|each probably accounts for|half each|roughly half of the drop"
    "|equally fair|no clearly right answer|no right answer|any of these would be|any of them would be"
    "|two together make|both together make|the two together are|accounts for about as much|about as much of the"
    "|hard to separate them"
    "|equally acceptable|equally sensible|equally legitimate|neither is really better|neither is better"
    "|neither option is better|both answers are|both choices are|both options are defensible|both are legitimate",
    "can't be ruled out|cannot be ruled out|can not be ruled out|can't really be ruled out|not be ruled out"
    "|can't be fully ruled out|can't be excluded|cannot be excluded|can't be fully excluded|not be fully excluded",
    "hard to say|impossible to say|can't say for sure|cannot say for sure|no clear winner|no clear answer"
    "|toss up|coin flip",
    "~one is clearly better|~either is clearly better|~one is better",
]


def instruction(spec: dict[str, Any]) -> str:
    """The sentence the prompt ends with: the exact lines the answer may finish with."""
    c = Spec.model_validate(spec).conclusion
    lines = [f"`{c.label}: {o}`" for o in c.options]
    return f"Finish with one of these lines, exactly as written: {', '.join(lines[:-1])} or {lines[-1]}."


def _value(text: str) -> str:
    """An option or a conclusion as compared: case, markdown, quotes, articles and a final stop aside."""
    text = spelling(unicodedata.normalize("NFKC", text))
    text = re.sub(r"(?<=\w)-(?=\w)", " ", re.sub(r"[*_`\"'\u201c\u201d\[\]]", "", text))
    text = re.sub(r"[\s.!;,]+$", "", text.strip())
    return re.sub(r"^(?:the|a|an)\s+", "", " ".join(text.split()))


# After the option, a reason may follow ("no - both follow the heat", "Plan B (it reaches 30
# million)"), but not a hedge or a second option ("no, unless...", "pump failure or a leak").
_REASON = re.compile(r"^(?:\s*[-\u2013\u2014:;,(]|\s+(?:because|since|as)\b)")
_HEDGE = re.compile(
    r"\b(?:or|maybe|possibly|probably|perhaps|unless|if|either|partly|partially|might|could(?! no longer| not|n't)|"
    r"depends?|also|too|plus|and|likely|presumably|arguably|tentatively|i (?:think|believe|guess|suppose))\b"
)


def _option(options: list[str], said: str) -> str | None:
    """The option a conclusion line names, or None (not an option, or hedged)."""
    value = _value(said)
    keys = {_value(o): o for o in options}
    if value in keys:
        return keys[value]
    for key in sorted(keys, key=len, reverse=True):
        tail = value[len(key) :]
        if value.startswith(key) and _REASON.match(tail):
            named = "|".join(re.escape(k) for k in keys if k != key)
            kept = re.sub(rf"\b(?:not|no|rather than|instead of)\s+(?:(?:the|a|an)\s+)?(?:{named})\b", "", tail)
            others = re.search(rf"\b(?:{named})\b", kept)  # another option named, and not to deny it
            if re.match(r"\s*[-\u2013\u2014(]|\s+(?:because|since|as)\b", tail):  # a reason may join its parts
                kept = re.sub(r"\band\b", " ", kept)  # ("axial tilt - it changes the angle and the day length")
            return None if others or _HEDGE.search(kept) else keys[key]
    return None


def _lines(spec: Spec, visible: str) -> list[re.Match]:
    label = r"\s+".join(map(re.escape, spec.conclusion.label.lower().split()))
    pattern = re.compile(rf"(?im)^[ \t>*#_`-]*{label}[ \t*_`]*[:\uff1a][ \t*_`]*(.*?)[ \t]*$")
    return list(pattern.finditer(unicodedata.normalize("NFKC", visible)))


# Words that take a conclusion back ("Actually, on reflection, I would close instead").
_RETRACT = re.compile(
    r"\b(?:actually|on (?:second|further) thought|on reflection|scratch that|i take (?:that|it) back|"
    r"changed? my mind|correction)\b"
)


def read_conclusion(spec: Spec, visible: str) -> tuple[str | None, str]:
    """(the option concluded, or None; why not). The prompt asks the answer to finish with the
    line: what follows it may not name another option or take it back."""
    found = _lines(spec, visible)
    if not found:
        return None, f"no '{spec.conclusion.label}:' line"
    said = [_option(spec.conclusion.options, m.group(1)) for m in found]
    if said[-1] is None:
        return None, f"'{spec.conclusion.label}: {found[-1].group(1)[:60]}' is not one of the options"
    if len({s for s in said if s is not None}) > 1:
        return None, f"hedged: {' / '.join(sorted({s for s in said if s}))}"
    after = _value(visible[found[-1].end() :]).lower()
    others = [re.escape(_value(o).lower()) for o in spec.conclusion.options if o != said[-1]]
    if after and (_RETRACT.search(after) or re.search(rf"\b(?:{'|'.join(others)})\b", after)):
        return None, f"taken back after the '{spec.conclusion.label}:' line: {after[:60]!r}"
    return said[-1], ""


def explanation(spec: Spec, visible: str) -> str:
    """The answer without its conclusion lines: what the points are looked for in. A line that
    starts with the label but names no option ("**Root cause: the Korva strike.** In June the
    strike halted chip shipments ...") is explanation."""
    visible = unicodedata.normalize("NFKC", visible)  # as _lines reads it, so the offsets agree
    for m in reversed(_lines(spec, visible)):
        if _option(spec.conclusion.options, m.group(1)) is not None:
            visible = visible[: m.start()] + visible[m.end() :]
    return visible


def grade(spec: dict[str, Any], response: str, judge=None, prompt: str = "") -> Verdict:
    s = Spec.model_validate(spec)
    who = f"conclusion+judge:{judge.model}" if judge is not None else "conclusion+keywords"
    visible = strip_reasoning(response)
    said, why = read_conclusion(s, visible)
    if said is None:
        return Verdict(False, who, f"conclusion: {why}")
    if _value(said) != _value(s.conclusion.answer):
        return Verdict(False, who, f"conclusion: {said!r}, expected {s.conclusion.answer!r}")
    text = explanation(s, visible)
    norm = normalise(text)
    if judge is not None:
        if not prompt.strip():
            raise ValueError("a judge grades an answer against its task: pass the case's prompt")
        verdicts = judge.judge(prompt, text, [p.point for p in [*s.points, *s.contradictions]])
        met = [p.id for p, v in zip(s.points, verdicts, strict=False) if v]
        claimed = [p.id for p, v in zip(s.contradictions, verdicts[len(s.points) :], strict=True) if v]
    else:
        # A course named by the option's own words states no reason for it ("the journalist should
        # verify and publish with names removed; it is the right thing to do"): points are made in
        # other words. (Options of one or two words - "no", "late frost" - are how reasons name them.)
        option = normalise(said).lower()
        bare = norm if len(option.split()) < 3 else re.sub(rf"(?<!\w){re.escape(option)}(?!\w)", " ", norm)
        met = [p.id for p in s.points if asserted(p.any, bare)]
        claimed = [p.id for p in s.contradictions if asserted(p.any, norm, claim=True)]
        others = {o: "|".join([_value(o).lower(), *s.conclusion.say.get(o, [])])
                  for o in s.conclusion.options if _value(o) != _value(said) and _value(o).lower() not in ("yes", "no")}
        named = {v: o for o, v in others.items()}
        if other := recommended(list(others.values()), norm):
            claimed.append(f"recommends {named[other]!r}")
        if other := blamed([v for o, v in others.items() if o in s.conclusion.say], norm):
            claimed.append(f"blames {named[other]!r}")
        if hedge := asserted(HEDGES, norm):
            claimed.append(f"hedges ({hedge.split('|')[0]})")
        if (words := sum(len(re.findall(r"\w+", x)) for x in sentences(norm))) < MIN_WORDS:
            claimed.append(f"no explanation ({words} words in sentences)")
        elif not stated(norm):
            claimed.append("no explanation (short verbless sentences)")
    if bad := wrong_sum(norm):  # a fact a program can check, judge or not
        claimed.append(f"wrong sum: {bad}")
    need = s.need or len(s.points)
    missing = [p.id for p in s.points if p.id not in met]
    problems = ([f"points {len(met)}/{len(s.points)} (need {need}; missing {', '.join(missing)})"]
                if len(met) < need else []) + [f"contradicts: {c}" for c in claimed]  # fmt: skip
    detail = "; ".join(problems) or f"conclusion {said!r}; points {len(met)}/{len(s.points)}"
    return Verdict(not problems, who, f"conclusion {said!r}; {detail}" if problems else detail)


def label(judge_model: str | None) -> str:
    """How a card names this grader."""
    return f"conclusion + points (judge: {judge_model})" if judge_model else "conclusion + points (keywords)"
