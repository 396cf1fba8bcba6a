"""The deterministic point matcher: is a point asserted in an answer, in one of the phrasings it lists?

A point lists alternatives (`any`); an alternative is one or more terms joined by ` & `, all of
which must be asserted in one sentence (` && ` joins groups that may stand in different
sentences); a term is one or more phrasings joined by `|`; a term written `~term` must instead
be *denied* there ("not the fertilizer", "a leak was ruled out"), and `?term` only mentioned,
either way ("no chips for five weeks" mentions the chips). A phrasing matches at a word start;
each of its words of four letters or more also matches longer forms ("overheat": overheated,
overheating), shorter ones only their inflections ("fix": fixed, fixing; "no" is not "not").

Both sides are read the same way first: unicode folded (NFKC: CO₂ is CO2), lower case,
markdown emphasis dropped, British spelling in its American form, hyphens as spaces, "30 %"
and "30 percent" as "30%". A mention denied in its clause does not assert it: a negation cue
before it in the clause ("not", "no", "never", "rather than", "ruled out", "n't", ...) or a
denying predicate right after it ("a leak was ruled out", "the euro played no part"), a reason
denied whole ("not because Earth moves closer"), or a table row marked with a cross. A bare
list of keywords ("Refraction, reflection, dispersion, raindrops.") asserts nothing, nor do
jotted notes (short lines without verbs).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

from hubkit.bench.extract import spelling

_BEFORE = re.compile(
    r"(?<!\w)(?:not(?! only| just)|no|never|neither|nor|without|\w*n't|rather than|instead of|as opposed to|"
    r"ruled? out|rules out|ruling out|exclud\w*|unlikely|cannot|nothing to do with|irrelevant|unrelated|"
    r"regardless of|free of|nothing|none|(?:a |the )?ban on|banning|prohibit\w*|forbid\w*|bar on)(?!\w)"
)
_DENIED_AFTER = (
    r"(?:(?:was|were|is|are|has been|had been|have been|can be|could be|would be|will be|be|seems?|appears?|"
    r"(?:could|would|might|may|can|will|must|should)(?: have)?)\s+)?"
    r"(?:not\b(?! have)|never\b|n't\b(?! have)|ruled out|excluded|unlikely|irrelevant|unrelated|innocent|cleared|"
    r"\w+n't\b(?! have)|did not\b(?! have)|does not\b(?! have)|do not\b(?! have)|"
    # possession denies only a part in what happened ("the vacuum has no air" still names the vacuum)
    r"(?:(?:had|has|have) no|(?:\w+n't|not) have (?:any|an?)) (?:effect|role|part|bearing|impact|influence|link|"
    r"connection|relevance|relation|hand)\b|"
    r"played no|plays no|made no|makes no|had nothing|has nothing|no factor|not a factor|"
    r"no (?:real |significant |major |meaningful |big )?(?:part|role)|"
    r"to be ruled out)"
)
_AFTER = re.compile(r"^\W*" + _DENIED_AFTER)
# Looser, for `~term`: "the fertilizer switch can be ruled out" denies the fertilizer.
_AFTER_LOOSE = re.compile(r"^\W*(?:[a-z0-9']+\s+){0,3}?" + _DENIED_AFTER)
# Where a negation's reach ends: punctuation, arrows, and the conjunctions that start a new claim
# ("the tank did not leak, and the pump stopped"; "it didn't rain until the valve failed").
_CLAUSE_END = re.compile(
    r"[.;:!?\n,()\u2013\u2014]|\s-+\s|->|\u2192|=>|\b(?:but|however|whereas|while|although|and|because|since|so|"
    r"which|then|when|after|until|once|yet|given)\b"
)
# A negation cue reaches no further than the next modal verb either ("tests that were never re-run
# could kill people": the killing is asserted).
_SCOPE_END = re.compile(
    _CLAUSE_END.pattern + r"|\b(?:could|would|might|may|can|will|must|should)\b(?!')|\b\w+'(?:ll|d)\b"
)
# A negated verb of weighing leaves its object standing: "efficiency doesn't justify unlawful bias"
# still names the bias; "poverty does not excuse plagiarism" still names the plagiarism.
_NOT_DENYING = re.compile(
    r"(?:\w*n't|not|cannot|never)\s+(?:justify|justifies|excuse|excuses|outweigh|outweighs|override|overrides|"
    r"trump|trumps|beat|beats|change|changes|erase|erases|undo|undoes|cancel|cancels|make up for|mean|means|worth|"
    r"makes? (?=(?:[\w']+ ){1,4}(?:acceptable|ok|okay|right|fine|legitimate|honest)\b))\b"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A bare list of keywords ("Pump, bearing, overheated, tank, drained."): four or more items of at
# most two words each. It names things without stating anything, so nothing in it is asserted.
_ITEMS = re.compile(r"\s*[,;/\u00b7\u2022]\s*|\s+(?:and|or)\s+")
_MARKUP = re.compile(r"\*\*|__|~~|[*`#]|^[ \t]*>+", re.M)  # a quote's ">", not an arrow's


def normalise(text: str) -> str:
    """Text as the matcher reads it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))  # café: cafe
    text = _MARKUP.sub("", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)
    text = re.sub(r"(\d)\s*(?:%|percent\b|per cent\b)", r"\1%", spelling(text))
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 30,000 is 30000
    return re.sub(r"[ \t]+", " ", text)


