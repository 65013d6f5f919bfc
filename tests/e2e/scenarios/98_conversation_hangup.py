#!/usr/bin/env python3
"""Scenario: calls that end without a transfer. The conversation stack
(demo business) takes two calls from callers it does not know:
  1. 'bye' (tests/scenarios/handoff.json): the scripted agent calls
     end_call; the goodbye plays, the gateway closes the stream, the call
     row is completed with its duration; no personal greeting (the
     caller is unknown).
  2. 'tell-me': the agent's reply is four long sentences, and the caller
     hangs up (stop, close 1000) a few seconds into it (timed from
     call 1's reply delay): the call row is completed, the agent's turn
     row holds less than it generated, no job outlives the call, and the
     gateway logs no warning for either call.
Why: issue #10: end_call and a caller who hangs up mid-reply both end the
call cleanly in the CRM."""
import os
import re
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import handoff_e2e as ho  # noqa: E402
from e2e import T, check  # noqa: E402


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def scenario():
    stack = ho.start()

    # 1. end_call.
    bye = ho.say_call(stack, "sim-caller-bye", "bye", "+972527770022")
    sid = bye["call_sid"]
    ho.check_gateway_ended(
        bye, "the gateway did not end the call after the goodbye")
    row = ho.call_row(stack, sid, "completed")
    check(row["duration_s"] is not None and row["ended_at"],
          "the ended call has no duration or end: %s" % row)
    check(not [ln for ln in ho.gateway_lines(stack, sid)
               if "personal greeting" in (ln.get("msg") or "")],
          "an unknown caller got a personal greeting")
    ho.check_no_warnings(stack, sid)
    t = bye["turns"][0]
    e2e.delay("bye: end of speech -> reply audible", t["reply_ms"] / 1000.0)

    # 2. The caller hangs up in the middle of the reply.
    hang_ms = int(t["end_ms"] + t["reply_ms"] + 4500)
    e2e.say("hanging up %d ms after start" % hang_ms)
    cut = ho.say_call(stack, "sim-caller-hangup", "tell-me",
                      "+972527770033", "--hangup-after", str(hang_ms))
    csid = cut["call_sid"]
    e2e.say("hang-up call: result %s, closed by %s, stop sent %s, marks %s"
            % (cut["result"], cut["closed_by"], cut["stop_sent"],
               [(m["name"], m["played"]) for m in cut["marks"]]))
    check(cut["stop_sent"] and cut["closed_by"] != "gateway",
          "the caller did not hang up first: %s" % cut["closed_by"])
    row = ho.call_row(stack, csid, "completed")
    check(row["duration_s"] is not None and row["ended_at"],
          "the hung-up call has no duration or end: %s" % row)
    turns = e2e.wait_for(lambda: (lambda ts: ts if len(ts) >= 2 else None)(
        ho.turns(stack, csid)), T(10), "the hung-up call's turn rows")
    check([x["speaker"] for x in turns] == ["caller", "agent"],
          "turn rows: %s" % turns)
    agent = turns[1]
    e2e.say("agent heard %r of %r" % (agent["heard_text"],
                                       agent["generated_text"]))
    check(norm(agent["heard_text"]) != norm(ho.line("tell-me")["agent"]),
          "the whole reply was heard: the caller did not hang up mid-reply")
    ho.check_no_warnings(stack, csid)
    glog = ho.gateway_lines(stack, csid)
    check(any("media stream stopped by Twilio" in (ln.get("msg") or "")
              for ln in glog), "the gateway did not see the caller's stop")
    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
