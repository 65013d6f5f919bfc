#!/usr/bin/env python3
"""Scenario: a late reply gets the filler. The stack of
90_conversation_call.py, with the OpenAI stand-in's first token delayed
3 s (ttft_ms, well past MERKAZIA_FILLER_AFTER_MS, 1200 by default), takes
one call of tests/scenarios/late_reply.json: one caller line, then the
caller listens (waiting out 4.5 s of silence) and hangs up.
Asserts: the call ends normally; the gateway logged the filler with its
mark; sim-caller played that mark fully, and it came back before the
first mark of the reply (the agent turn's marks_heard); the reply was
heard whole afterwards, not interrupted; no warning at the gateway for
the call. Prints when the filler and the reply's first mark came back,
after the end of the caller's line (never asserted).
Why: a silence of several seconds on a phone line sounds like a dropped
call; "רגע, אני בודקת" tells the caller the agent is there."""
import os
import re
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402

conv_e2e.SCENARIO = os.path.join(e2e.REPO, "tests", "scenarios",
                                 "late_reply.json")
TTFT_MS = 3000


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def scenario():
    stack = conv_e2e.start(filler=True)
    conv_e2e.control(stack, "OPENAI_BASE_URL", "config",
                     {"ttft_ms": TTFT_MS})
    line = conv_e2e.lines()[0]
    # The caller waits out the silence between the filler and the reply.
    call = conv_e2e.sim_call(stack, "sim-caller-filler", "--pause-ms",
                             str(TTFT_MS + 1500))
    e2e.say("call: result %s, closed by %s, marks %s" %
            (call["result"], call["closed_by"],
             [(m["name"], m["played"]) for m in call["marks"]]))
    check(call["result"] == "ok", "the call failed: %s %s" %
          (call["result"], call.get("error")))
    check(call["protocol_errors"] == 0, "protocol errors: %s" %
          call["protocol_error_kinds"])
    check(call["clears"] == 0, "a clear in a call without barge-in")

    sid = call["call_sid"]
    glog = [l for l in stack.log("gateway") if l.get("call_sid") == sid]
    fill = [re.search(r"the filler plays \(mark (item-\d+)\)",
                      l.get("msg") or "") for l in glog]
    fill = [m.group(1) for m in fill if m]
    check(len(fill) == 1, "the filler was not played once: %s" % fill)
    rows = conv_e2e.call_rows(stack, sid, analysis=False)
    agents = [t for t in rows["turns"] if t["speaker"] == "agent"]
    check(len(agents) == 1, "%d agent turns, want 1" % len(agents))
    reply = agents[0]
    check(not reply["interrupted"] and
          norm(reply["heard_text"]) == norm(line["agent"]),
          "the late reply was not heard whole: %r" % reply["heard_text"])
    reply_marks = (reply["latency"] or {}).get("marks_heard") or []
    check(reply_marks, "the reply has no marks heard")
    names = [m["name"] for m in call["marks"]]
    check(fill[0] in names and reply_marks[0] in names,
          "sim-caller lacks the filler's or the reply's mark: %s" % names)
    fm = call["marks"][names.index(fill[0])]
    rm = call["marks"][names.index(reply_marks[0])]
    check(fm["played"], "the filler was not played fully: %s" % fm)
    check(names.index(fill[0]) < names.index(reply_marks[0]) and
          fm["echo_ms"] <= rm["echo_ms"],
          "the filler came after the reply: %s, %s" % (fm, rm))
    end = call["turns"][0]["end_ms"]
    e2e.say("after the line: filler heard at %d ms, reply's first sentence "
            "at %d ms" % (fm["echo_ms"] - end, rm["echo_ms"] - end))
    warns = [l["msg"] for l in glog if l.get("level") in ("warn", "error")]
    check(not warns, "gateway warnings: %s" % warns)
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