_GAP = r"[^\w.,;:!?\n\u2013\u2014]+"  # between the words of a phrasing: not a sentence's or a dash's break


@lru_cache(maxsize=4096)
def _phrase(phrase: str) -> re.Pattern:
    words = normalise(phrase).split()
    parts = []
    for w in words:
        e = re.escape(w)
        if len(w) >= 4 and w.isalpha() and w.endswith("e"):  # close: closing, closed, closes
            parts.append(re.escape(w[:-1]) + r"(?:e[a-z]*|ing|ed)")
        elif len(w) >= 4 and w.isalpha():
            parts.append(e + r"[a-z]*")
        elif w.isalpha():  # fix: fixes, fixed, fixing; cut: cutting; not "no" in "not"
            d = "|d" if w.endswith("e") else ""  # "use": used; but "an" is not "and"
            parts.append(e + re.escape(w[-1]) + rf"?(?:s|es{d}|ed|ing|er|ers)?(?![a-z0-9])")
        else:
            parts.append(e + r"(?:s|es)?(?![a-z0-9])")
    start = "" if words[0].startswith("n't") else r"(?<![a-z0-9])"  # "n't differ" in "doesn't differ"
    return re.compile(start + _GAP.join(parts))


# A counterfactual ("had the ranking slipped, visitors would have fallen") asserts nothing.
_COUNTERFACTUAL = re.compile(
    r"^\W*(?:had|were) (?:(?:the|a|an|its|their|it|they|he|she|we|i|this|that|there)\b|"
    r"(?!to\b|no\b|not\b|been\b)[a-z]+ [^,.;:]*,[^.;:]*\b(?:would|might|could)\b)"  # "had schemes failed, ... would"
)


# A reason denied as a whole ("not because Earth moves closer to the Sun"; "it isn't due to the
# euro"): the denial reaches past "because" to the end of the clause.
_NOT_BECAUSE = re.compile(
    r"(?:\bnot|n't)\s+(?:simply |just |merely |only )?(?:because|due to)\b[^.;:!?\n\u2013\u2014]*$"
)
# A table row marked with a cross ("| fewer visitors | visitors unchanged | \u2717 |") rejects what it names.
_CROSSED_ROW = re.compile(r"^\s*\|.*(?:\u2717|\u2718|\u274c|\|\s*(?:no|x)\s*\|)")


