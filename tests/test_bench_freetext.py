"""Free-text cases (causal, science, scenario, ethics): the conclusion line is checked exactly, the
points are read by keywords (negation, unicode, synonyms) or by a judge one point at a time."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from hubkit.bench.cases import case_by_id
from hubkit.bench.graders import grade
from hubkit.bench.graders.keywords import asserted, normalise

PUMP = case_by_id("cau-01")
EXPLAINED = "The main pump stopped after its bearing overheated, so nothing refilled the tank."


@pytest.mark.parametrize(("line", "passed"), [
    ("Main cause: pump failure", True),
    ("**Main cause:** Pump failure.", True),
    ("Main cause: `pump failure`", True),
    ("main cause: pump failure - the bearing overheated", True),  # a reason after the option
    ("Main cause: pump failure \u2013 the bearing overheated and the pump stopped.", True),  # "and" inside it
    ("Main cause: pump failure, and the bearing", False),  # "and" after a comma adds a second cause
    ("Main cause: pump failure, not a tank leak", True),  # another option named only to deny it
    ("Main cause: tank leak", False),  # the wrong option, whatever the explanation says
    ("Main cause: pump failure or tank leak", False),  # hedges
    ("Main cause: pump failure, possibly a tank leak", False),
    ("Main cause: pump failure and power cut", False),
    ("Main cause: pump failure (or a leak)", False),
    ("Main cause: probably pump failure", False),
    ("Main cause: the pump", False),  # not one of the options
    ("Final answer: pump failure", False),  # not the line the prompt asks for
    ("", False),  # no line at all
    ("Main cause: tank leak\nMain cause: pump failure", False),  # two conclusions
    ("<think>Main cause: pump failure</think>", False),  # only in the reasoning
    ("Main cause: pump failure\n\nActually, on reflection, it was the leak.", False),  # taken back after it
    ("Main cause: pump failure\n\nThough a tank leak is the likelier story.", False),  # another option after it
    ("Main cause: pump failure\n\nHope this helps.", True),  # a closing remark takes nothing back
])  # fmt: skip
def test_the_conclusion_line_is_checked_exactly(line, passed):
    v = grade(PUMP.grader, f"{EXPLAINED}\n{line}")
    assert v.passed is passed, v.detail
    assert v.grader == "conclusion+keywords"


def test_the_prompt_lists_the_lines_the_grader_accepts():
    msg = PUMP.message()
    assert msg.rstrip().endswith(
        "Finish with one of these lines, exactly as written: `Main cause: pump failure`, "
        "`Main cause: tank leak` or `Main cause: power cut`."
    )


# Answers of the kinds that fooled the keyword graders before v3, each with the case it answers.
TRICKS = [
    # The right keywords around the wrong conclusion.
    ("eth-01", "I'd contact the owner through the ID card and post the wallet back, but keep the cash as a reward; "
               "honesty matters.\nDecision: keep the cash", False),
    ("eth-05", "Safety, lives, documentation, escalation to leadership: all noted. Ship it now to beat the "
               "competitor.\nDecision: sign off and ship", False),
    ("scen-09", "The subsidy exists, the remote towns matter and fuel can be renegotiated, but cutting the "
                "routes is simplest.\nDecision: Plan A", False),
    # Hedges and extra causes.
    ("cau-10", "The strike cut the chips and the X2 missed the promotion.\n"
               "Root cause: supplier strike and new CEO", False),
    ("cau-04", "Hot weather drives both.\nVerdict: not really", False),
    # A negated list: the right line over an explanation that denies every point.
    ("cau-01", "The pump did not stop, the bearing did not overheat, and nothing stopped refilling the tank.\n"
               "Main cause: pump failure", False),
    # A bare keyword list with the right line.
    ("sci-04", "Refraction, reflection, dispersion, raindrops, Sun behind.\nSun position: behind you", False),
    # Paraphrases, counterfactuals stated positively, rejections stated with "not" / "identical".
    ("cau-03", "The bridge closure forced a detour, so the ride got much longer.\nMain cause: bridge closure", True),
    ("cau-07", "No: an open valve would have sent the surplus into the retention basin, and the street would "
               "have stayed dry.\nVerdict: no", True),
    ("cau-08", "Age explains it: the drug X patients were younger, and at the same age recovery was "
               "identical.\nVerdict: no", True),
    ("cau-05", "The frost hit the blossoms before pollination. It wasn't the fertiliser: the old-fertiliser "
               "rows lost just as much.\nMain cause: late frost", True),
    ("scen-04", "Merchants fear lost trade and residents want quiet; trial it with a bus lane and measure "
                "footfall.\nDecision: run a trial with a bus lane", True),
    # Jotted notes with the right line (v6): short lines without verbs state nothing, however set out.
    ("cau-04", "- correlation \u2260 causation\n- confounder: hot weather\n- July peak\n- May control case\n"
               "- misleading headline\n\nVerdict: no", False),
    ("eth-02", "honesty > loyalty\nworried parents\ndirect question\ntalk to friend first\nencourage truth\n\n"
               "Decision: refuse to lie", False),
    ("cau-04", "- Hot weather drives both\n- More swimmers on hot days\n- More ice cream sold too\n"
               "- In May sales rose but accidents did not\n\nVerdict: no", True),  # short lines that state things
    # The right line over an explanation that rests on a distractor or a false mechanism (v6).
    ("cau-10", "The strike halted the chips and the X2 missed the back-to-school promotion. The competitor's "
               "speaker also cut into sales, deepening the miss.\nRoot cause: supplier strike", False),
    ("cau-10", "The strike halted the chips and the X2 missed the back-to-school promotion. The competitor "
               "launched only after the promotion, and the CEO came in October.\nRoot cause: supplier strike", True),
    ("sci-02", "In space, sound travels as radio waves, so with the radios off the shout is lost.\nVerdict: no",
     False),
    ("sci-02", "No: sound needs a medium, and the vacuum has none; it cannot travel through a vacuum, unlike "
               "radio waves.\nVerdict: no", True),
    ("scen-06", "The real pressure is the competitor's price cut: shoppers compare totals at the new checkout "
                "and leave.\nDecision: roll back the checkout change", False),
    ("scen-06", "Visitors are unchanged but conversion halved since the checkout change; the competitor's "
                "price cut is not the real cause, it is two months old.\nDecision: roll back the checkout "
                "change", True),
    ("cau-08", "Drug X patients were younger, and at equal ages recovery time was the same.\nVerdict: no", True),
    # The right line over an explanation that recommends another option (v7).
    ("scen-03", "The other mill is still 12% above the old price. The most reliable fix is to raise bread prices by "
                "a few percent.\nDecision: switch to the other mill", False),
    ("eth-01", "Honesty matters, but the owner will never miss it, so I would keep the cash and post the wallet "
               "back.\nDecision: return it with the cash", False),
    ("scen-03", "Rather than raise bread prices, which lost customers last year, the bakery should switch to the "
                "other mill: it is cheaper than the new price.\nDecision: switch to the other mill", True),
    ("cau-02", "The pump stopping drained the tank, but the pump did not stop on its own: its bearing overheated. "
               "I'd treat the pump stopping as the middle link; the tank was intact, so no leak.\nRoot cause: "
               "overheated bearing", True),
    # v8: another option blamed in the answer's own words (the case's `say`), the right line below it.
    ("cau-06", "The storm brought a tree down on the line, the breaker tripped and the district lost power. The "
               "burst main on Elm Road also contributed.\nMain cause: loss of grid power", False),
    ("cau-06", "The storm brought a tree down on the line, the breaker tripped and the district lost power. The "
               "burst main on Elm Road played no part.\nMain cause: loss of grid power", True),
    ("cau-09", "Each alone adds only 20-30 ms, but together they overloaded the database. The hardware was "
               "failing too, which made things much worse.\nMain cause: cache rebuild and email traffic together",
     False),
    ("cau-10", "The strike stopped the chips, so the X2 missed the back-to-school promotion. It's tempting to "
               "blame the competitor, but it launched after the promotion.\nRoot cause: supplier strike", True),
    ("cau-06", "So the chain is: burst water main -> flooded substation -> breaker trip -> loss of power -> "
               "generator start.\nMain cause: loss of grid power", False),  # a distractor as a link of the chain
    # v8: another option recommended in other words, or by a verdict after it.
    ("scen-07", "Orders grow 20% a year and the old machine is already full. Repairing and keeping the old "
                "machine is the sensible course.\nDecision: Plan B", False),
    ("scen-08", "The policy allows lawful gifts without conditions. The wiser course for a children's charity is "
                "to turn the money down.\nDecision: accept without conditions", False),
    ("eth-03", "Padding is dishonest. I'd talk to them first; if they refuse to stop, I'd report them to "
               "compliance.\nDecision: talk to the colleague first", True),  # a condition, not a recommendation now
    ("eth-06", "Should the doctor choose between the 30-year-old and the 70-year-old by age? No: the protocol "
               "gives the dose to the 90% chance of recovery, and age alone is not a criterion.\n"
               "Decision: give it to the 70-year-old", True),  # a question recommends nothing
    # v8: an explanation that weighs the options as equal; a line that hedges; no explanation at all.
    ("eth-05", "Refusing and escalating flags the risk, but shipping quietly is just as responsible; both are "
               "defensible.\nDecision: refuse to sign off and escalate", False),
    ("cau-07", "With the valve open the basin would have taken the excess and the street would have stayed dry."
               "\nVerdict: no, most likely", False),
    ("eth-01", "Return wallet. Honesty. Owner.\nDecision: return it with the cash", False),
    ("sci-08", "Random mutations make a few bacteria less sensitive, at the same rate with or without the drug; "
               "the antibiotic kills the sensitive ones and the resistant survive and multiply. None of this "
               "involves the bacteria deciding anything.\nMain process: selection of resistant mutants", True),
    ("eth-01", "Wallet \u2192 ID \u2192 owner. Cash. Honesty.\nDecision: return it with the cash", False),
    ("scen-05", "A walk-in clinic takes the 30% minor cases and two doctors move to the 22:00 peak; the hospital "
                "should combine it with Plan A and hire two more day doctors.\nDecision: Plan B", False),
    ("scen-10", "Disclose now and give filters to the affected homes, children first; keeping quiet until after "
                "the election would put politics ahead of health.\nDecision: Plan A", True),  # weighed, not chosen
    ("cau-04", "Correlation, not causation: both depend on how hot it is.\nVerdict: no", True),
    # v8: a case's natural misconceptions (its context's distractors) fail the answer.
    ("sci-05", "The Moon raises one bulge and the Sun raises the other bulge; as Earth rotates each coast passes "
               "both, and when they line up tides are largest.\nLargest tides: new and full moon", False),
    ("scen-06", "Had the search ranking slipped, visitors would have fallen, which they haven't; conversion halved "
                "right after the checkout change.\nDecision: roll back the checkout change", True),
    ("scen-01", "The owner should close the caf\u00e9 for the morning and reopen at noon.\nDecision: stay open",
     False),  # accents folded: "café" is "cafe"
    # v9: a sum written out wrong, a course recommended in new words, notes and hedges in new words.
    ("eth-06", "The protocol ranks by chance of recovery. Expected years: 0.6 \u00d7 50 = 20 for the younger, "
               "0.9 \u00d7 15 = 22.5 for the older, so the older patient.\nDecision: give it to the 70-year-old",
     False),
    ("eth-06", "The protocol ranks by chance of recovery: 90% against 60%, and 0.9 \u00d7 100 = 90 lives saved per "
               "hundred doses against 60. Age alone is not a criterion.\nDecision: give it to the 70-year-old", True),
    ("scen-05", "A walk-in clinic takes the 30% minor cases and two doctors move to the 22:00 peak; the hospital "
                "should also go ahead with Plan C for comfort.\nDecision: Plan B", False),
    ("scen-07", "Repairing the old machine for 20,000 is cheap and the savings are uncertain; keeping the old "
                "machine is clearly the most prudent use of money.\nDecision: Plan B", False),
    ("scen-05", "Plan B sends the 30% minor cases to a walk-in clinic and puts two doctors on the 22:00 peak; "
                "Plan A would work just as well.\nDecision: Plan B", False),
    ("scen-01", "- espresso broken 8 a.m.\n- filter coffee\n- tea\n- technician 12:00\n- busy Saturday"
                "\nDecision: stay open", False),  # notes, though one line ends in "a.m."
    ("scen-01", "Espresso machine broken. Busy Saturday. Filter brewer available. Tea. Technician at noon."
                "\nDecision: stay open", False),  # short verbless sentences
    ("eth-09", "A voluntary app reached 60%, above the 50% needed, so mandatory tracking is not necessary. Go "
               "voluntary, with data deletion, a sunset clause and independent oversight.\n"
               "Decision: voluntary app with safeguards", True),  # a sentence with linked items is not a list
    ("cau-01", "The pump stopped and nothing refilled the tank.\nMain cause: pump failure \u2014 the stopped "
               "pump could no longer refill the tank.", True),  # "could no longer" hedges nothing
    ("cau-03", "bridge closed Feb; bus rerouted; 20\u219250 min; attendance down\nMain cause: bridge closure",
     False),  # telegraphic notes: verbs, but no word of prose
    ("cau-02", "Overheated bearing \u2192 pump stops \u2192 tank drains. The inspectors found no leak.\n"
               "Root cause: overheated bearing", True),  # a causal chain states its links
    ("sci-04", "Light refracts into each raindrop, reflects off the back and refracts out; the colours bend by "
               "different amounts, so they separate. The bow sits about 42 degrees from the point opposite the "
               "Sun \u2013 facing the Sun, you'd be looking the wrong way.\nSun position: behind you",
     True),  # a participle that supposes claims nothing
    ("eth-08", "Bias against women is illegal, so formally the tool should be paused. In practice, I'd suggest "
               "continuing to use it for shortlisting until the audit.\nDecision: pause the tool", False),
    ("scen-05", "Plan B diverts the 30% of minor visits to a walk-in clinic and puts two doctors on the 22:00 peak; "
                "the hospital should also carry out Plan A.\nDecision: Plan B", False),
    ("scen-05", "Plan B diverts the 30% of minor visits to a walk-in clinic and puts two doctors on the 22:00 peak; "
                "the two plans work best together with Plan A.\nDecision: Plan B", False),
    ("cau-05", "Without the April frost, the blossoms would have survived to be pollinated. The test rows on the "
               "old fertilizer lost just as much, so the switch is excluded.\nMain cause: late frost",
     True),  # "without X, Y would have ..." names X as the cause
    ("scen-10", "Disclose now, give filters to homes with children first, and phase the replacement with grants and "
                "bonds; holding the results until after the election would put politics first.\nDecision: Plan A",
     True),  # a gerund opening its clause, weighed
    ("scen-06", "Visitors are unchanged and conversion halved after the checkout change, with errors at payment; the "
                "competitor's cut came two months earlier, and cutting prices would give away margin for nothing."
                "\nDecision: roll back the checkout change", True),
    ("sci-02", "Sound needs a medium, and a vacuum doesn't have one, so the shout goes nowhere.\nVerdict: no",
     True),  # "doesn't have one" is possession: the vacuum is still named
    ("scen-05", "Were the minor 30% seen at a walk-in clinic, the queue would shrink at once; were two day doctors "
                "moved to evenings, the 22:00 surge would meet more staff.\nDecision: Plan B",
     True),  # a point made in a counterfactual
    ("eth-05", "Lives are at stake if the brakes fail. Had the two failed tests been re-run and passed, I'd sign off "
               "today; they haven't, so I'd document the failures and escalate to leadership.\n"
               "Decision: refuse to sign off and escalate", True),  # a recommendation under a counterfactual
    ("cau-01", "The tank must have had a slow leak, and the pump and the leak both played a part when the pump "
               "stopped.\nMain cause: pump failure", False),
    ("cau-05", "The April frost damaged the blossoms, but the fertilizer switch can't really be ruled out.\n"
               "Main cause: late frost", False),
    ("cau-03", "The bridge closed and the rerouted bus took fifty minutes instead of twenty; sick notes were normal "
               "and the flu reports came from a neighbouring district.\nMain cause: bridge closure",
     True),  # the flu is where the reports came from, not what the drop came from
    ("eth-06", "The protocol gives the dose to the highest chance of recovery, and age alone is not a criterion. "
               "Numbers: 70-year-old \u2192 90%; 30-year-old \u2192 60%. Randomising only makes sense when the "
               "chances are equal.\nDecision: give it to the 70-year-old", True),  # a mapping, not a causal chain
    ("eth-04", "Saying nothing is unfair to the two honest applicants; naming the student publicly would be out of "
               "all proportion. I'd talk to them privately and require an essay of their own before the deadline, "
               "since the rules allow a corrected version.\nDecision: talk to the student and require their own "
               "essay", True),  # a gerund subject, weighed
    ("cau-08", "Drug X users were much younger, and youth alone speeds recovery; comparing patients of the same "
               "age, recovery time doesn't differ.\nVerdict: no", True),  # "n't differ" inside "doesn't"
    ("cau-10", "**Root cause: the strike.** It halted controller-chip shipments, so the X2 missed the back-to-school "
               "promotion; the CEO arrived after the quarter and the euro was stable.\nRoot cause: supplier strike",
     True),  # a labelled line that names no option is explanation
    ("scen-03", "The other mill is 12% dearer, not 30%, so switching limits the rise; the bakery should switch and "
                "also raise bread prices by 10% to rebuild margins.\nDecision: switch to the other mill", False),
    ("scen-07", "Both B and C order the new machine now; Plans B and C are essentially equivalent, and I'd choose B "
                "by a hair.\nDecision: Plan B", False),
    ("scen-04", "- shops: fear of losing customers\n- residents: noise\n- buses: 3,000 riders/day\n- neighbour: "
                "6-month trial, footfall +8%, bus lane\nDecision: run a trial with a bus lane", False),  # jottings
    ("eth-07", "The journalist should verify and publish with names removed. This is the most appropriate course in "
               "the circumstances, and it is the right thing to do.\nDecision: verify and publish with names removed",
     False),  # the option's own words are no reason for it
    ("cau-05", "The April frost damaged most blossoms, but the fertilizer switch can't be fully excluded.\n"
               "Main cause: late frost", False),
    ("scen-10", "Plan A = disclose + filters + corrosion control + phased replacement. Most complete option.\n"
                "Decision: Plan A", False),  # "Plan A" is no article: notes
    ("eth-02", "Both answers are defensible: covering for them would be an equally reasonable choice. I lean towards "
               "honesty and would talk to my friend.\nDecision: refuse to lie", False),
    ("eth-02", "I won't lie to worried parents who ask me directly. I'd talk to my friend first and help them tell "
               "their parents the truth.\nDecision: refuse to lie", True),
    ("cau-05", "The April frost damaged most of the blossom before it could be pollinated, which is why the crop "
               "fell. Rows on the old fertilizer lost just as much.\nMain cause: late frost", True),
    # A row of keywords with arrows is no causal chain; a chain whose steps say what happened is one.
    ("sci-08", "Mutation \u2192 antibiotic \u2192 survivors \u2192 plasmids \u2192 resistant population.\n"
               "Main process: selection of resistant mutants", False),
    ("sci-01", "Photosynthesis \u2192 sunlight, water, CO\u2082 \u2192 glucose + oxygen.\nGas released: oxygen", False),
    ("cau-01", "Bearing overheated \u2192 pump stopped \u2192 nothing refilled the tank \u2192 tank drained.\n"
               "Main cause: pump failure", True),
    ("scen-05", "Plan B sends the 30% minor cases to a walk-in clinic and moves two day doctors to the 22:00 peak, "
                "but Plans A and B would both deliver shorter waits.\nDecision: Plan B", False),
    ("scen-05", "Plan B sends the 30% minor cases to a walk-in clinic and moves two day doctors to the 22:00 peak. "
                "Plans A and C would both leave the evening understaffed.\nDecision: Plan B", True),
    ("cau-03", "The bridge closed and the bus trip grew from twenty to fifty minutes, and a flu season hit the area. "
               "Each probably accounts for roughly half of the drop.\nMain cause: bridge closure", False),
    ("eth-01", "Returning it or leaving it where it is are two equally sound options; ethically they come out the "
               "same.\nDecision: return it with the cash", False),
    ("cau-07", "With the valve open the basin would have taken the excess, but clearing the leaves from the drain "
               "would have been just as important.\nVerdict: no", False),
    ("eth-06", "There's no clearly right answer: the older patient has better odds, and a coin toss would be an "
               "equally fair way to decide.\nDecision: give it to the 70-year-old", False),
    ("scen-10", "Plan A discloses now, hands out filters and adjusts corrosion control, then replaces the lines in "
                "phases with grants and bonds, children first. Delaying disclosure until after the election puts "
                "residents' health behind politics.\nDecision: Plan A", True),  # a gerund subject, weighed
    ("scen-05", "Plan B takes the 30% minor cases to a walk-in clinic and moves two day doctors to the 22:00 peak. "
                "The waiting room from Plan C helps too: the two together make the complete answer.\nDecision: Plan B",
     False),
    ("cau-03", "The bridge closure lengthened the bus trip from 20 to 50 minutes, and a flu season was going round; "
               "the flu probably accounts for about as much of the drop.\nMain cause: bridge closure", False),
    ("scen-03", "The other mill's 12% adds only about 1.2% to a loaf. A price increase is not worth the gamble given "
                "last year's loss of a fifth of the regulars.\nDecision: switch to the other mill", True),  # "given"
    ("eth-07", "The documents aren't authenticated and the charity hasn't replied; publishing before doing either "
               "would be irresponsible. Verify them, ask the charity, then expose the misuse of donations without "
               "naming the recipients, some of them abuse survivors.\n"
               "Decision: verify and publish with names removed", True),  # "either would be" is no hedge here
    ("cau-01", "The tank drained because the pump failed. The pump failed, and so the tank drained.\n"
               "Main cause: pump failure", False),  # circular: the option's own words are no mechanism
    ("scen-03", "Raising prices isn't attractive given that the last 10% rise cost a fifth of the regulars; the other "
                "mill's 12% adds about 1.2% to a loaf.\nDecision: switch to the other mill", True),  # "given that"
    ("scen-03", "The other mill's flour is just as good and only 12% dearer, about 1.2% on a loaf, while raising "
                "prices lost a fifth of the customers last year.\nDecision: switch to the other mill", True),
]  # fmt: skip


@pytest.mark.parametrize(("case", "answer", "passed"), TRICKS)
def test_answers_that_fooled_keyword_graders(case, answer, passed):
    v = grade(case_by_id(case).grader, answer)
    assert v.passed is passed, v.detail


def test_unicode_formulas_and_british_spelling_are_read():
    sci = case_by_id("sci-01").grader
    assert grade(sci, "Plants use sunlight, water and CO₂, and give off O₂.\nGas released: oxygen").passed
    assert grade(sci, "Sunlight, H₂O and CO₂ go in.\n**Gas released:** Oxygen").passed
    assert normalise("CO₂ and the colour of the centre, 30 per cent") == "co2 and the color of the center, 30%"
    assert grade(case_by_id("sci-09").grader, "Stress builds on the locked fault until the rocks slip.\n"
                 "Point above the focus: epicenter").passed  # fmt: skip


@pytest.mark.parametrize(("text", "met"), [
    ("The pump stopped.", True),
    ("It was not a leak: the pump stopped.", True),
    ("The tank did not leak, and the pump stopped.", True),
    ("The pump never stopped.", False),
    ("It is not true that the pump stopped.", False),
    ("Pump, stopped, tank, drained.", False),  # a keyword list asserts nothing
    ("A tank leak doesn't make the pump stopping acceptable.", True),  # a weighing verb leaves it named
    ("A tank leak doesn't make the pump stop.", False),
])  # fmt: skip
def test_keywords_read_negation_in_both_directions(text, met):
    assert (asserted(["pump & stop"], normalise(text)) is not None) is met


@pytest.mark.parametrize(("text", "denied"), [
    ("Not because the tank sprang a leak: the pump stopped.", True),  # "not because" denies its clause
    ("The pump stopped because of a leak.", False),
    ("| Tank leak | tank found intact | \u2717 |", True),  # a table row marked with a cross
    ("| Tank leak | water on the floor | \u2713 |", False),
    ("A leak played no real part.", True),
    ("A leak was ruled out.", True),
    ("The fertilizer switch can be ruled out.", True),
    ("It was not the fertilizer.", True),
    ("The fertilizer caused it.", False),
])  # fmt: skip
def test_a_point_can_ask_for_a_denial(text, denied):
    assert (asserted(["~leak|fertilizer"], normalise(text)) is not None) is denied


class _JudgeServer:
    """An OpenAI-compatible judge on a free port: met when the criterion's first word is in the answer."""

    def __init__(self, reply=None):
        self.asked: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.asked.append(body)
                prompt = body["messages"][0]["content"]
                answer = prompt.split("# Answer\n", 1)[1].split("\n\n# Criterion", 1)[0]
                criterion = prompt.split("# Criterion\n", 1)[1].split("\n\n# Instructions", 1)[0]
                met = criterion.split()[0].lower() in answer.lower()
                content = reply or json.dumps({"explanation": "checked", "criteria_met": met})
                out = json.dumps({"choices": [{"message": {"content": content}, "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.server.shutdown()


SPEC = {"kind": "conclusion", "conclusion": {"label": "Verdict", "options": ["yes", "no"], "answer": "no"},
        "points": [{"id": "heat", "point": "Heat is named as the common cause.", "any": ["heat"]},
                   {"id": "may", "point": "May is when sales rise without accidents.", "any": ["may"]}]}  # fmt: skip


def test_a_judge_reads_each_point_on_its_own_and_its_verdicts_are_journaled(tmp_path, monkeypatch):
    from hubkit.bench.graders.judge import Judge, identity
    from hubkit.config import ChatEndpoint

    monkeypatch.setenv("HUBKIT_TEST_JUDGE_KEY", "sk-test-judge-key")
    server = _JudgeServer()
    try:
        endpoint = ChatEndpoint(model="judge-model", base_url=server.url, api_key_env="HUBKIT_TEST_JUDGE_KEY")
        journal = tmp_path / "judge.jsonl"
        judge = Judge(endpoint, journal=journal)
        task = "Does ice cream cause accidents?"
        answer = "<think>heat heat</think>Heat drives both; in May sales rise alone.\nVerdict: no"
        v = grade(SPEC, answer, judge=judge, prompt=task)
        assert v.passed and v.grader == "conclusion+judge:judge-model" and judge.asked == 2
        bodies = server.asked
        assert len(bodies) == 2 and all(b["model"] == "judge-model" and b["temperature"] == 0 for b in bodies)
        criteria = sorted(b["messages"][0]["content"].split("# Criterion\n")[1].split("\n")[0] for b in bodies)
        assert criteria == ["Heat is named as the common cause.", "May is when sales rise without accidents."]
        first = bodies[0]["messages"][0]["content"]
        assert first.startswith("Your job is") and f"# Task\n{task}\n" in first
        assert "heat heat" not in first and "Verdict: no" not in first  # no reasoning; the conclusion line apart
        # The conclusion is checked exactly before any judge is asked.
        assert not grade(SPEC, "Heat drives both.\nVerdict: yes", judge=judge, prompt=task).passed
        assert judge.asked == 2
        # Cached: the same answer asks nothing; a new judge object resumes from the journal.
        grade(SPEC, answer, judge=judge, prompt=task)
        again = Judge(endpoint, journal=journal)
        assert grade(SPEC, answer, judge=again, prompt=task).passed and again.asked == 0 and len(server.asked) == 2
        rows = [json.loads(line) for line in journal.read_text().splitlines()]
        assert len(rows) == 2 and {"key", "met", "explanation", "criterion"} <= rows[0].keys()
        assert "sk-test-judge-key" not in journal.read_text()
        # One point not met fails the answer.
        assert not grade(SPEC, "Heat drives both.\nVerdict: no", judge=judge, prompt=task).passed
        with pytest.raises(ValueError, match="pass the case's prompt"):
            grade(SPEC, "Heat, in May.\nVerdict: no", judge=Judge(endpoint))
        # The judge's model and template are part of what the evaluation fingerprints.
        other = endpoint.model_copy(update={"model": "other-judge"})
        assert identity(endpoint) != identity(other) and identity(endpoint)["template"]
    finally:
        server.close()


def test_a_judge_reply_that_is_not_a_verdict_is_an_error_not_a_failed_answer(monkeypatch):
    from hubkit.bench.graders.judge import Judge
    from hubkit.config import ChatEndpoint
    from hubkit.errors import HubkitError

    server = _JudgeServer(reply="I think it is fine.")
    try:
        judge = Judge(ChatEndpoint(model="chatty", base_url=server.url, max_retries=0))
        with pytest.raises(HubkitError, match=r"benchmark\.judge \(chatty\): not a verdict"):
            grade(SPEC, "Heat, in May.\nVerdict: no", judge=judge, prompt="Q?")
    finally:
        server.close()


def test_bench_validate_judge_measures_the_configured_judge(demo_config, tmp_path, monkeypatch):
    """`hubkit bench validate --judge` grades the free-text labelled answers with the config's judge."""
    import yaml

    from hubkit.bench import validate
    from tests.conftest import run_cli

    server = _JudgeServer()
    try:
        data = yaml.safe_load(demo_config.read_text())
        data["benchmark"]["judge"] = {"model": "word-judge", "base_url": server.url}
        demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
        config = demo_config
        monkeypatch.setattr(validate, "JUDGE_ACCURACY", tmp_path / "judge-accuracy.json")
        # One labelled file (and the cases' own answers), not all of them: what is tested is the path
        # through the judge; a judge call per point of 1,600 answers only costs minutes here.
        small = tmp_path / "labelled"
        small.mkdir()
        shutil.copy(validate.HERE / "freetext-independent.yaml", small)
        monkeypatch.setitem(validate.main.__kwdefaults__, "folder", small)
        r = run_cli("bench", "validate", "--judge", "--write", "-c", str(config))
        assert "conclusion + points (judge: word-judge)" in r.stdout, r.stdout + r.stderr
        assert "Mathematical" not in r.stdout and server.asked  # only the free-text cases, by the judge
        written = json.loads((tmp_path / "judge-accuracy.json").read_text())
        assert written["judge"]["endpoint"]["model"] == "word-judge"
        assert {row["half"] for row in written["rows"]} == {"dev", "heldout"}
        r = run_cli("bench", "validate", "--judge", "--check", "-c", str(config))
        assert r.returncode == 2 and "--check" in r.stderr
    finally:
        server.close()


@pytest.mark.parametrize(("text", "is_list"), [
    ("Pump, bearing, overheated, tank, drained.", True),
    ("storm, tree, 11 kV line, Northgate, substation, hospital, generator", True),  # items of up to three words
    ("Key points: delay, two weeks, billing errors, customer trust, single point of failure, bus factor", True),
    ("Sunlight, water, carbon dioxide and chlorophyll are needed.", False),  # a list inside a statement
    ("The bridge closed, the bus was rerouted, the trip took 50 minutes, and attendance fell.", False),
    ("Bridge shut -> long detour -> fewer pupils", False),  # a causal chain, not a list
    ("Notes: bearing -> hot; pump -> off; tank -> empty (2 h).", True),  # labelled as notes
])  # fmt: skip
def test_a_list_of_keywords_states_nothing(text, is_list):
    from hubkit.bench.graders.keywords import keyword_list

    assert keyword_list(normalise(text)) is is_list


@pytest.mark.parametrize(("text", "blames"), [
    ("The burst water main also contributed.", True),
    ("The new CEO weighed on the quarter.", True),
    ("The on-call note shows the hardware was failing, which made things worse.", True),
    ("The burst water main played no part.", False),
    ("The CEO did not contribute: he started in October.", False),
    ("Bees and pests are out too.", False),  # cleared, not blamed
    ("One might think the water main contributed, but it affects water, not power.", False),
    ("Water main -> flooded substation -> breaker trip", True),  # a link of a stated chain
    ("Water main: unrelated -> the breaker tripped because of the tree", False),
    ("The tree fell, and the water main and the tree both played a part.", True),
    ("The tree cut the line, with the burst main adding to it.", True),
    ("The outage came from the tree, not the water main.", False),
    ("Water main repairs came from the city budget.", False),  # a source blames what follows it
    ("So the tree and the water main acted together.", True),  # causes said to act together
    ("The outage came from a combination of the storm and the burst main.", True),
    ("It was not a combination of the storm and the burst main: the main played no part.", False),
    ("It might look like a combination of the storm and the burst main.", False),  # only entertained
    ("The suspected water main also played a part.", True),  # "the suspected" names it, supposes nothing
    ("The water main was suspected at first, but it played no part.", False),
    ("The new CEO was a second significant driver of the miss.", True),  # up to two words before "driver"
    ("The tree cut the line, and that is the real cause.", False),  # "that" points back to the tree
    ("Water main failure is what cut power, and that is the real cause.", True),
    ("The outage came from both the storm and the water main.", True),  # "and" after "both" shares the cue
    ("The tree cut the line and the water main flooded the substation; the two together caused the outage.", True),
    ("Both lines came down in the storm, and the water main was unrelated.", False),
])  # fmt: skip
def test_an_answer_that_blames_another_option_is_read(text, blames):
    from hubkit.bench.graders.keywords import blamed

    assert (blamed(["water main|burst main|hardware|ceo|bees|pests"], normalise(text)) is not None) is blames


@pytest.mark.parametrize(("text", "recommends"), [
    ("The city should close the street to all traffic.", True),
    ("Closing the street outright is the sensible course.", True),
    ("I'd probably close the street for good.", True),
    ("The city should not close the street.", False),
    ("If the trial fails, the city should close the street.", False),  # waits on a condition
    ("Should the city close the street or keep it open?", False),  # a question
    ("Rather than close the street, run a trial.", False),
    ("The city should close the whole street for good.", True),  # up to two words inside the phrasing
    ("The city should avoid closing the street.", False),
    ("My recommendation: close the street for now and review it later.", True),
    ("The city should use the opportunity to close the street.", True),  # an infinitive after the cue
    ("The city should be careful not to close the street.", False),
    ("The city should keep the buses, whatever it does to close the street.", False),  # not "to" right before
    ("A practical route is to close the street on Sundays.", True),
    ("Closing the street seems like the better outcome.", True),
    ("After the trial it should remove the bus lane and close the street for good.", True),  # joined by "and"
    ("It should run the trial, because a permanent change would close the street for good.", False),
    ("The cleanest option is to close the street.", True),
    ("Closing the street is the kinder choice.", True),
    ("Closing the street is the kinder choice only if the buses are rerouted.", False),
    ("The loyal thing here is to close the street.", True),
])  # fmt: skip
def test_an_answer_that_recommends_another_option_is_read(text, recommends):
    from hubkit.bench.graders.keywords import recommended

    assert (recommended(["close the street"], normalise(text)) is not None) is recommends


def test_say_names_other_options_only():
    from pydantic import ValidationError

    from hubkit.bench.graders.conclusion import Spec

    spec = {"conclusion": {"label": "Decision", "options": ["a", "b"], "answer": "a"}, "points": [
        {"id": "x", "point": "x", "any": ["x"]}]}
    Spec.model_validate({**spec, "conclusion": {**spec["conclusion"], "say": {"b": ["bee"]}}})
    for say in ({"c": ["sea"]}, {"a": ["ay"]}):  # not an option; the answer itself
        with pytest.raises(ValidationError, match="say"):
            Spec.model_validate({**spec, "conclusion": {**spec["conclusion"], "say": say}})


def test_a_short_word_matches_its_inflections_only():
    assert asserted(["fix the pump"], normalise("They fixed the pump.")) is not None
    assert asserted(["use the card"], normalise("They used the card.")) is not None
    assert asserted(["as good an"], normalise("The flour is just as good and cheaper.")) is None  # "an" is not "and"


def test_a_negated_weighing_verb_is_denied_and_leaves_its_object_named():
    """ "doesn't outweigh the risk": the weighing is denied, the risk is still named."""
    text = normalise("Saving lives doesn't outweigh the ecological risk.")
    assert asserted(["lives & outweigh & risk"], text, claim=True) is None
    assert asserted(["lives & outweigh & risk"], normalise("Saving lives outweighs the ecological risk."), claim=True)
    assert asserted(["ecological risk"], text, claim=True) is not None
    assert asserted(["shipping brakes"], normalise("Beating a rival isn't worth shipping brakes that failed."))


def test_a_claim_only_supposed_is_not_made():
    """Contradictions must be claimed: "if you faced the Sun" supposes it; a point may still be made so."""
    text = normalise("If you faced the Sun you'd be looking the wrong way.")
    assert asserted(["face the sun"], text) is not None
    assert asserted(["face the sun"], text, claim=True) is None
    assert asserted(["face the sun"], normalise("Face the Sun and you'd be looking the wrong way."), claim=True) is None
    assert asserted(["face the sun"], normalise("Face the Sun and look up."), claim=True) is not None
    might = "Had voluntary schemes fallen short of the uptake, the case for compulsion might look different."
    assert asserted(["voluntary schemes fall"], normalise(might), claim=True) is None
    supposed = "Had voluntary schemes failed to reach the uptake, the case for compulsion would be stronger."
    assert asserted(["voluntary schemes fail"], normalise(supposed), claim=True) is None
    assert asserted(["nearer the sun in summer"], normalise("The idea that we're nearer the Sun in summer is wrong."),
                    claim=True) is None  # a misconception named to reject it
    stated = "Voluntary schemes failed to reach the uptake, so the case for compulsion is stronger."
    assert asserted(["voluntary schemes fail"], normalise(stated), claim=True) is not None
    assert asserted(["face the sun"], normalise("You must face the Sun to see it."), claim=True) is not None


@pytest.mark.parametrize(("text", "wrong"), [
    ("0.6 \u00d7 50 = 20 years", True),
    ("0.6 \u00d7 50 = 30 years", False),
    ("12 (fuel) + 8 (hiring freeze) + 10 (subsidy) = 30 million", False),  # labels in brackets
    ("9 + 6 = 16", True),
    ("15 \u2212 9 = 6 million", False),  # a unicode minus
    ("150,000 / 30,000 = 15 years", True),
    ("150,000 \u00f7 30,000 = 5 years", False),
    ("60% \u00d7 50 = 30", False),  # a % read as a share
    ("20% + 10% = 30%", False),  # or as a number
    ("12m + 8m + 10m = 30m", False),
    ("30,000 \u00d7 10 = 300k", False),  # scale words on one side
    ("1/3 = 25%", True),
    ("1/3 \u2248 33%", False),
    ("0.6 \u00d7 50 \u2248 31", False),  # approximately: 5 %
    ("the trip took 50 minutes instead of 20", False),  # no sum written out
    ("grants cover a third of the 90 million \u2013 about 45 million", True),  # a share of an amount
    ("grants cover a third of the 90 million, i.e. 30 million", False),
    ("grants cover a third of the 90 million, leaving 30 million", True),  # what it leaves
    ("grants cover two thirds of the 90 million, leaving just 30 million", False),
    ("30% of 10% = 3%", False),
    ("20% of 50 is 12", True),
    ("a third of 60% - about 20", False),  # a share of a % that this reading cannot check
])  # fmt: skip
def test_a_sum_written_out_is_checked(text, wrong):
    from hubkit.bench.graders.arithmetic import wrong_sum

    assert (wrong_sum(normalise(text)) is not None) is wrong