def _denied(sentence: str, start: int, end: int, loose: bool, counterfactual: bool = True) -> bool:
    """Whether the mention at sentence[start:end] is denied in its clause (or, with `counterfactual`,
    only supposed by one: "had the ranking slipped, ..."), or in a table row marked with a cross."""
    if _CROSSED_ROW.match(sentence) or _NOT_BECAUSE.search(sentence[:start]):
        return True
    # What follows a negated weighing verb stays named; the verb itself ("doesn't outweigh") is denied.
    masked = _NOT_DENYING.sub(lambda m: " " * len(m.group(0)) if m.end() <= start else m.group(0), sentence)
    before = _SCOPE_END.split(masked[:start])[-1]
    after = _CLAUSE_END.split(sentence[end:], maxsplit=1)[0]
    cues = [m.group(0) for m in _BEFORE.finditer(before)]
    if cues == ["without"] and re.match(r"\W*without\b", sentence) and re.search(r"\bwould\b", sentence[end:]):
        cues = []  # a counterfactual: "without the April frost, the blossoms would have survived" names the cause
    return bool(cues or (counterfactual and _COUNTERFACTUAL.search(before))
                or (_AFTER_LOOSE if loose else _AFTER).search(after))


# A claim only supposed ("if you faced the Sun you'd look the wrong way") is not made: for
# contradictions, which must be claimed to fail an answer.
_SUPPOSING = re.compile(
    r"\b(?:if|unless|whether|suppose|supposing|imagine|argue|argued|tempting|one might|some might|some would|"
    r"might say|would say|might think|may think|(?:idea|belief|myth|misconception|notion|assumption) that)\b"
)


# An order that supposes ("face the Sun and you'd be looking the wrong way"): "X and you would ...".
_THEN_YOU = re.compile(r"[^.;:!?]*?\band (?:then )?you(?:'d|'ll| would| will| could| might)\b")


_WEIGHING = re.compile(
    r"\b(?:would|could|might|\w+'d|means|risks|costs|leaves|exposes|puts (?:[\w']+ ){1,3}(?:behind|at risk|last))\b|"
    r"\b(?:is|are|was) (?:\w+ )?(?:unfair|wrong|poor|bad|"
    r"unacceptable|irresponsible|dishonest|reckless|indefensible|a mistake|out of (?:all )?proportion|disproportionate)"
)


def _weighed(phrasing: str, sentence: str, m: re.Match) -> bool:
    """A course of action named as a gerund and then weighed ("keeping quiet would put politics
    first", "... so withholding them until after the election would be indefensible"): the answer
    discusses it, it does not claim or choose it."""
    rest = re.split(r"[.;!?]", sentence[m.end() :])[0]
    said = next((w for w in m.group(0).split() if w not in _JOINING), "")
    if not said.endswith("ing"):  # the gerund may open the clause before the match
        opening = [w for w in re.split(r"[,;:.!?()\u2013\u2014]|\s-+\s", sentence[: m.start()])[-1].split()
                   if w not in _JOINING]  # fmt: skip
        said = opening[0] if opening and len(opening) <= 6 else ""
        if not said.endswith("ing") or said in ("during", "according", "including", "regarding", "nothing"):
            return False
        return bool(_WEIGHING.search(rest))
    if re.search(r"(?:^|[\u2013\u2014;:]|\s-+)[\s*]*$", sentence[: m.start()]) and _WEIGHING.search(rest):
        # A gerund or participle opening its sentence, then weighed or supposed: "naming the student
        # publicly would be out of all proportion", "facing the Sun, you'd be looking the wrong way".
        return True
    return not phrasing.split()[0].endswith("ing") and bool(_WEIGHING.search(rest))


_JOINING = ("and", "or", "also", "then", "so", "but", "yet", "because", "thus", "therefore")


def _term(sentence: str, term: str, claim: bool = False) -> bool:
    """One term in one sentence: a phrasing asserted (`~term`: denied; `?term`: mentioned either way)."""
    mode = term[0] if term[:1] in "~?" else ""
    for phrasing in term.lstrip("~?").split("|"):
        if not phrasing.strip():
            continue
        for m in _phrase(phrasing.strip()).finditer(sentence):
            # A point may be made in a counterfactual ("were the minor cases seen elsewhere, the queue would
            # shrink"); a claim only supposed so is not made.
            denied = _denied(sentence, m.start(), m.end(), loose=mode == "~", counterfactual=claim or mode == "~") or (
                claim and (bool(_SUPPOSING.search(_SCOPE_END.split(sentence[: m.start()])[-1]))
                           or bool(re.fullmatch(r"\W*", sentence[: m.start()]) and _THEN_YOU.match(sentence[m.end() :]))
                           or bool(_COUNTERFACTUAL.match(sentence)) or _weighed(phrasing.strip(), sentence, m)))
            if mode == "?" or denied == (mode == "~"):
                return True
    return False


# A sentence that states something has a verb; a list of keywords, however long its items, has
# none of these (the commonest verbs of the explanations CMDR-Bench asks for).
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|being|has|have|had|do|does|did|will|would|can|could|should|must|may|might|"
    r"need|needs|needed|cause[sd]?|caus\w*|led|leads?|made|makes?|keeps?|kept|stopp\w*|fell|falls?|rose|rises?|"
    r"gives?|gave|takes?|took|goes|went|means?|meant|shows?|showed|happen\w*|become|became|[a-z]+ed)\b"
)


_LINKED = re.compile(r"\s*(?:with|by|for|to|from|because|so|which|that|into|through|until|after|before)\s")
_NOTES_LABEL = re.compile(r"\W*(?:notes?|keywords?|key words|key terms|tags)\s*:")


def keyword_list(sentence: str) -> bool:
    """Four or more short items and no verb: it names things without stating anything ("Storm,
    tree, 11 kV line, substation, generator"; "Key points: delay, billing errors, trust, ...")."""
    if _NOTES_LABEL.match(sentence):  # "Notes: bearing -> hot; pump -> off"
        return True
    body = re.sub(r"^[^:]{0,30}:\s*|[.!?\s]+$", "", sentence.strip())
    items = [i for i in _ITEMS.split(body) if i.strip()]
    if len(items) < 4 or any(len(i.split()) > 5 for i in items):
        return False
    if any(_LINKED.match(i) for i in items):  # "go voluntary, with data deletion, a sunset clause and ...": prose
        return False
    # A word that looks like a verb ("lead", "rise") in one item of a long list (eight or more)
    # does not make it a sentence: fewer than one item in four may have one.
    verbs = sum(bool(_VERB.search(i)) for i in items)
    return all(len(i.split()) <= 2 for i in items) or (
        sum(len(i.split()) for i in items) / len(items) <= 2.5
        and (not verbs or (len(items) >= 8 and 4 * verbs < len(items))))


_BULLET = re.compile(r"^\s*(?:[-+\u2022]|\d+[.)])\s*")


def notes(text: str) -> bool:
    """Four or more lines of at most five words, none ending a sentence, fewer than half with a
    verb: jotted notes ("- correlation != causation / - July peak / - misleading headline") that
    name things without stating anything, however they are set out."""
    lines = [_BULLET.sub("", line).strip() for line in text.splitlines() if line.strip()]
    short = all(len(line.split()) <= 5 and not re.sub(r"\b(?:a\.m|p\.m|etc|approx)\.$", "", line).endswith(".")
                for line in lines)  # "espresso broken 8 a.m." ends no sentence
    # or labelled jottings: "- shops: fear of losing customers / - buses: 3,000 riders/day / ..."
    labelled = all(re.match(r"[^:]{1,25}:\s", line) and len(line.split()) <= 8 and not line.endswith(".")
                   for line in lines)  # fmt: skip
    return len(lines) >= 4 and (short or labelled) and 2 * sum(bool(_VERB.search(line)) for line in lines) < len(lines)


@lru_cache(maxsize=256)  # every point and claim of an answer reads the same sentences
def sentences(text: str) -> tuple[str, ...]:
    """The sentences (and lines) of normalised text, bare keyword lists, notes and fragments of one
    or two words ("Honesty. Owner.") left out."""
    if notes(text):
        return ()
    return tuple(s for s in _SENTENCE.split(text)
                 if s.strip() and not keyword_list(s) and not _fragment(s) and not _RESTATED.match(s))


# The question restated ("We're asked whether the street would still have flooded") claims nothing.
_RESTATED = re.compile(r"\W*(?:we're asked|we are asked|you ask|the question (?:is|asks)|question:)")


def _fragment(sentence: str) -> bool:
    """A sentence of one or two words ("Honesty." "Owner."): a list item's line ("- water") is not one."""
    return len(sentence.split()) <= 2 and sentence.rstrip().endswith((".", "!"))


def stated(text: str) -> bool:
    """Whether normalised `text` states anything: a sentence in prose (a word such as "the", "is",
    "because") of more than five words or with a verb, or a causal chain ("bearing -> pump stops").
    Notes state nothing: "Espresso machine broken. Busy Saturday. Technician at noon.", "bridge
    closed Feb; bus rerouted; 20 -> 50 min; attendance down". ("8 a.m." and "Plan A" hold no article.)"""
    return any(_chain(s) or ((len(s.split()) > 5 or _VERB.search(s) or _IRREGULAR.search(s))
                             and _FUNCTION.search(re.sub(r"\b[ap]\.m\.|\b(?:plan|option) [a-e]\b", "", s)))
               for s in sentences(text))  # fmt: skip


# A causal chain's link ("bearing -> pump stops"), not "20 -> 50".
_ARROW = re.compile(r"\s*(?:->|\u2192|=>)\s*")  # the links of a stated chain
_LINK = re.compile(rf"[a-z]{_ARROW.pattern}[a-z]")


def _chain(sentence: str) -> bool:
    """A causal chain that states its links ("bridge shut -> long detour -> fewer pupils"): steps of
    two words on average, not a row of keywords ("mutation -> antibiotic -> survivors -> plasmids",
    "photosynthesis -> sunlight, water, CO2 -> glucose + oxygen")."""
    body = re.sub(r"^[^:]{0,30}:\s*", "", sentence)  # a label ("Chain: ...") is no step
    steps = [x for x in re.split(rf"{_ARROW.pattern}|\s*[,+]\s*", body) if x.strip()]
    return bool(_LINK.search(sentence)) and sum(len(x.split()) for x in steps) >= 2 * len(steps)


_IRREGULAR = re.compile(
    r"\b(?:given|found|done|seen|known|shown|taken|broken|gone|left|lost|held|built|brought|caught|thought|told|"
    r"sent|spent|won|run|put|set|cut|hit|split|spread|drawn|grown|thrown|driven|risen|fallen|gives|get|gets|got)\b"
)


# Prose has these; notes ("bridge closed Feb; bus rerouted; 20 -> 50 min; attendance down") do not.
_FUNCTION = re.compile(
    r"\b(?:the|a|an|of|to|is|are|was|were|be|been|it|its|this|that|because|so|since|which|with|by|for|as|"
    r"and|but|not|no|than|then|there|has|have|had|would|will|can|could|should|must|i|we|you|they|their)\b"
)


def asserted(alternatives: list[str], text: str, claim: bool = False) -> str | None:
    """The first alternative asserted in normalised `text`, or None. Terms joined by ` & ` must
    hold in one sentence; groups joined by ` && ` each somewhere in the text (a list spread over
    bullet lines: "sunlight && water && carbon dioxide")."""
    parts = sentences(text)
    for alt in alternatives:
        groups = [[t.strip() for t in g.split(" & ")] for g in alt.split(" && ")]
        if all(any(all(_term(s, t, claim) for t in terms) for s in parts) for terms in groups):
            return alt
    return None


# Words that recommend what follows them ("the city should close the street", "the most reliable
# fix is to raise prices", "I'd go with Plan A"); a hypothetical ("one might go with") is not one.
# A bare "I would" / "I'd" recommends only what follows it at once ("I would keep the cash", not
# "I'd treat the pump stopping as the middle link").
_RECOMMEND = re.compile(
    r"(?<!might )(?<!could )(?<!may )\b(?:(should|must|recommend(?:s|ed)?|recommendation(?: is)?(?: to)?|"
    r"(?:best|right|most reliable|wiser|wisest|safer|safest|better|sensible|kind|kinder|kindest|fairest|prudent|loyal|"
    r"decent|ethical|moral|honest|humane|compassionate|responsible|caring|"
    r"practical|pragmatic|cleanest|simplest|most sensible|obvious|(?:\w+ and )?(?:wiser|safer)) "
    r"(?:option|choice|fix|path|move|course|call|answer|plan|decision|thing to do|thing|route|way forward|approach|"
    r"solution|step)(?: [\w']+){0,4}? "
    r"(?:is|would be|here is)(?: to)?|"
    r"go with|go ahead with|proceed with|opt for|choose|adopt|pursue|combine (?:it |this |them )?with|better off|"
    r"(?:i(?:'d| would) )?(?:suggest|propose|advise|urge)|carry out|go for|"
    r"i(?:'d| would| will) (?:choose|pick|recommend|go with|opt for)|"
    r"(?:it's|it is|it would be|it'd be) (?:only )?(?:fair|fine|ok|okay|reasonable|acceptable|justified|right) to)|"
    r"(i(?:'d| would| will)(?: (?:probably|also|still|just|actually|definitely|rather|then|first|simply))?))\b"
)
# Where a recommended course ends, "and" aside ("should remove the bus lane and close the street").
_JOINED = re.compile(
    r"[.;:!?\n,()\u2013\u2014]|\s-+\s|\b(?:but|however|whereas|while|although|because|since|so|which|when|after|"
    r"until|once|yet|if|unless|rather than|instead of)\b"
)


# A recommendation that waits on a condition ("if they refuse, I'd report them") is not one now.
_CONDITION = re.compile(
    r"\b(?:if|unless|otherwise|failing that|in case|only then|should (?:they|it|he|she|the|this|that|any))\b"
    r"|" + _COUNTERFACTUAL.pattern  # "had the tests passed, I'd sign off"
)


# Words after a choice that recommend it ("repairing the old machine is the sensible course",
# "turning it down makes the most sense").
_RECOMMEND_AFTER = re.compile(
    r"\b(?:is|seems|seems like|would be|remains)(?: clearly| obviously| surely| simply| certainly| still)? "
    r"(?:the |a |by far the )?(?:\w+ and )?(?:most |only |more )?"
    r"(?:sensible|wiser?|wisest|best|better|right|safest|safer|smart|smartest|responsible|prudent|reasonable|kindest|"
    r"kinder|fairer|fairest|more humane|more compassionate|more ethical|ethical|humane|compassionate) "
    r"(?:course|option|choice|path|move|call|bet|plan|way|approach|answer|thing to do|outcome|solution|"
    r"use of (?:the )?(?:money|funds|cash|resources))\b"
    r"|\bmakes? (?:the most |more |good |the best )?sense\b"
)


@lru_cache(maxsize=1024)
def _gapped(phrase: str) -> re.Pattern:
    """A phrasing of an option with up to two words between its words ("raise its bread prices" for
    "raise prices", "match those prices" for "match prices"): how answers name an option."""
    words = _phrase(phrase).pattern.removeprefix(r"(?<![a-z0-9])").split(_GAP)
    gap = _GAP + r"(?:[\w']+" + _GAP + "){0,2}?"
    return re.compile(r"(?<![a-z0-9])" + gap.join(words))


def _found(phrases: list[str], window: str, reach: int | None = None) -> re.Match | None:
    """The first phrasing of `phrases` (each may list `|` alternatives) in `window`, within `reach`
    words of its start."""
    hits = [m for phrase in phrases for alt in phrase.split("|") if alt.strip()
            for m in _gapped(alt.strip()).finditer(window)]  # fmt: skip
    if reach is not None:
        hits = [m for m in hits if len(window[: m.start()].split()) <= reach]
    return min(hits, key=lambda m: m.start(), default=None)


def recommended(phrases: list[str], text: str) -> str | None:
    """The first phrase (`|` alternatives allowed) that normalised `text` recommends, not denied: a
    recommending word at most two words before it in one clause ("should close the street", not
    "should not close" or "rather than close the street"), or a verdict after it in its clause
    ("keeping the old machine is the sensible course")."""
    for sentence in sentences(text):
        if sentence.rstrip().endswith("?"):  # a question recommends nothing ("should it choose X or Y?")
            continue
        for cue in _RECOMMEND.finditer(sentence):
            if _CONDITION.search(sentence[: cue.start()]):
                continue
            start = cue.end() + len(re.match(r"[:\s]*", sentence[cue.end() :]).group(0))  # "my recommendation: ..."
            window = _CLAUSE_END.split(sentence[start:], maxsplit=1)[0]
            if re.match(r"\W*(?:between|among|whether|which|who|what|how|avoid|refrain from|resist|stop|steer clear of|"
                        r"hold off on)\b", window):  # "choose between X and Y", "should avoid raising prices"
                continue
            for phrase in phrases:
                m = _found([phrase], window, reach=0 if cue.group(2) else 2)
                if m is None and not cue.group(2):  # "should use the opportunity to raise prices", "should
                    # switch and also raise prices": a verb joined by "and" shares the cue
                    joined = _JOINED.split(sentence[start:], maxsplit=1)[0]
                    m = _found([phrase], joined, reach=8)
                    m = m if m and re.search(r"\b(?:to|and|and also|and then)\s+$", joined[: m.start()]) else None
                if m and not _denied(sentence, start + m.start(), start + m.end(), loose=False):
                    return phrase
        for cue in _RECOMMEND_AFTER.finditer(sentence):
            if re.search(r"\bonly\W*$", sentence[: cue.start()]) or re.match(r"\W*(?:only )?(?:if|when|unless)\b",
                                                                              sentence[cue.end() :]):
                continue  # "randomising only makes sense when the chances are equal"
            clause = _SCOPE_END.split(sentence[: cue.start()])[-1]
            offset = cue.start() - len(clause)
            for phrase in phrases:
                m = _found([phrase], clause)
                if m and not _denied(sentence, offset + m.start(), offset + m.end(), loose=False):
                    return phrase
    return None


# What blames a cause in its clause: "the water main also contributed", "the new CEO weighed on
# the quarter", "the fertilizer is the main driver", "the flu, and the CEO too".
_BLAME = re.compile(
    r"\b(?:contribut\w*|to blame|responsible for|played a (?:\w+ )?(?:part|role)|plays a (?:\w+ )?(?:part|role)|"
    r"(?:a|another|one) (?:\w+ ){0,2}(?:factor|cause|culprit|driver)|"
    r"(?:main|real|key|bigger|biggest|true|root|primary) (?:driver|cause|culprit|reason|starting point|trigger|factor)|"
    r"weigh(?:s|ed)? on|worsen\w*|"
    r"made (?:things|it|matters|this) worse|compound\w*|added to|adds to|adding to|sped (?:up|the)|speeds? up|"
    r"helped (?:to )?(?:trigger|cause|drive|bring)|partly|partially|(?:which|that|this) is why|caused|led to|"
    r"triggered|set off|came from|comes? from|due to|"
    r"part of the (?:cause|reason|problem|story|explanation|drop|loss))\b|\b(?:too|as well)\W*$"
)


# A clause that only entertains a cause ("it's tempting to blame the rival", "a leak was suspected
# at first", "one might think the flu contributed") does not blame it.
_SUPPOSED = re.compile(
    r"\b(?:tempting|might|may|could|would|if|whether|(?<!the )(?<!a )suspect\w*|at first|initially|seem\w*|appear\w*|"
    r"looks? like|argue\w*|claim\w*|think|thought|assume\w*|wonder\w*)\b"
)


# Nor does one that clears it ("pollination and pests are out too").
_CLEARED = re.compile(
    r"\b(?:out|normal|fine|innocent|cleared|excluded|unchanged|stable|irrelevant|unrelated|intact|healthy)\b"
)


# Causes said to act together: every one named in the sentence is blamed ("the leak and the pump
# failure acted together", "the combination of the longer commute and the flu explains it").
_TOGETHER = re.compile(
    r"\b(?:combination of|combined to|jointly|(?:acted|act|acting|worked|work|working) together|"
    r"in combination|in tandem|(?:the|these|those) two together|together (?:caused|drained|emptied|produced|led|"
    r"explain\w*|brought|made))\b"
)


def blamed(phrases: list[str], text: str) -> str | None:
    """The first phrase (`|` alternatives allowed) that normalised `text` blames: named, not denied,
    in a clause that says it caused or contributed ("the burst main also contributed", "the new
    CEO weighed on the quarter"; not "the CEO played no part" or "the flu was elsewhere")."""
    for sentence in sentences(text):
        bounds = [0, *(m.start() for m in _CLAUSE_END.finditer(sentence)), len(sentence)]
        spans = [(a, b) for a, b in itertools.pairwise(bounds) if re.search(r"\w", sentence[a:b])]
        for i, (a, b) in enumerate(spans):
            clause = sentence[a:b].lstrip(",;:.!?()\u2013\u2014 ")
            cue = _BLAME.search(clause)
            if not cue or _BEFORE.search(clause[: cue.start()]) or _SUPPOSED.search(clause) or _CLEARED.search(clause):
                continue
            # "the hardware was failing, which made things worse"; "the leak, and the pump both played a part"
            if i and (clause.startswith("which") or (clause.startswith("and ") and re.search(r"\bboth\b", clause))
                      or re.match(r"(?:and )?(?:that|this)(?:'s| is| was)\b", clause)):
                a = spans[i - 1][0]
            # "the miss came from both the strike and the competitor": the clause after "both" shares the cue
            if i + 1 < len(spans) and re.search(r"\bboth\b", clause[cue.end() :]) and re.match(
                    r"\W*and ", sentence[spans[i + 1][0] : spans[i + 1][1]]):
                b = spans[i + 1][1]
            # A source blames what follows it ("the drop came from the flu"), not what precedes it ("flu
            # reports came from a neighbouring district").
            source = re.match(r"c[ao]mes? from|due to", cue.group(0))
            at = b - len(clause) + cue.start()
            for phrase in phrases:
                m = _found([phrase], sentence[a:b])
                if m and source and a + m.start() < at:
                    continue
                if m and not _denied(sentence, a + m.start(), a + m.end(), loose=False):
                    return phrase
        cue = _TOGETHER.search(sentence)
        lead = _SCOPE_END.split(sentence[: cue.start()])[-1] if cue else ""
        if cue and not (_SUPPOSED.search(lead) or _BEFORE.search(lead)):
            for phrase in phrases:
                m = _found([phrase], sentence)
                if m and not _denied(sentence, m.start(), m.end(), loose=False):
                    return phrase
        links = _ARROW.split(sentence)
        # a chain it states: "burst main -> flooded equipment -> breaker trip" (not "70 year old -> 90%")
        if len(links) < 3 or len(_LINK.findall(sentence)) < 2:
            continue
        for link in links[:-1]:
            head = " ".join(re.split(r"[:;,]", link)[-1].split()[:4])
            for phrase in phrases:
                m = _found([phrase], head)
                if m and not _denied(head, m.start(), m.end(), loose=False):
                    return phrase
    return None
